"""Crash-safe file writes and pickle-free checkpoints (safetensors + JSON metadata)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load as _st_load
from safetensors.torch import save as _st_save

from ganvq.errors import GanvqError

META_KEY = "ganvq"  # safetensors metadata key holding the JSON-serialised checkpoint meta
# Metadata key holding {tensor name: SHA-256 of its dtype, shape and bytes}, checked on load: a flipped
# byte in a weight or a tensor removed or replaced is an error, not quietly different images.
# Checkpoints written before it existed load without the check.
DIGEST_KEY = "ganvq.sha256"
# Tags of the JSON skeleton; a str-keyed dict that uses one of them is stored in "__dict__" form.
_TENSOR, _TUPLE, _DICT = "__tensor__", "__tuple__", "__dict__"
_TAGS = {_TENSOR, _TUPLE, _DICT}


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; some platforms (Windows) cannot open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one, never a part."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # os.open with 0o666 honours the umask, unlike mkstemp's fixed 0o600.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        try:
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as e:
        raise GanvqError(cannot_write(path, e)) from e
    _fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Atomically write `text` as UTF-8 to `path`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _scalar(obj: Any) -> Any:
    """A NumPy scalar (a comparison of NumPy floats gives numpy.bool_) or a 0-d tensor as its Python value."""
    if isinstance(obj, np.generic) or (isinstance(obj, torch.Tensor) and obj.dim() == 0):
        return obj.item()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def write_json(path: str | Path, obj: Any, sort_keys: bool = False) -> None:
    """Atomically write `obj` as indented JSON (insertion order unless `sort_keys`; NumPy and 0-d torch scalars as
    their Python values). Nothing is written when `obj` cannot be serialised."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=sort_keys, default=_scalar) + "\n")


def read_json(path: str | Path) -> Any:
    """Read a JSON file, turning a missing or malformed file into a GanvqError."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise GanvqError(f"file not found: {path}") from e
    except OSError as e:
        raise GanvqError(f"cannot read {path}: {e.strerror or e}") from e
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise GanvqError(f"{path} is not valid JSON: {e}") from e


def _file_in_the_way(path: str | Path) -> str | None:
    """"cannot write PATH: X is a file, not a folder" when the nearest existing parent of `path` is a file."""
    blocker = next((p for p in Path(path).parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        return f"cannot write {path}: {blocker} is a file, not a folder"
    return None


def cannot_write(path: str | Path, error: OSError) -> str:
    """The one line for a failed write of `path`: a file where a folder of its path should be is named as such
    (the system's own words, "File exists" or "Not a directory", point the wrong way)."""
    return _file_in_the_way(path) or f"cannot write {path}: {error.strerror or error}"


def check_writable(path: str | Path) -> None:
    """A GanvqError now, before minutes of work, when `path` cannot become a file: it is a folder, or a file
    stands where one of its folders should be."""
    if Path(path).is_dir():
        raise GanvqError(f"cannot write {path}: it is a folder; give a file name")
    if (why := _file_in_the_way(path)) is not None:
        raise GanvqError(why)


# names that a folder of outputs is surely not meant to have (`-o fixed.png` for a folder of restored PNGs)
_IMAGE_FILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def check_folder_writable(path: str | Path) -> None:
    """A GanvqError now, before minutes of work, when `path` cannot become a folder of outputs: it is a file, or a
    file stands where one of its parent folders should be, or it is a new path named like an image file."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise GanvqError(f"cannot write into {path}: it is a file, not a folder")
    if not p.exists() and p.suffix.lower() in _IMAGE_FILE_SUFFIXES:
        raise GanvqError(f"{path} is named like an image file, but this command writes a folder of images (one per "
                         f"input, and grid.png): give a folder, e.g. {p.with_suffix('')}")
    if (why := _file_in_the_way(p)) is not None:
        raise GanvqError(why)


def append_jsonl(path: str | Path, record: dict) -> None:
    """Append `record` as one JSON line to `path` and flush it (the run's metrics log)."""
    path = Path(path)
    line = json.dumps(record) + "\n"  # serialise first: a bad record must not leave half a line
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
    except OSError as e:
        raise GanvqError(cannot_write(path, e)) from e


def _prepare_tensors(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous tensors with no storage shared between entries (safetensors refuses it)."""
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"checkpoint entry {name!r} is a {type(t).__name__}, not a tensor")
        t = t.detach().cpu()
        ptr = t.untyped_storage().data_ptr()
        whole = t.untyped_storage().nbytes() == t.numel() * t.element_size()
        if ptr in seen or not whole or not t.is_contiguous():
            t = t.clone(memory_format=torch.contiguous_format)
        seen.add(t.untyped_storage().data_ptr())
        out[name] = t
    return out


def save_checkpoint(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Atomically write one safetensors file: `tensors`, plus `meta` as JSON under metadata "ganvq"."""
    try:
        meta_json = json.dumps(meta)
    except (TypeError, ValueError) as e:
        raise TypeError(f"checkpoint meta for {path} is not JSON-serialisable: {e}") from e
    tensors = _prepare_tensors(tensors)
    digests = json.dumps({name: tensor_digest(t) for name, t in sorted(tensors.items())})
    data = _st_save(tensors, metadata={META_KEY: meta_json, DIGEST_KEY: digests})
    atomic_write_bytes(path, data)


def tensor_digest(t: torch.Tensor) -> str:
    """SHA-256 (hex) of a CPU tensor's dtype, shape and bytes: what checkpoints record per tensor."""
    h = hashlib.sha256(f"{t.dtype}:{tuple(t.shape)}\0".encode())
    if t.numel():
        h.update(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _check_digests(path: Path, tensors: dict[str, torch.Tensor], raw: str) -> None:
    """A GanvqError naming the first tensor that differs from the digests recorded when the file was saved."""
    try:
        digests = json.loads(raw)
    except json.JSONDecodeError:
        digests = None
    if not isinstance(digests, dict) or not all(isinstance(v, str) for v in digests.values()):
        raise GanvqError(f"{path} is not a valid ganvq checkpoint: its '{DIGEST_KEY}' metadata is damaged")
    for name, digest in digests.items():
        if name not in tensors:
            raise GanvqError(f"{path} is damaged or was altered: tensor {name} is missing")
        if tensor_digest(tensors[name]) != digest:
            raise GanvqError(f"{path} is damaged or was altered: tensor {name} does not match the checksum "
                             "recorded when it was saved")
    added = sorted(set(tensors) - set(digests))
    if added:
        raise GanvqError(f"{path} was altered: tensor {added[0]} was not in it when it was saved")


def _read_header(data: bytes) -> dict:
    # safetensors layout: u64 little-endian header length, then that many bytes of JSON.
    if len(data) < 8:
        raise ValueError("file is shorter than a safetensors header")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError("header length exceeds file size (truncated?)")
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    return header


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a checkpoint written by save_checkpoint; returns (tensors, meta)."""
    path = Path(path)
    try:
        if path.exists() and not path.is_file():  # a device (/dev/zero) or FIFO would be read without end
            raise GanvqError(f"{path} is not a regular file, so not a checkpoint")
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise GanvqError(f"checkpoint not found: {path}") from e
    except OSError as e:
        raise GanvqError(f"cannot read checkpoint {path}: {e.strerror or e}") from e
    try:
        header = _read_header(data)
        tensors = _st_load(data)
    except Exception as e:  # safetensors raises its own (Rust) error types for corrupt input
        raise GanvqError(f"{path} is not a valid ganvq checkpoint: {e}") from e
    metadata = header.get("__metadata__")
    raw = metadata.get(META_KEY) if isinstance(metadata, dict) else None
    if raw is None:
        raise GanvqError(f"{path} is not a valid ganvq checkpoint: it has no '{META_KEY}' metadata")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as e:
        raise GanvqError(f"{path} is not a valid ganvq checkpoint: bad '{META_KEY}' metadata ({e})") from e
    if not isinstance(meta, dict):
        raise GanvqError(f"{path} is not a valid ganvq checkpoint: '{META_KEY}' metadata is not an object")
    if DIGEST_KEY in metadata:
        _check_digests(path, tensors, metadata[DIGEST_KEY])
    return tensors, meta


def flatten_state(prefix: str, obj: Any) -> tuple[dict[str, torch.Tensor], Any]:
    """Split nested state (e.g. an optimizer state_dict) into named tensors and a JSON skeleton."""
    tensors: dict[str, torch.Tensor] = {}

    def name_for(path: str) -> str:
        name, n = path, 1
        while name in tensors:  # keys containing "." could make two paths spell the same name
            name, n = f"{path}#{n}", n + 1
        return name

    def walk(o: Any, path: str) -> Any:
        if isinstance(o, torch.Tensor):
            name = name_for(path)
            tensors[name] = o
            return {_TENSOR: name}
        if o is None or isinstance(o, (bool, int, float, str)):
            return o
        if isinstance(o, tuple):
            return {_TUPLE: [walk(v, f"{path}.{i}") for i, v in enumerate(o)]}
        if isinstance(o, list):
            return [walk(v, f"{path}.{i}") for i, v in enumerate(o)]
        if isinstance(o, dict):
            # JSON keys are strings: other key types (optimizer param ids are ints) and keys that
            # look like our tags keep their exact type in a list of [key, value] pairs.
            if all(isinstance(k, str) for k in o) and not _TAGS.intersection(o):
                return {k: walk(v, f"{path}.{k}") for k, v in o.items()}
            for k in o:
                if not (k is None or isinstance(k, (bool, int, float, str))):
                    raise TypeError(f"cannot store dict key {k!r} of type {type(k).__name__} at {path}")
            return {_DICT: [[k, walk(v, f"{path}.{k}")] for k, v in o.items()]}
        raise TypeError(f"cannot store a {type(o).__name__} at {path} in a checkpoint")

    skeleton = walk(obj, prefix)
    return tensors, skeleton


def unflatten_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Rebuild the object flatten_state split, taking tensors by name from `tensors`."""

    def walk(s: Any) -> Any:
        if isinstance(s, list):
            return [walk(v) for v in s]
        if not isinstance(s, dict):
            return s
        if len(s) == 1:
            (tag, value), = s.items()
            if tag == _TENSOR:
                if value not in tensors:
                    raise GanvqError(f"checkpoint is missing tensor {value!r}; the file is incomplete")
                return tensors[value]
            if tag == _TUPLE:
                return tuple(walk(v) for v in value)
            if tag == _DICT:
                return {k: walk(v) for k, v in value}
        return {k: walk(v) for k, v in s.items()}

    return walk(skeleton)
