"""Damage done to images on purpose: holes (masks), Gaussian noise, Gaussian blur, JPEG artifacts.

A restoration-trained VQ-VAE (`train vqvae --corrupt SPEC`) sees these damaged images and learns to
reconstruct the clean ones; `restore` and the benchmark damage test images the same way. Images are
float (B, C, H, W) in [-1, 1]; strengths are stated in [0, 1] pixel units (noise:0.1 adds noise of
standard deviation 0.1 of the full range), as in the denoising literature.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganvq.errors import GanvqError

HOLE_FILL = 0.0  # what a hole's pixels are set to before an encoder sees them: mid-grey in [-1, 1]
KINDS = ("noise", "blur", "jpeg", "mask")
MASK_FORMS = "center, box:x,y,w,h or random:p"


@dataclass(frozen=True)
class MaskSpec:
    """A hole's shape: "center" (the centred half-size box), "box" (x, y, w, h) or "random" (each pixel, p)."""

    form: str
    box: tuple[int, int, int, int] | None = None
    p: float = 0.0

    def __str__(self) -> str:
        if self.form == "box":
            return "box:" + ",".join(map(str, self.box))
        return f"random:{self.p:g}" if self.form == "random" else self.form


def parse_mask(spec: str) -> MaskSpec:
    """A mask shape from center | box:x,y,w,h | random:p, or a one-line GanvqError."""
    form, _, arg = spec.strip().partition(":")
    if form == "center" and not arg:
        return MaskSpec("center")
    if form == "box":
        try:
            box = tuple(int(v) for v in arg.split(","))
        except ValueError:
            box = ()
        if len(box) != 4 or min(box[2:]) < 1 or min(box[:2]) < 0:
            raise GanvqError(f"mask box:{arg}: give four integers x,y,w,h with x, y >= 0 and w, h >= 1")
        return MaskSpec("box", box=box)
    if form == "random":
        try:
            p = float(arg)
        except ValueError:
            p = math.nan
        if not 0 < p < 1:
            raise GanvqError(f"mask random:{arg}: give the fraction of hidden pixels, a number in (0, 1)")
        return MaskSpec("random", p=p)
    raise GanvqError(f"unknown mask {spec!r}; give {MASK_FORMS}, or a mask image file")


def make_mask(spec: MaskSpec, n: int, height: int, width: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Holes (n, 1, H, W) bool, True where a pixel is missing; a box must lie inside the image."""
    hole = torch.zeros(n, 1, height, width, dtype=torch.bool)
    if spec.form == "random":
        return torch.rand(n, 1, height, width, generator=generator) < spec.p
    if spec.form == "center":
        h, w = height // 2, width // 2
        x, y = (width - w) // 2, (height - h) // 2
    else:
        x, y, w, h = spec.box
        if x + w > width or y + h > height:
            raise GanvqError(f"mask {spec} reaches outside the {width}x{height} image")
    hole[:, :, y : y + h, x : x + w] = True
    return hole


def apply_mask(x: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Images with their holes set to HOLE_FILL (mid-grey), the input a mask-trained encoder expects."""
    return x.masked_fill(hole.to(x.device), HOLE_FILL)


def add_noise(x: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """x + N(0, sigma^2) per pixel, sigma in [0, 1] units (2 sigma in [-1, 1]); not clipped, as in denoising
    benchmarks, so the noise stays Gaussian."""
    noise = torch.randn(x.shape, generator=generator, dtype=torch.float32)
    return x + (2 * sigma) * noise.to(x.device, x.dtype)


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian of standard deviation `sigma` pixels, 2 ceil(3 sigma) + 1 taps."""
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return (k / k.sum()).float()


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of standard deviation `sigma` pixels, edges reflected."""
    k = gaussian_kernel(sigma).to(x.device, x.dtype)
    r, c = len(k) // 2, x.shape[1]
    y = F.pad(x, (r, r, r, r), mode="reflect" if min(x.shape[-2:]) > r else "replicate")
    y = F.conv2d(y, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)  # rows
    return F.conv2d(y, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)  # columns


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """Each image through a JPEG encode and decode at `quality` (Pillow, 4:2:0 for colour), back in [-1, 1]."""
    u = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    out = []
    for img in u:
        buf = io.BytesIO()
        Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(buf, format="JPEG", quality=quality)
        dec = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L" if img.shape[-1] == 1 else "RGB"))
        out.append(dec.reshape(img.shape))
    y = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() / 127.5 - 1
    return y.to(x.device, x.dtype)


@dataclass(frozen=True)
class Corruption:
    """One kind of damage with its strength: noise (sigma), blur (sigma), jpeg (quality) or mask (shape)."""

    kind: str
    value: float = 0.0
    mask: MaskSpec | None = None

    def __str__(self) -> str:
        if self.kind == "mask":
            return f"mask:{self.mask}"
        return f"{self.kind}:{int(self.value) if self.kind == 'jpeg' else f'{self.value:g}'}"

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Damaged images (B, C, H, W) from clean ones; random draws (noise, random masks) from `generator`."""
        if self.kind == "noise":
            return add_noise(x, self.value, generator)
        if self.kind == "blur":
            return blur(x, self.value)
        if self.kind == "jpeg":
            return jpeg(x, int(self.value))
        return apply_mask(x, make_mask(self.mask, x.shape[0], x.shape[2], x.shape[3], generator))


def parse_corruption(spec: str) -> Corruption:
    """A Corruption from noise:sigma | blur:sigma | jpeg:quality | mask:(center|box:x,y,w,h|random:p)."""
    kind, _, arg = spec.strip().partition(":")
    if kind == "mask":
        return Corruption("mask", mask=parse_mask(arg))
    if kind not in KINDS or not arg:
        raise GanvqError(f"unknown corruption {spec!r}; give noise:SIGMA, blur:SIGMA, jpeg:QUALITY or mask:SHAPE "
                         f"(SHAPE: {MASK_FORMS})")
    try:
        value = float(arg)
    except ValueError:
        value = math.nan
    if kind == "jpeg" and not (value == int(value) and 1 <= value <= 95 if math.isfinite(value) else False):
        raise GanvqError(f"corruption {spec!r}: JPEG quality must be an integer in [1, 95]")
    if kind in ("noise", "blur") and not (math.isfinite(value) and 0 < value <= 10):
        raise GanvqError(f"corruption {spec!r}: {kind} sigma must be a number in (0, 10] (pixels in [0, 1] "
                         f"for noise, pixels of the image for blur)")
    return Corruption(kind, value)
