"""Reader for the IDX format used by MNIST and Fashion-MNIST (raw or gzip-compressed).

The header is read first and the data only as far as it declares, so neither a header claiming
billions of values nor a gzip bomb is ever allocated or decompressed whole (see data/limits.py).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ganvq.data.limits import check_values
from ganvq.errors import GanvqError

# IDX type code -> big-endian element dtype (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT").
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (`.gz` or raw) into a native-endian numpy array of its declared shape."""
    path = Path(path)
    if path.exists() and not path.is_file():  # a folder, or /dev/zero or a FIFO: no end to read to
        raise GanvqError(f"{path}: cannot read it as an IDX file: not a regular file")
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            if not gzipped and path.suffix.lower() == ".gz":
                raise GanvqError(f"{path}: not a gzip file (named .gz but lacks the gzip header)")
            if not gzipped:
                return _read_stream(raw, path)
            with gzip.GzipFile(fileobj=raw) as f:
                return _read_stream(f, path)
    except EOFError as e:
        raise GanvqError(f"{path}: truncated gzip file ({e}); download it again") from e
    except gzip.BadGzipFile as e:
        raise GanvqError(f"{path}: corrupt gzip file ({e}); download it again") from e
    except zlib.error as e:
        raise GanvqError(f"{path}: corrupt gzip file ({e}); download it again") from e
    except OSError as e:
        raise GanvqError(f"{path}: cannot read file ({e.strerror or e})") from e


def _read_exactly(f: BinaryIO, n: int) -> bytes:
    """Up to n bytes (fewer only at the end of the stream); gzip streams return short reads."""
    parts, left = [], n
    while left > 0:
        chunk = f.read(min(left, 1 << 24))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


# what a file given where data is read may be, said when it is none of them (an IDX file is the last guess)
_READS = "ganvq reads IDX files, .npz and .npy arrays, and PNG/JPEG/BMP/TIFF/WebP images or folders of them"


def _read_stream(f: BinaryIO, path: Path) -> np.ndarray:
    head = _read_exactly(f, 4)
    name = path.name.lower()
    if (len(head) < 4 or head[:2] != b"\0\0") and not ("idx" in name or "ubyte" in name):
        raise GanvqError(f"{path}: not a file ganvq reads; {_READS}")  # notes.txt: no IDX talk
    if len(head) < 4:
        raise GanvqError(f"{path}: not an IDX file: {len(head)} bytes is shorter than the 4-byte header; {_READS}")
    if head[0] != 0 or head[1] != 0:
        raise GanvqError(
            f"{path}: not an IDX file: bad magic number 0x{head.hex()} (must start with two zero bytes); {_READS}"
        )
    type_code, ndim = head[2], head[3]
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise GanvqError(f"{path}: unknown IDX type code 0x{type_code:02X} (known: {known})")
    if ndim == 0:
        raise GanvqError(f"{path}: IDX header declares 0 dimensions")
    dims = _read_exactly(f, 4 * ndim)
    if len(dims) < 4 * ndim:
        raise GanvqError(
            f"{path}: truncated IDX header: {ndim} dimensions need {4 + 4 * ndim} bytes, file has {4 + len(dims)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(dims, dtype=">u4"))
    dtype = IDX_DTYPES[type_code]
    expected = check_values(shape, str(path)) * dtype.itemsize  # before anything is allocated
    data = _read_exactly(f, expected)
    if len(data) < expected:
        raise GanvqError(
            f"{path}: truncated IDX data: shape {shape} needs {expected} bytes, found {len(data)}"
        )
    extra = len(f.read(1 << 16))  # counted up to a point: a bomb's tail is never decompressed
    if extra:
        count = f"{extra}" if extra < 1 << 16 else f"over {extra}"
        raise GanvqError(f"{path}: {count} unexpected bytes after the IDX data of shape {shape}")
    flat = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize)
    # astype copies into a writable native-endian array (frombuffer over bytes is read-only).
    return flat.astype(dtype.newbyteorder("="), copy=True).reshape(shape)
