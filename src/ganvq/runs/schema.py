"""What a run checkpoint must hold, checked before anything uses it.

A checkpoint is untrusted input: a file edited by hand or by another tool can be valid safetensors
with inconsistent contents. `check_run` compares the JSON metadata with the schema below and the
weights with the modules its config builds (on the "meta" device: shapes only, no memory, no RNG),
so a bad file is one GanvqError naming the field or tensor, never a traceback from deep inside
torch when the weights or the optimizer state are loaded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganvq.errors import GanvqError

_TENSOR, _TUPLE, _DICT = "__tensor__", "__tuple__", "__dict__"  # the tags of io.flatten_state's skeletons


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


def _counter(v: Any) -> bool:
    return _is_int(v) and v >= 0


# field -> (check, what it must be); None allowed only where the check says so
_COUNTERS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "step": (_counter, "a non-negative integer"),
    "total_steps": (lambda v: v is None or _counter(v), "a non-negative integer or null"),
    "elapsed_seconds": (lambda v: _is_number(v) and v >= 0, "a non-negative number"),
    "finished": (lambda v: isinstance(v, bool), "true or false"),
    "optimizers": (lambda v: isinstance(v, dict), "an object"),
    "extra": (lambda v: isinstance(v, dict), "an object"),
}
_STREAM = ("epoch", "position")  # a batch stream's resumable position (data.BatchStream, train.prior.IndexStream)


def _module_builders(kind: str, config) -> dict[str, Callable[[], nn.Module]]:
    """The modules a run of `kind` saves, by their checkpoint prefix (as the training tasks name them)."""
    from ganvq.models.gan import build_discriminator, build_generator
    from ganvq.models.vqvae import VQVAE
    from ganvq.prior import build_prior

    if kind == "vqvae" and config.vqgan is not None:  # a VQGAN: its discriminator is saved beside the model
        from ganvq.models.gan import PatchDiscriminator

        return {"model": lambda: VQVAE(config.model),
                "disc": lambda: PatchDiscriminator(config.vqgan.discriminator_config(config.model))}
    if kind == "vqvae":
        return {"model": lambda: VQVAE(config.model)}
    if kind == "gan":
        return {"G": lambda: build_generator(config.model), "D": lambda: build_discriminator(config.model),
                "G_ema": lambda: build_generator(config.model)}
    return {"model": lambda: build_prior(config.model), "vqvae": lambda: VQVAE(config.vqvae_model)}


def _meta_module(name: str, make: Callable[[], nn.Module]) -> nn.Module:
    """The module on the "meta" device: shapes without memory, and torch's RNG left as it was."""
    section = "vqvae_model" if name == "vqvae" else "model"
    try:
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            return make()
    except GanvqError as e:
        raise GanvqError(f"its config.{section} is invalid: {e}") from None
    except Exception as e:  # a nonsensical size (negative width, ...) fails inside torch's layers
        raise GanvqError(f"its config.{section} does not describe a model ({type(e).__name__}: "
                         f"{' '.join(str(e).split())[:200]})") from None


def _check_weights(kind: str, config, tensors: dict[str, torch.Tensor], optional: set[str]) -> dict[str, nn.Module]:
    """Every module's tensors present, of the shape and dtype its config gives, and finite; returns the
    modules (on the meta device) by name."""
    modules = {}
    for name, make in _module_builders(kind, config).items():
        prefix = f"{name}."
        have = {k[len(prefix):]: t for k, t in tensors.items() if k.startswith(prefix)}
        if not have and name in optional:
            continue
        modules[name] = module = _meta_module(name, make)
        expected = {k: (v.dtype, tuple(v.shape)) for k, v in module.state_dict().items()}
        for key, (dtype, shape) in expected.items():
            t = have.get(key)
            if t is None:
                raise GanvqError(f"tensor {prefix}{key} is missing")
            if tuple(t.shape) != shape:
                raise GanvqError(f"tensor {prefix}{key} has shape {list(t.shape)}; its config gives {list(shape)}")
            if t.dtype != dtype:
                raise GanvqError(f"tensor {prefix}{key} is {t.dtype}; the model needs {dtype}")
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                raise GanvqError(f"tensor {prefix}{key} holds NaN or infinite weights")
        unexpected = sorted(set(have) - set(expected))
        if unexpected:
            raise GanvqError(f"tensor {prefix}{unexpected[0]} is not part of the model its config describes")
    return modules


def _check_skeleton(where: str, s: Any, tensors: dict[str, torch.Tensor]) -> None:
    """A JSON skeleton of io.flatten_state: tags well formed, every tensor it names present and finite."""
    if isinstance(s, list):
        for i, v in enumerate(s):
            _check_skeleton(f"{where}[{i}]", v, tensors)
        return
    if not isinstance(s, dict):
        return
    if len(s) == 1:
        (tag, value), = s.items()
        if tag == _TENSOR:
            if not isinstance(value, str) or value not in tensors:
                raise GanvqError(f"field {where} names tensor {value!r}, which the file does not hold")
            t = tensors[value]
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                raise GanvqError(f"tensor {value} (at {where}) holds NaN or infinite values")
            return
        if tag == _TUPLE:
            if not isinstance(value, list):
                raise GanvqError(f"field {where} must be a list")
            _check_skeleton(where, value, tensors)
            return
        if tag == _DICT:
            if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == 2 for p in value):
                raise GanvqError(f"field {where} must be a list of [key, value] pairs")
            for k, v in value:
                if isinstance(k, (dict, list)):
                    raise GanvqError(f"field {where} has a key of type {type(k).__name__}")
                _check_skeleton(f"{where}.{k}", v, tensors)
            return
    for k, v in s.items():
        _check_skeleton(f"{where}.{k}", v, tensors)


def _check_optimizers(optimizers: dict, expected: dict[str, str], modules: dict[str, nn.Module],
                      tensors: dict[str, torch.Tensor]) -> None:
    """Each optimizer's state as torch.optim.Optimizer.state_dict() writes it, its per-parameter tensors
    (Adam's moments) of the shapes of the parameters of the module it optimizes (`expected`: optimizer ->
    module, as the training tasks build them)."""
    names = sorted(optimizers)
    if names != sorted(expected):
        raise GanvqError(f"field optimizers holds {names}; a run of this kind has {sorted(expected)}")
    for name, state in optimizers.items():
        where = f"optimizers.{name}"
        if not isinstance(state, dict) or not isinstance(state.get("state"), dict):
            raise GanvqError(f"field {where}.state is missing or not an object")
        groups = state.get("param_groups")
        if not isinstance(groups, list) or not groups:
            raise GanvqError(f"field {where}.param_groups must be a non-empty list")
        for i, group in enumerate(groups):
            if not isinstance(group, dict):
                raise GanvqError(f"field {where}.param_groups[{i}] must be an object")
            params = group.get("params")
            if not isinstance(params, list) or not all(_is_int(p) for p in params):
                raise GanvqError(f"field {where}.param_groups[{i}].params must be a list of integers")
            lr = group.get("lr")
            if not (_is_number(lr) and lr >= 0):
                raise GanvqError(f"field {where}.param_groups[{i}].lr must be a non-negative number, got {lr!r}")
        _check_skeleton(where, state, tensors)
        shapes = [tuple(p.shape) for p in modules[expected[name]].parameters()]
        params = sorted(p for group in groups for p in group["params"])
        if params != list(range(len(shapes))):
            raise GanvqError(f"field {where}.param_groups lists {len(params)} parameters; the model has {len(shapes)}")
        _check_moments(where, state["state"], shapes, tensors)


def _check_moments(where: str, state: dict, shapes: list[tuple[int, ...]], tensors: dict[str, torch.Tensor]) -> None:
    """Per-parameter optimizer tensors (all but the scalar step count) shaped like their parameter."""
    pairs = state[_DICT] if set(state) == {_DICT} else list(state.items())
    for key, entry in pairs:
        index = int(key) if isinstance(key, (int, str)) and str(key).isdigit() else None
        if index is None or index >= len(shapes):
            raise GanvqError(f"field {where}.state has an entry for parameter {key!r}, which the model lacks")
        if not isinstance(entry, dict):
            raise GanvqError(f"field {where}.state.{key} must be an object")
        for field, value in entry.items():
            if field == "step" or not (isinstance(value, dict) and set(value) == {_TENSOR}):
                continue
            t = tensors[value[_TENSOR]]
            if tuple(t.shape) != shapes[index]:
                raise GanvqError(f"tensor {value[_TENSOR]} has shape {list(t.shape)}; its parameter has "
                                 f"{list(shapes[index])}")


def _check_stream(where: str, state: Any) -> None:
    if not isinstance(state, dict) or not all(_counter(state.get(k)) for k in _STREAM):
        raise GanvqError(f"field {where} must hold non-negative integers 'epoch' and 'position', got {state!r}"[:300])


def _check_extra(kind: str, extra: dict, tensors: dict[str, torch.Tensor]) -> None:
    """The extra training state of each kind (train/vqvae.py, train/gan.py, train/prior.py extra_state)."""
    _check_skeleton("extra", extra, tensors)
    _check_stream("extra.stream" if kind == "prior" else "extra.batches", extra.get("stream" if kind == "prior" else "batches"))
    if kind == "vqvae":
        counts = extra.get("counts")
        if not (isinstance(counts, dict) and counts.get(_TENSOR) in tensors):
            raise GanvqError("field extra.counts must name a tensor of the file")
        t = tensors[counts[_TENSOR]]
        if t.ndim != 1 or t.dtype != torch.int64:
            raise GanvqError(f"tensor {counts[_TENSOR]} must be int64 of shape (codebook size,)")
    elif kind == "gan":
        if not _counter(extra.get("rollbacks")):
            raise GanvqError(f"field extra.rollbacks must be a non-negative integer, got {extra.get('rollbacks')!r}")
        if "aug_p" in extra and not (_is_number(extra["aug_p"]) and 0 <= extra["aug_p"] <= 1):
            raise GanvqError(f"field extra.aug_p must be a number in [0, 1], got {extra['aug_p']!r}")
        for field in ("ada", "lecam"):
            value = extra.get(field, {})
            if not isinstance(value, dict) or not all(_is_number(v) for v in value.values()):
                raise GanvqError(f"field extra.{field} must be an object of numbers, got {value!r}"[:300])


def check_meta(meta: dict, tensors: dict[str, torch.Tensor]) -> None:
    """The training counters and RNG state of a checkpoint's metadata, or a GanvqError naming the field."""
    for field, (ok, what) in _COUNTERS.items():
        if field not in meta:
            raise GanvqError(f"field {field!r} is missing")
        if not ok(meta[field]):
            raise GanvqError(f"field {field!r} must be {what}, got {meta[field]!r}"[:300])
    if meta["total_steps"] is not None and meta["step"] > meta["total_steps"] and not meta["finished"]:
        raise GanvqError(f"field 'step' ({meta['step']}) is past 'total_steps' ({meta['total_steps']})")
    rng = tensors.get("rng.torch")
    if rng is None:
        raise GanvqError("tensor rng.torch (the random generator's state) is missing")
    if rng.dtype != torch.uint8 or tuple(rng.shape) != tuple(torch.get_rng_state().shape):
        raise GanvqError(f"tensor rng.torch must be uint8 of shape {list(torch.get_rng_state().shape)}, "
                         f"got {rng.dtype} {list(rng.shape)}")


# optimizer -> the module whose parameters it updates, as each training task builds them
_OPTIMIZERS = {"vqvae": {"adam": "model"}, "gan": {"G": "G", "D": "D"}, "prior": {"adamw": "model"}}


def check_run(ckpt: str | Path, kind: str, config, meta: dict, tensors: dict[str, torch.Tensor]) -> None:
    """A GanvqError naming the first field or tensor of checkpoint `ckpt` that its schema does not allow.

    `config` is the run config already read from meta["config"] (config.from_dict checks its types)."""
    try:
        check_meta(meta, tensors)
        modules = _check_weights(kind, config, tensors, optional={"G_ema"} if kind == "gan" else set())
        gan = kind == "vqvae" and config.vqgan is not None
        _check_optimizers(meta["optimizers"], {**_OPTIMIZERS[kind], "disc": "disc"} if gan else _OPTIMIZERS[kind],
                          modules, tensors)
        _check_extra(kind, meta["extra"], tensors)
    except GanvqError as e:
        raise GanvqError(f"{ckpt} is not a valid ganvq checkpoint: {e}") from None
