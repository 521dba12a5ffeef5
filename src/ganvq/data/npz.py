"""Readers for image arrays saved with numpy: an .npy of images (`numpy.save`), and an .npz (`numpy.savez`) with
Keras-style split keys or one unsplit array.

Key spellings are matched without regard to case, in order of preference:
- train (or the whole input when there is no test split): `x_train`/`y_train`, `train_images`/`train_labels`,
  `images`/`labels`, `x`/`y`, `data`/`labels`, `arr_0`/`arr_1` (what `np.savez(f, images, labels)` writes);
- test: `x_test`/`y_test`, `test_images`/`test_labels`;
- validation: `x_val`/`y_val`, `x_valid`/`y_valid`, `val_images`/`val_labels`.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from ganvq.data.arrays import to_labels, to_uint8_nchw
from ganvq.data.limits import check_npy
from ganvq.errors import GanvqError

# (image key, label key) per split, in order of preference; matched in lower case.
_SPLIT_KEYS = {
    "train": (("x_train", "y_train"), ("train_images", "train_labels"), ("images", "labels"), ("x", "y"),
              ("data", "labels"), ("arr_0", "arr_1")),
    "test": (("x_test", "y_test"), ("test_images", "test_labels")),
    "val": (("x_val", "y_val"), ("x_valid", "y_valid"), ("val_images", "val_labels")),
}


def npz_splits(path: str | Path) -> set[str]:
    """The named splits an .npz holds ("train", "test", "val"), from its member names alone."""
    try:
        with zipfile.ZipFile(path) as z:
            keys = {n[:-4].lower() for n in z.namelist() if n.endswith(".npy")}
    except (OSError, zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, EOFError):
        return set()  # read_npz reports what is wrong with the file
    return {split for split, pairs in _SPLIT_KEYS.items() if any(x in keys for x, _ in pairs)}


def load_npy(path: str | Path, source: str | None = None, check=None) -> np.ndarray:
    """The array of an .npy file, its header checked against the file's size and GANVQ_MAX_PIXELS (and by
    `check(shape, dtype)`, which may raise a GanvqError) before anything is allocated; never unpickles."""
    path = Path(path)
    source = source or str(path)
    try:
        if not path.is_file():
            raise GanvqError(f"{source}: no such file" if not path.exists() else f"{source}: not a regular file")
        with open(path, "rb") as f:
            shape, dtype = check_npy(f, path.stat().st_size, source)
            if check is not None:
                check(shape, dtype)
            return np.load(f, allow_pickle=False)
    except OSError as e:
        raise GanvqError(f"{source}: cannot read ({e.strerror or e})") from None
    except ValueError as e:
        raise GanvqError(f"{source} is not a readable .npy array: {_one_line(e)}") from None


def read_npy(path: str | Path) -> np.ndarray:
    """An .npy of images (N×H×W, N×H×W×C or N×C×H×W; uint8, or floats in [0, 1], [-1, 1] or [0, 255]) as uint8
    (N, C, H, W). It holds no labels: keep them with the images in an .npz (`numpy.savez(f, x=images, y=labels)`)."""
    def check(shape, dtype):
        if dtype.kind not in "iuf":
            raise GanvqError(f"{path}: unsupported pixel dtype {dtype} (use uint8, or floats in [0, 1], [-1, 1] "
                             "or [0, 255])")
        if len(shape) not in (3, 4):
            raise GanvqError(f"{path}: expected images of shape (N, H, W), (N, H, W, C) or (N, C, H, W), "
                             f"got {shape}")

    return to_uint8_nchw(load_npy(path, check=check), str(path))


def read_npz(path: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray | None]:
    """Read one split of an .npz as uint8 images (N, C, H, W) and int64 labels (N,) or None."""
    path = Path(path)
    if split not in _SPLIT_KEYS:
        raise GanvqError(f"split must be one of {', '.join(_SPLIT_KEYS)}, got {split!r}")
    try:
        # We own the file handle: np.load leaks its own when the zip directory is unreadable.
        with open(path, "rb") as f:
            images, labels, x_key, y_key = _read_split(f, path, split)
    except OSError as e:
        raise GanvqError(f"{path}: cannot read file ({e.strerror or e})") from e
    source = f"{path}[{x_key}]"
    images = to_uint8_nchw(images, source)
    if labels is not None:
        labels = to_labels(labels, len(images), f"{path}[{y_key}]")
    return images, labels


def _read_split(f, path: Path, split: str) -> tuple[np.ndarray, np.ndarray | None, str, str]:
    """Raw (images, labels or None, image key, label key) of a split, from an open .npz file."""
    try:
        # allow_pickle=False: an .npz from elsewhere must not be able to run code.
        npz = np.load(f, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as e:
        raise GanvqError(f"{path}: cannot read .npz ({_one_line(e)})") from e
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise GanvqError(f"{path}: not an .npz archive (a single .npy array?)")
    with npz:
        keys = {k.lower(): k for k in npz.files}  # lower case -> as stored
        pair = next(((keys[x], keys.get(y)) for x, y in _SPLIT_KEYS[split] if x in keys), None)
        if pair is None:
            raise GanvqError(_missing_split_message(path, split, set(npz.files)))
        x_key, y_key = pair
        for key in (x_key, y_key):
            if key is not None:
                _check_member(npz.zip, key, path)
        try:
            images = npz[x_key]
            labels = npz[y_key] if y_key is not None else None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError) as e:
            raise GanvqError(f"{path}: corrupt .npz member ({_one_line(e)})") from e
    return images, labels, x_key, y_key


def _check_member(z: zipfile.ZipFile, key: str, path: Path) -> None:
    """Read member `key`'s .npy header before numpy allocates what it declares (data/limits.py)."""
    names = set(z.namelist())
    name = f"{key}.npy" if f"{key}.npy" in names else key
    info = z.getinfo(name)
    try:
        with z.open(info) as member:
            check_npy(member, info.file_size, f"{path}[{key}]")
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, ValueError) as e:
        # NotImplementedError: an unknown compression method; RuntimeError: an encrypted member
        raise GanvqError(f"{path}: corrupt .npz member {key!r} ({_one_line(e)})") from e


def _missing_split_message(path: Path, split: str, keys: set[str]) -> str:
    """Explain which keys a split needs, given those the file holds."""
    found = ", ".join(sorted(keys)) or "none"
    wanted = " or ".join(repr(x) for x, _ in _SPLIT_KEYS[split])
    return f"{path}: no {split} images (needs one of the keys {wanted}; the file has: {found})"


def _one_line(e: Exception) -> str:
    """An exception's message squeezed onto one line."""
    return " ".join(str(e).split()) or type(e).__name__
