"""What every quantizer returns, and the straight-through helpers they share."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class QuantizerOutput:
    """The triple every quantizer returns (as in vector-quantize-pytorch)."""

    z_q: torch.Tensor  # (B, D, h, w) quantized, with straight-through gradients to z
    indices: torch.Tensor  # (B, h, w) int64 code indices
    loss: torch.Tensor  # scalar auxiliary loss (codebook + commitment), 0 if none


def straight_through(z: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
    """Forward value z_q, gradient of the identity to z (Bengio et al. 2013; van den Oord et al. 2017)."""
    return z + (z_q - z).detach()


def rotation_trick(z: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
    """Forward value z_q (rows of z (N, D) and z_q (N, D)); gradient to z through the rotation and rescaling that
    carry z onto z_q, held constant (Fifty et al. 2024, "Restructuring vector quantization with the rotation
    trick", sec. 4.2): z_q = sg(|z_q| / |z|) (I - 2 w w^T + 2 q u^T) z, u = z / |z|, q = z_q / |z_q|,
    w = (u + q) / |u + q|.

    Where the straight-through estimator hands every encoder output the decoder's gradient unchanged, this one turns
    it by the angle between the output and its code, so outputs that lie at different places in a code's region
    get different updates. A zero row (or a code opposite to its output) falls back to the straight-through value.
    """
    z_norm = z.detach().norm(dim=1, keepdim=True)
    q_norm = z_q.detach().norm(dim=1, keepdim=True)
    u = z.detach() / z_norm.clamp_min(1e-12)
    q = z_q.detach() / q_norm.clamp_min(1e-12)
    w = F.normalize(u + q, dim=1)
    rotated = z - 2 * (z * w).sum(1, keepdim=True) * w + 2 * (z * u).sum(1, keepdim=True) * q
    out = rotated * (q_norm / z_norm.clamp_min(1e-12))
    ok = (z_norm > 1e-12) & ((u + q).norm(dim=1, keepdim=True) > 1e-6)
    out = torch.where(ok, out, straight_through(z, z_q))
    return out + (z_q - out).detach()  # the code values forward (up to rounding), the rotated gradient back


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
