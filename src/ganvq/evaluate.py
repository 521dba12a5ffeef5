"""`ganvq eval`: score a trained model and write the numbers as JSON."""

from __future__ import annotations

from pathlib import Path

from ganvq.data import load_dataset
from ganvq.io import write_json
from ganvq.metrics.evaluate import evaluate_reconstruction
from ganvq.train.vqvae import load_vqvae


def eval_vqvae(ckpt: str, data: str | None = None, split: str = "test", limit: int | None = None,
               out: str | None = None) -> dict:
    """Test PSNR/SSIM (per image, pixels in [0, 1], then averaged), codes used, perplexity, raw bpp."""
    model, config = load_vqvae(ckpt)
    dataset = load_dataset(data or config.data, split, size=config.model.image_size, channels=config.model.channels)
    images = dataset.images[:limit] if limit else dataset.images
    result = {
        "checkpoint": str(ckpt),
        "data": data or config.data,
        "split": split,
        "psnr_definition": "mean over images of 10*log10(1/MSE), pixels scaled to [0, 1]",
        "ssim_definition": "mean over images of SSIM (Gaussian window 11, sigma 1.5), pixels in [0, 1]",
        **evaluate_reconstruction(model, images, split=split),
    }
    ckpt_path = Path(ckpt)
    target = Path(out) if out else (ckpt_path if ckpt_path.is_dir() else ckpt_path.parent) / "eval-vqvae.json"
    write_json(target, result)
    return {**result, "written": str(target)}
