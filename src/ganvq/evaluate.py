"""`ganvq eval`: score a trained model or a folder of samples and write the numbers as JSON."""

from __future__ import annotations

from pathlib import Path

import torch

from ganvq.data import describe_skipped, load_dataset
from ganvq.errors import GanvqError, warn
from ganvq.io import write_json
from ganvq.metrics.evaluate import evaluate_reconstruction
from ganvq.metrics.score import score_samples
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


def format_scores(result: dict) -> str:
    """The headline sample-quality numbers as a small aligned table."""
    rows = [("FID", result.get("fid"), ".2f"), ("KID", result.get("kid_mean"), ".5f"),
            ("precision", result.get("precision"), ".3f"), ("recall", result.get("recall"), ".3f"),
            ("density", result.get("density"), ".3f"), ("coverage", result.get("coverage"), ".3f")]
    if "class_coverage" in result:
        rows += [("classes present", result["class_coverage"], "d"),
                 ("label entropy", result["label_entropy"], ".3f")]
    mem = result.get("memorization")
    if mem:
        rows += [("closer than 1% of test", mem["closer_than_test_q0.01_fraction"], ".4f"),
                 ("NN distance ratio", mem["median_ratio"], ".3f")]
    lines = [f"{result['samples']} samples vs {result['reference']['data']} {result['reference']['split']} "
             f"({result['reference']['images']} images), features {result['extractor']}"]
    lines += [f"  {name:<24} {value:{fmt}}" for name, value, fmt in rows if value is not None]
    return "\n".join(lines)


def generate(ckpt: str, n: int, seed: int = 0) -> tuple[torch.Tensor, str | None]:
    """n samples of a generator checkpoint (GAN, or prior + VQ-VAE decoder) and the dataset it was trained on."""
    from ganvq.prior.sample import checkpoint_kind

    kind = checkpoint_kind(ckpt)
    if kind == "prior":
        from ganvq.prior.sample import sample_prior
        from ganvq.train.prior import load_prior

        images = sample_prior(ckpt, n, seed)[0]
        return images, load_prior(ckpt)[2].data or None
    if kind == "gan" or kind is None:  # None: let the GAN loader name what is wrong with the file
        from ganvq.sample import sample
        from ganvq.train.gan import load_gan

        return sample(ckpt, n, seed)[0], load_gan(ckpt)[1].data
    raise GanvqError(f"{ckpt}: a {kind} checkpoint does not generate images; use `ganvq eval {kind}`")


def eval_gan(ckpt: str, n: int = 10_000, real: str | None = None, features: str = "ganvq", seed: int = 0,
             out: str | None = None, bf16: bool = False) -> dict:
    """Sample n images (seeded) from a generator checkpoint and score them against the real test split."""
    images, trained_on = generate(ckpt, n, seed)
    real = real or trained_on
    if not real:
        raise GanvqError(f"{ckpt}: the checkpoint does not name its dataset; pass --real DATASET")
    ckpt_path = Path(ckpt)
    run = ckpt_path if ckpt_path.is_dir() else ckpt_path.parent
    target = Path(out) if out else run / "eval-gan.json"
    pairs = target.with_suffix(".closest-pairs.png")
    result = {"checkpoint": str(ckpt), "sample_seed": seed,
              **score_samples(images, real, features=features, seed=seed, bf16=bf16, pairs_png=pairs)}
    write_json(target, result)
    return {**result, "written": str(target)}
