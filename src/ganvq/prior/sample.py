"""Sampling images from a prior checkpoint: code maps drawn by the prior, decoded by its VQ-VAE."""

from __future__ import annotations

from pathlib import Path

import torch

from ganvq.errors import GanvqError
from ganvq.export import check_targets, condition_labels, export_samples
from ganvq.report.grids import to_uint8_image

BATCH = 500  # code maps sampled side by side


@torch.no_grad()
def sample_prior(
    ckpt: str | Path,
    n: int = 64,
    seed: int = 0,
    class_: int | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    device: str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """n samples: uint8 images (n, C, H, W), their code maps (n, h, w) and labels (n,) or None.

    Ancestral sampling from the prior (van den Oord et al. 2017, sec. 4.1), then the VQ-VAE decoder;
    reproducible from `seed` alone.
    """
    from ganvq.train.prior import load_prior

    if n < 1:
        raise GanvqError(f"--n must be at least 1, got {n}")
    prior, vqvae, _ = load_prior(ckpt, device)
    labels = condition_labels(prior.config.num_classes, n, class_, "prior")
    gen = torch.Generator().manual_seed(seed)
    codes, images = [], []
    for i in range(0, n, BATCH):
        y = None if labels is None else labels[i : i + BATCH]
        c = prior.sample(min(BATCH, n - i), y, temperature=temperature, top_k=top_k, generator=gen)
        codes.append(c)
        x = vqvae.decode(c.to(next(vqvae.parameters()).device))
        images.append(torch.from_numpy(to_uint8_image(x)).permute(0, 3, 1, 2))
    return torch.cat(images), torch.cat(codes), labels


def write_prior_samples(
    ckpt: str | Path,
    n: int = 64,
    seed: int = 0,
    out: str | Path | None = None,
    out_dir: str | Path | None = None,
    class_: int | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    device: str = "cpu",
) -> dict:
    """Write n prior samples as one grid PNG (`out`) or a new folder of PNGs (+ labels.csv) (`out_dir`)."""
    check_targets(out, out_dir)
    images, _, labels = sample_prior(ckpt, n, seed, class_, temperature, top_k, device)
    return export_samples(images, labels, out, out_dir, grid_columns=10 if labels is not None and class_ is None else 8)


def checkpoint_kind(path: str | Path) -> str | None:
    """The `kind` ("vqvae", "gan", "prior") a checkpoint's metadata records, read from its header only; None if unreadable."""
    import json
    import struct

    p = Path(path)
    if p.is_dir():
        p = p / "checkpoint.safetensors"
    try:
        with open(p, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > 100_000_000:
                return None
            header = json.loads(f.read(n))
        kind = json.loads(header["__metadata__"]["ganvq"]).get("kind")
    except Exception:  # any unreadable file: let the loader give the precise error
        return None
    return kind if isinstance(kind, str) else None
