"""The terms VQGAN adds to a VQ-VAE's loss (Esser et al. 2021): the adaptive GAN weight, the delayed start,
a perceptual distance on a fixed network's features, and discriminator feature matching.

The GAN terms themselves are losses.gan's; these functions own no network: the caller hands them the
decoder's last layer, the fixed feature network, or the discriminator's features.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def adaptive_weight(rec_loss: torch.Tensor, gan_loss: torch.Tensor, last_layer: torch.Tensor, delta: float = 1e-4,
                    max_weight: float = 1e4) -> torch.Tensor:
    """lambda = ||grad_W L_rec|| / (||grad_W L_GAN|| + delta) at the decoder's last layer W (Esser et al. 2021,
    eq. 7), clipped to [0, max_weight] and detached; both losses keep their graphs for the backward pass."""
    (g_rec,) = torch.autograd.grad(rec_loss, last_layer, retain_graph=True)
    (g_gan,) = torch.autograd.grad(gan_loss, last_layer, retain_graph=True)
    return (g_rec.float().norm() / (g_gan.float().norm() + delta)).clamp(0, max_weight).detach()


def adopt_weight(weight: float, step: int, start: int) -> float:
    """`weight` from step `start` on, 0 before it: the discriminator's delayed start (taming-transformers)."""
    return weight if step >= start else 0.0


def ramped_weight(weight: float, step: int, start: int, ramp: int) -> float:
    """`weight` from step `start` on, reached linearly over `ramp` steps (0: at once), 0 before `start`. A term that
    joins at full weight sets the pixel loss back for a while (training PSNR dips, then recovers); a ramp eases it
    in. In the runs of benchmarks/results/vqgan-sweep.json it did not lower the final reconstruction FID."""
    if step < start:
        return 0.0
    return weight if ramp <= 0 else weight * min(1.0, (step - start + 1) / ramp)


def _unit_channels(f: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Each position's feature vector scaled to unit length over channels (Zhang et al. 2018, eq. 1)."""
    return f / (f.pow(2).sum(1, keepdim=True) + eps).sqrt()


class PerceptualLoss(nn.Module):
    """Per-image distance between a fixed network's features of two images: at each tapped stage, unit-normalised
    channel vectors, squared differences summed over channels and averaged over positions, summed over stages
    (LPIPS with unit weights, Zhang et al. 2018, eq. 1). `stages` run in turn; each one's output is tapped."""

    def __init__(self, stages: Sequence[nn.Module]):
        super().__init__()
        self.stages = nn.ModuleList(stages)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> PerceptualLoss:
        return super().train(False)  # a fixed network: batch norm keeps its running statistics

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x, y (B, C, H, W) as the network takes them -> distances (B,); 0 where x == y."""
        h = torch.cat([x, y])  # (2B, C, H, W): one pass for both
        total = x.new_zeros(len(x), dtype=torch.float32)
        for stage in self.stages:
            h = stage(h)
            fx, fy = _unit_channels(h.float()).chunk(2)
            total = total + (fx - fy).pow(2).sum(1).flatten(1).mean(1)
        return total


def feature_matching_loss(feats_real: Sequence[torch.Tensor], feats_fake: Sequence[torch.Tensor]) -> torch.Tensor:
    """sum_i mean |D_i(x) - D_i(x_hat)| over the discriminator's layers i, the real side detached
    (Wang et al. 2018, pix2pixHD eq. 4): a perceptual loss that needs no pretrained network."""
    return sum((fr.detach().float() - ff.float()).abs().mean() for fr, ff in zip(feats_real, feats_fake))
