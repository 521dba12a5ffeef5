"""Normalise loaded arrays to the stored form: uint8 images (N, C, H, W), int64 labels (N,)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ganvq.errors import GanvqError

# ITU-R 601-2 luma, the weights Pillow uses for RGB -> "L", so every reader agrees.
_LUMA = (0.299, 0.587, 0.114)
_RESIZE_CHUNK = 4096  # bounds the float32 copy made while resizing


def to_uint8_nchw(arr: np.ndarray, source: str) -> np.ndarray:
    """Return images as uint8 (N, C, H, W) from N×H×W, N×H×W×C or N×C×H×W with C in {1, 3}."""
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4:
        # Channels-first wins a tie: it is our own layout, and H or W of 1 or 3 is implausible.
        if arr.shape[1] not in (1, 3):
            if arr.shape[3] not in (1, 3):
                raise GanvqError(f"{source}: images of shape {arr.shape} have no channel axis of size 1 or 3")
            arr = arr.transpose(0, 3, 1, 2)
    else:
        raise GanvqError(f"{source}: expected images of shape (N, H, W) or (N, H, W, C), got {arr.shape}")
    if arr.shape[0] == 0:
        raise GanvqError(f"{source}: contains no images")
    return np.ascontiguousarray(_to_uint8(arr, source))


def _to_uint8(arr: np.ndarray, source: str) -> np.ndarray:
    """Convert uint8 as is, integers in [0, 255] as is, and floats by their range: [0, 1] scaled by 255,
    [-1, 1] (with negatives) mapped from -1..1 to 0..255, [0, 255] as is; floats are rounded."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind in "iu":
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise GanvqError(f"{source}: integer pixel values must lie in [0, 255], found {lo}..{hi}")
        return arr.astype(np.uint8)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise GanvqError(f"{source}: float pixel values contain NaN or infinity")
        lo, hi = float(arr.min()), float(arr.max())
        x = arr.astype(np.float32)
        if 0.0 <= lo and hi <= 1.0:
            x = x * 255.0
        elif -1.0 <= lo and hi <= 1.0:
            x = (x + 1.0) * 127.5
        elif not (0.0 <= lo and hi <= 255.0):
            raise GanvqError(f"{source}: float pixel values must lie in [0, 1], [-1, 1] or [0, 255], "
                             f"found {lo:g}..{hi:g}")
        return np.rint(x).clip(0, 255).astype(np.uint8)
    raise GanvqError(f"{source}: unsupported pixel dtype {arr.dtype} (use uint8, or floats in [0, 1], [-1, 1] "
                     "or [0, 255])")


def to_labels(arr: np.ndarray, n: int, source: str) -> np.ndarray:
    """Return labels as int64 (N,) after checking count, integer dtype and non-negativity."""
    if arr.ndim == 2 and arr.shape[1] == 1:  # (N, 1), as Keras-style exports store them
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise GanvqError(f"{source}: labels must have shape (N,), got {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise GanvqError(f"{source}: labels must be integers, got dtype {arr.dtype}")
    if len(arr) != n:
        raise GanvqError(f"{source}: {len(arr)} labels for {n} images")
    if n and arr.min() < 0:
        raise GanvqError(f"{source}: labels must be non-negative, found {int(arr.min())}")
    return arr.astype(np.int64)


def num_classes_of(labels: torch.Tensor | None) -> int | None:
    """Number of classes implied by labels 0..K-1 (None without labels)."""
    if labels is None or labels.numel() == 0:
        return None
    return int(labels.max()) + 1


def convert_channels(images: torch.Tensor, channels: int | None) -> torch.Tensor:
    """Convert uint8 (N, C, H, W) between 1 and 3 channels; None keeps what the file holds."""
    c = images.shape[1]
    if channels is None or channels == c:
        return images
    if channels == 3 and c == 1:
        return images.expand(-1, 3, -1, -1).contiguous()
    if channels == 1 and c == 3:
        w = torch.tensor(_LUMA).view(1, 3, 1, 1)
        return (images.float() * w).sum(1, keepdim=True).round_().clamp_(0, 255).to(torch.uint8)
    raise GanvqError(f"cannot convert {c}-channel images to {channels} channels")


def resize_center_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize uint8 (N, C, H, W) so the shorter side is `size`, then center-crop to size×size."""
    n, c, h, w = images.shape
    if h == size and w == size:
        return images
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    top, left = (nh - size) // 2, (nw - size) // 2
    out = torch.empty((n, c, size, size), dtype=torch.uint8)
    for i in range(0, n, _RESIZE_CHUNK):
        x = images[i : i + _RESIZE_CHUNK].float()
        x = F.interpolate(x, size=(nh, nw), mode="bicubic", antialias=True, align_corners=False)
        out[i : i + _RESIZE_CHUNK] = x[:, :, top : top + size, left : left + size].round_().clamp_(0, 255)
    return out
