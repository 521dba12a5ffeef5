"""Memorization audit: does a generator copy its training images?

For each generated sample, the pixel-space L2 distance to its nearest training image is compared
with the same distance for held-out test images, which the model never saw: a test image's
nearest training image is as close as "new but similar" gets. A sample closer to a training image
than (almost) every test image is, is a likely copy. Pixel space, because copying is about pixels;
distances are on images scaled to [0, 1], per pixel (RMS), so they read like an RMSE.
"""

from __future__ import annotations

import torch

_CHUNK = 1024  # query rows per distance block: 1024 × 60,000 floats = 245 MB


def _flat_unit(images: torch.Tensor) -> torch.Tensor:
    return images.flatten(1).float() / 255.0


def nearest_neighbours(queries: torch.Tensor, references: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each uint8 query image, the RMS pixel distance to its nearest reference image and that image's index."""
    q, r = _flat_unit(queries), _flat_unit(references)
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"images of different shapes: {tuple(queries.shape[1:])} and {tuple(references.shape[1:])}")
    r_sq = r.square().sum(1)
    dist, idx = [], []
    for chunk in q.split(_CHUNK):
        sq = chunk.square().sum(1, keepdim=True) - 2 * chunk @ r.T + r_sq  # (chunk, N_ref)
        d, i = sq.min(1)
        dist.append(d.clamp_min(0).div(q.shape[1]).sqrt())
        idx.append(i)
    return torch.cat(dist), torch.cat(idx)


def memorization_audit(samples: torch.Tensor, train: torch.Tensor, test_nn_distance: torch.Tensor,
                       quantile: float = 0.01) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """Fractions of samples closer to a training image than held-out test images are.

    Returns (summary, each sample's nearest-train distance (N,), its nearest train index (N,)).
    `test_nn_distance`: each test image's distance to its nearest training image
    (`nearest_neighbours(test, train)[0]`), computed once per dataset and cached.
    """
    d, idx = nearest_neighbours(samples, train)
    t = test_nn_distance.float()
    threshold = float(torch.quantile(t, quantile))
    summary = {
        "distance": "RMS pixel distance, pixels in [0, 1]",
        "sample_nn_median": float(d.median()),
        "test_nn_median": float(t.median()),
        # A median ratio well below 1 means samples sit much closer to training images than new data does.
        "median_ratio": float(d.median() / t.median()) if float(t.median()) > 0 else float("nan"),
        "closer_than_every_test_fraction": float((d < t.min()).float().mean()),
        f"closer_than_test_q{quantile:g}_fraction": float((d < threshold).float().mean()),
        "test_quantile": quantile,
        "test_quantile_distance": threshold,
    }
    return summary, d, idx
