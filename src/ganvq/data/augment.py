"""DiffAugment: differentiable augmentation of everything D sees, real and fake (Zhao et al. 2020).

Augmenting both real and generated images with the same random *family* of transforms (fresh
draws for each image), and back-propagating through the transform into G, keeps D from
memorising a small training set without the augmentations leaking into G's samples. The
transforms follow the authors' reference code: colour (brightness, saturation, contrast),
translation by up to 1/8 of the size with zero padding, and cutout of a half-size square. Translation
can be made milder (a smaller largest shift) and can fill with black (-1) or the image's edge pixels
instead: on small images whose objects fill the frame, such as 28x28 Fashion-MNIST, 1/8 (4 pixels)
can crop the object itself, and the zero (mid-grey) border is a band no real image has, where black
is the background every image has.
Images are float (B, C, H, W) in [-1, 1]; randomness comes from torch's global generator, so a
seeded run (and its resumption) repeats exactly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from ganvq.errors import GanvqError


def _uniform(x: torch.Tensor) -> torch.Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)  # (B, 1, 1, 1)


def rand_brightness(x: torch.Tensor) -> torch.Tensor:
    """Add one offset in [-0.5, 0.5) per image."""
    return x + (_uniform(x) - 0.5)


def rand_saturation(x: torch.Tensor) -> torch.Tensor:
    """Scale each image's distance from its per-pixel channel mean by a factor in [0, 2) (a no-op on grey)."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_uniform(x) * 2) + mean


def rand_contrast(x: torch.Tensor) -> torch.Tensor:
    """Scale each image's distance from its mean by a factor in [0.5, 1.5)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x) + 0.5) + mean


def rand_translation(x: torch.Tensor, ratio: float = 0.125, fill: str = "zeros") -> torch.Tensor:
    """Shift each image by whole pixels, up to ratio * size each way.

    fill "zeros" fills the uncovered pixels with zeros (mid-grey), as the reference code does;
    "black" with -1, the darkest value (the background of images such as Fashion-MNIST's);
    "edge" repeats the nearest edge pixel.
    """
    check_translation(ratio, fill)
    b, c, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, (b, 1), device=x.device)
    tx = torch.randint(-sw, sw + 1, (b, 1), device=x.device)
    if fill == "edge":
        # Output pixel i reads input pixel i + t, clamped to the image: the edge pixel repeats.
        rows = (torch.arange(h, device=x.device) + ty).clamp(0, h - 1)  # (B, H)
        cols = (torch.arange(w, device=x.device) + tx).clamp(0, w - 1)  # (B, W)
        src = x
    else:
        # Output pixel i reads input pixel i + t; the one-pixel fill border catches reads outside the image.
        rows = (torch.arange(h, device=x.device) + ty + 1).clamp(0, h + 1)  # (B, H) indices into the padded image
        cols = (torch.arange(w, device=x.device) + tx + 1).clamp(0, w + 1)  # (B, W)
        src = torch.nn.functional.pad(x, (1, 1, 1, 1), value=-1.0 if fill == "black" else 0.0)  # (B, C, H + 2, W + 2)
    out = src.gather(2, rows[:, None, :, None].expand(b, c, h, src.shape[3]))  # (B, C, H, W')
    return out.gather(3, cols[:, None, None, :].expand(b, c, h, w))  # (B, C, H, W)


def rand_cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero (mid-grey) one square of ratio * size per image, centred anywhere on the image."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    top, left = cy - ch // 2, cx - cw // 2
    r = torch.arange(h, device=x.device)[None, :, None]
    s = torch.arange(w, device=x.device)[None, None, :]
    inside = (r >= top) & (r < top + ch) & (s >= left) & (s < left + cw)  # (B, H, W)
    return x * (~inside)[:, None].to(x.dtype)


POLICIES: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], ...]] = {
    "color": (rand_brightness, rand_saturation, rand_contrast),
    "translation": (rand_translation,),
    "cutout": (rand_cutout,),
}


def check_probability(p: float) -> None:
    """Raise a GanvqError unless 0 <= p <= 1."""
    if not 0 <= p <= 1:
        raise GanvqError(f"DiffAugment probability must lie in [0, 1], got {p}")


TRANSLATION_FILLS = ("zeros", "black", "edge")


def check_translation(ratio: float, fill: str) -> None:
    """Raise a GanvqError unless 0 <= ratio <= 0.5 and fill is one of TRANSLATION_FILLS."""
    if not 0 <= ratio <= 0.5:
        raise GanvqError(f"DiffAugment translation must lie in [0, 0.5] of the image size, got {ratio}")
    if fill not in TRANSLATION_FILLS:
        raise GanvqError(f"unknown DiffAugment translation fill {fill!r}; choose {', '.join(TRANSLATION_FILLS)}")


def check_policy(policy: str) -> None:
    """Raise a GanvqError naming the valid parts when `policy` (e.g. "color,translation") has an unknown one."""
    for part in filter(None, policy.split(",")):
        if part.strip() not in POLICIES:
            raise GanvqError(f"unknown DiffAugment transform {part!r}; use a comma list of {', '.join(POLICIES)}")


def diff_augment(x: torch.Tensor, policy: str = "color,translation,cutout", p: float = 1.0,
                 translation: float = 0.125, fill: str = "zeros") -> torch.Tensor:
    """Apply the comma-separated transforms of `policy` to x (B, C, H, W); "" returns x (Zhao et al. 2020).

    `translation` is the largest shift as a fraction of the size and `fill` what the shift uncovers
    ("zeros", "black" or "edge"; see rand_translation).

    With p < 1 each transform touches each image with probability p only (as in ADA, Karras et al.
    2020): D still never sees an image G could copy an augmentation from, but G's gradient passes
    unaugmented more often, which speeds early training when D is not yet overfitting.
    """
    check_policy(policy)
    check_probability(p)
    check_translation(translation, fill)
    for part in filter(None, (name.strip() for name in policy.split(","))):
        fns = POLICIES[part]
        if part == "translation":
            fns = (functools.partial(rand_translation, ratio=translation, fill=fill),)
        for fn in fns:
            if p >= 1:
                x = fn(x)
            elif p > 0:
                keep = torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= p  # (B, 1, 1, 1)
                x = torch.where(keep, x, fn(x))
    return x
