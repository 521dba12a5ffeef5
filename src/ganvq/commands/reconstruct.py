"""Images <-> code maps <-> reconstructions with a trained VQ-VAE, over files and folders."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from pathlib import Path

import numpy as np
import torch

from ganvq.data import ImageDataset, describe_skipped, has_named_splits, is_image_folder, load_dataset
from ganvq.data.folder import IMAGE_EXTENSIONS, list_image_files, misfits
from ganvq.data.npz import load_npy
from ganvq.errors import GanvqError, warn
from ganvq.images import save_grid, save_image, side_by_side, to_float, to_uint8_image
from ganvq.io import atomic_write_bytes, check_folder_writable
from ganvq.progress import Progress, progress
from ganvq.runs import load_vqvae

BATCH = 500  # images encoded or decoded at a time: bounds memory, and paces the progress display


def load_inputs(path: str, model, limit: int | None = None, written: str = "written at that size") -> ImageDataset:
    """Images to code: a dataset name, IDX/.npz file, image file or folder, sized for the model; the first
    `limit` only (None: all). `written` ends the warning about image files of another size: how they are written."""
    cfg = model.config
    data = load_dataset(path, "test" if has_named_splits(path) else "all", size=cfg.image_size, channels=cfg.channels,
                        limit=limit)
    if describe_skipped(data):
        warn(describe_skipped(data))
    bad = misfits(files_read(path, data) or [], (cfg.channels, cfg.image_size, cfg.image_size))
    if bad:
        kind = "grayscale" if cfg.channels == 1 else "RGB"
        warn(f"{len(bad)} of {len(data)} images are not {cfg.image_size}x{cfg.image_size} {kind} (e.g. "
             f"{bad[0][0].name}, {bad[0][1]}): they are resized, centre-cropped and converted to what the model "
             f"codes, and {written}")
    return data


def files_read(path: str, data: ImageDataset, exclude: Collection[Path] = ()) -> list[Path] | None:
    """The image files `data` was read from `path`, in its order: the image file itself, or a folder's readable
    files (as read_image_folder reads them, up to len(data), less those `exclude`d from the load); None for arrays
    and datasets."""
    p, n = Path(path), len(data)
    if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and n == 1:
        return [p]
    if is_image_folder(p):
        skipped = {rel for rel, _ in data.skipped}
        files = [f for f in list_image_files(p)
                 if f not in exclude and f.relative_to(p).as_posix() not in skipped][:n]
        if len(files) == n:
            return files
    return None


def input_names(path: str, data: ImageDataset) -> list[str]:
    """Output names (no suffix) for the images read from `path`: an image file keeps its name and a folder its
    files' paths inside it (`shirt.png` -> `shirt`, `tops/a.jpg` -> `tops/a`); a dataset's images are numbered."""
    p, n, files = Path(path), len(data), files_read(path, data)
    if files is None:
        width = max(5, len(str(n - 1)))
        return [f"{i:0{width}d}" for i in range(n)]
    if p.is_file():
        return [p.stem]
    rels = [f.relative_to(p) for f in files]
    stems = [r.with_suffix("").as_posix() for r in rels]
    twice = {s for s, k in Counter(stems).items() if k > 1}  # a.png and a.jpg: a_png and a_jpg
    return [s if s not in twice else f"{s}_{r.suffix[1:].lower()}" for s, r in zip(stems, rels)]


def check_inputs_kept(out_dir: Path, outputs: list[str], files: list[Path] | None) -> None:
    """A GanvqError, before any work, when one of the `outputs` (file names in `out_dir`) is one of the input image
    `files`: writing it would replace the user's image."""
    inputs = {f.resolve() for f in files or []}
    for name in outputs:
        if (target := (out_dir / name).resolve()) in inputs:
            raise GanvqError(f"-o {out_dir}: writing {name} there would replace the input image {target}; give "
                             "another output folder")


GRID_NAMES = ("grid.png", "ganvq-grid.png")  # the overview written beside the images; the second if an input is grid


def _grid_name(names: list[str]) -> str:
    """grid.png, unless an input image is itself called grid."""
    return GRID_NAMES[0] if "grid" not in names else GRID_NAMES[1]


def _encode(model, images: torch.Tensor, bar: Progress) -> torch.Tensor:
    """Code maps (N, h, w) of uint8 images (N, C, H, W), BATCH at a time, counted on `bar`."""
    out = []
    for i in range(0, len(images), BATCH):
        out.append(model.encode_images(images[i : i + BATCH]))
        bar.update(len(out[-1]))
    return torch.cat(out)


def _decode_and_write(model, indices: torch.Tensor, out: Path, names: list[str], bar: Progress) -> torch.Tensor:
    """Decode code maps BATCH at a time, writing OUT/NAME.png for each; returns the first 64 decoded images."""
    first = []
    for i in range(0, len(indices), BATCH):
        x_hat = model.decode_codes(indices[i : i + BATCH])  # (b, C, H, W) in [-1, 1]
        for name, img in zip(names[i : i + BATCH], to_uint8_image(x_hat)):
            save_image(out / f"{name}.png", img)
        if sum(len(x) for x in first) < 64:
            first.append(x_hat[:64])
        bar.update(len(x_hat))
    return torch.cat(first)[:64]


def reconstruct(ckpt: str, input: str, out: str, limit: int | None = None, grid_size: int = 64,
                device: str = "auto", quiet: bool = False) -> dict:
    """Write one reconstruction PNG per input image, named as the input (numbered for a dataset), and grid.png
    (originals above reconstructions)."""
    check_folder_writable(out)  # before the encoding, not after it
    model, _ = load_vqvae(ckpt, device)
    data = load_inputs(input, model, limit)
    images, names = data.images, input_names(input, data)
    out_dir = Path(out)
    check_inputs_kept(out_dir, [f"{n}.png" for n in names] + [_grid_name(names)], files_read(input, data))
    with progress(len(images), "reconstruct: encoding", unit="image", quiet=quiet) as bar:
        indices = _encode(model, images, bar)
    with progress(len(images), "reconstruct: decoding", unit="image", quiet=quiet) as bar:
        x_hat = _decode_and_write(model, indices, out_dir, names, bar)
    grid = out_dir / _grid_name(names)
    originals = to_float(images[:grid_size])
    save_image(grid, side_by_side(originals, x_hat[:grid_size]), upscale=2)
    return {"images": len(images), "out": str(out_dir), "grid": str(grid)}


def encode(ckpt: str, input: str, out: str, limit: int | None = None, device: str = "auto",
           quiet: bool = False) -> dict:
    """Write the code maps of the input images to a .npy file (N, h, w) int64."""
    if Path(out).suffix.lower() != ".npy":
        raise GanvqError(f"-o {out}: encode writes a NumPy array; give a file name ending in .npy")
    if Path(out).is_dir():
        raise GanvqError(f"-o {out} is a folder; give a file name ending in .npy")
    model, _ = load_vqvae(ckpt, device)
    images = load_inputs(input, model, limit).images
    with progress(len(images), "encode", unit="image", quiet=quiet) as bar:
        indices = _encode(model, images, bar).numpy()
    import io as _io

    buf = _io.BytesIO()
    np.save(buf, indices)
    atomic_write_bytes(out, buf.getvalue())
    return {"images": len(indices), "shape": list(indices.shape), "out": out}


def read_codes(codes: str) -> np.ndarray:
    """An .npy of integer code maps, its header checked against the file's size and GANVQ_MAX_PIXELS before
    anything is allocated."""
    def integers(shape, dtype):
        if dtype.kind not in "iu":
            raise GanvqError(f"{codes} holds {dtype} values; code maps are integers")

    array = load_npy(codes, codes, integers)
    if array.dtype.kind == "u" and array.size and int(array.max()) > np.iinfo(np.int64).max:
        raise GanvqError(f"{codes}: code indices beyond int64")
    return array


def _check_codes(model, indices: torch.Tensor) -> None:
    h, w = model.config.code_shape
    if indices.ndim != 3 or tuple(indices.shape[1:]) != (h, w):
        raise GanvqError(f"code maps must have shape (N, {h}, {w}) for this model, got {tuple(indices.shape)}")
    if int(indices.min()) < 0 or int(indices.max()) >= model.codebook_size:
        raise GanvqError(f"code indices must lie in [0, {model.codebook_size - 1}] for this model")


def decode(ckpt: str, codes: str, out: str, device: str = "auto", quiet: bool = False) -> dict:
    """Decode a .npy of code maps (N, h, w) into one PNG per map plus grid.png."""
    model, _ = load_vqvae(ckpt, device)
    array = read_codes(codes)
    if array.ndim == 2:
        array = array[None]
    if array.size == 0:
        raise GanvqError(f"{codes} holds no code maps (shape {array.shape})")
    indices = torch.from_numpy(array.astype(np.int64))
    _check_codes(model, indices)  # all of them, before any file is written
    out_dir = Path(out)
    width = max(5, len(str(len(indices) - 1)))
    names = [f"{i:0{width}d}" for i in range(len(indices))]
    with progress(len(indices), "decode", unit="image", quiet=quiet) as bar:
        first = _decode_and_write(model, indices, out_dir, names, bar)
    save_grid(out_dir / GRID_NAMES[0], first, upscale=2)
    return {"images": len(indices), "out": str(out_dir)}
