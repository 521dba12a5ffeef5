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
from ganvq.models.gan import GANConfig
from ganvq.models.vqvae import VQVAEConfig
from ganvq.prior.model import PriorConfig
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
    precision: str = "auto"  # "auto": bf16 where the hardware runs it natively, else fp32 | "bf16" | "fp32"
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
        if self.precision not in ("auto", "bf16", "fp32"):
            raise GanvqError(f"unknown precision {self.precision!r}; choose auto, bf16 or fp32")
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
    # 7x7 latents, 2 residual levels of 512 codes: 1.125 bits per pixel raw, for higher rates.
    "fmnist-7x7-rq2": _vq7(levels=2),
    # 14x14 latents, 512 codes: 2.25 bits per pixel raw.
    "fmnist-14x14": VQVAEConfig(downsamples=1, vq=VQConfig()),
    # 14x14 latents, 64 codes, half the width: 1.5 bits per pixel raw; the low-rate 14x14 codec point.
    "fmnist-14x14-k64": VQVAEConfig(downsamples=1, hidden=64, vq=VQConfig(codebook_size=64)),
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



@dataclass(frozen=True)
class GANOptions:
    """What a GAN run adds to TrainConfig (whose `lr` is the generator's learning rate)."""

    loss: str = "non-saturating"  # "minimax" (the article's log(1 - D(G(z)))), "non-saturating", "hinge", "wgan-gp"
    n_d: int = 1  # discriminator updates per generator update
    lr_d: float | None = None  # D's learning rate (TTUR, Heusel et al. 2017); None: the same as G's
    beta1: float = 0.5  # Adam betas of both players (DCGAN's 0.5 damps oscillation)
    beta2: float = 0.999
    ema_decay: float = 0.0  # EMA of G's weights used for sampling (e.g. 0.999); 0: sample the last G
    gp_weight: float = 10.0  # lambda of the WGAN-GP gradient penalty (loss "wgan-gp" only)
    r1_gamma: float = 0.0  # gamma of the R1 penalty on real data (Mescheder et al. 2018); 0: off
    diffaugment: str = ""  # DiffAugment transforms before D, e.g. "color,translation,cutout"; "": none
    diffaugment_p: float = 1.0  # probability that each transform touches each image (ADA-style; 1: always)
    # ADA's adaptive p (Karras et al. 2020), e.g. 0.6: p starts at 0 (diffaugment_p is unused) and moves to keep
    # the fraction of positive D logits on real images at this target; 0: p stays diffaugment_p
    diffaugment_target: float = 0.0
    diffaugment_shift: float = 0.125  # translation: the largest shift, as a fraction of the image size
    diffaugment_fill: str = "zeros"  # translation: what a shift uncovers, "zeros" (mid-grey), "black" or "edge" pixels
    conditional: bool = True  # train class-conditionally when the data has labels
    sample_every: int = 500  # steps between sample grids in RUN/samples/ (0: only at checkpoints)
    on_diverge: str = "stop"  # NaN/inf or |loss| > diverge_loss: "stop" (naming the last good checkpoint) | "rollback"
    diverge_loss: float = 1e4  # a loss this large counts as divergence
    max_rollbacks: int = 3  # on_diverge="rollback": halvings of the learning rates before giving up

    def __post_init__(self) -> None:
        from ganvq.data.augment import check_policy, check_probability, check_translation
        from ganvq.losses.gan import LOSSES

        if self.loss not in LOSSES:
            raise GanvqError(f"unknown GAN loss {self.loss!r}; choose from {', '.join(LOSSES)}")
        if self.n_d < 1:
            raise GanvqError("--n-d must be at least 1")
        if not 0 <= self.ema_decay < 1:
            raise GanvqError(f"--ema-decay must lie in [0, 1), got {self.ema_decay}")
        if self.on_diverge not in ("stop", "rollback"):
            raise GanvqError(f"unknown on_diverge {self.on_diverge!r}; choose stop or rollback")
        check_policy(self.diffaugment)
        check_probability(self.diffaugment_p)
        check_translation(self.diffaugment_shift, self.diffaugment_fill)
        if not 0 <= self.diffaugment_target < 1:
            raise GanvqError(f"--diffaugment-target must lie in [0, 1) (0: a fixed p), got {self.diffaugment_target}")
        if self.diffaugment_target and not self.diffaugment:
            raise GanvqError("--diffaugment-target adapts DiffAugment's p: name the transforms with --diffaugment")


def _gan_train(**kw) -> TrainConfig:
    return TrainConfig(**{"steps": 5000, "batch_size": 64, "lr": 2e-4, "eval_images": 0, **kw})


@dataclass(frozen=True)
class GANRunConfig:
    model: GANConfig = field(default_factory=GANConfig)
    train: TrainConfig = field(default_factory=_gan_train)
    gan: GANOptions = field(default_factory=GANOptions)
    data: str = "fashion-mnist"  # dataset name or path (see ganvq.data.resolve_dataset)
    limit: int | None = None  # use only the first N training images
    channels: int | None = None  # 1 grayscale, 3 RGB, None: as the data is
    on_bad: str = "skip"  # unreadable files in an image folder: "skip" (and list them) or "fail"
    class_names: tuple[str, ...] | None = None  # set from the data when training; names the labels of samples

    def __post_init__(self) -> None:
        if isinstance(self.class_names, list):  # from JSON
            object.__setattr__(self, "class_names", tuple(self.class_names))
        if self.gan.loss == "wgan-gp" and self.model.d_norm == "bn":
            # Batch norm couples the critic's outputs across the batch, so per-image gradient norms
            # (what the penalty constrains) lose their meaning (Gulrajani et al. 2017, sec. 4).
            raise GanvqError("WGAN-GP needs a critic without batch norm: use --d-norm none or sn")


# ganvq's Fashion-MNIST recipe: class-conditional DCGAN-shaped G (one-hot label with z, and
# conditional BN), spectrally normalised projection D, hinge loss, TTUR, EMA of G, precision auto,
# batch 64 (more, cheaper steps per minute than 128). A constant learning rate: the EMA does the
# averaging that a decay would, without slowing learning (1-minute trials: FID 8.5 vs 17 with cosine).
_FMNIST_BEST = GANRunConfig(
    model=GANConfig(arch="dcgan", d_norm="sn", g_width=64, d_width=64),
    train=_gan_train(batch_size=64, lr=2e-4, lr_schedule="constant"),
    gan=GANOptions(loss="hinge", lr_d=4e-4, beta1=0.5, beta2=0.999, ema_decay=0.999),
)

# GAN presets: whole run configs, since a recipe is its optimiser and loss as much as its model.
GAN_PRESETS: dict[str, GANRunConfig] = {
    # pytorch/examples DCGAN: BN in G and D, N(0, 0.02) init, Adam 2e-4 with beta1 0.5, batch 128,
    # BCE with the non-saturating G loss, constant learning rate, fp32, no EMA, unconditional.
    "dcgan-textbook": GANRunConfig(
        model=GANConfig(arch="dcgan", d_norm="bn"),
        train=_gan_train(batch_size=128, lr_schedule="constant", precision="fp32"),
        gan=GANOptions(loss="non-saturating", conditional=False),
    ),
    "fmnist-best": _FMNIST_BEST,
    # fmnist-best for little data (about 1,000 images) and short budgets: a quarter of the width (16),
    # so the same minutes buy about 4 times the steps. No DiffAugment: at 5-minute budgets a mild
    # translation changed FID by less than the seed-to-seed spread (bench_gan.py, 3 seeds;
    # bench_gan_da_variants.py, 2 seeds), and ADA's adaptive p stays near 0; add it with --diffaugment
    # for longer runs.
    "fmnist-few": replace(_FMNIST_BEST, model=replace(_FMNIST_BEST.model, g_width=16, d_width=16)),
    # SN-ResNet (Miyato et al. 2018) for 32- and 64-pixel RGB folders: hinge, n_D = 2, EMA, DiffAugment.
    # Half the paper's widths (128/256), so a CPU manages a few steps per second; widen with --config.
    "resnet-32": GANRunConfig(
        model=GANConfig(arch="resnet", image_size=32, channels=3, z_dim=128, g_width=64, d_width=64,
                        d_norm="sn", dcgan_init=False),
        train=_gan_train(batch_size=64, lr=2e-4, lr_schedule="constant"),
        gan=GANOptions(loss="hinge", n_d=2, beta1=0.0, beta2=0.9, ema_decay=0.999,
                       diffaugment="color,translation,cutout"),
    ),
    "resnet-64": GANRunConfig(
        model=GANConfig(arch="resnet", image_size=64, channels=3, z_dim=128, g_width=64, d_width=64,
                        d_norm="sn", dcgan_init=False),
        train=_gan_train(batch_size=64, lr=2e-4, lr_schedule="constant"),
        gan=GANOptions(loss="hinge", n_d=2, beta1=0.0, beta2=0.9, ema_decay=0.999,
                       diffaugment="color,translation,cutout"),
    ),
}


def gan_preset(name: str) -> GANRunConfig:
    """The run config of a named GAN preset, or a GanvqError listing the names."""
    try:
        return GAN_PRESETS[name]
    except KeyError:
        raise GanvqError(f"unknown GAN preset {name!r}; choose from {', '.join(sorted(GAN_PRESETS))}") from None


def _prior_train(**kw) -> TrainConfig:
    # fp32: on this CPU (no AMX) bf16 autocast is no faster for a transformer this narrow
    return TrainConfig(**{"steps": 5000, "batch_size": 128, "lr": 1e-3, "warmup_steps": 200,
                          "precision": "fp32", "eval_images": 10000, **kw})


@dataclass(frozen=True)
class PriorRunConfig:
    vqvae: str = ""  # VQ-VAE checkpoint (file or run folder) whose code maps the prior models
    model: PriorConfig = field(default_factory=PriorConfig)  # codebook_size/height/width: set from the VQ-VAE
    train: TrainConfig = field(default_factory=_prior_train)
    vqvae_model: VQVAEConfig = field(default_factory=VQVAEConfig)  # set from the VQ-VAE; rebuilds the copy stored in the checkpoint
    data: str = ""  # dataset whose training split is encoded; "": the VQ-VAE's training data
    limit: int | None = None  # use only the first N training images
    class_conditional: bool = False  # one start token per class (needs labelled data)
    weight_decay: float = 0.01  # AdamW decoupled weight decay


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
