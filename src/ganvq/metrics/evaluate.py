"""Scoring a trained VQ-VAE on a set of images: PSNR, SSIM, codebook usage, raw rate."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ganvq.data import iterate_once
from ganvq.metrics.recon import psnr_per_image, ssim_per_image, to_unit
from ganvq.quantize.base import usage_stats


@torch.no_grad()
def evaluate_reconstruction(model, images: torch.Tensor, batch_size: int = 500, split: str = "test",
                            progress: Callable[[int], None] | None = None) -> dict:
    """Mean per-image PSNR/SSIM (pixels in [0, 1]), codes used, perplexity, raw bits per pixel.

    images: uint8 (N, C, H, W). Raw bits per pixel = h * w * log2(K) / (H * W), the size of
    the code map before entropy coding. `progress(k)` is told of every k images scored.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    psnr, ssim, codes = [], [], []
    for _, x in iterate_once(images, batch_size):
        x = x.to(device)
        indices = model.encode(x)
        x_hat = model.decode(indices)
        psnr.append(psnr_per_image(to_unit(x), to_unit(x_hat)))
        ssim.append(ssim_per_image(to_unit(x), to_unit(x_hat)))
        codes.append(indices.cpu())
        if progress is not None:
            progress(len(x))
    model.train(was_training)
    indices = torch.cat(codes)
    k = model.codebook_size
    h, w = indices.shape[1:]
    stats = usage_stats(indices, k)
    return {
        f"{split}/psnr": float(torch.cat(psnr).mean()),
        f"{split}/ssim": float(torch.cat(ssim).mean()),
        f"{split}/codes_used": stats["codes_used"],
        f"{split}/perplexity": stats["perplexity"],
        f"{split}/images": len(indices),
        "codebook_size": k,
        "bits_per_pixel_raw": h * w * math.log2(k) / (images.shape[-2] * images.shape[-1]),
    }
