"""Images <-> code maps <-> reconstructions with a trained VQ-VAE, over files and folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganvq.data import ImageDataset, describe_skipped, has_named_splits, load_dataset
from ganvq.data.limits import check_npy
from ganvq.errors import GanvqError, warn
from ganvq.images import save_grid, save_image, side_by_side, to_float, to_uint8_image
from ganvq.io import atomic_write_bytes
from ganvq.runs import load_vqvae


def load_inputs(path: str, model, limit: int | None = None) -> ImageDataset:
    """Images to code: a dataset name, IDX/.npz file, image file or folder, sized for the model; the first
    `limit` only (None: all)."""
    cfg = model.config
    data = load_dataset(path, "test" if has_named_splits(path) else "all", size=cfg.image_size, channels=cfg.channels,
                        limit=limit)
    if describe_skipped(data):
        warn(describe_skipped(data))
    return data


def _write_pngs(out: Path, images: torch.Tensor, names: list[str]) -> None:
    for name, img in zip(names, to_uint8_image(images)):
        save_image(out / f"{name}.png", img)


def reconstruct(ckpt: str, input: str, out: str, limit: int | None = None, grid_size: int = 64) -> dict:
    """Write one reconstruction PNG per input image and grid.png (originals above reconstructions)."""
    model, _ = load_vqvae(ckpt)
    images = load_inputs(input, model, limit).images
    x_hat = model.decode_codes(model.encode_images(images))
    out_dir = Path(out)
    _write_pngs(out_dir, x_hat, [f"{i:05d}" for i in range(len(images))])
    originals = to_float(images[:grid_size])
    save_image(out_dir / "grid.png", side_by_side(originals, x_hat[:grid_size]), upscale=2)
    return {"images": len(images), "out": str(out_dir), "grid": str(out_dir / "grid.png")}


def encode(ckpt: str, input: str, out: str, limit: int | None = None) -> dict:
    """Write the code maps of the input images to a .npy file (N, h, w) int64."""
    model, _ = load_vqvae(ckpt)
    images = load_inputs(input, model, limit).images
    indices = model.encode_images(images).numpy()
    import io as _io

    buf = _io.BytesIO()
    np.save(buf, indices)
    atomic_write_bytes(out, buf.getvalue())
    return {"images": len(indices), "shape": list(indices.shape), "out": out}


def read_codes(codes: str) -> np.ndarray:
    """An .npy of integer code maps, its header checked against the file's size and GANVQ_MAX_PIXELS before
    anything is allocated."""
    path = Path(codes)
    try:
        if not path.is_file():
            raise GanvqError(f"codes file not found: {codes}" if not path.exists() else f"{codes}: not a regular file")
        with open(path, "rb") as f:
            _, dtype = check_npy(f, path.stat().st_size, codes)
            if dtype.kind not in "iu":
                raise GanvqError(f"{codes} holds {dtype} values; code maps are integers")
            array = np.load(f, allow_pickle=False)
    except OSError as e:
        raise GanvqError(f"{codes}: cannot read ({e.strerror or e})") from None
    except ValueError as e:
        raise GanvqError(f"{codes} is not a readable .npy array: {e}") from None
    if array.dtype.kind == "u" and array.size and int(array.max()) > np.iinfo(np.int64).max:
        raise GanvqError(f"{codes}: code indices beyond int64")
    return array


def decode(ckpt: str, codes: str, out: str) -> dict:
    """Decode a .npy of code maps (N, h, w) into one PNG per map plus grid.png."""
    model, _ = load_vqvae(ckpt)
    array = read_codes(codes)
    if array.ndim == 2:
        array = array[None]
    if array.size == 0:
        raise GanvqError(f"{codes} holds no code maps (shape {array.shape})")
    x_hat = model.decode_codes(torch.from_numpy(array.astype(np.int64)))
    out_dir = Path(out)
    _write_pngs(out_dir, x_hat, [f"{i:05d}" for i in range(len(x_hat))])
    save_grid(out_dir / "grid.png", x_hat[:64], upscale=2)
    return {"images": len(x_hat), "out": str(out_dir)}
