import numpy as np
import pytest
import torch

from ganvq.metrics.prdc import knn_radii, prdc


def _reference_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict:
    """The reference package's definitions (clovaai/generative-evaluation-prdc), written with full matrices."""
    def dist(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    real_r = np.sort(dist(real, real), axis=1)[:, k]
    fake_r = np.sort(dist(fake, fake), axis=1)[:, k]
    d = dist(real, fake)
    return {
        "precision": (d < real_r[:, None]).any(0).mean(),
        "recall": (d < fake_r[None, :]).any(1).mean(),
        "density": (1 / k) * (d < real_r[:, None]).sum(0).mean(),
        "coverage": (d.min(1) < real_r).mean(),
    }


def test_prdc_matches_the_reference_definitions():
    g = np.random.default_rng(0)
    real = g.normal(size=(300, 5))
    fake = g.normal(loc=0.3, scale=1.2, size=(250, 5))
    ours = prdc(torch.tensor(real), torch.tensor(fake), k=5)
    ref = _reference_prdc(real, fake, 5)
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-9), key


def test_a_set_against_itself_has_precision_recall_and_coverage_one():
    x = torch.randn(500, 8, generator=torch.Generator().manual_seed(1))
    result = prdc(x, x.clone(), k=5)
    assert result["precision"] == 1.0 and result["recall"] == 1.0 and result["coverage"] == 1.0


def test_collapsed_samples_have_low_recall_and_coverage():
    real = torch.randn(1000, 8, generator=torch.Generator().manual_seed(2))
    collapsed = real[:1].repeat(1000, 1) + 1e-3 * torch.randn(1000, 8, generator=torch.Generator().manual_seed(3))
    result = prdc(real, collapsed, k=5)
    assert result["precision"] == 1.0  # realistic...
    assert result["recall"] < 0.01 and result["coverage"] < 0.01  # ...but no variety


def test_knn_radius_excludes_the_point_itself():
    x = torch.tensor([[0.0], [1.0], [3.0], [6.0]])
    assert knn_radii(x, 1).tolist() == [1.0, 1.0, 2.0, 3.0]
