"""Lloyd's k-means on vectors: the "vector training" step E[min_v ||x - v||^2] of the article."""

from __future__ import annotations

import torch


def squared_distances(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """||x_i - e_k||^2 for every pair, as one matrix product; x (N, D), codebook (K, D) -> (N, K)."""
    return (
        x.pow(2).sum(1, keepdim=True)
        - 2 * x @ codebook.t()
        + codebook.pow(2).sum(1).unsqueeze(0)
    )


def kmeans_objective(x: torch.Tensor, codebook: torch.Tensor) -> float:
    """Mean squared distance of each vector to its nearest centre, E[min_v ||x - v||^2]."""
    return squared_distances(x, codebook).min(1).values.clamp_min(0).mean().item()


def kmeans(
    x: torch.Tensor,
    k: int,
    iters: int = 10,
    generator: torch.Generator | None = None,
    init: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's algorithm (Lloyd 1982) from k random samples (or `init`); returns (centres (K, D), counts (K,)).

    Empty clusters are re-seeded with random samples, so every centre ends up near data.
    """
    x = x.detach().float()
    n = x.shape[0]
    if init is None:
        # With fewer vectors than centres, sample with replacement; duplicates split later.
        idx = (
            torch.randperm(n, generator=generator)[:k]
            if n >= k
            else torch.randint(n, (k,), generator=generator)
        )
        centres = x[idx].clone()
    else:
        centres = init.detach().float().clone()
    counts = torch.zeros(k)
    for _ in range(max(iters, 1)):
        assign = squared_distances(x, centres).argmin(1)
        counts = torch.bincount(assign, minlength=k).float()
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        nonempty = counts > 0
        centres[nonempty] = sums[nonempty] / counts[nonempty].unsqueeze(1)
        empty = (~nonempty).nonzero().squeeze(1)
        if len(empty):
            centres[empty] = x[torch.randint(n, (len(empty),), generator=generator)]
    return centres, counts
