"""Training a VQ-VAE: the Task the shared loop runs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from ganvq.config import to_dict
from ganvq.data import (
    BatchStream,
    ImageDataset,
    describe_enlarged,
    describe_skipped,
    held_out_fraction,
    load_dataset,
    no_held_out_note,
)
from ganvq.data.corrupt import parse_corruption
from ganvq.device import all_reduce_sum_, autocast, grad_scaler, resolve_device
from ganvq.errors import GanvqError, warn
from ganvq.metrics.evaluate import evaluate_reconstruction
from ganvq.metrics.recon import psnr_per_image, to_unit
from ganvq.models.vqvae import VQVAE
from ganvq.runs import VQVAERunConfig, load_vqvae
from ganvq.train import distributed, loop


def load_training_data(config: VQVAERunConfig) -> tuple[ImageDataset, ImageDataset | None, VQVAERunConfig]:
    """Train and validation images (see ganvq.data.splits); the model's channels follow the data, and the
    held-out fraction in force is stored in the config."""
    m = config.model
    config = dataclasses.replace(config, val_fraction=held_out_fraction(config.data, config.val_fraction))
    train = load_dataset(config.data, "train", size=m.image_size, channels=config.channels,
                         on_bad=config.on_bad, limit=config.limit, val_fraction=config.val_fraction)
    for line in (describe_skipped(train, role="training"), describe_enlarged(train, m.image_size)):
        if line:
            warn(line)
    if train.shape[0] != m.channels:
        config = dataclasses.replace(config, model=dataclasses.replace(m, channels=train.shape[0]))
    try:
        val = load_dataset(config.data, "val", size=m.image_size, channels=train.shape[0],
                           val_fraction=config.val_fraction)
    except GanvqError as e:
        val = None  # nothing held out: --val-fraction 0 on data without a test split, or none of it readable
        line = no_held_out_note(config.data, config.val_fraction, e)
    else:
        line = describe_skipped(val, role="held-out")
    if line:
        warn(line)
    return train, val, config


class VQVAETask:
    """One VQ-VAE training run: model, optimizer, batches, and the per-step update."""

    kind = "vqvae"

    def __init__(self, config: VQVAERunConfig, device: torch.device | None = None, resuming: bool = False):
        if config.vqgan is not None and type(self) is VQVAETask:  # its discriminator would be dropped on resume
            raise GanvqError("this is a VQGAN run: train or resume it with `ganvq train vqgan` (train_vqgan)")
        train, test, config = load_training_data(config)
        self.config = config
        self.device = device or resolve_device(config.train.device)
        # channels_last lets oneDNN pick faster convolution kernels (~15% per step on this CPU).
        self.model = VQVAE(config.model).to(self.device, memory_format=torch.channels_last)
        if config.init and not resuming:  # a resumed run loads its own checkpoint instead (the init run may be gone)
            init = load_vqvae(config.init)[0]
            try:
                self.model.load_state_dict(init.state_dict())
            except RuntimeError as e:
                raise GanvqError(f"--init {config.init}: its VQ-VAE differs from this run's ({loop.mismatch(e)}); "
                                 "give the options it was trained with (codebook size, latents, channels)") from None
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.train.lr)
        procs = distributed.current()  # under torchrun: this process's slice of every global batch
        self.batches = BatchStream(train.images, None, config.train.batch_size, config.train.seed,
                                   rank=procs.rank, world=procs.world)
        self.ddp = distributed.wrap(self.model)  # the model itself in a single process
        self.scaler = grad_scaler(self.device, config.train.precision)  # fp16 only; else a plain step
        self.test = test
        self._counts = torch.zeros(self.model.codebook_size, dtype=torch.int64)
        self.corruption = parse_corruption(config.corrupt) if config.corrupt else None

    def _corrupt_generator(self, step: int) -> torch.Generator:
        """The draws that damage step `step`'s batch: a function of seed, step and rank, so a resumed run repeats them."""
        seed = (self.config.train.seed * 1_000_003 + step) * 64 + distributed.current().rank
        return torch.Generator().manual_seed(seed % 2**63)

    def modules(self):
        return {"model": self.model}

    def optimizers(self):
        return {"adam": self.optimizer}

    def config_dict(self) -> dict:
        return to_dict(self.config)

    def lr_scale(self) -> float:
        return 1.0

    def extra_state(self) -> dict:
        state = {"batches": self.batches.state_dict(), "counts": self._counts}
        if self.scaler.is_enabled():
            state["scaler"] = self.scaler.state_dict()
        return state

    def load_extra_state(self, state: dict) -> None:
        self.batches.load_state_dict(state["batches"])
        self._counts = state["counts"]
        if "scaler" in state and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler"])

    def _next_images(self) -> torch.Tensor:
        return self.batches.next_batch()[0].to(self.device, memory_format=torch.channels_last)

    @torch.no_grad()
    def _fit_codebook(self) -> None:
        """Phase 1 of the article's two-phase recipe: k-means on fresh encoder outputs."""
        q = self.model.quantizer
        zs = [q.encoder_space(self.model.encoder(self._next_images())) for _ in range(self.config.train.kmeans_batches)]
        q.fit_codebook(torch.cat(zs), self.config.model.vq.kmeans_iters)

    def train_step(self, step: int) -> dict[str, float]:
        cfg = self.config
        if cfg.model.quantizer == "vq" and cfg.model.vq.update == "kmeans" and step % cfg.train.kmeans_every == 0:
            self._fit_codebook()
        x = self._next_images()
        x_in = x if self.corruption is None else self.corruption(x, self._corrupt_generator(step))
        with autocast(self.device, cfg.train.precision):
            out = self.ddp(x_in, target=x)  # a restoration model: damaged inputs, clean targets
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(out.loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        hits = torch.bincount(out.indices.reshape(-1), minlength=self.model.codebook_size)
        self._counts += all_reduce_sum_(hits).cpu()  # over the global batch under torchrun
        with torch.no_grad():
            psnr = psnr_per_image(to_unit(x), to_unit(out.x_hat.float())).mean()
        return {"train/loss": out.loss.item(), "train/rec_loss": out.rec_loss.item(),
                "train/vq_loss": out.vq_loss.item(), "train/psnr": psnr.item()}

    def summarize(self, window: list[dict]) -> dict[str, float]:
        """Mean of the window's metrics, plus codebook usage over the window's batches."""
        record = {k: sum(m[k] for m in window) / len(window) for k in window[0]}
        p = self._counts.float() / self._counts.sum().clamp_min(1)
        used = int((self._counts > 0).sum())
        entropy = -(p[p > 0] * p[p > 0].log()).sum()
        record.update({"train/codes_used": used, "train/dead_codes": len(p) - used,
                       "train/perplexity": float(entropy.exp())})
        self._counts.zero_()
        return record

    def evaluate(self) -> dict[str, float]:
        n = self.config.train.eval_images
        if self.test is None or n == 0:
            return {}
        return evaluate_reconstruction(self.model, self.test.images[:n], split="val")


def train_vqvae(config: VQVAERunConfig | None, out: str | Path, resume: bool = False, quiet: bool = False,
                steps: int | None = None, minutes: float | None = None, machine: dict | None = None) -> dict:
    """Train a VQ-VAE into run folder `out` (or continue the run there); returns the final metrics.

    With `resume`, `steps` (the total to reach) or `minutes` (more minutes) give the run a new length, which
    also extends a finished run; `machine` moves it to another device, thread count or precision (loop.run)."""
    return loop.run("vqvae", config, out, lambda cfg, previous: VQVAETask(cfg, resuming=previous is not None),
                    resume=resume, quiet=quiet, steps=steps, minutes=minutes, machine=machine)
