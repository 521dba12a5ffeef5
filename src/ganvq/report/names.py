"""Metric keys in words: what a report calls `test/psnr` ("PSNR", "dB") and how it prints the number."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """How a metric reads on a page: its name in words, unit, number format, and a one-line meaning."""

    name: str
    unit: str = ""
    fmt: str = ".4g"
    meaning: str = ""
    scale: float = 1.0  # shown value = stored value * scale (KID reads better x 10^3)


SPLITS = {"train": "training", "val": "held-out", "test": "held-out", "all": "all"}

METRICS: dict[str, Metric] = {
    # reconstruction (VQ-VAE)
    "psnr": Metric("PSNR", "dB", ".2f", "peak signal-to-noise ratio per image (pixels in [0, 1]), averaged; higher is better"),
    "ssim": Metric("SSIM", "", ".4f", "structural similarity per image, averaged; 1 is identical"),
    "codes_used": Metric("Codes used", "codes", "d", "codebook entries chosen at least once"),
    "dead_codes": Metric("Dead codes", "codes", "d", "codebook entries never chosen in the window"),
    "perplexity": Metric("Code perplexity", "codes", ".1f", "exp(entropy) of code use: the codebook size it acts like"),
    "images": Metric("Images scored", "images", "d"),
    "codebook_size": Metric("Codebook size", "codes", "d"),
    "bits_per_pixel_raw": Metric("Raw rate", "bits/pixel", ".4f", "code map before entropy coding: h·w·log2(K) / (H·W)"),
    "loss": Metric("Loss", "", ".4g"),
    "rec_loss": Metric("Reconstruction loss", "MSE", ".4g", "mean squared error, pixels in [-1, 1]"),
    "vq_loss": Metric("Quantizer loss", "", ".4g", "commitment (+ codebook) loss"),
    # prior
    "bits_per_code": Metric("Bits per code", "bits", ".3f", "cross-entropy of the prior on held-out code maps"),
    "bits_per_image": Metric("Bits per image", "bits", ".1f", "bits per code x codes per image"),
    "bits_per_pixel": Metric("Bits per pixel", "bits/pixel", ".4f", "bits per image / (H·W), per pixel position"),
    "code_maps": Metric("Code maps scored", "maps", "d"),
    # GAN training
    "d_loss": Metric("Discriminator loss", "", ".4g"),
    "g_loss": Metric("Generator loss", "", ".4g"),
    "logits_real": Metric("D output on real images", "logit", ".3g"),
    "logits_fake": Metric("D output on generated images", "logit", ".3g"),
    "aug_p": Metric("ADA augmentation probability p", "", ".3f", "how often each augmentation is applied (adaptive)"),
    "rollbacks": Metric("Rollbacks", "", "d", "steps undone after a loss blew up"),
    "gp": Metric("Gradient penalty", "", ".4g"),
    "r1": Metric("R1 penalty", "", ".4g"),
    "lr": Metric("Learning rate", "", ".3g"),
    # sample quality (eval gan)
    "fid": Metric("FID", "", ".2f", "Fréchet distance between feature statistics of samples and real images; lower is better"),
    "kid_mean": Metric("KID", "×10⁻³", ".3f", "kernel inception distance (unbiased MMD²), mean over subsets; lower is better",
                       scale=1e3),
    "kid_std": Metric("KID std. dev.", "×10⁻³", ".3f", "spread of KID over subsets", scale=1e3),
    "precision": Metric("Precision", "", ".3f", "share of samples inside the real images' k-NN balls (fidelity); "
                                               "outlying real images have very large balls, so read it with density"),
    "recall": Metric("Recall", "", ".3f", "share of real images inside the samples' k-NN balls (variety)"),
    "density": Metric("Density", "", ".3f", "how many real k-NN balls hold a sample, on average / k"),
    "coverage": Metric("Coverage", "", ".3f", "share of real images with a sample in their k-NN ball"),
    "class_coverage": Metric("Classes present", "classes", "d", "classes holding at least 1% of samples"),
    "label_entropy": Metric("Label entropy", "nats", ".3f", "entropy of the classifier's labels of samples"),
    "samples": Metric("Samples scored", "images", "d"),
    # memorization audit
    "sample_nn_median": Metric("Median sample → nearest training image", "RMS", ".4f"),
    "test_nn_median": Metric("Median held-out → nearest training image", "RMS", ".4f"),
    "median_ratio": Metric("Nearest-neighbour distance ratio", "", ".3f",
                           "median sample distance / median held-out distance; well below 1 suggests copying"),
    "closer_than_every_test_fraction": Metric("Closer than any held-out image", "share", ".4f"),
    "closer_than_test_q0.01_fraction": Metric("Closer than 1% of held-out images", "share", ".4f",
                                              "expected about 0.01 for a model that does not copy"),
    "sample_relative_median": Metric("Median sample relative distance", "", ".3f",
                                     "nearest training image's distance / mean distance to the 5 nearest"),
    "test_relative_median": Metric("Median held-out relative distance", "", ".3f"),
    "relative_closer_than_test_q0.01_fraction": Metric("Relatively closer than 1% of held-out images", "share",
                                                       ".4f", "near one training image rather than many"),
    "likely_copy_fraction": Metric("Likely copies", "share", ".4f",
                                   "closer than 1% of held-out images by both distances; at most about 0.01 "
                                   "for a model that does not copy"),
    "copy_fid": Metric("FID of the training images, copied", "", ".2f",
                       "FID of the training images repeated to the sample count: on a small training set a copier "
                       "can score below a good GAN, so a FID near this may mean copying"),
    # run facts
    "train_seconds": Metric("Training time", "s", ".0f"),
    "elapsed_seconds": Metric("Training time", "s", ".0f"),
    "step": Metric("Steps", "", "d"),
}


def metric(key: str) -> Metric:
    """The Metric for a key such as `test/psnr` or `kid_mean` (split prefixes read as words)."""
    split, _, name = key.rpartition("/")
    base = METRICS.get(name) or Metric(name.replace("_", " ").capitalize())
    if split in SPLITS and split != "all":
        return Metric(f"{base.name} ({SPLITS[split]})", base.unit, base.fmt, base.meaning, base.scale)
    return base


def format_value(key: str, value) -> str:
    """A metric's value as the page prints it, with its unit: `22.64 dB`, `511 codes`."""
    m = metric(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    v = value * m.scale + 0.0  # + 0.0: no "-0.000"
    if m.fmt != "d" and abs(v) < 0.5 * 10 ** -int(m.fmt.strip(".fg") or 4) and m.fmt.endswith("f"):
        v = 0.0
    if m.fmt == "d":
        text = f"{round(v):,d}"
    else:
        text = f"{v:{m.fmt}}"
    return f"{text} {m.unit}".rstrip() if m.unit and m.unit not in ("share",) else text
