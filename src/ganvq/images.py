"""Images between their forms: uint8 <-> float in [-1, 1], grids, PNG bytes and files.

Array conventions: a torch tensor is channels-first (B, C, H, W), float in [-1, 1] or uint8;
a numpy array is uint8 channels-last (B, H, W, C), the layout PIL and the output use.
"""

from __future__ import annotations

import io as _bytes_io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganvq.errors import GanvqError
from ganvq.io import atomic_write_bytes

_PIL_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def bits_per_pixel(bits: float, height: int, width: int) -> float:
    """Bits per pixel, as everywhere in ganvq: bits per image pixel position, bits / (H·W), whatever the
    channel count (an RGB pixel counts once), the convention of image-compression papers and tools."""
    return bits / (height * width)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images → float32 in [-1, 1] (0 → -1, 255 → 1)."""
    return images.float().div_(127.5).sub_(1)


def to_uint8_image(x: torch.Tensor) -> np.ndarray:
    """Float images in [-1, 1], (B, C, H, W) → uint8 (B, H, W, C); inverse of u / 127.5 - 1."""
    if x.dim() != 4:
        raise ValueError(f"expected (B, C, H, W) images, got shape {tuple(x.shape)}")
    u = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round_()
    return u.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def _as_uint8_bhwc(images: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(images, torch.Tensor):
        if images.dtype == torch.uint8:
            if images.dim() != 4:
                raise ValueError(f"expected (B, C, H, W) images, got shape {tuple(images.shape)}")
            return images.detach().permute(0, 2, 3, 1).cpu().numpy()
        return to_uint8_image(images)
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"expected a uint8 (B, H, W, C) array, got {images.dtype} {images.shape}")
    return images


def upscale_nearest(image: np.ndarray, factor: int) -> np.ndarray:
    """Enlarge an (H, W, C) or (H, W) image by an integer `factor`, nearest neighbour (crisp pixels)."""
    if int(factor) != factor or factor < 1:
        raise ValueError(f"upscale factor must be a positive integer, got {factor}")
    if factor == 1:
        return image
    return image.repeat(factor, axis=0).repeat(factor, axis=1)


def make_grid(
    images: torch.Tensor | np.ndarray, nrow: int = 8, padding: int = 2, pad_value: int = 255
) -> np.ndarray:
    """Tile images into one uint8 (H, W, C) grid, `nrow` images per row, like torchvision's make_grid."""
    imgs = _as_uint8_bhwc(images)  # (B, H, W, C)
    b, h, w, c = imgs.shape
    if b == 0:
        raise ValueError("make_grid needs at least one image")
    if nrow < 1 or padding < 0:
        raise ValueError(f"need nrow >= 1 and padding >= 0, got nrow={nrow}, padding={padding}")
    cols = min(nrow, b)
    rows = -(-b // cols)
    grid = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding, c), pad_value, np.uint8)
    for i in range(b):
        top = padding + (i // cols) * (h + padding)
        left = padding + (i % cols) * (w + padding)
        grid[top : top + h, left : left + w] = imgs[i]
    return grid


def side_by_side(
    originals: torch.Tensor | np.ndarray,
    reconstructions: torch.Tensor | np.ndarray,
    nrow: int = 8,
    padding: int = 2,
    pad_value: int = 255,
) -> np.ndarray:
    """Grid of pairs of rows: `nrow` originals, then their reconstructions right below them.

    Vertical pairs keep each reconstruction directly under its original, so differences are
    read by moving the eye one cell down; a short last group is filled with pad_value cells.
    """
    x = _as_uint8_bhwc(originals)
    x_hat = _as_uint8_bhwc(reconstructions)
    if x.shape != x_hat.shape:
        raise ValueError(f"originals {x.shape} and reconstructions {x_hat.shape} differ in shape")
    b = len(x)
    if b == 0:
        raise ValueError("side_by_side needs at least one image")
    cols = min(nrow, b)
    groups = -(-b // cols)
    cell = x.shape[1:]  # (H, W, C)
    fill = np.full((groups * cols - b, *cell), pad_value, np.uint8)
    x = np.concatenate([x, fill]).reshape(groups, 1, cols, *cell)
    x_hat = np.concatenate([x_hat, fill]).reshape(groups, 1, cols, *cell)
    pairs = np.concatenate([x, x_hat], axis=1).reshape(-1, *cell)  # (2 * groups * cols, H, W, C)
    return make_grid(pairs, nrow=cols, padding=padding, pad_value=pad_value)


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 (H, W, C) or (H, W) image; one channel is saved as grayscale "L"."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    channels = 1 if image.ndim == 2 else image.shape[2] if image.ndim == 3 else 0
    if channels not in _PIL_MODES:
        raise ValueError(f"expected an (H, W) or (H, W, C) image with C in 1, 3, 4, got shape {image.shape}")
    buf = _bytes_io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image), _PIL_MODES[channels]).save(buf, format="PNG")
    return buf.getvalue()


# file suffix -> Pillow format; a name without a suffix is written as PNG
IMAGE_FORMATS = {"": "PNG", ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".webp": "WEBP"}


def check_image_suffix(path: str | Path) -> None:
    """A GanvqError, before any work, when `path` names an image format save_image does not write."""
    suffix = Path(path).suffix
    if suffix.lower() not in IMAGE_FORMATS:
        raise GanvqError(f"{path}: cannot write a {suffix} image; use .png, .jpg, .bmp or .webp")


def encode_image(image: np.ndarray, suffix: str = ".png") -> bytes:
    """The bytes of a uint8 (H, W, C) or (H, W) image in the format its file suffix names (see IMAGE_FORMATS);
    JPEG at quality 95, WebP lossless."""
    fmt = IMAGE_FORMATS.get(suffix.lower())
    if fmt is None:
        raise GanvqError(f"cannot write a {suffix} image; use .png, .jpg, .bmp or .webp")
    if fmt == "PNG":
        return encode_png(image)
    png = Image.open(_bytes_io.BytesIO(encode_png(image)))  # the same mode checks and conversions as PNG
    buf = _bytes_io.BytesIO()
    if fmt == "JPEG":
        png.convert("L" if png.mode == "L" else "RGB").save(buf, format="JPEG", quality=95)
    else:
        png.save(buf, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    return buf.getvalue()


def save_image(path: str | Path, image: np.ndarray, upscale: int = 1) -> None:
    """Atomically write a uint8 (H, W, C) image in the format its suffix names (PNG by default), optionally
    enlarged (nearest neighbour)."""
    atomic_write_bytes(path, encode_image(upscale_nearest(np.asarray(image), upscale), Path(path).suffix))


def save_grid(
    path: str | Path,
    images: torch.Tensor | np.ndarray,
    nrow: int = 8,
    padding: int = 2,
    pad_value: int = 255,
    upscale: int = 1,
) -> np.ndarray:
    """Tile `images` with make_grid and write the grid atomically as PNG; returns the grid."""
    grid = make_grid(images, nrow=nrow, padding=padding, pad_value=pad_value)
    save_image(path, grid, upscale)
    return grid
