"""Reader for the IDX format used by MNIST and Fashion-MNIST (raw or gzip-compressed)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

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
    data = _read_bytes(path)
    if len(data) < 4:
        raise GanvqError(f"{path}: not an IDX file: {len(data)} bytes is shorter than the 4-byte header")
    if data[0] != 0 or data[1] != 0:
        raise GanvqError(
            f"{path}: not an IDX file: bad magic number 0x{data[:4].hex()} (must start with two zero bytes)"
        )
    type_code, ndim = data[2], data[3]
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise GanvqError(f"{path}: unknown IDX type code 0x{type_code:02X} (known: {known})")
    if ndim == 0:
        raise GanvqError(f"{path}: IDX header declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise GanvqError(
            f"{path}: truncated IDX header: {ndim} dimensions need {header_len} bytes, file has {len(data)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[type_code]
    # Python ints: a corrupt header can declare a product that overflows int64.
    expected = dtype.itemsize
    for d in shape:
        expected *= d
    found = len(data) - header_len
    if found < expected:
        raise GanvqError(
            f"{path}: truncated IDX data: shape {shape} needs {expected} bytes, found {found}"
        )
    if found > expected:
        raise GanvqError(
            f"{path}: {found - expected} unexpected bytes after the IDX data of shape {shape}"
        )
    flat = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=header_len)
    # astype copies into a writable native-endian array (frombuffer over bytes is read-only).
    return flat.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def _read_bytes(path: Path) -> bytes:
    """Return the file's bytes, decompressed when it starts with the gzip magic (whatever its name)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise GanvqError(f"{path}: cannot read file ({e.strerror or e})") from e
    if not raw.startswith(_GZIP_MAGIC):
        if path.suffix.lower() == ".gz":
            raise GanvqError(f"{path}: not a gzip file (named .gz but lacks the gzip header)")
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError as e:
        raise GanvqError(f"{path}: truncated gzip file ({e}); download it again") from e
    except (OSError, zlib.error) as e:
        raise GanvqError(f"{path}: corrupt gzip file ({e}); download it again") from e
