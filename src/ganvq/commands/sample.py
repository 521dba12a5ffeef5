"""Sampling trained generators: a GAN (images and labels, latent interpolations) or a prior over code
maps decoded by its VQ-VAE; as tensors, a grid PNG or a folder of PNGs (the "image library").
All reproducible from `seed` alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganvq.commands.export import check_targets, condition_labels, export_samples
from ganvq.errors import GanvqError
from ganvq.images import make_grid, save_image, to_uint8_image
from ganvq.io import check_writable
from ganvq.progress import progress
from ganvq.runs import Run, load_gan, load_prior, open_run

BATCH = 500  # images generated per forward pass (GAN), code maps sampled side by side (prior)


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


def _labels_for(config, n: int, class_: int | str | None) -> torch.Tensor | None:
    return condition_labels(config.model.num_classes, n, class_, "GAN", config.class_names)


@torch.no_grad()
def _generate(G, z: torch.Tensor, y: torch.Tensor | None, quiet: bool = True) -> torch.Tensor:
    """uint8 (N, C, H, W) images of G for latents z (N, z_dim) and labels y (N,) or None, in batches."""
    device = next(G.parameters()).device
    out = []
    with progress(len(z), "sample gan", unit="image", quiet=quiet) as bar:
        for i in range(0, len(z), BATCH):
            yi = None if y is None else y[i : i + BATCH].to(device)
            x = G(z[i : i + BATCH].to(device), yi)  # (b, C, H, W) in [-1, 1]
            out.append(torch.from_numpy(to_uint8_image(x)).permute(0, 3, 1, 2))
            bar.update(len(x))
    return torch.cat(out)


def sample(
    ckpt: str | Path | Run,
    n: int,
    seed: int = 0,
    class_: int | str | None = None,
    truncation: float | None = None,
    device: str = "auto",
    quiet: bool = True,
    ema: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """n samples of the checkpoint's EMA generator (its last weights if ema=False, as trained): uint8 images
    (n, C, H, W) and int64 labels (n,) or None."""
    G, config = load_gan(ckpt, device, ema)
    return _sample(G, config, n, seed, class_, truncation, quiet)


def _check_n(n: int) -> None:
    if n < 1:
        raise GanvqError(f"--n must be at least 1, got {n}")


def _sample(G, config, n: int, seed: int, class_: int | str | None, truncation: float | None, quiet: bool = True):
    _check_n(n)
    gen = torch.Generator().manual_seed(seed)
    z = latents(n, config.model.z_dim, gen, truncation)
    y = _labels_for(config, n, class_)
    return _generate(G, z, y, quiet), y


def _class_name(config, label: int) -> str:
    names = config.class_names
    return names[label] if names and label < len(names) else str(label)


def write_samples(
    ckpt: str | Path | Run,
    n: int = 64,
    seed: int = 0,
    out: str | Path | None = None,
    out_dir: str | Path | None = None,
    class_: int | str | None = None,
    truncation: float | None = None,
    device: str = "auto",
    temperature: float = 1.0,
    top_k: int | None = None,
    quiet: bool = False,
) -> dict:
    """Write n samples of a GAN or prior run as one grid PNG (`out`) or as a folder of n PNGs plus
    labels.csv (`out_dir`). `truncation` applies to GAN latents, `temperature` and `top_k` to a prior's codes."""
    check_targets(out, out_dir)
    run = ckpt if isinstance(ckpt, Run) else open_run(ckpt, "gan", "prior")
    if run.kind == "prior":
        if truncation is not None:
            raise GanvqError("--truncation applies to a GAN's latents; a prior samples with --temperature and --top-k")
        return write_prior_samples(run, n, seed, out, out_dir, class_, temperature, top_k, device, quiet)
    if temperature != 1.0 or top_k is not None:
        raise GanvqError("--temperature and --top-k apply to a prior's codes; a GAN samples with --truncation")
    G, config = load_gan(run, device)
    images, labels = _sample(G, config, n, seed, class_, truncation, quiet)
    nrow = config.model.num_classes if labels is not None and class_ is None else 8
    return export_samples(images, labels, out, out_dir, grid_columns=min(nrow, 16) or 8,
                          class_name=lambda label: _class_name(config, label),
                          source=source_record(run, seed) | _drawn(class_, truncation=truncation),
                          quiet=quiet)


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
    ckpt: str | Path | Run,
    out: str | Path,
    rows: int = 8,
    steps: int = 10,
    seed: int = 0,
    class_: int | str | None = None,
    truncation: float | None = None,
    device: str = "auto",
) -> dict:
    """Write a grid PNG: each row walks (slerp) from one random latent to another in `steps` images.

    A conditional model keeps one class per row: `class_`, else row r shows class r mod K.
    """
    check_writable(out)  # before the sampling, not after it
    grid = interpolation_grid(ckpt, rows, steps, seed, class_, truncation, device)
    save_image(out, grid, upscale=2)
    return {"rows": rows, "steps": steps, "out": str(out)}


def interpolation_grid(
    ckpt: str | Path | Run,
    rows: int = 8,
    steps: int = 10,
    seed: int = 0,
    class_: int | str | None = None,
    truncation: float | None = None,
    device: str = "auto",
) -> np.ndarray:
    """The grid `interpolate` writes, as a uint8 (H, W, C) array: one slerp walk of `steps` images per row."""
    if rows < 1 or steps < 2:
        raise GanvqError("--rows must be at least 1 and --steps at least 2")
    G, config = load_gan(ckpt, device)
    gen = torch.Generator().manual_seed(seed)
    z0, z1 = (latents(rows, config.model.z_dim, gen, truncation) for _ in range(2))
    z = slerp(z0, z1, torch.linspace(0, 1, steps)).reshape(rows * steps, -1)  # (rows * steps, z_dim)
    y = _labels_for(config, rows, class_)
    if y is not None:
        y = y.repeat_interleave(steps)
    return make_grid(_generate(G, z, y), nrow=steps)


@torch.no_grad()
def sample_prior(
    ckpt: str | Path | Run,
    n: int = 64,
    seed: int = 0,
    class_: int | str | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    device: str = "cpu",
    quiet: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """n samples: uint8 images (n, C, H, W), their code maps (n, h, w) and labels (n,) or None.

    Ancestral sampling from the prior (van den Oord et al. 2017, sec. 4.1), then the VQ-VAE decoder;
    reproducible from `seed` alone.
    """
    _check_n(n)
    prior, vqvae, config = load_prior(ckpt, device)
    labels = condition_labels(prior.config.num_classes, n, class_, "prior", config.class_names)
    gen = torch.Generator().manual_seed(seed)
    codes, images = [], []
    with progress(n, "sample prior", unit="image", quiet=quiet) as bar:
        for i in range(0, n, BATCH):
            y = None if labels is None else labels[i : i + BATCH]
            c = prior.sample(min(BATCH, n - i), y, temperature=temperature, top_k=top_k, generator=gen)
            codes.append(c)
            x = vqvae.decode(c.to(next(vqvae.parameters()).device))
            images.append(torch.from_numpy(to_uint8_image(x)).permute(0, 3, 1, 2))
            bar.update(len(c))
    return torch.cat(images), torch.cat(codes), labels


def write_prior_samples(
    ckpt: str | Path | Run,
    n: int = 64,
    seed: int = 0,
    out: str | Path | None = None,
    out_dir: str | Path | None = None,
    class_: int | str | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    device: str = "cpu",
    quiet: bool = False,
) -> dict:
    """Write n prior samples as one grid PNG (`out`) or a new folder of PNGs (+ labels.csv) (`out_dir`)."""
    check_targets(out, out_dir)
    run = ckpt if isinstance(ckpt, Run) else open_run(ckpt, "prior")
    images, _, labels = sample_prior(run, n, seed, class_, temperature, top_k, device, quiet)
    return export_samples(images, labels, out, out_dir, grid_columns=10 if labels is not None and class_ is None else 8,
                          class_name=lambda label: _class_name(run.config, label),
                          source=source_record(run, seed) | _drawn(class_, temperature=temperature, top_k=top_k),
                          quiet=quiet)


def trained_on(run: Run) -> tuple[str, float | None] | None:
    """The data a run was trained on and its held-out fraction (None where an old prior run does not say)."""
    data = run.config.data
    if run.kind == "prior" and not data:  # priors saved before they recorded their VQ-VAE's data
        return None
    return data, run.config.val_fraction


def _drawn(class_, **options) -> dict:
    """How the samples of an exported folder were drawn, for its source.json: the class asked for, and the options
    that move samples away from the model's own distribution (truncation, temperature, top-k), where given."""
    out = {} if class_ is None else {"class": class_}
    return out | {k: v for k, v in options.items() if v is not None and not (k == "temperature" and v == 1.0)}


def source_record(run: Run, seed: int) -> dict:
    """What an exported sample folder's source.json says: the run, its training data and held-out fraction,
    so `ganvq eval folder` can score the folder against the right images without being told."""
    data = trained_on(run)
    record = {"checkpoint": str(run.checkpoint.resolve()), "kind": run.kind, "step": run.meta.get("step"), "seed": seed,
              "data": data[0] if data else None, "val_fraction": data[1] if data else None}
    c = run.config
    if run.kind == "gan" and (c.limit is not None or getattr(c, "subset", None) is not None):
        # a GAN trained on part of its data: eval folder's memorization audit compares with those images alone
        record["train_part"] = {"limit": c.limit, "subset": getattr(c, "subset", None),
                                "subset_seed": getattr(c, "subset_seed", None), "on_bad": c.on_bad}
    return record


def generate(ckpt: str | Path | Run, n: int, seed: int = 0, quiet: bool = True
             ) -> tuple[torch.Tensor, tuple[str, float | None] | None]:
    """n samples of a generator run (GAN, or prior + VQ-VAE decoder) read once, and the data it was trained on
    with its held-out fraction."""
    run = ckpt if isinstance(ckpt, Run) else open_run(ckpt)
    if run.kind == "prior":
        return sample_prior(run, n, seed, quiet=quiet)[0], trained_on(run)
    if run.kind == "gan":
        return sample(run, n, seed, quiet=quiet)[0], trained_on(run)
    raise GanvqError(f"{run.checkpoint}: a {run.kind} checkpoint does not generate images; use `ganvq eval {run.kind}`")
