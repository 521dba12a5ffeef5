"""Training the prior over a VQ-VAE's code maps: the Task the shared loop runs.

The training images are encoded once with the (frozen) VQ-VAE; the prior then trains on the code
maps. The checkpoint holds the VQ-VAE too, so a prior checkpoint alone samples images and runs the
codec, and a resumed run needs no other file.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch

from ganvq.config import to_dict
from ganvq.data import (
    describe_skipped,
    held_out_fraction,
    load_dataset,
    no_held_out_note,
)
from ganvq.device import autocast, grad_scaler, resolve_device
from ganvq.errors import GanvqError, warn
from ganvq.images import bits_per_pixel
from ganvq.models.vqvae import VQVAE
from ganvq.progress import Progress
from ganvq.prior import CodePrior, LocalPrior, build_prior
from ganvq.runs import PriorRunConfig, Run, load_vqvae
from ganvq.train import distributed, loop

_EPOCH_SEED_STRIDE = 1_000_003  # as data.BatchStream: epoch e of seed s shuffles with s * 1_000_003 + e
EVAL_BATCH = 500


class IndexStream:
    """Endless shuffled batches of row indices into the code maps; resumable from (epoch, position)."""

    def __init__(self, n: int, batch_size: int, seed: int):
        if n == 0:
            raise GanvqError("no code maps to train on")
        self.n, self.batch_size, self.seed = n, min(batch_size, n), seed
        self.epoch, self.position = 0, 0
        self._perm: tuple[int, torch.Tensor] | None = None

    def next_batch(self) -> torch.Tensor:
        """The next batch of indices (B,); an epoch ends when fewer than B remain (they are dropped)."""
        if self._perm is None or self._perm[0] != self.epoch:
            g = torch.Generator().manual_seed((self.seed * _EPOCH_SEED_STRIDE + self.epoch) % 2**64)
            self._perm = (self.epoch, torch.randperm(self.n, generator=g))
        idx = self._perm[1][self.position : self.position + self.batch_size]
        self.position += self.batch_size
        if self.n - self.position < self.batch_size:
            self.epoch, self.position = self.epoch + 1, 0
        return idx

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


def encode_split(vqvae: VQVAE, config: PriorRunConfig, split: str, quiet: bool = True
                 ) -> tuple[torch.Tensor, torch.Tensor | None, int | None, tuple[str, ...] | None]:
    """Code maps (N, h, w) int64, labels (N,) or None, the class count and the class names (or None) of one split of
    the data; a progress display unless `quiet` (encoding 60,000 images takes a minute or more on a CPU, before
    the first step and outside the --minutes budget)."""
    m = vqvae.config
    # the validation split is only scored on its first eval_images maps, so only those are encoded
    limit = config.limit if split == "train" else (config.train.eval_images or None)
    data = load_dataset(config.data, split, size=m.image_size, channels=m.channels, limit=limit,
                        val_fraction=config.val_fraction)
    line = describe_skipped(data, role="training") if split == "train" else describe_skipped(data, role="held-out")
    if line:
        warn(line)
    bar = Progress(len(data), f"train prior: encoding the {split} images", unit="image", quiet=quiet)
    codes = vqvae.encode_images(data.images, progress=bar.update)
    bar.close()
    return codes, data.labels, data.num_classes, data.class_names


class _NLL(torch.nn.Module):
    """The prior's loss as a forward pass, so DistributedDataParallel (which hooks forward) can wrap it."""

    def __init__(self, prior: torch.nn.Module):
        super().__init__()
        self.prior = prior

    def forward(self, codes: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return self.prior.nll(codes, labels)


class PriorTask:
    """One prior training run: frozen VQ-VAE, code maps in memory, the prior and its optimizer."""

    kind = "prior"

    def __init__(self, config: PriorRunConfig, device: torch.device | None = None, vqvae: VQVAE | None = None,
                 quiet: bool = True):
        if vqvae is None:
            vqvae, vq_run = load_vqvae(config.vqvae)
            # on the VQ-VAE's own data the prior holds out what the VQ-VAE held out, so neither sees those images
            same = not config.data or config.data == vq_run.data
            fraction = vq_run.val_fraction if same and config.val_fraction is None else config.val_fraction
            config = dataclasses.replace(config, vqvae_model=vq_run.model, data=config.data or vq_run.data,
                                         val_fraction=fraction)
        if not config.data:
            raise GanvqError("no dataset for the prior: give --data")
        config = dataclasses.replace(config, val_fraction=held_out_fraction(config.data, config.val_fraction))
        self.vqvae = vqvae.cpu().eval()
        quiet = quiet or not distributed.current().main
        codes, labels, num_classes, names = encode_split(self.vqvae, config, "train", quiet)
        if config.class_conditional and labels is None:
            raise GanvqError(f"{config.data} has no labels, so the prior cannot be class-conditional")
        _, h, w = codes.shape
        model_cfg = dataclasses.replace(
            config.model, codebook_size=vqvae.codebook_size, height=h, width=w,
            num_classes=(num_classes or 0) if config.class_conditional else 0,
        )
        self.config = dataclasses.replace(config, model=model_cfg,
                                          class_names=names if config.class_conditional else None)
        self.codes, self.labels = codes, labels if config.class_conditional else None
        try:
            test_codes, test_labels, _, _ = encode_split(self.vqvae, self.config, "val", quiet)
            self.test = (test_codes, test_labels if config.class_conditional else None)
        except GanvqError as e:
            self.test = None  # nothing held out: --val-fraction 0 on data without a test split, or none readable
            line = no_held_out_note(self.config.data, self.config.val_fraction, e)
            if line:
                warn(line)
        self.device = device or resolve_device(config.train.device)
        self.model = build_prior(model_cfg).to(self.device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.train.lr, betas=(0.9, 0.95),
                                           weight_decay=config.weight_decay)
        self.stream = IndexStream(len(codes), config.train.batch_size, config.train.seed)
        procs = distributed.current()
        if self.stream.batch_size % procs.world:
            raise GanvqError(f"batch size {self.stream.batch_size} does not split evenly over {procs.world} processes; "
                             f"give a --batch-size divisible by {procs.world} (it is the global batch)")
        self.ddp = distributed.wrap(_NLL(self.model)) if procs.enabled else None
        self.scaler = grad_scaler(self.device, config.train.precision)  # fp16 only; else a plain step

    def modules(self):
        return {"model": self.model, "vqvae": self.vqvae}

    def optimizers(self):
        return {"adamw": self.optimizer}

    def config_dict(self) -> dict:
        return to_dict(self.config)

    def lr_scale(self) -> float:
        return 1.0

    def extra_state(self) -> dict:
        state = {"stream": self.stream.state_dict()}
        if self.scaler.is_enabled():
            state["scaler"] = self.scaler.state_dict()
        return state

    def load_extra_state(self, state: dict) -> None:
        self.stream.load_state_dict(state["stream"])
        if "scaler" in state and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler"])

    def train_step(self, step: int) -> dict[str, float]:
        idx = distributed.shard(self.stream.next_batch())  # this process's slice of the global batch
        codes = self.codes[idx].to(self.device)
        labels = None if self.labels is None else self.labels[idx].to(self.device)
        self.model.train()
        with autocast(self.device, self.config.train.precision):
            loss = self.model.nll(codes, labels) if self.ddp is None else self.ddp(codes, labels)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)  # clip the true gradients
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return {"train/loss": loss.item(), "train/bits_per_code": loss.item() / math.log(2)}

    def summarize(self, window: list[dict]) -> dict[str, float]:
        return {k: sum(m[k] for m in window) / len(window) for k in window[0]}

    def evaluate(self) -> dict[str, float]:
        n = self.config.train.eval_images
        if self.test is None or n == 0:
            return {}
        codes, labels = self.test
        size = self.vqvae.config.image_size
        return evaluate_prior(self.model, codes[:n], None if labels is None else labels[:n], size, size)


@torch.no_grad()
def evaluate_prior(model: CodePrior | LocalPrior, codes: torch.Tensor, labels: torch.Tensor | None, height: int,
                   width: int, split: str = "val") -> dict[str, float]:
    """Held-out cross-entropy of the prior: bits per code, per image, and per pixel (ganvq.images.bits_per_pixel:
    per image pixel position, so an RGB image's figure is comparable with its compressed file's)."""
    was_training = model.training
    model.eval()
    device = model.pos.device
    total = 0.0
    for i in range(0, len(codes), EVAL_BATCH):
        c = codes[i : i + EVAL_BATCH].to(device)
        y = None if labels is None else labels[i : i + EVAL_BATCH].to(device)
        total += model.nll(c, y).item() * c.numel()
    model.train(was_training)
    bits_per_code = total / codes.numel() / math.log(2)
    per_image = bits_per_code * codes[0].numel()
    return {f"{split}/code_maps": len(codes), f"{split}/bits_per_code": bits_per_code,
            f"{split}/bits_per_image": per_image, f"{split}/bits_per_pixel": bits_per_pixel(per_image, height, width)}


def train_prior(config: PriorRunConfig | None, out: str | Path, resume: bool = False, quiet: bool = False,
                steps: int | None = None, minutes: float | None = None, machine: dict | None = None) -> dict:
    """Train a prior over the code maps of `config.vqvae` into run folder `out` (or continue the run there).

    A resumed run keeps its configuration and the VQ-VAE stored in its checkpoint; `steps` (the total to
    reach) or `minutes` (more minutes) give it a new length, which also extends a finished run; `machine` moves
    it to another device, thread count or precision (loop.run)."""
    def make_task(cfg: PriorRunConfig, previous: Run | None) -> PriorTask:
        return PriorTask(cfg, vqvae=None if previous is None else previous.vqvae(), quiet=quiet)

    return loop.run("prior", config, out, make_task, resume=resume, quiet=quiet, steps=steps, minutes=minutes,
                    machine=machine)
