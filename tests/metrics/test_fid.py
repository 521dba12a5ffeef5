import numpy as np
import pytest
import scipy.linalg
import torch

from ganvq.metrics.fid import feature_stats, fid_from_features, frechet_distance, kid


def _random_spd(d: int, g: torch.Generator) -> torch.Tensor:
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    return a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


def test_fid_of_diagonal_gaussians_equals_closed_form():
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    var1, var2 = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 1.0])
    # ||mu1 - mu2||^2 + sum (sqrt(var1) - sqrt(var2))^2 for commuting (diagonal) covariances
    expected = 1 + 0 + 4 + (1 - 2) ** 2 + (2 - 1) ** 2 + (3 - 1) ** 2
    assert frechet_distance(mu1, torch.diag(var1), mu2, torch.diag(var2)) == pytest.approx(expected, abs=1e-9)


def test_fid_matches_scipy_sqrtm_on_full_covariances():
    g = torch.Generator().manual_seed(0)
    d = 20
    s1, s2 = _random_spd(d, g), _random_spd(d, g)
    mu1, mu2 = torch.randn(d, generator=g, dtype=torch.float64), torch.randn(d, generator=g, dtype=torch.float64)
    covmean = scipy.linalg.sqrtm(s1.numpy() @ s2.numpy()).real
    expected = float(((mu1 - mu2) ** 2).sum()) + np.trace(s1.numpy() + s2.numpy() - 2 * covmean)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)


def test_fid_of_identical_statistics_is_zero_even_when_singular():
    g = torch.Generator().manual_seed(1)
    f = torch.randn(50, 3, generator=g, dtype=torch.float64) @ torch.randn(3, 8, generator=g, dtype=torch.float64)
    mu, sigma = feature_stats(f)  # rank 3 of 8: sqrtm-based code needs an epsilon retry here
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-8)


def test_fid_of_large_gaussian_samples_approaches_closed_form():
    g = torch.Generator().manual_seed(2)
    a = torch.randn(200_000, 2, generator=g, dtype=torch.float64)
    b = torch.randn(200_000, 2, generator=g, dtype=torch.float64) * 2 + torch.tensor([3.0, 0.0], dtype=torch.float64)
    expected = 9 + 2 * (1 - 2) ** 2
    assert fid_from_features(a, b) == pytest.approx(expected, rel=0.01)


def test_kid_is_unbiased_on_identical_distributions_and_positive_on_different_ones():
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(2000, 16, generator=g), torch.randn(2000, 16, generator=g)
    mean, std = kid(a, b, subsets=50, subset_size=500, seed=0)
    assert abs(mean) < std  # zero within the spread of one subset's estimate (subsets overlap)
    shifted_mean, _ = kid(a, b + 0.5, subsets=50, subset_size=500, seed=0)
    assert shifted_mean > 10 * max(abs(mean), std)


def test_kid_is_reproducible_for_a_seed():
    g = torch.Generator().manual_seed(4)
    a, b = torch.randn(600, 8, generator=g), torch.randn(600, 8, generator=g)
    assert kid(a, b, subsets=10, subset_size=100, seed=7) == kid(a, b, subsets=10, subset_size=100, seed=7)
