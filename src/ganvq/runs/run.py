"""A run folder read once: its checkpoint's kind, config and weights, and the models they build.

Every command that uses a trained model reads it here (`open_run`), so a checkpoint is parsed once
per command and each kind of run is checked and rebuilt the same way everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ganvq.config import from_dict
from ganvq.device import resolve_device
from ganvq.errors import GanvqError
from ganvq.io import atomic_write_text, load_checkpoint
from ganvq.models.gan import build_discriminator, build_generator
from ganvq.models.vqvae import VQVAE
from ganvq.prior import CodePrior, LocalPrior, PriorConfig, build_prior
from ganvq.prior.config import exact_form_problem
from ganvq.runs.configs import RUN_CONFIGS, GANRunConfig, PriorRunConfig, VQVAERunConfig
from ganvq.runs.schema import check_run

CHECKPOINT = "checkpoint.safetensors"  # weights, optimizer and RNG state, config and counters
METRICS = "metrics.jsonl"  # one JSON line per logged step
CONFIG = "config.json"  # the run config as trained, for people to read (the checkpoint holds its own copy)
KIND_NAMES = {"vqvae": "a VQ-VAE", "gan": "a GAN", "prior": "a prior"}


def checkpoint_path(path: str | Path) -> Path:
    """The checkpoint file of a run folder, or `path` itself when it names a file."""
    p = Path(path)
    return p / CHECKPOINT if p.is_dir() else p


def run_folder(path: str | Path) -> Path:
    """The run folder of a checkpoint file, or `path` itself when it names a folder."""
    p = Path(path)
    return p if p.is_dir() else p.parent


def module_weights(tensors: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """The state dict of module `name` from a checkpoint's flat tensors."""
    prefix = f"{name}."
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


@dataclass(frozen=True)
class Run:
    """A trained run as read from its checkpoint: kind, config, counters and tensors."""

    folder: Path
    checkpoint: Path
    kind: str  # "vqvae", "gan" or "prior"
    config: VQVAERunConfig | GANRunConfig | PriorRunConfig
    meta: dict  # step, total_steps, elapsed_seconds, finished, and the optimizer/extra state skeletons
    tensors: dict[str, torch.Tensor]

    @property
    def command(self) -> str:
        """The `ganvq train` subcommand that resumes this run: its kind, or "vqgan" for a VQ-VAE run with a
        discriminator."""
        return "vqgan" if self.kind == "vqvae" and getattr(self.config, "vqgan", None) is not None else self.kind

    def weights(self, module: str) -> dict[str, torch.Tensor]:
        """The state dict of one of the run's modules ("model", "G", "G_ema", "D", "vqvae")."""
        return module_weights(self.tensors, module)

    def expect(self, *kinds: str) -> Run:
        """This run, or a GanvqError when it is not of one of `kinds`."""
        _check_kind(self.checkpoint, self.kind, kinds)
        return self

    def _build(self, make: Callable[[], nn.Module], name: str, device: str | torch.device) -> nn.Module:
        # the initial weights it draws are overwritten: drawn from a fork, so loading leaves torch's RNG as it was
        with torch.random.fork_rng(devices=[]):
            module = make()
        try:
            module.load_state_dict(self.weights(name))
        except RuntimeError as e:  # missing, unexpected or resized tensors
            detail = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
            raise GanvqError(f"{self.checkpoint}: the {name} weights do not match the config ({detail})") from None
        return module.to(resolve_device(device)).eval()

    def vqvae(self, device: str | torch.device = "cpu") -> VQVAE:
        """The VQ-VAE of a VQ-VAE run, or the one a prior run holds (eval mode)."""
        self.expect("vqvae", "prior")
        if self.kind == "vqvae":
            return self._build(lambda: VQVAE(self.config.model), "model", device)
        return self._build(lambda: VQVAE(self.config.vqvae_model), "vqvae", device)

    def generator(self, device: str | torch.device = "cpu", ema: bool = True) -> nn.Module:
        """A GAN run's generator (eval mode): the EMA weights unless ema=False."""
        self.expect("gan")
        return self._build(lambda: build_generator(self.config.model), "G_ema" if ema else "G", device)

    def discriminator(self, device: str | torch.device = "cpu") -> nn.Module:
        """A GAN run's discriminator (eval mode), e.g. to probe its overfitting."""
        self.expect("gan")
        return self._build(lambda: build_discriminator(self.config.model), "D", device)

    def prior(self, device: str | torch.device = "cpu") -> CodePrior | LocalPrior:
        """A prior run's prior over code maps (eval mode)."""
        self.expect("prior")
        return self._build(lambda: build_prior(self.config.model), "model", device)


def _check_kind(ckpt: Path, kind: str, kinds: tuple[str, ...]) -> None:
    if kinds and kind not in kinds:
        wanted = " or ".join(KIND_NAMES[k] for k in kinds)
        hint = " (train one with `ganvq train prior --vqvae RUN`)" if kinds == ("prior",) else ""
        if kind == "prior" and "vqvae" in kinds:
            hint = (" (give the VQ-VAE run the prior was trained on, as its config.json's `vqvae` names it; "
                    "compress and decompress take the prior itself)")
        raise GanvqError(f"{ckpt} is {KIND_NAMES[kind]} checkpoint, not {wanted}{hint}")


def _legacy(kind: str, config: dict) -> dict:
    """A stored config as this version reads it: runs saved before held-out splits trained on all of their
    data (val_fraction 0); priors saved before `exact` existed are exact where their size allows (any size
    used to train, for sampling)."""
    if isinstance(config, dict) and "val_fraction" not in config:
        config = {**config, "val_fraction": 0.0}
    model = config.get("model") if isinstance(config, dict) else None
    if kind != "prior" or not isinstance(model, dict) or "exact" in model:
        return config
    loose = from_dict(PriorConfig, {**model, "exact": False})
    return {**config, "model": {**model, "exact": exact_form_problem(loose) is None}}


def open_run(path: str | Path, *kinds: str) -> Run:
    """Read a run folder's (or checkpoint file's) checkpoint once; with `kinds`, it must be one of them."""
    ckpt = checkpoint_path(path)
    tensors, meta = load_checkpoint(ckpt)
    kind = meta.get("kind")
    if kind not in RUN_CONFIGS:
        raise GanvqError(f"{ckpt} is not a ganvq run checkpoint (kind {kind!r})")
    _check_kind(ckpt, kind, kinds)
    if "config" not in meta:
        raise GanvqError(f"{ckpt} is not a valid ganvq checkpoint: it holds no config")
    try:
        config = from_dict(RUN_CONFIGS[kind], _legacy(kind, meta["config"]))
    except GanvqError as e:
        raise GanvqError(f"{ckpt}: {e}") from None
    check_run(ckpt, kind, config, meta, tensors)
    return Run(run_folder(path), ckpt, kind, config, meta, tensors)


def read_metrics(folder: str | Path) -> list[dict]:
    """The records of a run's metrics.jsonl ([] when it has none); a damaged line is skipped."""
    log = Path(folder) / METRICS
    if not log.is_file():
        return []
    records = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def trim_metrics(folder: str | Path, step: int) -> None:
    """Keep only the records of RUN/metrics.jsonl up to `step` (the checkpoint a run resumes from).

    After a kill, the log may run past the last checkpoint and end in a torn line; the resumed run
    logs those steps again, so they are dropped first (and the torn line with them).
    """
    log = Path(folder) / METRICS
    if not log.is_file():
        return
    kept = [r for r in read_metrics(folder) if isinstance(r.get("step"), int) and r["step"] <= step]
    text = "".join(json.dumps(r) + "\n" for r in kept)
    if log.read_bytes() != text.encode("utf-8"):
        atomic_write_text(log, text)


def load_vqvae(path: str | Path | Run, device: str = "cpu") -> tuple[VQVAE, VQVAERunConfig]:
    """A trained VQ-VAE (eval mode) and its run config from a checkpoint file or run folder."""
    run = path if isinstance(path, Run) else open_run(path, "vqvae")
    return run.expect("vqvae").vqvae(device), run.config


def load_gan(path: str | Path | Run, device: str = "cpu", ema: bool = True) -> tuple[nn.Module, GANRunConfig]:
    """A trained generator (eval mode; the EMA weights unless ema=False) and its run config."""
    run = path if isinstance(path, Run) else open_run(path, "gan")
    return run.generator(device, ema), run.config


def load_discriminator(path: str | Path | Run, device: str = "cpu") -> tuple[nn.Module, GANRunConfig]:
    """A trained discriminator (eval mode) and its run config, e.g. to probe its overfitting."""
    run = path if isinstance(path, Run) else open_run(path, "gan")
    return run.discriminator(device), run.config


def load_prior(path: str | Path | Run, device: str = "cpu") -> tuple[CodePrior | LocalPrior, VQVAE, PriorRunConfig]:
    """A trained prior and its VQ-VAE (both in eval mode) and the run config, from a checkpoint or run folder."""
    run = path if isinstance(path, Run) else open_run(path, "prior")
    return run.prior(device), run.vqvae(device), run.config
