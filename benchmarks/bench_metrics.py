"""Evaluation-suite benchmark: speed of scoring 10,000 samples, and a model-free sanity table.

The sanity table scores sets of images whose quality ordering is known in advance against the
Fashion-MNIST test split: real train images (best), lightly and strongly blurred ones, noisy
ones, a single class (mode collapse), and uniform noise (worst). With `--inception` (needs
`pip install 'ganvq[inception]'`) it also measures Inception-v3 speed in fp32 and bf16 and the
bf16 feature deviation, and scores real train vs. test with the paper protocol.

Writes benchmarks/results/metrics.json. Usage:
    python benchmarks/bench_metrics.py [--n 10000] [--inception] [--inception-n 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ganvq.data import load_dataset
from ganvq.io import write_json
from ganvq.metrics.features import get_extractor
from ganvq.metrics.score import reference, score_samples

RESULTS = Path(__file__).parent / "results"
HEADLINE = ("fid", "kid_mean", "precision", "recall", "density", "coverage", "class_coverage", "label_entropy")


def blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of uint8 images (separable, reflect padding)."""
    r = max(1, int(3 * sigma))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float32) / sigma) ** 2)
    k = (k / k.sum()).view(1, 1, 1, -1)
    x = F.pad(images.float(), (r, r, 0, 0), mode="reflect")
    x = F.conv2d(x, k)
    x = F.pad(x, (0, 0, r, r), mode="reflect")
    x = F.conv2d(x, k.transpose(-1, -2))
    return x.round().clamp(0, 255).to(torch.uint8)


def sanity_sets(train: torch.Tensor, labels: torch.Tensor, n: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    real = train[:n]
    noisy = (real.float() + 40 * torch.randn(real.shape, generator=g)).round().clamp(0, 255).to(torch.uint8)
    one_class = train[labels == 0][:n]
    return {
        "real train images": real,
        "blurred (sigma 0.7)": blur(real, 0.7),
        "blurred (sigma 1.5)": blur(real, 1.5),
        "gaussian noise added (std 40/255)": noisy,
        f"one class only (T-shirt/top, {len(one_class):,} images)": one_class,
        "uniform noise": torch.randint(0, 256, real.shape, generator=g, dtype=torch.uint8),
    }


def bench_inception(train: torch.Tensor, test: torch.Tensor, n: int) -> dict:
    """Inception-v3 images/s in fp32 and bf16, bf16 feature deviation, and a paper-protocol FID."""
    out = {}
    probe = test[:200]
    feats = {}
    for name, bf16 in (("fp32", False), ("bf16", True)):
        extractor = get_extractor("inception", bf16)
        extractor(probe[:50])  # warm-up (TorchScript profiling runs)
        t0 = time.perf_counter()
        feats[name] = extractor(probe)[0]
        out[f"{name}_images_per_second"] = round(len(probe) / (time.perf_counter() - t0), 1)
    rel = (feats["bf16"] - feats["fp32"]).norm(dim=1) / feats["fp32"].norm(dim=1)
    out["bf16_relative_feature_deviation_mean"] = float(rel.mean())
    out["bf16_relative_feature_deviation_max"] = float(rel.max())
    bf16_ok = float(rel.mean()) <= 0.005
    out["bf16_within_0.5_percent"] = bf16_ok
    t0 = time.perf_counter()
    result = score_samples(train[:n], ref_split="test", features="inception", n_ref=n, bf16=bf16_ok,
                           audit=False)
    out["fid_train_vs_test"] = {"n": n, "bf16": bf16_ok, "fid": result["fid"], "kid_mean": result["kid_mean"],
                                "seconds": round(time.perf_counter() - t0, 1)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="images per scored set")
    parser.add_argument("--inception", action="store_true", help="also benchmark the Inception-v3 extra")
    parser.add_argument("--inception-n", type=int, default=2000, help="images per set for the Inception FID")
    parser.add_argument("--out", default=str(RESULTS / "metrics.json"))
    args = parser.parse_args()
    train_ds = load_dataset("fashion-mnist", "train")
    test = load_dataset("fashion-mnist", "test").images
    train, labels = train_ds.images, train_ds.labels
    with tempfile.TemporaryDirectory() as cache:
        os.environ["GANVQ_CACHE"] = cache  # cold cache: the reference cost is measured, not assumed
        t0 = time.perf_counter()
        reference("fashion-mnist", "test", (1, 28, 28))
        reference_seconds = time.perf_counter() - t0
        speed = score_samples(train[-args.n:], audit=False)
        t0 = time.perf_counter()
        audited = score_samples(train[-args.n:], audit=True)
        audit_seconds = time.perf_counter() - t0
        rows = []
        for name, images in sanity_sets(train, labels, args.n).items():
            r = score_samples(images, audit=False)
            rows.append({"set": name, **{k: r.get(k) for k in HEADLINE}})
            print(json.dumps(rows[-1]), flush=True)
        inception = bench_inception(train, test, args.inception_n) if args.inception else None
    seconds = speed["seconds"]
    result = {
        "benchmark": "metrics",
        "extractor": speed["extractor"],
        "reference": "fashion-mnist test (10,000 images)",
        "threads": torch.get_num_threads(),
        "speed": {
            "samples": args.n,
            "features_seconds": seconds["features"],
            "fid_kid_prdc_seconds": seconds["fid_kid_prdc"],
            "total_seconds_features_fid_kid_prdc": round(seconds["features"] + seconds["fid_kid_prdc"], 2),
            "samples_per_second": speed["samples_per_second"],
            "reference_build_seconds_cold_cache": round(reference_seconds, 2),
            "with_memorization_audit_seconds": round(audit_seconds, 2),
            "memorization_of_train_images": audited["memorization"],
        },
        "sanity_table": rows,
        "inception": inception,
        "machine": {"platform": platform.platform(), "torch": torch.__version__},
    }
    write_json(args.out, result)
    print(json.dumps(result["speed"], indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
