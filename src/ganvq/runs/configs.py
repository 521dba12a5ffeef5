"""What a run folder's config holds: the training options every kind shares and each kind's run config."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ganvq.data.augment import check_policy, check_probability, check_translation
from ganvq.data.corrupt import parse_corruption
from ganvq.data.splits import check_val_fraction
from ganvq.device import check_device_name
from ganvq.errors import GanvqError
from ganvq.losses.gan import LOSSES
from ganvq.models.gan import GANConfig
from ganvq.models.vqvae import VQVAEConfig
from ganvq.prior.config import PriorConfig
from ganvq.runs.privacy import PrivacyOptions, check_private_recipe
from ganvq.runs.vqgan import VQGANOptions


@dataclass(frozen=True)
class TrainConfig:
    steps: int | None = 5000  # optimiser steps; with `minutes` too, the first limit reached wins
    minutes: float | None = None  # wall-clock budget; the schedule is fitted to it after a short calibration
    batch_size: int = 128
    lr: float = 1e-3
    lr_schedule: str = "cosine"  # "cosine" (to 0 at the last step) | "constant" | "wsd" (constant, then linear to 0)
    # linear warm-up steps, at most a tenth of the run once its length is known (a --minutes run of a few hundred
    # steps would otherwise spend most of them warming up)
    warmup_steps: int = 0
    seed: int = 0
    precision: str = "auto"  # "auto": bf16 where the hardware runs it natively, else fp32 | "bf16" | "fp32" | "fp16" (CUDA, with a gradient scaler)
    device: str = "auto"  # "auto" picks CUDA when present, else CPU
    threads: int | None = None  # torch intra-op threads while training (restored after); None leaves torch's choice
    log_every: int = 50  # steps between metric lines
    ckpt_every: int = 1000  # steps between periodic checkpoints, scored (a first and a final one are always written)
    ckpt_minutes: float = 2.0  # minutes between unscored checkpoints as well, so a slow run keeps its work (0: off)
    eval_images: int = 2000  # test images scored at each checkpoint (0: none)
    kmeans_every: int = 500  # update="kmeans" only: steps of model training between codebook fits
    kmeans_batches: int = 8  # update="kmeans" only: batches of encoder outputs per codebook fit
    learn_steps: int = 0  # steps the recipe needs to learn anything (measured per preset); fewer: a warning at start

    def __post_init__(self) -> None:
        if self.steps is None and self.minutes is None:
            raise GanvqError("give a training length: --steps N or --minutes M")
        if self.steps is not None and self.steps < 1:
            raise GanvqError("--steps must be at least 1")
        if self.minutes is not None and not (math.isfinite(self.minutes) and self.minutes > 0):
            raise GanvqError(f"--minutes must be a positive number, got {self.minutes}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise GanvqError(f"--lr must be a positive number, got {self.lr}")
        if self.threads is not None and self.threads < 1:
            raise GanvqError(f"--threads must be at least 1, got {self.threads}")
        if not 0 <= self.seed < 2**63:
            raise GanvqError(f"--seed must lie in [0, 2^63), got {self.seed}")
        if min(self.warmup_steps, self.eval_images) < 0 or min(self.kmeans_every, self.kmeans_batches) < 1:
            raise GanvqError("warmup_steps and eval_images must be non-negative, kmeans_every and kmeans_batches "
                             "at least 1")
        check_device_name(self.device)
        if self.batch_size < 1:
            raise GanvqError("--batch-size must be at least 1")
        if self.learn_steps < 0:
            raise GanvqError("learn_steps must be non-negative")
        if self.log_every < 1 or self.ckpt_every < 1:
            raise GanvqError("--log-every and --ckpt-every must be at least 1")
        if not (isinstance(self.ckpt_minutes, (int, float)) and 0 <= self.ckpt_minutes < float("inf")):
            raise GanvqError(f"--ckpt-minutes must be 0 (off) or a positive number of minutes, not {self.ckpt_minutes!r}")
        if self.precision not in ("auto", "bf16", "fp32", "fp16"):
            raise GanvqError(f"unknown precision {self.precision!r}; choose auto, bf16, fp16 (CUDA) or fp32")
        if self.lr_schedule not in ("cosine", "constant", "wsd"):
            raise GanvqError(f"unknown lr schedule {self.lr_schedule!r}; choose cosine, constant or wsd")


@dataclass(frozen=True)
class VQVAERunConfig:
    model: VQVAEConfig = field(default_factory=VQVAEConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: str = "fashion-mnist"  # dataset name or path (see ganvq.data.resolve_dataset)
    limit: int | None = None  # use only the first N training images
    channels: int | None = None  # 1 grayscale, 3 RGB, None: as the data is
    on_bad: str = "skip"  # unreadable files in an image folder: "skip" (and list them) or "fail"
    # held out from training (see ganvq.data.splits); None: 10% of data without a named test split, else 0.
    # Training stores the value it used, so evaluation finds the same held-out images.
    val_fraction: float | None = None
    # a restoration model (data/corrupt.py): trained on damaged inputs (noise:0.2, blur:1, jpeg:10, mask:center)
    # with the clean images as targets; "": a plain VQ-VAE
    corrupt: str = ""
    init: str = ""  # start from this VQ-VAE run's weights (fine-tuning, e.g. a restoration model); "": at random
    vqgan: VQGANOptions | None = None  # a VQGAN: a patch discriminator and a perceptual loss; None: a plain VQ-VAE

    def __post_init__(self) -> None:
        check_val_fraction(self.val_fraction)
        if self.corrupt:
            parse_corruption(self.corrupt)


@dataclass(frozen=True)
class GANOptions:
    """What a GAN run adds to TrainConfig (whose `lr` is the generator's learning rate)."""

    loss: str = "non-saturating"  # "minimax" (the article's log(1 - D(G(z)))), "non-saturating", "hinge", "wgan-gp"
    n_d: int = 1  # discriminator updates per generator update
    lr_d: float | None = None  # D's learning rate (TTUR, Heusel et al. 2017); None: the same as G's
    beta1: float = 0.5  # Adam betas of both players (DCGAN's 0.5 damps oscillation)
    beta2: float = 0.999
    ema_decay: float = 0.0  # EMA of G's weights used for sampling (e.g. 0.999); 0: sample the last G
    # The EMA as a power-function average instead (Karras et al. 2024, EDM2): decay (1 - 1/n)^(ema_power + 1) after G
    # update n, so update s weighs as s^ema_power and the average spans the same share of a run however long it is
    # (a smaller power: a longer tail); None: ema_decay's average
    ema_power: float | None = None
    gp_weight: float = 10.0  # lambda of the WGAN-GP gradient penalty (loss "wgan-gp" only)
    r1_gamma: float = 0.0  # gamma of the R1 penalty on real data (Mescheder et al. 2018); 0: off
    # LeCam regularisation's weight (Tseng et al. 2021; 0.3 with hinge in their BigGAN runs); 0: off. Its anchors are
    # moving averages, at lecam_decay, of D's mean logits on real and on fake images.
    lecam_weight: float = 0.0
    lecam_decay: float = 0.99
    # balanced consistency regularisation's weight (bCR, Zhao et al. 2021; 10 in their runs); 0: off. D also
    # minimises the squared gap between its logits on two DiffAugment draws of the same real and fake images
    consistency_weight: float = 0.0
    diffaugment: str = ""  # DiffAugment transforms before D, e.g. "color,translation,cutout"; "": none
    diffaugment_p: float = 1.0  # probability that each transform touches each image (ADA-style; 1: always)
    # ADA's adaptive p (Karras et al. 2020), e.g. 0.6: p starts at 0 (diffaugment_p is unused) and moves to keep
    # the fraction of positive D logits on real images at this target; 0: p stays diffaugment_p
    diffaugment_target: float = 0.0
    diffaugment_shift: float = 0.125  # translation: the largest shift, as a fraction of the image size
    diffaugment_fill: str = "zeros"  # translation: what a shift uncovers, "zeros" (mid-grey), "black" or "edge" pixels
    # Classic augmentation of the training images: each real image D sees is shifted by up to this fraction of the
    # size (edge pixels fill), drawn afresh each time; 0: off. Unlike DiffAugment it leaks by design: G learns to
    # make the shifted images too, as StyleGAN's --mirror teaches it mirrored ones
    real_shift: float = 0.0
    conditional: bool = True  # train class-conditionally when the data has labels
    # Weight of a class loss on a conditional run (0: off): D's projection scores every class, <embed(k), phi(x)>,
    # and cross-entropy teaches D to name real images' classes and G to make fakes D names as their label (the
    # dual projection GAN, Han et al. 2021; AC-GAN's idea, Odena et al. 2017, without a separate head)
    class_loss: float = 0.0
    sample_every: int = 500  # steps between sample grids in RUN/samples/ (0: only at checkpoints)
    on_diverge: str = "stop"  # NaN/inf or |loss| > diverge_loss: "stop" (naming the last good checkpoint) | "rollback"
    diverge_loss: float = 1e4  # a loss this large counts as divergence
    max_rollbacks: int = 3  # on_diverge="rollback": halvings of the learning rates before giving up

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise GanvqError(f"unknown GAN loss {self.loss!r}; choose from {', '.join(LOSSES)}")
        if self.n_d < 1:
            raise GanvqError("--n-d must be at least 1")
        if self.lr_d is not None and not (math.isfinite(self.lr_d) and self.lr_d > 0):
            raise GanvqError(f"--lr-d must be a positive number, got {self.lr_d}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise GanvqError(f"Adam betas must lie in [0, 1), got {self.beta1}, {self.beta2}")
        for name in ("gp_weight", "r1_gamma", "diverge_loss", "class_loss", "lecam_weight",
                     "consistency_weight"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise GanvqError(f"gan.{name} must be a non-negative number, got {getattr(self, name)}")
        if self.sample_every < 0 or self.max_rollbacks < 0:
            raise GanvqError("--sample-every and max_rollbacks must be non-negative")
        if not 0 <= self.lecam_decay < 1:
            raise GanvqError(f"lecam_decay must lie in [0, 1), got {self.lecam_decay}")
        if not 0 <= self.ema_decay < 1:
            raise GanvqError(f"--ema-decay must lie in [0, 1), got {self.ema_decay}")
        if self.ema_power is not None and not (math.isfinite(self.ema_power) and self.ema_power >= 0):
            raise GanvqError(f"--ema-power must be a non-negative number, got {self.ema_power}")
        if self.on_diverge not in ("stop", "rollback"):
            raise GanvqError(f"unknown on_diverge {self.on_diverge!r}; choose stop or rollback")
        check_policy(self.diffaugment)
        check_probability(self.diffaugment_p)
        check_translation(self.diffaugment_shift, self.diffaugment_fill)
        if not 0 <= self.real_shift <= 0.5:
            raise GanvqError(f"--real-shift must lie in [0, 0.5] of the image size, got {self.real_shift}")
        if not 0 <= self.diffaugment_target < 1:
            raise GanvqError(f"--diffaugment-target must lie in [0, 1) (0: a fixed p), got {self.diffaugment_target}")
        if self.diffaugment_target and not self.diffaugment:
            raise GanvqError("--diffaugment-target adapts DiffAugment's p: name the transforms with --diffaugment")
        if self.consistency_weight and not self.diffaugment:
            raise GanvqError("--consistency compares D's scores of two DiffAugment draws: name the transforms with "
                             "--diffaugment")


def gan_train(**kw) -> TrainConfig:
    """A GAN run's TrainConfig: 5,000 steps of 64 images at 2e-4, no test scoring; `kw` changes any of it."""
    return TrainConfig(**{"steps": 5000, "batch_size": 64, "lr": 2e-4, "eval_images": 0, **kw})


@dataclass(frozen=True)
class GANRunConfig:
    model: GANConfig = field(default_factory=GANConfig)
    train: TrainConfig = field(default_factory=gan_train)
    gan: GANOptions = field(default_factory=GANOptions)
    data: str = "fashion-mnist"  # dataset name or path (see ganvq.data.resolve_dataset)
    limit: int | None = None  # use only the first N training images
    # train on a balanced subset of N of the (first `limit`) training images, equal per class, drawn with
    # subset_seed (ganvq.data.splits.balanced_subset): eval finds the same images for the audit and --utility
    subset: int | None = None
    subset_seed: int = 0
    channels: int | None = None  # 1 grayscale, 3 RGB, None: as the data is
    on_bad: str = "skip"  # unreadable files in an image folder: "skip" (and list them) or "fail"
    # held out from training (see ganvq.data.splits); None: 10% of data without a named test split, else 0.
    # Training stores the value it used, so evaluation finds the same held-out images.
    val_fraction: float | None = None
    class_names: tuple[str, ...] | None = None  # set from the data when training; names the labels of samples
    privacy: PrivacyOptions = field(default_factory=PrivacyOptions)  # DP-SGD on D; epsilon None: not private

    def __post_init__(self) -> None:
        check_val_fraction(self.val_fraction)
        if self.subset is not None and self.subset < 1:
            raise GanvqError(f"--subset must be at least 1, got {self.subset}")
        if not 0 <= self.subset_seed < 2**63:
            raise GanvqError(f"--subset-seed must lie in [0, 2^63), got {self.subset_seed}")
        if self.privacy.private:
            check_private_recipe(self.model.d_norm, self.gan.loss, self.gan.r1_gamma, self.gan.diffaugment_target,
                                 self.gan.lecam_weight, self.gan.consistency_weight)
        if self.gan.loss == "wgan-gp" and self.model.d_norm == "bn":
            # Batch norm couples the critic's outputs across the batch, so per-image gradient norms
            # (what the penalty constrains) lose their meaning (Gulrajani et al. 2017, sec. 4).
            raise GanvqError("WGAN-GP needs a critic without batch norm: use --d-norm none or sn")


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
    val_fraction: float | None = None  # as a VQ-VAE's; None: the VQ-VAE's own when the data is its data
    class_conditional: bool = False  # one start token per class (needs labelled data)
    class_names: tuple[str, ...] | None = None  # a class-conditional prior's, from the data; names samples' labels
    weight_decay: float = 0.01  # AdamW decoupled weight decay

    def __post_init__(self) -> None:
        check_val_fraction(self.val_fraction)


RUN_CONFIGS = {"vqvae": VQVAERunConfig, "gan": GANRunConfig, "prior": PriorRunConfig}  # by a checkpoint's kind
