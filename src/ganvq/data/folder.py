"""Reader for a folder of PNG/JPEG/BMP/TIFF/WebP images, optionally split into class subfolders."""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ganvq.data.limits import check_values, open_image
from ganvq.errors import GanvqError, warn

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
IMAGE_KINDS = "PNG/JPEG/BMP/TIFF/WebP"  # what IMAGE_EXTENSIONS are, as messages name them
# Single-channel modes; everything else (RGB, RGBA, P, CMYK, ...) counts as colour.
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_WIDE_GRAY_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N", "F"})


class FolderImages(NamedTuple):
    """What `read_image_folder` returns."""

    images: np.ndarray  # uint8 (N, C, size, size)
    labels: np.ndarray | None  # int64 (N,): index into `classes`; None without class subfolders
    classes: tuple[str, ...] | None  # sorted class subfolder names
    skipped: list[tuple[str, str]]  # (file relative to the folder, reason)
    small: list[tuple[str, int, int]]  # (file, width, height) of the images read whose shorter side < size


def read_image_folder(
    path: str | Path,
    size: int,
    channels: int | None = None,
    on_bad: str = "skip",
    limit: int | None = None,
    keep: Callable[[int, np.ndarray | None], np.ndarray] | None = None,
    exclude: Collection[str] = (),
) -> FolderImages:
    """Read every image under `path` (recursive, sorted), resized and center-cropped to size×size.

    `keep(n, labels)` picks, from the n files listed (and their class labels, or None), the positions
    to read; `limit` then applies to those. Unreadable files do not move other files' positions. Files
    named in `exclude` (paths relative to the folder, with /) are not listed at all."""
    root = Path(path)
    if on_bad not in ("skip", "fail"):
        raise GanvqError(f"on_bad must be 'skip' or 'fail', got {on_bad!r}")
    if channels not in (None, 1, 3):
        raise GanvqError(f"channels must be 1, 3 or None, got {channels!r}")
    if size < 1:
        raise GanvqError(f"image size must be positive, got {size}")
    if limit is not None and limit < 1:
        raise GanvqError(f"limit must be positive, got {limit}")
    if not root.is_dir():
        raise GanvqError(f"{root}: not a folder")
    hidden: list[Path] = []
    files = [f for f in list_image_files(root, hidden) if f.relative_to(root).as_posix() not in exclude]
    if hidden:
        warn(f"{root}: skipped {len(hidden)} image file(s) whose name or folder starts with '.' (hidden), e.g. "
             f"{hidden[0].relative_to(root).as_posix()}; rename them to use them")
    if not files:
        raise GanvqError(f"{root}: no {IMAGE_KINDS} images found (searched subfolders too)")
    check_values((min(len(files), limit or len(files)), channels or 3, size, size), f"{root} at --image-size {size}")
    rels = [f.relative_to(root) for f in files]
    # Class folders as in torchvision's ImageFolder, but only when no image sits at the top level.
    classes = sorted({r.parts[0] for r in rels}) if all(len(r.parts) > 1 for r in rels) else None
    class_index = {c: i for i, c in enumerate(classes or ())}
    if keep is not None:
        listed = np.array([class_index[r.parts[0]] for r in rels]) if classes is not None else None
        picked = keep(len(files), listed)
        files, rels = [files[i] for i in picked], [rels[i] for i in picked]

    arrays: list[np.ndarray] = []
    labels: list[int] = []
    skipped: list[tuple[str, str]] = []
    small: list[tuple[str, int, int]] = []
    for file, rel in zip(files, rels):
        if limit is not None and len(arrays) >= limit:
            break
        try:
            a, (w, h) = _load_square(file, size, channels)
            arrays.append(a)
            if min(w, h) < size:
                small.append((rel.as_posix(), w, h))
        except Exception as e:  # Pillow's decoders raise many unrelated types on bad bytes
            reason = _reason(e)
            if on_bad == "fail":
                raise GanvqError(f"{file}: cannot read image ({reason})") from e
            skipped.append((rel.as_posix(), reason))
            continue
        if classes is not None:
            labels.append(class_index[rel.parts[0]])
    if not arrays:
        first, reason = skipped[0]
        raise GanvqError(
            f"{root}: none of the {len(skipped)} image files could be read (first: {first}: {reason})"
        )

    if channels is None:
        channels = 1 if all(a.ndim == 2 for a in arrays) else 3
    images = np.empty((len(arrays), channels, size, size), dtype=np.uint8)
    for i, a in enumerate(arrays):
        images[i] = a if a.ndim == 2 else a.transpose(2, 0, 1)  # gray broadcasts over 3 channels
    label_array = np.asarray(labels, dtype=np.int64) if classes is not None else None
    return FolderImages(images, label_array, tuple(classes) if classes else None, skipped, small)


def read_image_file(path: str | Path, size: int, channels: int | None = None) -> np.ndarray:
    """One PNG/JPEG/BMP/TIFF/WebP file as uint8 (1, C, size, size), resized and center-cropped like a folder."""
    file = Path(path)
    try:
        a, _ = _load_square(file, size, channels)
    except FileNotFoundError:
        raise GanvqError(f"{file}: no such file") from None
    except Exception as e:  # Pillow's decoders raise many unrelated types on bad bytes
        raise GanvqError(f"{file}: cannot read image ({_reason(e)})") from None
    if a.ndim == 2:
        a = a[None] if channels != 3 else np.repeat(a[None], 3, 0)
    else:
        a = a.transpose(2, 0, 1)
    return np.array(a[None])  # a writable copy (Pillow arrays are read-only), like every other reader


def list_image_files(root: Path, hidden: list[Path] | None = None) -> list[Path]:
    """Image files under root by case-insensitive extension, sorted; hidden files and folders skipped (and
    their image files appended to `hidden` when given)."""
    found = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if not (p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()):
            continue
        # Hidden entries are editor/OS litter (e.g. macOS "._x.png"), never training data.
        if any(part.startswith(".") for part in rel.parts):
            if hidden is not None:
                hidden.append(p)
            continue
        found.append(p)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def upright_size(img: Image.Image) -> tuple[int, int]:
    """(width, height) of an opened image as shown upright, from its header: its EXIF orientation turns it a quarter
    in 5-8. Pillow finds a PNG's EXIF only by decoding it unless it comes before the pixels; such a PNG counts as
    unturned here (exif_transpose on the decoded image still turns it)."""
    w, h = img.size
    exif = img.getexif() if img.format != "PNG" or "exif" in img.info else {}
    return (h, w) if exif.get(0x0112, 1) in (5, 6, 7, 8) else (w, h)


def misfits(files: list[Path], shape: tuple[int, int, int]) -> list[tuple[Path, str]]:
    """The image files whose size or colour differs from a model's (C, H, W), each with what it is, upright
    ("451x300 colour (RGB)"); headers only, unreadable files left out (the load skips and lists them). A colour
    image is a misfit for a grayscale model only: grayscale images fit colour models as three equal channels."""
    c, h, w = shape
    out = []
    for file in files:
        try:
            with open_image(file, file.name) as img:
                size, mode = upright_size(img), img.mode
        except (OSError, ValueError, GanvqError):
            continue
        colour = c == 1 and mode not in GRAY_MODES
        if size != (w, h) or colour:
            out.append((file, f"{size[0]}x{size[1]}" + (f" colour ({mode})" if colour else "")))
    return out


def folder_channels(root: Path, files: list[Path] | None = None) -> int:
    """The channels `read_image_folder(root, channels=None)` gives: 3 when any readable image is in colour, else 1.
    Only the files' headers are read (Pillow decodes no pixel until asked), so a large folder costs little; `files`:
    list_image_files(root), when the caller has it already."""
    files = list_image_files(root) if files is None else files
    return 3 if any(is_colour_mode(header_mode(file)) for file in files) else 1  # stops at the first colour one


def is_colour_mode(mode: str | None) -> bool:
    """Whether a header's mode (header_mode) is a colour image's; None, unreadable: read_image_folder skips it."""
    return mode is not None and mode not in GRAY_MODES


def header_mode(file: Path) -> str | None:
    """The Pillow mode a file's header gives, or None when it does not open as an image (headers only)."""
    try:
        with open_image(file, file.name) as img:
            return img.mode
    except (OSError, ValueError, GanvqError):
        return None


def _load_square(file: Path, size: int, channels: int | None) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode one image to uint8 (size, size) if grayscale or (size, size, 3) if colour; and its stored
    (width, height)."""
    with open_image(file, file.name) as img:
        stored = img.size
        _draft(img, size)
        img = ImageOps.exif_transpose(img)
        gray = img.mode in GRAY_MODES if channels is None else channels == 1
        img = _to_gray(img) if gray else img.convert("RGB")
        if img.size != (size, size):
            # Crop and resize in one resampling step, on the exact central square.
            img = img.resize((size, size), Image.Resampling.LANCZOS, box=central_square(*img.size))
        return np.asarray(img, dtype=np.uint8), stored


def _draft(img: Image.Image, size: int) -> None:
    """Let a JPEG decode at 1/8, 1/4 or 1/2 scale (much faster) where both sides stay at least `size` and the scale
    divides both exactly: a side that does not divide is decoded one partial pixel longer, which would move the
    central square off the photo's centre."""
    w, h = img.size
    scale = next((s for s in (8, 4, 2) if min(w, h) // size >= s and w % s == 0 and h % s == 0), 1)
    if scale > 1:
        img.draft(None, (w // scale, h // scale))


def central_square(width: int, height: int) -> tuple[float, float, float, float]:
    """The (left, top, right, bottom) box of the central square of a width x height image, as images are cropped
    when read at a model's size (half-pixel edges where the sides differ by an odd number)."""
    side = min(width, height)
    left, top = (width - side) / 2, (height - side) / 2
    return left, top, left + side, top + side


def read_upright(path: Path, channels: int) -> np.ndarray:
    """One image file at its own size, upright (EXIF) and converted as it is read for a model of `channels`: uint8
    (H, W) for 1 channel, (H, W, 3) for 3."""
    with open_image(path, path.name) as img:
        img = ImageOps.exif_transpose(img)
        return np.asarray(_to_gray(img) if channels == 1 else img.convert("RGB"), dtype=np.uint8)


def _to_gray(img: Image.Image) -> Image.Image:
    """Convert to 8-bit "L"; 16-bit and float gray are rescaled, since Pillow would clip them."""
    if img.mode not in _WIDE_GRAY_MODES:
        return img.convert("L")
    a = np.asarray(img, dtype=np.float64)
    if img.mode.startswith("I;16"):
        hi = 65535.0
    else:  # "I" and "F" carry no range: guess the smallest usual one that holds the data
        peak = a.max(initial=0.0)
        hi = 1.0 if img.mode == "F" and peak <= 1.0 else 255.0 if peak <= 255.0 else 65535.0
    return Image.fromarray(np.clip(np.rint(a * (255.0 / hi)), 0, 255).astype(np.uint8), "L")


def _reason(e: Exception) -> str:
    """A short one-line reason for a file that failed to decode."""
    if isinstance(e, UnidentifiedImageError):
        return "not a recognised image"
    if isinstance(e, GanvqError):
        return str(e)
    text = " ".join(str(e).split()) or "no details"
    return f"{type(e).__name__}: {text}"
