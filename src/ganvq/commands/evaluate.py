"""`ganvq eval`: score a trained model or a folder of samples and write the numbers as JSON."""

from __future__ import annotations

from pathlib import Path

import torch

from ganvq.commands.sample import generate
from ganvq.data import describe_skipped, load_dataset
from ganvq.errors import GanvqError, warn
from ganvq.io import write_json
from ganvq.metrics.evaluate import evaluate_reconstruction
from ganvq.metrics.score import score_samples
from ganvq.runs import open_run


def eval_vqvae(ckpt: str, data: str | None = None, split: str = "test", limit: int | None = None,
               out: str | None = None) -> dict:
    """Test PSNR/SSIM (per image, pixels in [0, 1], then averaged), codes used, perplexity, raw bpp."""
    run = open_run(ckpt, "vqvae")
    model, config = run.vqvae(), run.config
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
    target = Path(out) if out else run.folder / "eval-vqvae.json"
    write_json(target, result)
    return {**result, "written": str(target)}


def load_sample_folder(folder: str, real: str, limit: int | None = None) -> torch.Tensor:
    """A folder of generated images as uint8, at the real dataset's size and channel count."""
    reference = load_dataset(real, "test", limit=1)
    c, h, _ = reference.shape
    fake = load_dataset(folder, "train", size=h, channels=c, limit=limit)
    note = describe_skipped(fake)
    if note:
        warn(note)
    return fake.images


def eval_folder(real: str, fake: str, features: str = "ganvq", limit: int | None = None, seed: int = 0,
                out: str | None = None, bf16: bool = False) -> dict:
    """Score a folder of images from any generator against a real dataset's test split."""
    images = load_sample_folder(fake, real, limit)
    target = Path(out) if out else Path(fake).with_name(Path(fake).name + "-eval.json")
    pairs = target.with_suffix(".closest-pairs.png")
    result = {"fake": str(fake), **score_samples(images, real, features=features, seed=seed, bf16=bf16,
                                                  pairs_png=pairs)}
    write_json(target, result)
    return {**result, "written": str(target)}


def eval_gan(ckpt: str, n: int = 10_000, real: str | None = None, features: str = "ganvq", seed: int = 0,
             out: str | None = None, bf16: bool = False) -> dict:
    """Sample n images (seeded) from a generator checkpoint and score them against the real test split."""
    run = open_run(ckpt)  # read once: the samples and the dataset it was trained on
    images, trained_on = generate(run, n, seed)
    real = real or trained_on
    if not real:
        raise GanvqError(f"{ckpt}: the checkpoint does not name its dataset; pass --real DATASET")
    target = Path(out) if out else run.folder / "eval-gan.json"
    pairs = target.with_suffix(".closest-pairs.png")
    result = {"checkpoint": str(ckpt), "sample_seed": seed,
              **score_samples(images, real, features=features, seed=seed, bf16=bf16, pairs_png=pairs)}
    write_json(target, result)
    return {**result, "written": str(target)}
