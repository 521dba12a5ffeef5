"""Memorization audit: does a generator copy its training images?

For each generated sample, the pixel-space L2 distance to its nearest training image is compared
with the same distance for held-out test images, which the model never saw: a test image's
nearest training image is as close as "new but similar" gets. A sample closer to a training image
than (almost) every test image is, is a likely copy. Pixel space, because copying is about pixels;
distances are on images scaled to [0, 1], per pixel (RMS), so they read like an RMSE.

Closeness alone also flags images that sit near many training images at once, such as a flat grey
image among noisy ones or a blur of a class: in many dimensions the average is nearer to every image
than images are to each other. So the audit also takes each distance relative to the mean distance to
the k nearest training images (after Carlini et al. 2023, "Extracting training data from diffusion
models"): a copy is much nearer one training image than its other neighbours, an average is not. Their
n = 50 suits millions of images; here k = 5. Measured on Fashion-MNIST training sets of 100, 500 and
60,000 images, k = 5 flags copies and 3:1 blends as often as k = 50 does, noisy copies all but as often
(99.9% against 100% at 60,000), unseen images no more often, and the equal means of 3 nearby training
images 3-6 times less often (5-8% against 18-29%). A likely copy is closer to a training image than 1%
of test images are, by both measures.
"""

from __future__ import annotations

import torch

_CHUNK = 1024  # query rows per distance block: 1024 × 60,000 floats = 245 MB
RELATIVE_NEIGHBOURS = 5  # k of the relative distance (benchmarks/bench_audit_neighbours.py: see the module text)


def _flat_unit(images: torch.Tensor) -> torch.Tensor:
    return images.flatten(1).float() / 255.0


def neighbour_distances(queries: torch.Tensor, references: torch.Tensor, k: int = 1) -> tuple[torch.Tensor,
                                                                                                torch.Tensor]:
    """For each uint8 query image, the RMS pixel distances to its k nearest reference images (N, k), nearest
    first, and the nearest one's index (N,)."""
    q, r = _flat_unit(queries), _flat_unit(references)
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"images of different shapes: {tuple(queries.shape[1:])} and {tuple(references.shape[1:])}")
    k = min(k, len(r))
    r_sq = r.square().sum(1)
    dist, idx = [], []
    for chunk in q.split(_CHUNK):
        sq = chunk.square().sum(1, keepdim=True) - 2 * chunk @ r.T + r_sq  # (chunk, N_ref)
        d, i = sq.topk(k, 1, largest=False) if k > 1 else sq.min(1, keepdim=True)
        dist.append(d.clamp_min(0).div(q.shape[1]).sqrt())
        idx.append(i[:, 0])
    return torch.cat(dist), torch.cat(idx)


def nearest_neighbours(queries: torch.Tensor, references: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each uint8 query image, the RMS pixel distance to its nearest reference image and that image's index."""
    d, idx = neighbour_distances(queries, references)
    return d[:, 0], idx


def _nearest_and_relative(distances: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """From (N, k) nearest-first distances: the nearest one, and it over the mean of all k (0 where all k are 0:
    the image repeats a training image that the training set holds k times)."""
    mean = distances.mean(1)
    return distances[:, 0], distances[:, 0] / mean.clamp_min(1e-12)


def audit_reference(test: torch.Tensor, train: torch.Tensor, neighbours: int | None = None
                    ) -> dict[str, torch.Tensor]:
    """What the audit sets samples against: each held-out image's distance to its nearest training image
    (`test_nn_distance`) and that distance relative to its `neighbours` nearest (`test_relative`; by default
    RELATIVE_NEIGHBOURS). Computed once per dataset and cached by the caller."""
    neighbours = neighbours or RELATIVE_NEIGHBOURS
    nearest, relative = _nearest_and_relative(neighbour_distances(test, train, neighbours)[0])
    return {"test_nn_distance": nearest, "test_relative": relative}


def memorization_audit(samples: torch.Tensor, train: torch.Tensor, reference: dict[str, torch.Tensor],
                       quantile: float = 0.01, neighbours: int | None = None
                       ) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """Fractions of samples closer to a training image than held-out test images are.

    Returns (summary, each sample's nearest-train distance (N,), its nearest train index (N,)).
    `reference`: `audit_reference(test, train, neighbours)`, with the same `neighbours` (by default
    RELATIVE_NEIGHBOURS, as there).
    """
    neighbours = neighbours or RELATIVE_NEIGHBOURS
    distances, idx = neighbour_distances(samples, train, neighbours)
    d, rel = _nearest_and_relative(distances)
    t, t_rel = reference["test_nn_distance"].float(), reference["test_relative"].float()
    threshold = float(torch.quantile(t, quantile))
    rel_threshold = float(torch.quantile(t_rel, quantile))
    close, rel_close = d < threshold, rel < rel_threshold
    summary = {
        "distance": "RMS pixel distance, pixels in [0, 1]",
        "sample_nn_median": float(d.median()),
        "test_nn_median": float(t.median()),
        # A median ratio well below 1 means samples sit much closer to training images than new data does.
        "median_ratio": float(d.median() / t.median()) if float(t.median()) > 0 else float("nan"),
        "closer_than_every_test_fraction": float((d < t.min()).float().mean()),
        f"closer_than_test_q{quantile:g}_fraction": float(close.float().mean()),
        "test_quantile": quantile,
        "test_quantile_distance": threshold,
        "relative_distance": f"nearest distance / mean distance to the {min(neighbours, len(train))} "
                             "nearest training images",
        "relative_neighbours": min(neighbours, len(train)),
        "sample_relative_median": float(rel.median()),
        "test_relative_median": float(t_rel.median()),
        f"relative_closer_than_test_q{quantile:g}_fraction": float(rel_close.float().mean()),
        "test_quantile_relative": rel_threshold,
        # closer by both measures: near one training image, and nearer it than its other neighbours
        "likely_copy_fraction": float((close & rel_close).float().mean()),
    }
    return summary, d, idx
