"""Vector quantization: nearest codebook vector with straight-through gradients (van den Oord et al. 2017).

Codebook update rules (`VQConfig.update`):
- "loss": gradient descent on the codebook loss ||sg(z) - e||^2 (the paper's eq. 3).
- "ema": exponential moving averages of cluster sizes and sums (van den Oord et al. 2017, app. A.1;
  Razavi et al. 2019). Each step is one Lloyd k-means step on the minibatch with old statistics
  decayed by `decay`: an online form of the article's "vector training".
- "kmeans": the article's two-phase recipe. The codebook is fitted by full Lloyd iterations on
  encoder outputs (phase 1, `fit_codebook`, called by the training loop), then held fixed while
  the encoder and decoder train (phase 2); the loop alternates the phases.
Options against codebook collapse: k-means initialisation from the first batch of encoder
outputs, restart of dead codes from encoder outputs, l2-normalised (cosine) codes and a
lower-dimensional codebook with projections (Yu et al. 2022, "Vector-quantized image modeling
with improved VQGAN").

Under torchrun every process holds its slice of the global batch and the codebook stays identical on
all of them: cluster sizes and sums are summed over the processes before each update, and k-means
initialisation and dead-code restarts see the gathered global batch, then rank 0's result is broadcast.
In a single process the collectives are no-ops.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganvq.device import all_gather_cat, all_reduce_sum_, broadcast_, world_size
from ganvq.errors import GanvqError
from ganvq.quantize.base import QuantizerOutput, rotation_trick, straight_through
from ganvq.quantize.kmeans import kmeans, squared_distances

UPDATES = ("ema", "loss", "kmeans")
GRADIENTS = {"ste": straight_through, "rotation": rotation_trick}  # how the decoder's gradient reaches the encoder


@dataclass(frozen=True)
class VQConfig:
    codebook_size: int = 512  # K, number of codes
    dim: int = 64  # channels of the encoder output z
    codebook_dim: int | None = None  # if smaller than dim: codes live in a projected space
    beta: float = 0.25  # commitment weight (van den Oord et al. 2017)
    update: str = "ema"  # "ema" | "loss" | "kmeans", see module docstring
    decay: float = 0.99  # EMA decay of codebook statistics and usage counts
    eps: float = 1e-5  # Laplace smoothing of EMA cluster sizes
    kmeans_init: bool = True  # initialise codes by k-means on the first training batch
    kmeans_iters: int = 10
    restart_dead: bool = True  # replace codes whose usage falls below dead_threshold
    dead_threshold: float = 1.0  # EMA of hits per step below which a code counts as dead
    cosine: bool = False  # l2-normalise z and codes: nearest by cosine similarity
    levels: int = 1  # > 1: residual quantization, one codebook per level (see ResidualQuantizer)
    gradient: str = "ste"  # "ste": straight-through (van den Oord et al.) | "rotation": rotation trick (Fifty et al.)

    def __post_init__(self) -> None:
        if self.update not in UPDATES:
            raise GanvqError(f"unknown codebook update {self.update!r}; choose from {', '.join(UPDATES)}")
        if self.codebook_size < 2 or self.dim < 1:
            raise GanvqError("codebook_size must be >= 2 and dim >= 1")
        if self.levels < 1:
            raise GanvqError(f"levels must be at least 1, got {self.levels}")
        if self.gradient not in GRADIENTS:
            raise GanvqError(f"unknown quantizer gradient {self.gradient!r}; choose from {', '.join(GRADIENTS)}")
        if self.levels > 1 and self.update != "ema":
            raise GanvqError("residual quantization (levels > 1) supports the ema codebook update only")


class VectorQuantizer(nn.Module):
    """Maps z (B, D, h, w) to its nearest codes; returns QuantizerOutput(z_q, indices, loss)."""

    def __init__(self, config: VQConfig):
        super().__init__()
        self.config = config
        cdim = config.codebook_dim or config.dim
        self.project = cdim != config.dim
        self.project_in = nn.Linear(config.dim, cdim) if self.project else nn.Identity()
        self.project_out = nn.Linear(cdim, config.dim) if self.project else nn.Identity()
        codebook = torch.randn(config.codebook_size, cdim)
        if config.cosine:
            codebook = F.normalize(codebook, dim=1)
        if config.update == "loss":
            self.codebook = nn.Parameter(codebook)
        else:
            self.register_buffer("codebook", codebook)
        self.register_buffer("cluster_size", torch.ones(config.codebook_size))
        self.register_buffer("embed_sum", codebook.clone())
        self.register_buffer("usage", torch.full((config.codebook_size,), 2 * config.dead_threshold))
        self.register_buffer("initialized", torch.tensor(not config.kmeans_init))

    @property
    def codebook_size(self) -> int:
        return self.config.codebook_size

    def _normalize(self, v: torch.Tensor) -> torch.Tensor:
        return F.normalize(v, dim=-1) if self.config.cosine else v

    def codes(self) -> torch.Tensor:
        """The codebook as used for lookup, (K, codebook_dim)."""
        return self._normalize(self.codebook)

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for each row of flat (N, codebook_dim)."""
        return squared_distances(flat, self.codes()).argmin(1)

    def _flat(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, D, h, w) -> the vectors compared with the codebook (B * h * w, codebook_dim), in float32."""
        return self._normalize(self.project_in(z.float().permute(0, 2, 3, 1).reshape(-1, z.shape[1])))

    @torch.no_grad()
    def encode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, D, h, w) -> code indices (B, h, w): forward's indices in eval mode, without its losses."""
        b, _, h, w = z.shape
        with torch.autocast(z.device.type, enabled=False):
            return self.nearest(self._flat(z)).reshape(b, h, w)

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        b, d, h, w = z.shape
        with torch.autocast(z.device.type, enabled=False):
            flat = self._flat(z)  # (N, cdim)
            if self.training and not bool(self.initialized):
                self.fit_codebook(flat.detach(), self.config.kmeans_iters)
            indices = self.nearest(flat.detach())
            quantized = self.codes()[indices]  # (N, cdim)
            if self.training:
                self._update(flat.detach(), indices)
            commitment = F.mse_loss(flat, quantized.detach())
            loss = self.config.beta * commitment
            if self.config.update == "loss":
                loss = loss + F.mse_loss(quantized, flat.detach())
            z_q = self.project_out(GRADIENTS[self.config.gradient](flat, quantized))
        z_q = z_q.reshape(b, h, w, d).permute(0, 3, 1, 2)  # (B, D, h, w)
        return QuantizerOutput(z_q=z_q, indices=indices.reshape(b, h, w), loss=loss)

    @torch.no_grad()
    def _update(self, flat: torch.Tensor, indices: torch.Tensor) -> None:
        cfg = self.config
        counts = torch.bincount(indices, minlength=cfg.codebook_size).float()
        sums = torch.zeros_like(self.embed_sum).index_add_(0, indices, flat) if cfg.update == "ema" else None
        if world_size() > 1:  # the global batch's statistics, in one collective: (K, 1 + cdim)
            both = counts.unsqueeze(1) if sums is None else torch.cat([counts.unsqueeze(1), sums], 1)
            all_reduce_sum_(both)
            counts = both[:, 0].contiguous()
            sums = None if sums is None else both[:, 1:].contiguous()
        self.usage.mul_(cfg.decay).add_(counts, alpha=1 - cfg.decay)
        if cfg.update == "ema":
            self.cluster_size.mul_(cfg.decay).add_(counts, alpha=1 - cfg.decay)
            self.embed_sum.mul_(cfg.decay).add_(sums, alpha=1 - cfg.decay)
            n = self.cluster_size.sum()
            smoothed = (self.cluster_size + cfg.eps) / (n + cfg.codebook_size * cfg.eps) * n
            self.codebook.copy_(self.embed_sum / smoothed.unsqueeze(1))
        if cfg.restart_dead:
            self._restart_dead(flat)

    @torch.no_grad()
    def _restart_dead(self, flat: torch.Tensor) -> None:
        dead = (self.usage < self.config.dead_threshold).nonzero().squeeze(1)
        if len(dead) == 0:
            return
        # Random encoder outputs from this (global) batch: a restarted code starts where data is. `dead` is the
        # same on every process (usage follows the summed counts), so all of them enter the collectives.
        flat = all_gather_cat(flat)
        picks = broadcast_(flat[torch.randint(flat.shape[0], (len(dead),), device=flat.device)])
        self.codebook.data[dead] = picks
        self.embed_sum[dead] = picks
        self.cluster_size[dead] = 1.0
        self.usage[dead] = 2 * self.config.dead_threshold  # a grace period before it can die again

    @torch.no_grad()
    def fit_codebook(self, flat: torch.Tensor, iters: int) -> float:
        """Phase 1 of the article's recipe: Lloyd k-means on encoder outputs flat (N, codebook_dim).

        Starts from the current codes once initialised. Returns E[min_v ||x - v||^2] after fitting.
        Under torchrun it fits the vectors of every process and all of them take rank 0's result.
        """
        flat = self._normalize(all_gather_cat(flat.float()))
        init = self.codes() if bool(self.initialized) else None
        centres, counts = kmeans(flat, self.codebook_size, iters, init=init)
        centres = self._normalize(broadcast_(centres))
        counts = broadcast_(counts.to(centres.device))
        self.codebook.data.copy_(centres)
        self.cluster_size.copy_(counts.clamp_min(1.0))
        self.embed_sum.copy_(centres * self.cluster_size.unsqueeze(1))
        self.usage.fill_(2 * self.config.dead_threshold)
        self.initialized.fill_(True)
        return squared_distances(flat, centres).min(1).values.clamp_min(0).mean().item()

    def encoder_space(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, D, h, w) -> flat vectors in codebook space (N, codebook_dim), as quantized."""
        d = z.shape[1]
        return self._normalize(self.project_in(z.float().permute(0, 2, 3, 1).reshape(-1, d)))

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        """Code indices (B, h, w) -> quantized z_q (B, D, h, w), as the decoder receives it."""
        b, h, w = indices.shape
        z_q = self.project_out(self.codes()[indices.reshape(-1)])
        return z_q.reshape(b, h, w, -1).permute(0, 3, 1, 2)


class ResidualQuantizer(nn.Module):
    """Residual vector quantization (Juang & Gray 1982; Zeghidour et al. 2021; Lee et al. 2022, RQ-VAE).

    Level 1 quantizes z, level l the residual z - (codes of levels < l): each level refines the
    last, so L levels of K codes cost L * log2 K bits per position and reconstruct better the more
    levels are kept. Every level is a VectorQuantizer of its own (EMA updates, k-means init and
    dead-code restarts on its residuals). The encoder commits to every partial sum (RQ-VAE's
    loss); gradients reach it straight through the full sum.

    Code maps fold the levels into the width: indices (B, h, w * L) hold position (i, j)'s level-l
    code at column j * L + l, so raster order reads each position's levels together, coarse to
    fine, and a prior, the codec and the .npy code files treat them like any other code map.
    """

    def __init__(self, config: VQConfig):
        super().__init__()
        self.config = config
        self.levels = nn.ModuleList(VectorQuantizer(config) for _ in range(config.levels))

    @property
    def codebook_size(self) -> int:
        return self.config.codebook_size

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        b, d, h, w = z.shape
        with torch.autocast(z.device.type, enabled=False):
            z = z.float()
            residual, total, commitment, indices = z.detach(), torch.zeros_like(z), z.new_zeros(()), []
            for vq in self.levels:
                q = vq(residual)  # updates this level's codebook in training; no gradient (its input is detached)
                code = q.z_q.detach()
                total = total + code
                residual = residual - code
                commitment = commitment + F.mse_loss(z, total)
                indices.append(q.indices)
            flat = z.permute(0, 2, 3, 1).reshape(-1, d)  # one vector per position, for the rotation trick
            z_q = GRADIENTS[self.config.gradient](flat, total.permute(0, 2, 3, 1).reshape(-1, d))
            z_q = z_q.reshape(b, h, w, d).permute(0, 3, 1, 2)
        folded = torch.stack(indices, -1).reshape(b, h, w * len(self.levels))
        return QuantizerOutput(z_q=z_q, indices=folded, loss=self.config.beta * commitment / len(self.levels))

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        """Folded code indices (B, h, w * L) -> z_q (B, D, h, w), the sum of every level's code."""
        b, h, wl = indices.shape
        per_level = indices.reshape(b, h, wl // len(self.levels), len(self.levels))
        return sum(vq.indices_to_codes(per_level[..., i]) for i, vq in enumerate(self.levels))
