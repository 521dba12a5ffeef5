"""What every quantizer returns, and the straight-through helpers they share."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class QuantizerOutput:
    """The triple every quantizer returns (as in vector-quantize-pytorch)."""

    z_q: torch.Tensor  # (B, D, h, w) quantized, with straight-through gradients to z
    indices: torch.Tensor  # (B, h, w) int64 code indices
    loss: torch.Tensor  # scalar auxiliary loss (codebook + commitment), 0 if none


def straight_through(z: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
    """Forward value z_q, gradient of the identity to z (Bengio et al. 2013; van den Oord et al. 2017)."""
    return z + (z_q - z).detach()


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round with a straight-through gradient."""
    return straight_through(x, x.round())


def usage_stats(indices: torch.Tensor, codebook_size: int) -> dict[str, float]:
    """Codes used, dead codes and perplexity exp(H(p)) of the code histogram."""
    counts = torch.bincount(indices.reshape(-1), minlength=codebook_size).float()
    p = counts / counts.sum().clamp_min(1)
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    used = int((counts > 0).sum())
    return {
        "codes_used": used,
        "dead_codes": codebook_size - used,
        "perplexity": float(entropy.exp()),
    }
