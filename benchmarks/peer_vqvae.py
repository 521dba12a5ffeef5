"""The own-data benchmark's peer: a textbook VQ-VAE built on vector-quantize-pytorch (benchmark-only dependency).

The encoder and decoder are the usual ones of van den Oord et al. 2017 as most tutorials write them
(stride-2 4×4 convolutions, a 3×3 convolution, residual blocks of ReLU, 3×3, ReLU, 1×1, a 1×1 projection
to the code dimension; the decoder mirrors it with transposed convolutions), sized like ganvq's model
(same widest width, residual blocks, latent grid and code dimension). The quantizer is the library's
`VectorQuantize` with the settings its README recommends: EMA codebook (decay 0.8, its default), k-means
initialisation (10 iterations), dead codes replaced below an EMA cluster size of 2, commitment weight 1.
Trained with Adam on the MSE of [-1, 1] pixels plus the library's commitment loss, for a wall-clock
budget, on a fixed number of torch threads.

    pip install vector-quantize-pytorch   # into the venv, for the benchmark only
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganvq.images import to_float


@dataclass(frozen=True)
class PeerConfig:
    channels: int = 3  # image channels
    hidden: int = 128  # channels at the latent resolution (half that at the stages above it)
    res_hidden: int = 64  # channels inside a residual block
    res_blocks: int = 2  # residual blocks in encoder and decoder each
    downsamples: int = 2  # stride-2 stages: latent grid = image size / 2**downsamples
    dim: int = 64  # code dimension
    codebook_size: int = 512
    decay: float = 0.8  # VectorQuantize's EMA decay (its default and README value)
    kmeans_init: bool = True
    kmeans_iters: int = 10
    threshold_ema_dead_code: int = 2  # README: replace codes whose EMA cluster size falls below 2
    commitment_weight: float = 1.0  # the library's default
    lr: float = 1e-3  # Adam, constant
    batch_size: int = 128


def _res_stack(channels: int, hidden: int, blocks: int) -> nn.Module:
    return _ResStack(nn.ModuleList(_ResBlock(channels, hidden) for _ in range(blocks)))


class _ResBlock(nn.Module):
    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.block = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, hidden, 3, padding=1), nn.ReLU(),
                                   nn.Conv2d(hidden, channels, 1))

    def forward(self, x):
        return x + self.block(x)


class _ResStack(nn.Module):
    def __init__(self, blocks: nn.ModuleList):
        super().__init__()
        self.blocks = blocks

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return F.relu(x)


class PeerVQVAE(nn.Module):
    """x (B, C, H, W) in [-1, 1] -> (x_hat, indices (B, h, w), commitment loss)."""

    def __init__(self, cfg: PeerConfig):
        super().__init__()
        from vector_quantize_pytorch import VectorQuantize

        self.config = cfg
        widths = [cfg.hidden // 2] * (cfg.downsamples - 1) + [cfg.hidden]
        enc: list[nn.Module] = []
        c_in = cfg.channels
        for c in widths:
            enc += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), nn.ReLU()]
            c_in = c
        enc += [nn.Conv2d(cfg.hidden, cfg.hidden, 3, padding=1), _res_stack(cfg.hidden, cfg.res_hidden, cfg.res_blocks),
                nn.Conv2d(cfg.hidden, cfg.dim, 1)]
        self.encoder = nn.Sequential(*enc)
        self.quantizer = VectorQuantize(
            dim=cfg.dim, codebook_size=cfg.codebook_size, decay=cfg.decay, kmeans_init=cfg.kmeans_init,
            kmeans_iters=cfg.kmeans_iters, threshold_ema_dead_code=cfg.threshold_ema_dead_code,
            commitment_weight=cfg.commitment_weight, accept_image_fmap=True)
        dec: list[nn.Module] = [nn.Conv2d(cfg.dim, cfg.hidden, 3, padding=1),
                                _res_stack(cfg.hidden, cfg.res_hidden, cfg.res_blocks)]
        outs = widths[::-1][1:] + [cfg.channels]
        c_in = cfg.hidden
        for i, c in enumerate(outs):
            dec.append(nn.ConvTranspose2d(c_in, c, 4, stride=2, padding=1))
            if i < len(outs) - 1:
                dec.append(nn.ReLU())
            c_in = c
        self.decoder = nn.Sequential(*dec)

    def forward(self, x: torch.Tensor):
        z = self.encoder(x)  # (B, D, h, w)
        z_q, indices, commit = self.quantizer(z)
        return self.decoder(z_q), indices, commit.sum()

    @torch.no_grad()
    def reconstruct_images(self, images: torch.Tensor, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (N, C, H, W) -> (x_hat float in [-1, 1], indices (N, h, w)), in eval mode (no codebook updates)."""
        was = self.training
        self.eval()
        x_hat, idx = [], []
        for i in range(0, len(images), batch_size):
            out, indices, _ = self(to_float(images[i : i + batch_size]))
            x_hat.append(out.clamp(-1, 1))
            idx.append(indices)
        self.train(was)
        return torch.cat(x_hat), torch.cat(idx)


def train_peer(cfg: PeerConfig, images: torch.Tensor, minutes: float, threads: int, seed: int = 0,
               max_steps: int | None = None) -> tuple[PeerVQVAE, dict]:
    """Train the peer on uint8 images (N, C, H, W) for `minutes` of wall clock on `threads` torch threads.

    The clock starts at the first step (building the model is not counted, as in ganvq's loop); batches are
    drawn from a seeded permutation per epoch. Returns the model and {steps, train_seconds, ...}.
    """
    saved_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = PeerVQVAE(cfg)
            opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
            gen = torch.Generator().manual_seed(seed)
            budget, steps, order, pos = minutes * 60, 0, torch.empty(0, dtype=torch.int64), 0
            last = {}
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < budget and (max_steps is None or steps < max_steps):
                if pos + cfg.batch_size > len(order):
                    order, pos = torch.randperm(len(images), generator=gen), 0
                x = to_float(images[order[pos : pos + cfg.batch_size]])
                pos += cfg.batch_size
                x_hat, indices, commit = model(x)
                rec = F.mse_loss(x_hat, x)
                loss = rec + commit
                if not math.isfinite(loss.item()):
                    raise SystemExit(f"the peer VQ-VAE diverged at step {steps + 1}")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                steps += 1
                last = {"rec_loss": rec.item(), "commit_loss": commit.item()}
            seconds = time.perf_counter() - t0
    finally:
        torch.set_num_threads(saved_threads)
    return model, {"steps": steps, "train_seconds": round(seconds, 2),
                   "seconds_per_step": round(seconds / max(steps, 1), 4), "precision_used": "fp32",
                   "threads": threads, "last_train_losses": last, "config": asdict(cfg)}
