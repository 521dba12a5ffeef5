"""Size limits checked before an input is decoded or allocated: headers are read first, then refused when
they declare more than a limit, so a small hostile file cannot claim gigabytes of memory.

- GANVQ_MAX_PIXELS (default 2^31, about 2.1 GB as uint8): pixel values (N x C x H x W) of one array read
  from an IDX file (raw or gzip), an .npz member, or an .npy of images or code maps.
- GANVQ_MAX_IMAGE_PIXELS (default 89,478,485, Pillow's own bomb limit): width x height of one image file.

Set either environment variable to a larger whole number to read bigger inputs.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
from PIL import Image

from ganvq.errors import GanvqError

MAX_PIXELS_ENV = "GANVQ_MAX_PIXELS"
MAX_IMAGE_PIXELS_ENV = "GANVQ_MAX_IMAGE_PIXELS"
DEFAULT_MAX_PIXELS = 2**31
DEFAULT_MAX_IMAGE_PIXELS = 89_478_485  # PIL.Image.MAX_IMAGE_PIXELS as Pillow ships it


def _limit(env: str, default: int) -> int:
    text = os.environ.get(env, "").strip().replace("_", "")
    if not text:
        return default
    try:
        value = int(float(text)) if "e" in text.lower() else int(text)
    except ValueError:
        raise GanvqError(f"{env}={os.environ[env]!r} is not a whole number") from None
    if value < 1:
        raise GanvqError(f"{env} must be at least 1, got {value}")
    return value


def max_pixels() -> int:
    """The most pixel values (N x C x H x W) one array input may declare (GANVQ_MAX_PIXELS)."""
    return _limit(MAX_PIXELS_ENV, DEFAULT_MAX_PIXELS)


def max_image_pixels() -> int:
    """The most pixels (width x height) one image file may declare (GANVQ_MAX_IMAGE_PIXELS)."""
    return _limit(MAX_IMAGE_PIXELS_ENV, DEFAULT_MAX_IMAGE_PIXELS)


def check_values(shape: tuple[int, ...], source: str, what: str = "pixel values") -> int:
    """The number of values an array of `shape` holds, or a GanvqError when it passes GANVQ_MAX_PIXELS."""
    count = 1
    for d in shape:
        count *= int(d)  # Python ints: a damaged header can declare more than int64 holds
    limit = max_pixels()
    if count > limit:
        raise GanvqError(f"{source}: declares {count:,} {what} (shape {tuple(shape)}), more than the limit of "
                         f"{limit:,}; a damaged file, or set {MAX_PIXELS_ENV} higher to read it")
    return count


def npy_header(f: BinaryIO, source: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header bytes) of the .npy stream `f` at its start, read without loading the array."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=10_000)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=10_000)
    except (ValueError, EOFError, OSError, SyntaxError, TypeError) as e:
        raise GanvqError(f"{source}: not a readable .npy array ({' '.join(str(e).split())[:200]})") from None
    return tuple(shape), dtype, f.tell()


def check_npy(f: BinaryIO, size: int, source: str) -> tuple[tuple[int, ...], np.dtype]:
    """Read the .npy header of stream `f` (then rewound) holding `size` bytes: a GanvqError when it declares
    more values than GANVQ_MAX_PIXELS or more bytes than the stream holds."""
    start = f.tell()
    shape, dtype, end = npy_header(f, source)
    f.seek(start)
    if dtype.hasobject:
        raise GanvqError(f"{source}: holds Python objects, which ganvq never loads (save numbers)")
    count = check_values(shape, source, "values")
    need = count * dtype.itemsize
    if need > size - (end - start):
        raise GanvqError(f"{source}: declares shape {shape} of {dtype} ({need:,} bytes) but holds "
                         f"{max(size - (end - start), 0):,}; the file is truncated or damaged")
    return shape, dtype


@contextlib.contextmanager
def image_limit() -> Iterator[None]:
    """Pillow's decompression-bomb check set to GANVQ_MAX_IMAGE_PIXELS, its warning silenced (the size is
    checked by `check_image_size` instead, with a message that names the file)."""
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_image_pixels()  # Pillow refuses twice this, before decoding
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = old


def check_image_size(img: Image.Image, source: object) -> None:
    """A GanvqError when an opened (not yet decoded) image is larger than GANVQ_MAX_IMAGE_PIXELS."""
    w, h = img.size
    limit = max_image_pixels()
    if w * h > limit:
        raise GanvqError(f"{source}: a {w}x{h} image ({w * h:,} pixels) is larger than the limit of {limit:,}; "
                         f"set {MAX_IMAGE_PIXELS_ENV} higher to read it")


def open_image(path, source: object | None = None) -> Image.Image:
    """Image.open with the size limit checked before any pixel is decoded (use it as a context manager)."""
    with image_limit():
        try:
            img = Image.open(path)
        except Image.DecompressionBombError:
            raise GanvqError(f"{source or path}: the image is larger than the limit of {max_image_pixels():,} "
                             f"pixels; set {MAX_IMAGE_PIXELS_ENV} higher to read it") from None
    try:
        check_image_size(img, source or path)
    except GanvqError:
        img.close()
        raise
    return img
