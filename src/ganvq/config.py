"""Dataclass configs, named presets, and their JSON/YAML round trip."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ganvq.errors import GanvqError
from ganvq.models.vqvae import VQVAEConfig
from ganvq.quantize.fsq import FSQConfig
from ganvq.quantize.vq import VQConfig


@dataclass(frozen=True)
class TrainConfig:
    steps: int | None = 5000  # optimiser steps; with `minutes` too, the first limit reached wins
    minutes: float | None = None  # wall-clock budget; the schedule is fitted to it after a short calibration
    batch_size: int = 128
    lr: float = 1e-3
    lr_schedule: str = "cosine"  # "cosine" (to 0 at the last step) | "constant"
    warmup_steps: int = 0
    seed: int = 0
    precision: str = "bf16"  # "bf16" (autocast, fast on CPUs with AMX) | "fp32"
    device: str = "auto"  # "auto" picks CUDA when present, else CPU
    threads: int | None = None  # torch intra-op threads; None leaves torch's default
    log_every: int = 50  # steps between metric lines
    ckpt_every: int = 1000  # steps between periodic checkpoints (a final one is always written)
    eval_images: int = 2000  # test images scored at each checkpoint (0: none)
    kmeans_every: int = 500  # update="kmeans" only: steps of model training between codebook fits
    kmeans_batches: int = 8  # update="kmeans" only: batches of encoder outputs per codebook fit

    def __post_init__(self) -> None:
        if self.steps is None and self.minutes is None:
            raise GanvqError("give a training length: --steps N or --minutes M")
        if self.steps is not None and self.steps < 1:
            raise GanvqError("--steps must be at least 1")
        if self.minutes is not None and self.minutes <= 0:
            raise GanvqError("--minutes must be positive")
        if self.batch_size < 1:
            raise GanvqError("--batch-size must be at least 1")
        if self.precision not in ("bf16", "fp32"):
            raise GanvqError(f"unknown precision {self.precision!r}; choose bf16 or fp32")
        if self.lr_schedule not in ("cosine", "constant"):
            raise GanvqError(f"unknown lr schedule {self.lr_schedule!r}; choose cosine or constant")


@dataclass(frozen=True)
class VQVAERunConfig:
    model: VQVAEConfig = field(default_factory=VQVAEConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: str = "fashion-mnist"  # dataset name or path (see ganvq.data.resolve_dataset)
    limit: int | None = None  # use only the first N training images
    channels: int | None = None  # 1 grayscale, 3 RGB, None: as the data is
    on_bad: str = "skip"  # unreadable files in an image folder: "skip" (and list them) or "fail"


def _vq7(**kw) -> VQVAEConfig:
    return VQVAEConfig(downsamples=2, vq=VQConfig(**kw))


# Named presets: the modern defaults, and the recipes they are compared with.
VQVAE_PRESETS: dict[str, VQVAEConfig] = {
    # 7x7 latents, 512 codes: 49 * 9 bits = 0.5625 bits per pixel before entropy coding.
    "fmnist-7x7": _vq7(),
    # 14x14 latents, 512 codes: 2.25 bits per pixel raw.
    "fmnist-14x14": VQVAEConfig(downsamples=1, vq=VQConfig()),
    # van den Oord et al.'s recipe without the fixes: random codes, codebook loss, no restarts.
    "plain-7x7": _vq7(update="loss", kmeans_init=False, restart_dead=False),
    "plain-14x14": VQVAEConfig(
        downsamples=1, vq=VQConfig(update="loss", kmeans_init=False, restart_dead=False)
    ),
    # The article's two-phase recipe: k-means "vector training" alternating with model training.
    "two-phase-7x7": _vq7(update="kmeans", restart_dead=False),
    # Cosine codes in a low-dimensional projected codebook (Yu et al. 2022).
    "cosine-7x7": _vq7(cosine=True, codebook_dim=16),
    # Finite Scalar Quantization, 8*8*8 = 512 codes (Mentzer et al. 2023).
    "fsq-7x7": VQVAEConfig(downsamples=2, quantizer="fsq", fsq=FSQConfig(levels=(8, 8, 8))),
}


def preset(name: str) -> VQVAEConfig:
    """The model config of a named preset, or a GanvqError listing the names."""
    try:
        return VQVAE_PRESETS[name]
    except KeyError:
        raise GanvqError(f"unknown preset {name!r}; choose from {', '.join(sorted(VQVAE_PRESETS))}") from None


def to_dict(config: Any) -> dict:
    """A config dataclass as plain JSON-able data."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def from_dict(cls: type, data: dict) -> Any:
    """Rebuild a (nested) config dataclass from plain data; unknown keys are an error."""
    if not isinstance(data, dict):
        raise GanvqError(f"config for {cls.__name__} must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise GanvqError(f"unknown {cls.__name__} option(s): {', '.join(sorted(unknown))}")
    kwargs = {}
    for key, value in data.items():
        kind = hints[key]
        if dataclasses.is_dataclass(kind):
            value = from_dict(kind, value)
        elif typing.get_origin(kind) is tuple or (
            isinstance(kind, types.UnionType) is False and kind is tuple
        ):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def load_config_file(path: str | Path) -> dict:
    """Read a JSON or YAML config file into plain data, with a clear error when unreadable."""
    import yaml

    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise GanvqError(f"cannot read config {p}: {e.strerror or e}") from None
    try:
        data = yaml.safe_load(text)  # YAML is a superset of JSON
    except yaml.YAMLError as e:
        raise GanvqError(f"{p} is not valid YAML/JSON: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise GanvqError(f"{p} must hold a mapping of options")
    return data


def merge(config: Any, **changes: Any) -> Any:
    """dataclasses.replace, skipping changes that are None (options the user did not give)."""
    return replace(config, **{k: v for k, v in changes.items() if v is not None})
