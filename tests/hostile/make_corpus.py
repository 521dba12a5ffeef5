"""A fixed corpus of hostile inputs for ganvq's CLI: damaged IDX, .npz, PNG/JPEG, checkpoints, JSON and .gvq.

`make_corpus(folder, vqvae_run, ...)` writes the files under `folder` and returns one `Case` per input: the
`ganvq` arguments that read it. The same seed gives the same files. tests/test_hostile.py runs a few dozen
in-process; benchmarks/bench_reliability.py runs hundreds through the CLI with a timeout and a memory limit.
Every case must end in exit 0 or one `ganvq: error:` line with exit 2: never a traceback.

    python tests/hostile/make_corpus.py OUT_FOLDER VQVAE_RUN [--count N] [--seed S]   # lists the cases
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import random
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Case:
    kind: str  # idx, npz, image, checkpoint, json, gvq
    name: str
    argv: tuple[str, ...]  # ganvq's arguments


# -- byte-level damage ---------------------------------------------------------------------------------------
def flip(data: bytes, rng: random.Random, n: int) -> bytes:
    """`data` with n random bytes replaced by random values."""
    b = bytearray(data)
    for _ in range(n):
        if b:
            b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))] if data else data


def damage(data: bytes, rng: random.Random) -> bytes:
    """One of: a few flipped bytes, many flipped bytes, a cut, a duplicated tail, a block of zeros."""
    how = rng.randrange(5)
    if how == 0:
        return flip(data, rng, rng.randint(1, 4))
    if how == 1:
        return flip(data, rng, max(1, len(data) // 20))
    if how == 2:
        return truncate(data, rng)
    if how == 3:
        cut = rng.randrange(len(data) + 1)
        return data + data[cut:]
    start = rng.randrange(len(data) + 1)
    return data[:start] + bytes(rng.randint(1, 64)) + data[start + 64 :]


# -- IDX -----------------------------------------------------------------------------------------------------
def idx_bytes(arr: np.ndarray, type_code: int = 0x08) -> bytes:
    return bytes([0, 0, type_code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(">u1").tobytes()


def gzip_bomb(head: bytes, megabytes: int) -> bytes:
    """gzip of `head` followed by `megabytes` MB of zeros, compressed a block at a time (never held whole)."""
    buf = io.BytesIO()
    block = bytes(1 << 20)
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as f:
        f.write(head)
        for _ in range(megabytes):
            f.write(block)
    return buf.getvalue()


def _idx_files(rng: random.Random, count: int, bomb_mb: int) -> dict[str, bytes]:
    images = np.random.default_rng(rng.randrange(2**32)).integers(0, 256, (16, 28, 28), dtype=np.uint8)
    good = idx_bytes(images)
    files = {
        "empty": b"",
        "huge-header": bytes([0, 0, 8, 3]) + struct.pack(">3I", 2**31, 2**16, 2**16),
        "huge-header.gz": gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 100_000, 100_000, 100_000)),
        "zero-dims": bytes([0, 0, 8, 0]),
        "255-dims": bytes([0, 0, 8, 255]) + bytes(40),
        "bad-type": bytes([0, 0, 0x42, 3]) + good[4:],
        "float-nan": bytes([0, 0, 0x0D, 3]) + struct.pack(">3I", 2, 4, 4) + struct.pack(">f", float("nan")) * 32,
        "labels-only": bytes([0, 0, 8, 1]) + struct.pack(">I", 4) + bytes(4),
        "not-gzip.gz": good,
        "gzip-truncated.gz": gzip.compress(good)[:-9],
        "gzip-corrupt.gz": flip(gzip.compress(good), rng, 8),
        # a valid 2-image header, then far more zeros than it declares: must be refused without decompressing them
        "gzip-bomb.gz": gzip_bomb(idx_bytes(images[:2]), bomb_mb),
    }
    for i in range(count):
        files[f"damaged-{i}"] = damage(good, rng)
        files[f"damaged-{i}.gz"] = damage(gzip.compress(good), rng)
    return files


# -- .npz ----------------------------------------------------------------------------------------------------
def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _npy_header(shape: tuple, descr: str = "|u1") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _npz_files(rng: random.Random, count: int) -> dict[str, bytes]:
    g = np.random.default_rng(rng.randrange(2**32))
    x = g.integers(0, 256, (16, 28, 28), dtype=np.uint8)
    y = g.integers(0, 10, 16)
    good = _zip({"x.npy": _npy(x), "y.npy": _npy(y)})
    pickled = _npy_header((2,), "|O") + b"\x80\x04\x95" + bytes(40)
    files = {
        "78e9-pixels": _zip({"x.npy": _npy_header((100_000_000, 28, 28)) + bytes(64)}),
        "declares-more-than-it-holds": _zip({"x.npy": _npy_header((1000, 28, 28)) + bytes(100)}, zipfile.ZIP_STORED),
        "object-array": _zip({"x.npy": pickled}),
        "not-a-zip": b"PK\x03\x04" + bytes(60),
        "plain-npy": _npy(x),
        "nan-floats": _zip({"x.npy": _npy(np.full((4, 28, 28), np.nan, np.float32))}),
        "out-of-range-ints": _zip({"x.npy": _npy(np.full((4, 28, 28), 300, np.int32))}),
        "five-dims": _zip({"x.npy": _npy(np.zeros((2, 2, 2, 2, 2), np.uint8))}),
        "no-images": _zip({"x.npy": _npy(np.zeros((0, 28, 28), np.uint8))}),
        "labels-too-few": _zip({"x.npy": _npy(x), "y.npy": _npy(y[:3])}),
        "labels-float": _zip({"x.npy": _npy(x), "y.npy": _npy(y.astype(np.float32))}),
        "labels-negative": _zip({"x.npy": _npy(x), "y.npy": _npy(-y - 1)}),
        "no-known-key": _zip({"pictures.npy": _npy(x)}),
        "bad-header": _zip({"x.npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': zzz}    \n"}),
        "huge-header-len": _zip({"x.npy": b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**31) + bytes(16)}),
    }
    files["unknown-compression"] = _compression_method(good, 99)
    for i in range(count):
        files[f"damaged-{i}"] = damage(good, rng)
    return {f"{k}.npz": v for k, v in files.items()}


def _compression_method(zip_bytes: bytes, method: int) -> bytes:
    """A zip whose members claim compression `method` (in local and central headers)."""
    b = bytearray(zip_bytes)
    for magic, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        i = b.find(magic)
        while i != -1:
            b[i + offset] = method
            i = b.find(magic, i + 4)
    return bytes(b)


# -- images --------------------------------------------------------------------------------------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height gray pixels (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(bytes(64))
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", rows) + _png_chunk(b"IEND", b"")


def _image_files(rng: random.Random, count: int) -> dict[str, bytes]:
    from PIL import Image

    g = np.random.default_rng(rng.randrange(2**32))

    def encode(arr: np.ndarray, fmt: str, mode: str | None = None) -> bytes:
        buf = io.BytesIO()
        img = Image.fromarray(arr)
        (img.convert(mode) if mode else img).save(buf, format=fmt)
        return buf.getvalue()

    gray = g.integers(0, 256, (28, 28), dtype=np.uint8)
    rgb = g.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    png, jpg = encode(gray, "PNG"), encode(rgb, "JPEG")
    files = {
        "bomb.png": huge_png(100_000, 100_000),
        "pillow-warning.png": huge_png(10_000, 10_000),  # above Pillow's warning size, below its error size
        "empty.png": b"",
        "text.png": b"this is not an image\n",
        "png-named.jpg": png,
        "one-pixel.png": encode(gray[:1, :1], "PNG"),
        "wide.png": encode(np.zeros((1, 4000), np.uint8), "PNG"),
        "sixteen-bit.png": encode(g.integers(0, 65535, (28, 28)).astype(np.uint16), "PNG"),
        "cmyk.jpg": encode(rgb, "JPEG", "CMYK"),
        "palette.png": encode(rgb, "PNG", "P"),
        "jpeg-truncated.jpg": jpg[: len(jpg) // 2],
        "png-truncated.png": png[: len(png) // 2],
    }
    for i in range(count):
        files[f"damaged-{i}.png"] = damage(png, rng)
        files[f"damaged-{i}.jpg"] = damage(jpg, rng)
    return files


# -- checkpoints ---------------------------------------------------------------------------------------------
_ODD_VALUES = ("abc", -1, None, [], {}, 2**70, 1.5, True, float("nan"), {"__tensor__": "nope"}, {"__dict__": 3})


def _mutate_meta(meta: dict, rng: random.Random) -> tuple[str, dict]:
    """A copy of `meta` with one field, or one field of its config, removed or given an odd value."""
    meta = copy.deepcopy(meta)
    paths = []

    def walk(obj, path):
        if isinstance(obj, dict):
            for k, v in obj.items():
                paths.append((*path, k))
                if len(path) < 3:
                    walk(v, (*path, k))

    walk(meta, ())
    path = rng.choice(paths)
    parent = meta
    for k in path[:-1]:
        parent = parent[k]
    if rng.random() < 0.3:
        del parent[path[-1]]
        return f"meta-{'.'.join(map(str, path))}-removed", meta
    value = rng.choice(_ODD_VALUES)
    parent[path[-1]] = value
    return f"meta-{'.'.join(map(str, path))}={json.dumps(value)[:20]}", meta


def _checkpoint_files(base: Path, rng: random.Random, count: int) -> dict[str, Callable[[Path], None]]:
    """Writers of damaged copies of checkpoint `base`, by name: each writes one checkpoint file."""
    import torch
    from safetensors.torch import save_file

    from ganvq.io import DIGEST_KEY, META_KEY, load_checkpoint, save_checkpoint, tensor_digest

    tensors, meta = load_checkpoint(base)
    raw = base.read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    names = sorted(tensors)
    weights = [n for n in names if tensors[n].is_floating_point() and not n.startswith(("optim.", "extra."))]

    def raw_file(data: bytes):
        return lambda path: path.write_bytes(data)

    def resave(t: dict, m: dict, digests: bool = True):
        # digests=True: a tool that re-saved it consistently (the checksums match what it holds)
        def write(path: Path) -> None:
            md = {META_KEY: json.dumps(m)}
            if digests:
                md[DIGEST_KEY] = json.dumps({k: tensor_digest(v.contiguous()) for k, v in t.items()})
            save_file({k: v.contiguous() for k, v in t.items()}, str(path), metadata=md)
        return write

    files: dict[str, Callable[[Path], None]] = {
        "empty": raw_file(b""),
        "not-safetensors": raw_file(b"hello world, not a checkpoint" * 4),
        "header-longer-than-file": raw_file(struct.pack("<Q", 10**12) + raw[8:100]),
        "truncated": raw_file(raw[: len(raw) // 2]),
        "no-ganvq-metadata": lambda path: save_file({k: v.contiguous() for k, v in tensors.items()}, str(path)),
        "all-nan-weights": resave({k: (torch.full_like(v, float("nan")) if k in weights else v)
                                   for k, v in tensors.items()}, meta),
        "flipped-weight-bytes": raw_file(raw[: 8 + header_len] + flip(raw[8 + header_len :], rng, 100)),
        "digests-removed-and-weights-flipped": resave(
            {k: (v + 1 if k == weights[0] else v) for k, v in tensors.items()}, meta, digests=False),
        "config-hidden-abc": resave(tensors, {**meta, "config": {**meta["config"],
                                                                 "model": {**meta["config"]["model"], "hidden": "abc"}}}),
    }
    for i in range(count):
        name = rng.choice(names)
        files[f"tensor-removed-{i}-{name}"] = resave({k: v for k, v in tensors.items() if k != name}, meta)
        name = rng.choice(names)
        files[f"tensor-resized-{i}-{name}"] = resave({**tensors, name: torch.zeros(3, dtype=tensors[name].dtype)}, meta)
        label, mutated = _mutate_meta(meta, rng)
        files[f"{label}-{i}"] = resave(tensors, mutated)
        files[f"header-damaged-{i}"] = raw_file(raw[:8] + flip(raw[8 : 8 + header_len], rng, rng.randint(1, 6))
                                                + raw[8 + header_len :])
        files[f"damaged-{i}"] = raw_file(damage(raw, rng))
    return files


# -- JSON ----------------------------------------------------------------------------------------------------
def _config_files(rng: random.Random, count: int) -> dict[str, bytes]:
    base = {"model": {"hidden": 32, "res_blocks": 1, "vq": {"codebook_size": 16, "dim": 8}},
            "train": {"batch_size": 8, "log_every": 1, "eval_images": 0}}
    texts = {
        "not-a-mapping.json": b"[1, 2, 3]",
        "binary.json": bytes(range(256)),
        "invalid.yaml": b"model: {hidden: [1, 2\n",
        "deep.json": b"[" * 100_000 + b"]" * 100_000,
        "train-is-a-number.json": json.dumps({"train": 5}).encode(),
        "lr-string.json": json.dumps({"train": {"lr": "fast"}}).encode(),
        "lr-negative.json": json.dumps({"train": {"lr": -1}}).encode(),
        "log-every-zero.json": json.dumps({"train": {"log_every": 0}}).encode(),
        "hidden-abc.json": json.dumps({"model": {"hidden": "abc"}}).encode(),
        "unknown-option.json": json.dumps({"model": {"hiden": 3}}).encode(),
        "yaml-anchor-bomb.yaml": b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                                 b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
        "python-tag.yaml": b"model: !!python/object/apply:os.system ['echo hi']\n",
    }
    for i in range(count):
        cfg = copy.deepcopy(base)
        section = rng.choice(["model", "train"])
        key = rng.choice(list(cfg[section]))
        cfg[section][key] = rng.choice(_ODD_VALUES[:-2])
        texts[f"odd-{section}-{key}-{i}.json"] = json.dumps(cfg).encode()
    return texts


def _metrics_logs(rng: random.Random, good: str, count: int) -> dict[str, str]:
    lines = good.splitlines(keepends=True)
    logs = {"torn-last-line": good + lines[-1][: len(lines[-1]) // 2],
            "binary-line": good + "\x00\xff garbage\n",
            "not-objects": good + "[1, 2]\n42\n\"text\"\n",
            "empty": ""}
    for i in range(count):
        logs[f"torn-{i}"] = good[: rng.randrange(len(good) + 1)]
    return logs


# -- the corpus ----------------------------------------------------------------------------------------------
def make_corpus(folder: str | Path, vqvae_run: str | Path, seed: int = 0, count: int = 3,
                bomb_mb: int = 64, kinds: tuple[str, ...] = ("idx", "npz", "image", "checkpoint", "json")) -> list[Case]:
    """Write a corpus of hostile inputs under `folder` and return the CLI cases that read them. `count` damaged
    copies per kind and base file (plus the fixed crafted cases); `vqvae_run`: a trained VQ-VAE run folder that
    reads the data and whose checkpoint is damaged."""
    folder, run = Path(folder), Path(vqvae_run)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    out = folder / "outputs"
    cases: list[Case] = []
    good_npz = folder / "good.npz"
    good_npz.write_bytes(_zip({"x.npy": _npy(np.random.default_rng(seed).integers(0, 256, (8, 28, 28), np.uint8))}))

    def write(sub: str, name: str, data: bytes) -> Path:
        path = folder / sub / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def reads(kind: str, name: str, path: Path) -> None:
        cases.append(Case(kind, name, ("encode", "--ckpt", str(run), "--input", str(path),
                                        "--out", str(out / kind / f"{len(cases)}.npy"))))

    if "idx" in kinds:
        for name, data in _idx_files(rng, count, bomb_mb).items():
            reads("idx", name, write("idx", name, data))
        idx_folder = folder / "idx" / "folder"  # an MNIST-style folder whose labels disagree with its images
        write("idx/folder", "t10k-images-idx3-ubyte", idx_bytes(np.zeros((4, 28, 28), np.uint8)))
        write("idx/folder", "t10k-labels-idx1-ubyte", idx_bytes(np.zeros((3,), np.uint8)))
        reads("idx", "labels-disagree", idx_folder)
    if "npz" in kinds:
        for name, data in _npz_files(rng, count).items():
            reads("npz", name, write("npz", name, data))
    if "image" in kinds:
        for name, data in _image_files(rng, count).items():
            reads("image", name, write("image", name, data))
        hidden = folder / "image-folders" / "hidden-class"
        write("image-folders/hidden-class/.cats", "a.png", (folder / "image" / "one-pixel.png").read_bytes())
        write("image-folders/hidden-class/dogs", "b.png", (folder / "image" / "one-pixel.png").read_bytes())
        reads("image", "hidden-class-folder", hidden)
        mixed = folder / "image-folders" / "all-damaged"
        for name in ("empty.png", "text.png", "bomb.png"):
            write("image-folders/all-damaged", name, (folder / "image" / name).read_bytes())
        reads("image", "folder-of-damaged-images", mixed)
    if "checkpoint" in kinds:
        for name, writer in _checkpoint_files(run / "checkpoint.safetensors", rng, count).items():
            d = folder / "checkpoint" / name
            d.mkdir(parents=True, exist_ok=True)
            writer(d / "checkpoint.safetensors")
            cases.append(Case("checkpoint", name, ("reconstruct", "--ckpt", str(d), "--input", str(good_npz),
                                                   "--out", str(out / "checkpoint" / str(len(cases))))))
        cases.append(Case("checkpoint", "dev-zero", ("reconstruct", "--ckpt", "/dev/zero", "--input", str(good_npz),
                                                     "--out", str(out / "checkpoint" / "dev-zero"))))
    if "json" in kinds:
        for name, data in _config_files(rng, count).items():
            path = write("json", name, data)
            cases.append(Case("json", f"config-{name}", (
                "train", "vqvae", "--config", str(path), "--data", str(good_npz), "--steps", "1", "--limit", "8",
                "--device", "cpu", "--out", str(out / "json" / str(len(cases))))))
        good_log = (run / "metrics.jsonl").read_text(encoding="utf-8")
        for name, text in _metrics_logs(rng, good_log, count).items():
            d = folder / "runs" / name
            d.mkdir(parents=True, exist_ok=True)
            for f in ("checkpoint.safetensors", "config.json"):
                if (run / f).exists():
                    (d / f).write_bytes((run / f).read_bytes())
            (d / "metrics.jsonl").write_text(text, encoding="utf-8", errors="surrogateescape")
            cases.append(Case("json", f"metrics-{name}", ("report", str(d), "--out", str(out / "json" / f"{name}.html"))))
    return cases


def gvq_cases(folder: str | Path, prior_run: str | Path, good: bytes, model_hash: bytes, seed: int = 0,
              count: int = 100) -> list[Case]:
    """Damaged copies of the .gvq file `good` (made with `prior_run`): random damage, and crafted headers whose
    check is recomputed with `model_hash` (so only the format's own bounds can refuse them)."""
    from ganvq.codec.format import CHECK_BYTES, check_value, write_varint

    folder = Path(folder)
    (folder / "gvq").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    cases = []

    def add(name: str, data: bytes, recheck: bool) -> None:
        if recheck:
            body = data[:-CHECK_BYTES] if len(data) > CHECK_BYTES else data
            data = body + check_value(model_hash, body)
        path = folder / "gvq" / f"{name}.gvq"
        path.write_bytes(data)
        cases.append(Case("gvq", name, ("decompress", str(path), "--ckpt", str(prior_run),
                                        "-o", str(folder / "outputs" / "gvq" / name))))

    head = good[:5]  # magic, version/flags, fingerprint
    for count_claim in (20_000, 1 << 24, 300, 2):  # many images claimed by a tiny file
        several = bytes([head[2] | 2])
        add(f"claims-{count_claim}-images", head[:2] + several + head[3:5] + write_varint(28) + write_varint(28)
            + write_varint(count_claim - 2) + b"\x00" * 80, recheck=True)
    add("empty", b"", recheck=False)
    add("only-magic", b"GQ", recheck=False)
    for i in range(count):
        data = damage(good, rng)
        add(f"damaged-{i}", data, recheck=False)
        add(f"damaged-rechecked-{i}", data, recheck=True)
    return cases


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder")
    p.add_argument("vqvae_run")
    p.add_argument("--count", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    for case in make_corpus(a.folder, a.vqvae_run, a.seed, a.count):
        print(case.kind, case.name, " ".join(case.argv), sep="\t")
    sys.exit(0)
