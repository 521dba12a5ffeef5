"""Fréchet distance (FID) and kernel inception distance (KID) between two sets of features."""

from __future__ import annotations

import math

import torch


def feature_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and unbiased covariance (D, D) of (N, D) features, in float64."""
    f = features.double()
    if len(f) < 2:
        raise ValueError(f"need at least 2 feature vectors for a covariance, got {len(f)}")
    return f.mean(0), torch.cov(f.T)


def _sqrt_psd(a: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a symmetric positive semi-definite matrix (eigenvalues clamped at 0)."""
    w, v = torch.linalg.eigh(a)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> float:
    """||μ1 − μ2||² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½) (Heusel et al. 2017, eq. 6; Dowson & Landau 1982).

    Tr((Σ1 Σ2)^½) is computed as Σ √λ over the eigenvalues λ of the symmetric PSD matrix
    Σ1^½ Σ2 Σ1^½, which has the same spectrum as Σ1 Σ2. Unlike scipy's `sqrtm` of the
    non-symmetric product (pytorch-fid's route), this needs no ε-offset retry and never produces
    complex parts; the two agree where sqrtm converges (tests check it).
    """
    mu1, mu2, sigma1, sigma2 = (t.double() for t in (mu1, mu2, sigma1, sigma2))
    s1 = _sqrt_psd((sigma1 + sigma1.T) / 2)
    m = s1 @ sigma2 @ s1
    eig = torch.linalg.eigvalsh((m + m.T) / 2).clamp_min(0)
    tr_covmean = eig.sqrt().sum()
    d = (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * tr_covmean
    return max(float(d), 0.0)


def fid_from_features(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID between two (N, D) feature sets."""
    return frechet_distance(*feature_stats(real), *feature_stats(fake))


def _poly_mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD² with the cubic polynomial kernel k(a, b) = (a·b / D + 1)³ (Bińkowski et al. 2018, eq. 3)."""
    d = x.shape[1]
    m = len(x)
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    sum_xx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    sum_yy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(sum_xx + sum_yy - 2 * kxy.mean())


def kid(real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """KID: mean and std of unbiased MMD² over random subsets (Bińkowski et al. 2018, as torch-fidelity)."""
    n = min(subset_size, len(real), len(fake))
    if n < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    g = torch.Generator().manual_seed(seed)
    real, fake = real.double(), fake.double()
    values = []
    for _ in range(subsets):
        x = real[torch.randperm(len(real), generator=g)[:n]]
        y = fake[torch.randperm(len(fake), generator=g)[:n]]
        values.append(_poly_mmd2_unbiased(x, y))
    t = torch.tensor(values)
    return float(t.mean()), (float(t.std()) if subsets > 1 else math.nan)
