"""Per-image reconstruction quality: PSNR and SSIM on images scaled to [0, 1].

SSIM follows Wang et al. 2004, "Image quality assessment: from error visibility to structural
similarity" (eq. 13, averaged over windows as eq. 17): an 11×11 Gaussian window with sigma 1.5,
K1 = 0.01, K2 = 0.03, population (not sample) covariances, averaged over the positions where
the window lies fully inside the image and over channels. That is exactly skimage's
`structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`, which
crops the 5-pixel border of its padded map (tests: within 1e-5). torchmetrics 1.9's
`structural_similarity_index_measure` differs: it reflect-pads and averages the whole map,
border included, which moves SSIM by ~4e-3 on 28×28 images (the border is 59% of the pixels),
so it is not used. Plain torch: no extra dependency, and it runs on any device.
"""

from __future__ import annotations

import functools
import math

import torch

MSE_FLOOR = 1e-10  # identical images: PSNR capped at 10*log10(range² / 1e-10) = 100 dB for range 1
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
_CHUNK_PIXELS = 2**21  # values per SSIM pass: bounds the (5, chunk, C, H, W) float64 buffer to 80 MB


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """Map images from [-1, 1] to [0, 1], clamping out-of-range values first."""
    return (x.clamp(-1, 1) + 1) / 2


def _check_pair(x: torch.Tensor, x_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if x.shape != x_hat.shape or x.dim() != 4:
        shapes = f"{tuple(x.shape)} and {tuple(x_hat.shape)}"
        raise ValueError(f"expected two (B, C, H, W) tensors of the same shape, got {shapes}")
    dtype = torch.float64 if torch.float64 in (x.dtype, x_hat.dtype) else torch.float32
    return x.to(dtype), x_hat.to(dtype)


def psnr_per_image(x: torch.Tensor, x_hat: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """PSNR in dB of each image, 10·log10(range² / MSE); MSE floored at 1e-10 so it stays finite."""
    x, x_hat = _check_pair(x, x_hat)
    mse = (x - x_hat).square().flatten(1).mean(1)  # (B,)
    return 10 * torch.log10(data_range**2 / mse.clamp_min(MSE_FLOOR))


@functools.lru_cache(maxsize=16)
def _window_matrix(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(n - 10, n) banded matrix whose row i is the Gaussian window over pixels i..i+10.

    Sampled and normalised like scipy.ndimage.gaussian_filter (what skimage uses). Filtering as
    `A @ img @ A.T` is the separable valid convolution, ~10× faster on CPU than a grouped conv2d.
    """
    r = SSIM_WINDOW // 2
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float64) / SSIM_SIGMA) ** 2)
    k = k / k.sum()
    a = torch.zeros(n - 2 * r, n, dtype=torch.float64)
    for i in range(n - 2 * r):
        a[i, i : i + SSIM_WINDOW] = k
    return a.to(dtype=dtype, device=device)


def _ssim_chunk(x: torch.Tensor, y: torch.Tensor, data_range: float, out_dtype: torch.dtype) -> torch.Tensor:
    # float64: E[x²] - E[x]² cancels badly, and float32 matmuls may silently run as TF32/bf16
    # when training code enables it. MPS has no float64.
    dtype = torch.float32 if x.device.type == "mps" else torch.float64
    x, y = x.to(dtype), y.to(dtype)
    h, w = x.shape[-2:]
    rows = _window_matrix(h, x.dtype, x.device)
    cols = _window_matrix(w, x.dtype, x.device)
    stats = torch.stack([x, y, x * x, y * y, x * y])  # (5, b, C, H, W)
    # Only windows fully inside the image, matching skimage's crop of the padded map.
    mu_x, mu_y, e_xx, e_yy, e_xy = rows @ stats @ cols.T  # each (b, C, H-10, W-10)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    num = (2 * mu_xy + c1) * (2 * (e_xy - mu_xy) + c2)
    den = (mu_xx + mu_yy + c1) * ((e_xx - mu_xx) + (e_yy - mu_yy) + c2)
    return (num / den).flatten(1).mean(1).to(out_dtype)


def ssim_per_image(x: torch.Tensor, x_hat: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM of each image, (B,) (Wang et al. 2004, eqs. 13 and 17; Gaussian window 11, sigma 1.5)."""
    x, x_hat = _check_pair(x, x_hat)
    if min(x.shape[-2:]) < SSIM_WINDOW:
        size = tuple(x.shape[-2:])
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}×{SSIM_WINDOW} pixels, got {size}")
    if len(x) == 0:
        return x.new_zeros(0)
    chunk = max(1, _CHUNK_PIXELS // x[0].numel())
    parts = zip(x.split(chunk), x_hat.split(chunk))
    return torch.cat([_ssim_chunk(a, b, data_range, x.dtype) for a, b in parts])


def mean_psnr_ssim(
    x: torch.Tensor, x_hat: torch.Tensor, batch: int = 2000, data_range: float = 1.0
) -> tuple[float, float]:
    """Mean per-image (PSNR, SSIM) over all images, `batch` images at a time on their device."""
    if len(x) == 0:
        return math.nan, math.nan
    psnr, ssim = [], []
    for a, b in zip(x.split(batch), x_hat.split(batch)):
        psnr.append(psnr_per_image(a, b, data_range))
        ssim.append(ssim_per_image(a, b, data_range))
    return float(torch.cat(psnr).mean()), float(torch.cat(ssim).mean())
