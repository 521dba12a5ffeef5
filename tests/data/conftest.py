"""Shared helpers for the data tests: tiny IDX files and images written on the fly.

Helpers are handed out as fixtures, not imported, so the tests work under any pytest import mode.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

_TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode an array in the IDX format (big-endian, as the MNIST files are)."""
    code = _TYPE_CODES[arr.dtype.type]
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, arr: np.ndarray) -> Path:
    """Write arr as IDX, gzip-compressed when the name ends in .gz."""
    data = idx_bytes(arr)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def write_idx_folder(folder: Path, n_train: int = 12, n_test: int = 5, n_train_labels: int | None = None) -> Path:
    """An MNIST-style folder of four .gz files with 8×8 images and labels 0..9."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n, n_labels in (("train", n_train, n_train_labels or n_train), ("t10k", n_test, n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 8, 8), dtype=np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(n_labels) % 10).astype(np.uint8))
    return folder


def save_image(path: Path, arr: np.ndarray) -> Path:
    """Save an (H, W) or (H, W, 3) array as an image; the format follows the extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


@pytest.fixture(name="idx_bytes", scope="session")
def _idx_bytes_fixture():
    return idx_bytes


@pytest.fixture(name="write_idx", scope="session")
def _write_idx_fixture():
    return write_idx


@pytest.fixture(name="write_idx_folder", scope="session")
def _write_idx_folder_fixture():
    return write_idx_folder


@pytest.fixture(name="save_image", scope="session")
def _save_image_fixture():
    return save_image
