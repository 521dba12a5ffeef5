"""Precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020) on k-NN balls.

Each real feature r_i gets a ball of radius ρ_i = distance to its k-th nearest other real
feature; each fake feature f_j likewise (ρ'_j, among fakes).
- precision = fraction of fakes inside at least one real ball (are samples realistic?)
- recall    = fraction of reals inside at least one fake ball (is the data's variety covered?)
- density   = (1 / kM) Σ_j #{i : f_j in ball_i}  (how many real neighbourhoods hold each sample)
- coverage  = fraction of reals whose ball holds at least one fake
Same definitions as the reference `prdc` package (clovaai/generative-evaluation-prdc), with k = 5.
"""

from __future__ import annotations

import torch

_CHUNK = 2048  # rows of a distance matrix computed at once: 2048 × 10,000 floats = 80 MB


def _cdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # Euclidean, from the matrix-product form; the clamp removes tiny negatives of cancellation.
    sq = a.square().sum(1, keepdim=True) - 2 * a @ b.T + b.square().sum(1)
    return sq.clamp_min_(0).sqrt_()


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest other row, (N,)."""
    if len(x) <= k:
        raise ValueError(f"k = {k} nearest neighbours need more than {k} samples, got {len(x)}")
    radii = []
    for chunk in x.split(_CHUNK):
        # k + 1 smallest: the point itself is at distance 0.
        radii.append(_cdist(chunk, x).topk(k + 1, dim=1, largest=False).values[:, -1])
    return torch.cat(radii)


def prdc(real: torch.Tensor, fake: torch.Tensor, k: int = 5,
         real_radii: torch.Tensor | None = None) -> dict[str, float]:
    """Precision, recall, density and coverage of fake (M, D) against real (N, D) features."""
    real, fake = real.float(), fake.float()
    if real_radii is None:
        real_radii = knn_radii(real, k)
    fake_radii = knn_radii(fake, k)
    fake_in_some_real_ball = torch.zeros(len(fake), dtype=torch.bool)
    balls_per_fake = torch.zeros(len(fake), dtype=torch.long)
    real_in_some_fake_ball = torch.zeros(len(real), dtype=torch.bool)
    real_covered = torch.zeros(len(real), dtype=torch.bool)
    for start in range(0, len(real), _CHUNK):
        r = real[start : start + _CHUNK]
        radii = real_radii[start : start + _CHUNK, None]
        d = _cdist(r, fake)  # (chunk, M)
        inside_real = d < radii  # fake j inside the ball of real i
        fake_in_some_real_ball |= inside_real.any(0)
        balls_per_fake += inside_real.sum(0)
        real_in_some_fake_ball[start : start + len(r)] = (d < fake_radii[None]).any(1)
        real_covered[start : start + len(r)] = d.min(1).values < radii[:, 0]
    return {
        "precision": int(fake_in_some_real_ball.sum()) / len(fake),
        "recall": int(real_in_some_fake_ball.sum()) / len(real),
        "density": int(balls_per_fake.sum()) / (k * len(fake)),
        "coverage": int(real_covered.sum()) / len(real),
    }
