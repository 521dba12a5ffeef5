"""Sampling a trained GAN: images (and labels), a grid PNG, a folder of PNGs (the "image library"),
and latent interpolations. All reproducible from `seed` alone."""

from __future__ import annotations

from pathlib import Path

import torch

from ganvq.errors import GanvqError
from ganvq.export import check_targets, condition_labels, export_samples
from ganvq.report.grids import (
    make_grid,
    save_image,
    to_uint8_image,
)
from ganvq.train.gan import load_gan

BATCH = 500  # images generated per forward pass


def latents(n: int, dim: int, generator: torch.Generator, truncation: float | None = None) -> torch.Tensor:
    """z ~ N(0, I) (n, dim); with `truncation` t, entries with |z| > t are redrawn (Brock et al. 2019, sec. 3.1).

    Lower t trades variety for fidelity; t = None (or inf) is the plain prior.
    """
    if truncation is not None and truncation <= 0:
        raise GanvqError(f"--truncation must be positive, got {truncation}")
    z = torch.randn(n, dim, generator=generator)
    if truncation is None:
        return z
    while True:
        outside = z.abs() > truncation
        if not outside.any():
            return z
        z[outside] = torch.randn(int(outside.sum()), generator=generator)


def _labels_for(config, n: int, class_: int | None) -> torch.Tensor | None:
    return condition_labels(config.model.num_classes, n, class_, "GAN")


@torch.no_grad()
def _generate(G, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """uint8 (N, C, H, W) images of G for latents z (N, z_dim) and labels y (N,) or None, in batches."""
    device = next(G.parameters()).device
    out = []
    for i in range(0, len(z), BATCH):
        yi = None if y is None else y[i : i + BATCH].to(device)
        x = G(z[i : i + BATCH].to(device), yi)  # (b, C, H, W) in [-1, 1]
        out.append(torch.from_numpy(to_uint8_image(x)).permute(0, 3, 1, 2))
    return torch.cat(out)


def sample(
    ckpt: str | Path,
    n: int,
    seed: int = 0,
    class_: int | None = None,
    truncation: float | None = None,
    device: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """n samples of the checkpoint's EMA generator: uint8 images (n, C, H, W) and int64 labels (n,) or None."""
    G, config = load_gan(ckpt, device)
    return _sample(G, config, n, seed, class_, truncation)


def _sample(G, config, n: int, seed: int, class_: int | None, truncation: float | None):
    if n < 1:
        raise GanvqError(f"--n must be at least 1, got {n}")
    gen = torch.Generator().manual_seed(seed)
    z = latents(n, config.model.z_dim, gen, truncation)
    y = _labels_for(config, n, class_)
    return _generate(G, z, y), y


def _class_name(config, label: int) -> str:
    names = config.class_names
    return names[label] if names and label < len(names) else str(label)


def write_samples(
    ckpt: str | Path,
    n: int = 64,
    seed: int = 0,
    out: str | Path | None = None,
    out_dir: str | Path | None = None,
    class_: int | None = None,
    truncation: float | None = None,
    device: str = "auto",
) -> dict:
    """Write n samples as one grid PNG (`out`) or as a folder of n PNGs plus labels.csv (`out_dir`)."""
    check_targets(out, out_dir)
    G, config = load_gan(ckpt, device)
    images, labels = _sample(G, config, n, seed, class_, truncation)
    nrow = config.model.num_classes if labels is not None and class_ is None else 8
    return export_samples(images, labels, out, out_dir, grid_columns=min(nrow, 16) or 8,
                          class_name=lambda label: _class_name(config, label))


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of a and b (B, D) at fractions t (T,) -> (B, T, D) (White 2016).

    Gaussian latents concentrate near a sphere; a straight line between two of them dips inside it,
    where G saw no training latents, so slerp keeps intermediate images as sharp as the ends.
    """
    an, bn = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((an * bn).sum(1).clamp(-1 + 1e-7, 1 - 1e-7))[:, None, None]  # (B, 1, 1)
    t = t[None, :, None]  # (1, T, 1)
    return (torch.sin((1 - t) * omega) * a[:, None] + torch.sin(t * omega) * b[:, None]) / torch.sin(omega)


def interpolate(
    ckpt: str | Path,
    out: str | Path,
    rows: int = 8,
    steps: int = 10,
    seed: int = 0,
    class_: int | None = None,
    truncation: float | None = None,
    device: str = "auto",
) -> dict:
    """Write a grid PNG: each row walks (slerp) from one random latent to another in `steps` images.

    A conditional model keeps one class per row: `class_`, else row r shows class r mod K.
    """
    if rows < 1 or steps < 2:
        raise GanvqError("--rows must be at least 1 and --steps at least 2")
    G, config = load_gan(ckpt, device)
    gen = torch.Generator().manual_seed(seed)
    z0, z1 = (latents(rows, config.model.z_dim, gen, truncation) for _ in range(2))
    z = slerp(z0, z1, torch.linspace(0, 1, steps)).reshape(rows * steps, -1)  # (rows * steps, z_dim)
    y = _labels_for(config, rows, class_)
    if y is not None:
        y = y.repeat_interleave(steps)
    images = _generate(G, z, y)
    grid = make_grid(images, nrow=steps)
    save_image(out, grid, upscale=2)
    return {"rows": rows, "steps": steps, "out": str(out)}
