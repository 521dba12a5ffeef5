"""What a VQGAN run adds to a VQ-VAE run's config (Esser et al. 2021): a patch discriminator and a perceptual loss."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ganvq.errors import GanvqError
from ganvq.models.gan import GANConfig
from ganvq.models.vqvae import VQVAEConfig

VQGAN_LOSSES = ("hinge", "non-saturating")
PERCEPTUAL = ("auto", "cnn", "features", "none")
PIXEL_LOSSES = ("mse", "l1")


@dataclass(frozen=True)
class VQGANOptions:
    """The discriminator, its loss and the weights of a VQGAN run (a VQ-VAE run's `vqgan` section)."""

    loss: str = "hinge"  # the discriminator's loss: "hinge" or "non-saturating"
    disc_weight: float = 0.1  # the GAN term's weight, times the adaptive weight when `adaptive`
    disc_start: int = 500  # steps before the discriminator trains and its term reaches the decoder
    adaptive: bool = True  # lambda = |grad L_rec| / (|grad L_GAN| + delta) at the decoder's last layer (eq. 7)
    delta: float = 1e-4  # keeps the adaptive weight finite
    max_adaptive: float = 1e4  # the adaptive weight is clipped to this
    # "cnn": distances between the shipped Fashion-MNIST CNN's features (1-channel 28 px only); "features": the
    # discriminator's own features (feature matching; no network is downloaded); "auto": cnn where it applies
    perceptual: str = "auto"
    perceptual_weight: float = 1.0  # weight of the perceptual term beside the pixel loss
    # the pixel term: "mse" (a plain VQ-VAE's) or "l1" (taming-transformers' |x - x_hat|, whose gradient does not
    # shrink with the error). Not in any preset: at 14x14 (about 330 steps) CNN FID ratios 5.49 and 2.11 on seeds 0
    # and 1 at the preset's weights, 2.11 and 1.99 with the perceptual weight at 0.05 (results/vqgan-sweep.json, l1-*)
    pixel_loss: str = "mse"
    # steps before the perceptual term joins the loss (taming-transformers: 0, from the first step); until then the
    # VQ-VAE learns on the pixel loss alone, as a plain VQ-VAE does
    perceptual_start: int = 0
    perceptual_ramp: int = 0  # steps over which the perceptual weight rises linearly from 0 (0: full weight at once)
    # images of each batch the perceptual term compares (the first ones; 0: all): the CNN costs about as much per
    # image as the VQ-VAE itself, so a subset keeps more steps per minute
    perceptual_images: int = 32
    # the perceptual term's gradient reaches the decoder only (the codes are decoded again, detached, for it), so
    # the encoder and codebook learn from the pixel loss alone, as a plain VQ-VAE's do. Not in any preset: at 14x14
    # (about 300-350 steps) worse than the preset on Inception FID on seed 0, and on seed 1 with the steps matched
    # worse on both FIDs and PSNR (results/vqgan-sweep.json, dec-14x14-amd*.json beside preset-14x14-amd*)
    perceptual_decoder_only: bool = False
    # the cnn term also compares the CNN's 128-d embedding, the very features the evaluation suite's FID is computed
    # on (so a reconstruction FID on that extractor then measures what the loss targets; score Inception-v3 too).
    # Not in any preset: at 14x14 (about 370 steps) CNN FID ratios 1.00 and 0.77 on seeds 0 and 1, no nearer the
    # bar's 0.5 than the preset (results/vqgan-sweep.json, emb-14x14-seed*.json)
    perceptual_embedding: bool = False
    lr_d: float | None = None  # the discriminator's learning rate; None: the VQ-VAE's
    beta1: float = 0.5  # the discriminator's Adam betas (taming-transformers: 0.5, 0.9)
    beta2: float = 0.9
    d_width: int = 64  # discriminator channels at full resolution, doubling per stride-2 stage
    # "sn" (spectral norm) or "none"; real and fake images share its batches. "none" is in no preset: at 14x14 in 40
    # minutes its D stays near chance too (hinge loss 1.81-2.00), FIDs level with sn's (results/vqgan-sweep.json,
    # p14m40-dnone-*)
    d_norm: str = "sn"
    # guard against loss spikes: a step whose autoencoder gradient norm exceeds this many times its running mean (an
    # average over about the last 100 steps, from step 100 on) is scaled down to that many times; 0: off.
    # Added after 2 of 8 40-minute 14x14 VQGAN runs spiked before their discriminator started (PSNR 30.4 -> 20.6 dB
    # within 25 steps, a third of the codes dead after), and none of 6 VQ-VAE runs did (results/vqgan-sweep.json)
    clip_spikes: float = 0.0

    def __post_init__(self) -> None:
        if self.loss not in VQGAN_LOSSES:
            raise GanvqError(f"unknown VQGAN loss {self.loss!r}; choose from {', '.join(VQGAN_LOSSES)}")
        if self.pixel_loss not in PIXEL_LOSSES:
            raise GanvqError(f"unknown pixel loss {self.pixel_loss!r}; choose from {', '.join(PIXEL_LOSSES)}")
        if self.perceptual not in PERCEPTUAL:
            raise GanvqError(f"unknown perceptual loss {self.perceptual!r}; choose from {', '.join(PERCEPTUAL)}")
        for name in ("disc_weight", "perceptual_weight", "delta", "max_adaptive", "clip_spikes"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise GanvqError(f"vqgan.{name} must be a non-negative number, got {getattr(self, name)}")
        if min(self.disc_start, self.perceptual_start, self.perceptual_ramp, self.perceptual_images) < 0:
            raise GanvqError("--disc-start, --perceptual-start, vqgan.perceptual_ramp and vqgan.perceptual_images "
                             "must be non-negative")
        if not 1 <= self.d_width <= 4096:
            raise GanvqError(f"vqgan.d_width must lie in [1, 4096], got {self.d_width}")
        if self.lr_d is not None and not (math.isfinite(self.lr_d) and self.lr_d > 0):
            raise GanvqError(f"--lr-d must be a positive number, got {self.lr_d}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise GanvqError(f"vqgan Adam betas must lie in [0, 1), got {self.beta1}, {self.beta2}")
        if 0 < self.clip_spikes < 1:
            raise GanvqError(f"vqgan.clip_spikes must be 0 (off) or at least 1 (times the running mean gradient "
                             f"norm), got {self.clip_spikes}")
        if self.d_norm not in ("sn", "none"):
            raise GanvqError(f"vqgan.d_norm must be sn or none, got {self.d_norm!r}")

    def discriminator_config(self, model: VQVAEConfig) -> GANConfig:
        """The patch discriminator's config for images of `model`'s size and channels."""
        return GANConfig(arch="dcgan", image_size=model.image_size, channels=model.channels, d_width=self.d_width,
                         d_norm=self.d_norm)

    def perceptual_kind(self, model: VQVAEConfig) -> str:
        """"cnn", "features" or "none": `perceptual` resolved for `model`'s images, or a GanvqError."""
        fits_cnn = model.channels == 1 and model.image_size == 28
        if self.perceptual == "cnn" and not fits_cnn:
            raise GanvqError("--perceptual cnn needs 1-channel 28 px images (the shipped Fashion-MNIST CNN's); "
                             "use features (the discriminator's) or none")
        kind = ("cnn" if fits_cnn else "features") if self.perceptual == "auto" else self.perceptual
        if self.perceptual_embedding and kind != "cnn":
            raise GanvqError("vqgan.perceptual_embedding compares the shipped Fashion-MNIST CNN's embedding, so it "
                             "needs the cnn perceptual term (1-channel 28 px images)")
        return kind
