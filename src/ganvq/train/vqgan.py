"""Training a VQGAN (Esser et al. 2021): a VQ-VAE whose decoder is also trained against a patch discriminator,
with a perceptual loss and the adaptive GAN weight. The run is a VQ-VAE run (checkpoint kind "vqvae", the
model under "model."), so every command that takes a VQ-VAE takes it; the discriminator ("disc.") and its
optimizer are extra state for resuming.

Perceptual loss: for 1-channel 28 px images, distances between the features of the evaluation suite's shipped
Fashion-MNIST CNN (metrics.features; nothing is downloaded); elsewhere, matching the discriminator's own
features (pix2pixHD), since no pretrained RGB network ships with ganvq.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch

from ganvq.device import all_reduce_sum_, autocast, grad_scaler
from ganvq.errors import GanvqError
from ganvq.losses.gan import discriminator_loss, generator_loss
from ganvq.losses.vqgan import PerceptualLoss, adaptive_weight, adopt_weight, feature_matching_loss, ramped_weight
from ganvq.metrics.features import load_cnn
from ganvq.metrics.recon import psnr_per_image, to_unit
from ganvq.models.gan import PatchDiscriminator
from ganvq.progress import format_seconds
from ganvq.runs import VQVAERunConfig
from ganvq.train import distributed, loop
from ganvq.train.vqvae import VQVAETask

SPIKE_WARMUP = 100  # clip_spikes: steps whose gradient norms make the first running mean, none clipped


def cnn_perceptual_loss(embedding: bool = False) -> PerceptualLoss:
    """The shipped Fashion-MNIST CNN's conv blocks as a perceptual loss, tapped at 28, 14 and 7 px; with
    `embedding`, also at its 128-d hidden layer, the features the evaluation suite's FID is computed on."""
    cnn = load_cnn()
    body = cnn.body  # block, block, pool, block, block, pool, block, pool, flatten
    stages = [body[0:2], body[2:5], body[5:7]]
    if embedding:  # (B, 128) as (B, 128, 1, 1): one position whose channel vector is the embedding
        stages.append(torch.nn.Sequential(body[7:], cnn.hidden, torch.nn.Unflatten(1, (-1, 1, 1))))
    return PerceptualLoss(stages)


class VQGANTask(VQVAETask):
    """A VQ-VAE task with a patch discriminator, a perceptual loss and the adaptive GAN weight."""

    command = "vqgan"  # checkpoints stay kind "vqvae"; hints name `ganvq train vqgan`, which resumes them

    def __init__(self, config: VQVAERunConfig, device: torch.device | None = None, resuming: bool = False):
        if config.vqgan is None:
            raise GanvqError("a VQGAN run needs the config's vqgan section (ganvq train vqgan)")
        super().__init__(config, device, resuming)
        g = self.config.vqgan  # the parent's config: channels follow the data
        self.perceptual_kind = g.perceptual_kind(self.config.model)
        self.disc = PatchDiscriminator(g.discriminator_config(self.config.model)).to(
            self.device, memory_format=torch.channels_last)
        self.disc_optimizer = torch.optim.Adam(self.disc.parameters(), lr=g.lr_d or self.config.train.lr,
                                               betas=(g.beta1, g.beta2))
        self.ddp_disc = distributed.wrap(self.disc)
        self.scaler_d = grad_scaler(self.device, self.config.train.precision)
        self.perceptual = None
        if self.perceptual_kind == "cnn":
            self.perceptual = cnn_perceptual_loss(g.perceptual_embedding).to(self.device)
        self.last_layer = self.model.decoder.net[-1].weight  # where the adaptive weight balances the terms
        # clip_spikes: the running mean of the autoencoder's gradient norm, and the steps it has seen (float64)
        self._grad_norms = torch.zeros(2, dtype=torch.float64)

    def modules(self):
        return {"model": self.model, "disc": self.disc}

    def optimizers(self):
        return {"adam": self.optimizer, "disc": self.disc_optimizer}

    def extra_state(self) -> dict:
        state = super().extra_state()
        if self.scaler_d.is_enabled():
            state["scaler_d"] = self.scaler_d.state_dict()
        if self.config.vqgan.clip_spikes:
            state["grad_norms"] = self._grad_norms
        return state

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        if "scaler_d" in state and self.scaler_d.is_enabled():
            self.scaler_d.load_state_dict(state["scaler_d"])
        if "grad_norms" in state:
            norms = state["grad_norms"]
            if not (isinstance(norms, torch.Tensor) and norms.shape == (2,) and norms.dtype == torch.float64):
                raise GanvqError("checkpoint state grad_norms must be a float64 tensor of 2 values; the file is "
                                 "damaged")
            self._grad_norms = norms.clone()

    def _clip_spike(self) -> float:
        """clip_spikes F: scale the autoencoder's gradient down to F times its running mean norm where it is larger
        (a spike); 1.0 when it did, else 0.0. The mean follows min(norm, F x mean), so a spike does not raise it."""
        factor = self.config.vqgan.clip_spikes
        if not factor:
            return 0.0
        self.scaler.unscale_(self.optimizer)  # fp16: the true gradient (a no-op elsewhere)
        mean, seen = self._grad_norms.tolist()
        limit = factor * mean if seen >= SPIKE_WARMUP else math.inf
        norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), limit))  # the norm before clipping
        if not math.isfinite(norm):
            return 0.0  # fp16 overflow: the scaler skips this step; bf16/fp32: the loop stops on the loss
        clipped = norm > limit
        kept = min(norm, limit)
        # a plain average over the warm-up steps, then an exponential one over about the last 100
        rate = 1.0 / (seen + 1) if seen < SPIKE_WARMUP else 0.01
        self._grad_norms = torch.tensor([mean + rate * (kept - mean), seen + 1], dtype=torch.float64)
        return float(clipped)

    def budget_note(self, steps: int) -> str | None:
        """Once a --minutes budget is a step count: a line when the discriminator will not join within it (a --steps
        limit at or below --disc-start was already told at the start)."""
        g, limit = self.config.vqgan, self.config.train.steps
        if g.disc_weight > 0 and steps <= g.disc_start and (limit is None or limit > g.disc_start):
            return (f"a budget of {format_seconds(self.config.train.minutes * 60)} makes about {steps:,} steps here, "
                    f"so the discriminator (from step {g.disc_start:,}, --disc-start) will not join and the run trains "
                    "no GAN term; give more --minutes or a lower --disc-start for one")
        return None

    def _perceptual(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        n = self.config.vqgan.perceptual_images or len(x)
        x, x_hat = x[:n], x_hat[:n]  # the first images of the batch: a uniform sample, as batches are shuffled
        if self.perceptual_kind == "cnn":
            return self.perceptual(x, x_hat).mean()
        if self.perceptual_kind == "features":
            return feature_matching_loss(self.disc.features(x), self.disc.features(x_hat))
        return x.new_zeros((), dtype=torch.float32)

    def train_step(self, step: int) -> dict[str, float]:
        cfg, g = self.config, self.config.vqgan
        if cfg.model.quantizer == "vq" and cfg.model.vq.update == "kmeans" and step % cfg.train.kmeans_every == 0:
            self._fit_codebook()
        x = self._next_images()
        x_in = x if self.corruption is None else self.corruption(x, self._corrupt_generator(step))
        started = adopt_weight(1.0, step, g.disc_start) > 0
        # a GAN weight of 0 leaves the GAN term out, and D too unless the perceptual term uses D's features: neither
        # then costs a step
        gan_on = started and g.disc_weight > 0
        d_on = gan_on or (started and self.perceptual_kind == "features")
        with autocast(self.device, cfg.train.precision):
            p_on = step >= g.perceptual_start
            decoder_only = p_on and g.perceptual_decoder_only and self.perceptual_kind != "none"
            n_dec = (g.perceptual_images or len(x)) if decoder_only else 0  # images decoded again for the term
            # a restoration model (--corrupt): damaged inputs, clean targets; D and the perceptual loss compare the
            # output with the clean images
            out = self.ddp(x_in, target=x, decoder_only=n_dec)
            x_hat_p = out.x_hat if out.x_hat_decoder is None else out.x_hat_decoder
            perceptual = (self._perceptual(x, x_hat_p) if p_on
                          else out.rec_loss.new_zeros((), dtype=torch.float32))  # not computed: a cheaper step
            p_weight = ramped_weight(g.perceptual_weight, step, g.perceptual_start, g.perceptual_ramp)
            pixel = out.rec_loss if g.pixel_loss == "mse" else (out.x_hat.float() - x.float()).abs().mean()
            nll = pixel + p_weight * perceptual  # the reconstruction side of eq. 7
            g_loss = generator_loss(g.loss, self.disc(out.x_hat)) if gan_on else nll.new_zeros(())
        weight = torch.zeros(())
        if gan_on:
            weight = (adaptive_weight(nll, g_loss, self.last_layer, g.delta, g.max_adaptive) if g.adaptive
                      else torch.ones(())) * g.disc_weight
        loss = nll + out.vq_loss + weight * g_loss
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        clipped = self._clip_spike()
        self.scaler.step(self.optimizer)
        self.scaler.update()

        d_loss = torch.zeros(())
        if d_on:  # real and fake in one batch: one forward for DDP, and spectral norm has no batch statistics
            with autocast(self.device, cfg.train.precision):
                logits = self.ddp_disc(torch.cat([x, out.x_hat.detach()]))  # (2B, h, w)
                d_loss = discriminator_loss(g.loss, *logits.chunk(2))
            self.disc_optimizer.zero_grad(set_to_none=True)
            self.scaler_d.scale(d_loss).backward()
            self.scaler_d.step(self.disc_optimizer)
            self.scaler_d.update()

        hits = torch.bincount(out.indices.reshape(-1), minlength=self.model.codebook_size)
        self._counts += all_reduce_sum_(hits).cpu()
        with torch.no_grad():
            psnr = psnr_per_image(to_unit(x), to_unit(out.x_hat.float())).mean()
        return {"train/loss": loss.item(), "train/rec_loss": out.rec_loss.item(), "train/vq_loss": out.vq_loss.item(),
                "train/perceptual": perceptual.item(), "train/perceptual_weight": p_weight,
                "train/g_loss": g_loss.item(), "train/d_loss": d_loss.item(), "train/gan_weight": weight.item(),
                "train/psnr": psnr.item(), **({"train/clipped": clipped} if g.clip_spikes else {})}


def make_task(config: VQVAERunConfig, previous=None) -> VQVAETask:
    """The task of a VQ-VAE run's config: a VQGANTask when it has a vqgan section, else a plain VQVAETask."""
    return (VQVAETask if config.vqgan is None else VQGANTask)(config, resuming=previous is not None)


def train_vqgan(config: VQVAERunConfig | None, out: str | Path, resume: bool = False, quiet: bool = False,
                steps: int | None = None, minutes: float | None = None, only_vqgan: bool = False,
                machine: dict | None = None) -> dict:
    """Train a VQGAN into run folder `out` (or continue the VQ-VAE or VQGAN run there); returns the final metrics.

    With `resume`, `steps` (the total to reach) or `minutes` (more minutes) give the run a new length;
    `only_vqgan` (`ganvq train vqgan --resume`) refuses a plain VQ-VAE run, which would go on with no GAN term;
    `machine` moves a resumed run to another device, thread count or precision (loop.run)."""
    if config is not None and config.vqgan is None:
        raise GanvqError("a VQGAN run needs the config's vqgan section; train a plain VQ-VAE with train vqvae")

    def make_and_tell(cfg: VQVAERunConfig, previous=None) -> VQVAETask:
        if previous is not None and only_vqgan and cfg.vqgan is None:
            raise GanvqError(f"{previous.folder} is a plain VQ-VAE run (no discriminator): continue it with ganvq "
                             f"train vqvae --resume {previous.folder}; a VQGAN starts from its weights with ganvq "
                             f"train vqgan --init {previous.folder} --out NEW_RUN")
        task = make_task(cfg, previous)
        start = cfg.vqgan.disc_start if cfg.vqgan and cfg.vqgan.disc_weight > 0 else 0  # 0: no GAN term to join
        if previous is None and start > 0 and not quiet and distributed.current().main:  # once the config is valid
            steps = cfg.train.steps
            if steps is not None and steps <= start:  # the first limit reached ends the run, so no GAN term at all
                print(f"ganvq: the discriminator would join at step {start:,} (--disc-start), but this run stops at "
                      f"step {steps:,}: it trains a VQ-VAE with no GAN term; raise --steps or lower --disc-start",
                      file=sys.stderr)
            else:
                print(f"ganvq: the discriminator joins at step {start:,} (--disc-start); until then the VQ-VAE learns "
                      "from its pixel and perceptual terms alone", file=sys.stderr)
        return task

    return loop.run("vqvae", config, out, make_and_tell, resume=resume, quiet=quiet, steps=steps, minutes=minutes,
                    machine=machine)
