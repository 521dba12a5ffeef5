"""Finite Scalar Quantization (Mentzer et al. 2023, "Finite Scalar Quantization: VQ-VAE made simple")."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganvq.errors import GanvqError
from ganvq.quantize.base import QuantizerOutput, round_ste


@dataclass(frozen=True)
class FSQConfig:
    levels: tuple[int, ...] = (8, 8, 8)  # levels per channel; codebook size is their product
    dim: int = 64  # channels of the encoder output z, projected to len(levels)

    def __post_init__(self) -> None:
        if not self.levels or min(self.levels) < 2:
            raise GanvqError("FSQ levels must be a non-empty list of integers >= 2")


class FSQ(nn.Module):
    """Bounds each of len(levels) channels and rounds it to one of L levels; no codebook to learn."""

    def __init__(self, config: FSQConfig):
        super().__init__()
        self.config = config
        levels = torch.tensor(config.levels, dtype=torch.int64)
        self.register_buffer("levels", levels, persistent=False)
        basis = torch.cumprod(torch.tensor((1,) + tuple(config.levels[:-1])), 0)
        self.register_buffer("basis", basis, persistent=False)
        n = len(config.levels)
        self.project_in = nn.Conv2d(config.dim, n, 1) if config.dim != n else nn.Identity()
        self.project_out = nn.Conv2d(n, config.dim, 1) if config.dim != n else nn.Identity()

    @property
    def codebook_size(self) -> int:
        return int(torch.prod(self.levels))

    def bound(self, z: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
        """Squash z (B, n, h, w) into (-L/2, L/2) so rounding gives exactly L values per channel."""
        levels = self.levels.view(1, -1, 1, 1).float()
        half_l = (levels - 1) * (1 + eps) / 2
        offset = (levels % 2 == 0).float() * 0.5
        shift = torch.atanh(offset / half_l)
        return torch.tanh(z + shift) * half_l - offset

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """Rounded, bounded values scaled to [-1, 1]; (B, n, h, w)."""
        half_width = (self.levels // 2).view(1, -1, 1, 1).float()
        return round_ste(self.bound(z)) / half_width

    def codes_to_indices(self, codes: torch.Tensor) -> torch.Tensor:
        """Scaled codes (B, n, h, w) -> indices (B, h, w)."""
        half_width = (self.levels // 2).view(1, -1, 1, 1).float()
        digits = (codes * half_width + half_width).round().long()
        return (digits * self.basis.view(1, -1, 1, 1)).sum(1)

    def indices_to_scaled(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices (B, h, w) -> scaled codes (B, n, h, w) in [-1, 1]."""
        digits = (indices.unsqueeze(1) // self.basis.view(1, -1, 1, 1)) % self.levels.view(1, -1, 1, 1)
        half_width = (self.levels // 2).view(1, -1, 1, 1).float()
        return (digits.float() - half_width) / half_width

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        with torch.autocast(z.device.type, enabled=False):
            codes = self.quantize(self.project_in(z.float()))
            indices = self.codes_to_indices(codes.detach())
            z_q = self.project_out(codes)
        return QuantizerOutput(z_q=z_q, indices=indices, loss=z_q.new_zeros(()))

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices (B, h, w) -> z_q (B, D, h, w), as the decoder receives it."""
        return self.project_out(self.indices_to_scaled(indices))
