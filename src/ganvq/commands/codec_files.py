"""`ganvq compress` / `ganvq decompress` over files and folders, in batches that bound memory.

Images are read, coded and written `batch` at a time, so a folder of any size needs memory for one
batch only. Outputs mirror the inputs: `photos/a/b.png` becomes `OUT/a/b.gvq` and back. Every output
path is checked before any is written: it must lie inside the output folder, and no two inputs may
share one (a file is never silently overwritten by another input's image).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import torch

from ganvq.codec import Codec
from ganvq.codec.format import CHUNK, pack
from ganvq.data import describe_unreadable, has_named_splits, is_image_folder, load_dataset
from ganvq.data.folder import GRAY_MODES, IMAGE_EXTENSIONS, IMAGE_KINDS, list_image_files, read_image_file
from ganvq.data.limits import open_image
from ganvq.errors import GanvqError, warn
from ganvq.images import IMAGE_FORMATS, bits_per_pixel, encode_image
from ganvq.io import cannot_write
from ganvq.metrics.recon import psnr_per_image, ssim_per_image
from ganvq.progress import progress

SUFFIX = ".gvq"


def _write(path: Path, data: bytes) -> None:
    """Write a small output file so that it appears whole (temporary name, then rename).

    Unlike io.atomic_write_bytes there is no fsync per file: at ~8 ms each here it would cap a
    folder at ~130 files/s, and an output file can always be made again from its input.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):  # a read-only folder refuses the clean-up too
            tmp.unlink(missing_ok=True)
        raise GanvqError(cannot_write(path, e)) from None


class UnreadableImage(GanvqError):
    """An image file that cannot be read at all (not one of the wrong size or colour)."""


def _read_image(path: Path, shape: tuple[int, int, int], resize: bool = False,
                resized: list[Path] | None = None) -> torch.Tensor:
    """One image file as uint8 (C, H, W); a GanvqError when its size or colour does not fit the model, unless
    `resize`: then it is resized and centre-cropped, and converted to the model's channels, as training does (and
    its path appended to `resized` when its size was not the model's)."""
    c, h, w = shape
    try:
        with open_image(path) as img:
            size, mode = img.size, img.mode
    except FileNotFoundError:
        raise GanvqError(f"{path}: no such file") from None
    except GanvqError:
        raise
    except Exception as e:  # Pillow raises many unrelated types on bad bytes
        raise UnreadableImage(f"{path}: cannot read image ({type(e).__name__}: {e})") from None
    if resize:
        if resized is not None and size != (w, h):
            resized.append(path)
        return torch.from_numpy(read_image_file(path, h, c)[0])
    if size != (w, h):
        raise GanvqError(f"{path}: the image is {size[0]}x{size[1]}; this model codes {w}x{h} images "
                         "(resize it first, or give --resize)")
    if c == 1 and mode not in GRAY_MODES:
        raise GanvqError(f"{path}: a colour ({mode}) image; this model codes grayscale images")
    return torch.from_numpy(read_image_file(path, h, c)[0])


def _label(p: Path) -> str:
    """The folder name that keeps one of several inputs apart in the output: its own name (a file's without
    the suffix); `.` and `..` by the name of the folder they stand for."""
    name = p.stem if p.is_file() else p.name
    if name in ("", ".", ".."):
        name = _resolve(p).name or "root"
    return name


def _resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError) as e:  # RuntimeError: a symlink loop
        raise GanvqError(f"cannot resolve {path}: {e}") from None


class _Targets:
    """Output paths handed out under one folder: each must lie inside it, and belong to one input only,
    as a file or as a folder of files."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._root = _resolve(folder)
        self._files: dict[Path, str] = {}  # resolved path -> the input written there
        self._dirs: dict[Path, str] = {}  # resolved folders the files need -> the first input that needed it

    def claim(self, name: str, suffix: str, source: object) -> Path:
        """OUT/name+suffix for `source`, or a GanvqError if it would lie outside OUT or is another input's."""
        path = self.folder / (name + suffix)
        if ".." in PurePosixPath(name).parts:
            raise GanvqError(f"{source}: its output name {name!r} steps out of its folder; rename the input")
        real = _resolve(path)
        if real == self._root or not real.is_relative_to(self._root):
            raise GanvqError(f"{source}: its output {path} would lie outside {self.folder}; rename the input")
        folders = [self._root / parent for parent in real.relative_to(self._root).parents]  # real's, up to OUT
        other = self._files.get(real) or self._dirs.get(real) or next(
            (self._files[f] for f in folders if f in self._files), None)
        if other:
            raise GanvqError(f"{other} and {source} would both be written to {path} (or a folder of its name); "
                             "give them different output folders")
        self._files[real] = str(source)
        for folder in folders:
            self._dirs.setdefault(folder, str(source))
        return path


def _image_sources(inputs: list[str], split: str, limit: int | None, shape: tuple[int, int, int] | None = None
                   ) -> Iterator[tuple[str, object]]:
    """(output name without suffix, Path of an image file or a uint8 (C, H, W) tensor, whether it is a file found in
    an input folder) for every input image; `shape`: datasets are resized to it (C, H, W). An unreadable file found
    in a folder is skipped by compress (and listed), as training, reconstruct and db add skip it."""
    several = len(inputs) > 1
    count = 0
    for item in inputs:
        p = Path(item)
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS:
            entries = [(p.stem, p, False)]
        elif is_image_folder(p):
            files = list_image_files(p)
            if not files:
                raise GanvqError(f"{p}: no {IMAGE_KINDS} images found (searched subfolders too)")
            prefix = f"{_label(p)}/" if several else ""
            entries = ((prefix + f.relative_to(p).with_suffix("").as_posix(), f, True) for f in files)
        else:  # a dataset name, IDX folder or file, .npz or .npy: its images are in memory anyway
            size, channels = (shape[1], shape[0]) if shape else (None, None)
            data = load_dataset(item, split if has_named_splits(p) else "all", size=size, channels=channels)
            prefix = f"{_label(p)}/" if several else ""
            width = max(5, len(str(len(data) - 1)))
            entries = ((f"{prefix}{i:0{width}d}", data.images[i], False) for i in range(len(data)))
        for entry in entries:
            if limit is not None and count >= limit:
                return
            count += 1
            yield entry


def _batches(items: Iterator, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


QUALITIES = ("low", "medium", "high")


def choose_codec(ckpts: str | list[str], quality: str | None, device: str = "cpu") -> tuple[Codec, str]:
    """The codec of one prior run (and the run), or of the one `quality` picks among several: "low" the smallest
    code rate, "high" the largest, "medium" the one between (the middle of those sorted by rate)."""
    ckpts = [ckpts] if isinstance(ckpts, str) else list(ckpts)
    if quality is not None and quality not in QUALITIES:
        raise GanvqError(f"--quality must be one of {', '.join(QUALITIES)}, got {quality!r}")
    if len(ckpts) == 1:
        return Codec.from_checkpoint(ckpts[0], device), ckpts[0]
    if quality is None:
        raise GanvqError(f"{len(ckpts)} models given: choose one with --quality {'|'.join(QUALITIES)}")
    codecs = sorted(((Codec.from_checkpoint(c, device), c) for c in ckpts), key=lambda pair: pair[0].raw_bits_per_pixel)
    shapes = {c.shape for c, _ in codecs}
    if len(shapes) > 1:
        raise GanvqError(f"the models code different image shapes {sorted(shapes)}; give models of one shape")
    return codecs[{"low": 0, "medium": (len(codecs) - 1) // 2, "high": len(codecs) - 1}[quality]]


def compress_paths(ckpt: str | list[str], inputs: list[str], out: str, batch: int = 1000, device: str = "cpu",
                   split: str = "test", limit: int | None = None, quality: str | None = None,
                   resize: bool = False, quiet: bool = False) -> dict:
    """Compress images (files, folders, datasets) to .gvq files under folder `out`, or all into one file `out`.gvq;
    reports the rate (ganvq.images.bits_per_pixel) and the decoded images' PSNR and SSIM."""
    if batch < 1:
        raise GanvqError(f"--batch must be at least 1, got {batch}")
    codec, chosen = choose_codec(ckpt, quality, device)
    out_path = Path(out)
    one_file = out_path.suffix.lower() == SUFFIX
    if one_file:
        batch = -(-batch // CHUNK) * CHUNK  # whole chunks per batch as a rule: the file's streams are CHUNK images
    t0 = time.perf_counter()
    images = files = total = 0
    psnr_sum = ssim_sum = 0.0
    payloads: list[bytes] = []
    # names (and paths or in-memory images), not pixels
    found = list(_image_sources(inputs, split, limit, codec.shape if resize else None))
    in_folders = {src for _, src, from_folder in found if from_folder}
    sources = [(name, src) for name, src, _ in found]
    if not one_file:
        targets = _Targets(out_path)
        sources = [(targets.claim(name, SUFFIX, src if isinstance(src, Path) else name), src) for name, src in sources]
    skipped: list[tuple[Path, str]] = []
    resized: list[Path] = []
    carry: torch.Tensor | None = None  # one file: code maps not yet in a whole chunk
    with progress(len(sources), "compress", unit="image", quiet=quiet) as bar:
        for group in _batches(iter(sources), batch):
            read = []
            for target, src in group:
                try:
                    image = src if isinstance(src, torch.Tensor) else _read_image(src, codec.shape, resize, resized)
                except UnreadableImage as e:
                    if src not in in_folders:
                        raise
                    skipped.append((src, str(e).split(": ", 1)[-1]))
                    continue
                read.append((target, image))
            bar.update(len(group) - len(read))
            if not read:
                continue
            group = [(target, None) for target, _ in read]
            x = torch.stack([image for _, image in read])
            indices = codec.encode_images(x)
            decoded = codec.decode_images(indices)  # what decompress will give back
            a, b = x.double() / 255, decoded.double() / 255
            psnr_sum += float(psnr_per_image(a, b).sum())
            ssim_sum += float(ssim_per_image(a, b).sum())
            images += len(x)
            if one_file:  # whole chunks of CHUNK maps per stream: a batch short of skipped files carries over
                carry = indices if carry is None else torch.cat([carry, indices])
                whole = len(carry) // CHUNK * CHUNK
                if whole:
                    payloads += codec.encode_codes(carry[:whole])
                carry = carry[whole:]
            else:
                for (target, _), data in zip(group, codec.compress_each(x, indices)):
                    _write(target, data)
                    total += len(data)
                files += len(x)
            bar.set_postfix({"psnr_db": psnr_sum / images})
            bar.update(len(x))
    if one_file and carry is not None and len(carry):
        payloads += codec.encode_codes(carry)
    if skipped:
        warn(describe_unreadable(skipped, images + len(skipped)) + "; nothing was written for them")
    if images == 0:
        raise GanvqError("no images to compress")
    if one_file:
        data = pack(codec.header(images), payloads, codec.hash)
        _write(out_path, data)
        total, files = len(data), 1
    seconds = time.perf_counter() - t0
    return {"images": images, "files": files, "bytes": total,
            "bits_per_pixel": round(bits_per_pixel(8 * total / images, *codec.shape[1:]), 4),
            "bits_per_pixel_definition": "file bits per image pixel position, bits / (H*W), for any channel count",
            "psnr_db": round(psnr_sum / images, 3), "ssim": round(ssim_sum / images, 4),
            "quality_definition": "mean over images of PSNR and SSIM of the decompressed image, pixels in [0, 1]",
            "model": str(chosen),
            "raw_bits_per_pixel": round(codec.raw_bits_per_pixel, 4),
            "seconds": round(seconds, 3), "images_per_second": round(images / seconds, 1), "out": str(out_path),
            "skipped_unreadable": [str(f) for f, _ in skipped],
            **({"resized": len(resized), "measured_at": _measured_at(len(resized), images, codec.shape)}
               if resized else {})}


def _measured_at(resized: int, images: int, shape: tuple[int, int, int]) -> str:
    """What compress's rate and quality are of when --resize changed images' sizes."""
    h, w = shape[1:]
    return (f"the model's {w}x{h}: {resized} of the {images} images were resized and centre-cropped to it (--resize), "
            f"so bits_per_pixel counts {w}x{h} pixel positions and PSNR/SSIM compare with the resized images, not "
            "with the files as they were")



def _gvq_sources(inputs: list[str]) -> Iterator[tuple[str, Path]]:
    several = len(inputs) > 1
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files = sorted((f for f in p.rglob(f"*{SUFFIX}") if f.is_file()), key=lambda f: f.relative_to(p).as_posix())
            if not files:
                raise GanvqError(f"{p}: no {SUFFIX} files found (searched subfolders too)")
            prefix = f"{_label(p)}/" if several else ""
            yield from ((prefix + f.relative_to(p).with_suffix("").as_posix(), f) for f in files)
        elif p.is_file():
            yield p.stem, p
        else:
            raise GanvqError(f"{p}: no such file or folder")


def _parse(codec: Codec, path: Path):
    """(header, bytes) of a .gvq file made with this codec's model, or a GanvqError naming the file."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise GanvqError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        return codec.parse(data)[0], data
    except GanvqError as e:
        raise GanvqError(f"{path}: {e}") from None


def decompress_paths(ckpt: str, inputs: list[str], out: str, batch: int = 1000, device: str = "cpu",
                     quiet: bool = False) -> dict:
    """Decompress .gvq files (or folders of them) to PNGs under folder `out` (or to one image file `out`: .png,
    .jpg, .bmp or .webp)."""
    if batch < 1:
        raise GanvqError(f"--batch must be at least 1, got {batch}")
    codec = Codec.from_checkpoint(ckpt, device)
    out_path = Path(out)
    one_png = out_path.suffix.lower() in IMAGE_FORMATS and out_path.suffix != ""
    t0 = time.perf_counter()
    images = files = 0
    targets = _Targets(out_path)
    plan = []  # (file, its output paths): every output claimed before anything is decoded
    for name, path in _gvq_sources(inputs):
        count = _parse(codec, path)[0].count
        if one_png:
            if plan or count != 1:
                raise GanvqError(f"-o {out_path} names one image, but the input holds several; give a folder")
            outputs = [out_path]
        elif count == 1:
            outputs = [targets.claim(name, ".png", path)]
        else:  # a file of several images becomes a folder of them
            width = max(5, len(str(count - 1)))
            outputs = [targets.claim(f"{name}/{i:0{width}d}", ".png", path) for i in range(count)]
        plan.append((path, outputs))
    with progress(sum(len(outputs) for _, outputs in plan), "decompress", unit="image", quiet=quiet) as bar:
        for group in _batches(iter(plan), batch):
            blobs = [_parse(codec, path)[1] for path, _ in group]
            for (_, outputs), x in zip(group, codec.decompress_each(blobs)):
                for target, img in zip(outputs, x.permute(0, 2, 3, 1).numpy()):
                    _write(target, encode_image(img, target.suffix))
                images += len(x)
                bar.update(len(x))
            files += len(group)
    seconds = time.perf_counter() - t0
    return {"files": files, "images": images, "seconds": round(seconds, 3),
            "images_per_second": round(images / max(seconds, 1e-9), 1), "out": str(out_path)}


