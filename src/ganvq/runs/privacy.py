"""What a differentially private GAN run adds to its config: the (ε, δ) budget, the clipping norm, the accountant."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ganvq.errors import GanvqError

ACCOUNTANTS = ("rdp", "prv")  # opacus' Rényi-DP (Mironov 2017) and PRV (Gopi et al. 2021) accountants
# What DP-SGD clips to C in D's step: "pair": real image i with its fake i, one gradient (Xie et al. 2018);
# "separate": each real image and each fake on its own (DP-CGAN, Torkzadehmahani et al. 2019). Noise σC either way.
CLIPPINGS = ("pair", "separate")


@dataclass(frozen=True)
class PrivacyOptions:
    """DP-SGD on the discriminator (Abadi et al. 2016; for GANs Xie et al. 2018, Bie et al. 2023): a GAN run's
    `privacy` section. epsilon None: an ordinary, non-private run."""

    epsilon: float | None = None  # the (ε, δ) budget; training stops when the next G step would exceed it
    delta: float = 1e-5  # δ; keep it below 1 / (training images)
    max_grad_norm: float = 1.0  # C: each image's gradient (with its paired fake's: see clipping) is clipped to this
    # σ: Gaussian noise N(0, σ²C²) added to the summed clipped gradients; None: calibrated so that the run's
    # --steps × n_D discriminator steps spend exactly ε (a new run stores the σ it used here)
    noise_multiplier: float | None = None
    accountant: str = "rdp"  # "rdp" (Rényi DP) or "prv" (privacy random variables: tighter, slower)
    # "pair" or "separate" (CLIPPINGS). Separate: the batch's fakes are a fixed number (the expected batch), drawn
    # from G whatever images the Poisson batch holds, so they add nothing that depends on the private images, and
    # one image still moves the clipped sum by at most C: the same noise buys the same ε. Each real image's
    # gradient gets the whole of C instead of sharing it with its fake's.
    clipping: str = "pair"

    def __post_init__(self) -> None:
        if self.epsilon is not None and not (math.isfinite(self.epsilon) and self.epsilon > 0):
            raise GanvqError(f"--dp-epsilon must be a positive number, got {self.epsilon}")
        if not 0 < self.delta < 1:
            raise GanvqError(f"--dp-delta must lie in (0, 1), got {self.delta}")
        if not (math.isfinite(self.max_grad_norm) and self.max_grad_norm > 0):
            raise GanvqError(f"--dp-max-grad-norm must be a positive number, got {self.max_grad_norm}")
        if self.noise_multiplier is not None and not (math.isfinite(self.noise_multiplier) and self.noise_multiplier > 0):
            raise GanvqError(f"--dp-noise-multiplier must be a positive number, got {self.noise_multiplier}")
        if self.accountant not in ACCOUNTANTS:
            raise GanvqError(f"unknown accountant {self.accountant!r}; choose from {', '.join(ACCOUNTANTS)}")
        if self.clipping not in CLIPPINGS:
            raise GanvqError(f"unknown DP clipping {self.clipping!r}; choose from {', '.join(CLIPPINGS)}")

    @property
    def private(self) -> bool:
        return self.epsilon is not None


def check_private_recipe(d_norm: str, loss: str, r1_gamma: float, diffaugment_target: float,
                         lecam_weight: float = 0.0, consistency_weight: float = 0.0) -> None:
    """A GanvqError when a private run's recipe has parts DP-SGD cannot account for."""
    if d_norm in ("bn", "sn"):
        # Batch norm mixes images within a batch (no per-image gradient); spectral norm's power iteration is a
        # parametrization opacus does not compute per-sample gradients for.
        raise GanvqError(f"a private run needs a discriminator without batch or spectral norm (it has {d_norm!r}): "
                         "use --preset dp-fmnist or --d-norm none")
    if loss == "wgan-gp" or r1_gamma:
        raise GanvqError("a private run cannot take gradient penalties (wgan-gp, --r1-gamma): their double backward "
                         "has no per-image gradients to clip")
    if lecam_weight:
        raise GanvqError("a private run cannot take LeCam regularisation (--lecam): its anchors average D's scores of "
                         "the private images outside the accountant")
    if consistency_weight:
        raise GanvqError("a private run cannot take consistency regularisation (--consistency): DP-SGD clips one "
                         "pass of D over each image, not two augmentation draws")
    if diffaugment_target:
        raise GanvqError("a private run cannot adapt DiffAugment's p (--diffaugment-target): ADA reads D's scores of "
                         "the private images outside the accountant; give a fixed --diffaugment-p")
