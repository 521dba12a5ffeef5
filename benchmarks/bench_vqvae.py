"""VQ-VAE quality bar: train each configuration for the same wall-clock budget, score all test images.

Writes benchmarks/results/vqvae.json. Usage:
    python benchmarks/bench_vqvae.py [--minutes 10] [--configs fmnist-7x7 fmnist-14x14 plain-7x7]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from ganvq.config import to_dict
from ganvq.data import load_dataset
from ganvq.io import write_json
from ganvq.metrics.evaluate import evaluate_reconstruction
from ganvq.runs import TrainConfig, VQVAERunConfig, load_vqvae, preset
from ganvq.train.vqvae import train_vqvae

RESULTS = Path(__file__).parent / "results"
BARS = {"fmnist-7x7": {"test_psnr_db": 25.5, "codes_used_fraction": 0.9}, "fmnist-14x14": {"test_psnr_db": 31.0}}


def run_config(name: str, minutes: float, seed: int, workdir: Path) -> dict:
    config = VQVAERunConfig(
        model=preset(name), train=TrainConfig(steps=None, minutes=minutes, seed=seed, eval_images=0, ckpt_every=10**9)
    )
    out = workdir / name
    summary = train_vqvae(config, out, quiet=True)
    model, _ = load_vqvae(out)
    test = load_dataset("fashion-mnist", "test")
    t0 = time.perf_counter()
    metrics = evaluate_reconstruction(model, test.images)
    k = metrics["codebook_size"]
    row = {
        "name": name,
        "config": to_dict(config),
        "steps": summary["step"],
        "train_seconds": summary["train_seconds"],
        "train_images_per_second": round(summary["step"] * config.train.batch_size / summary["train_seconds"], 1),
        "threads": torch.get_num_threads(),
        "test_images": metrics["test/images"],
        "test_psnr_db": round(metrics["test/psnr"], 3),
        "test_ssim": round(metrics["test/ssim"], 4),
        "codes_used": metrics["test/codes_used"],
        "codebook_size": k,
        "perplexity": round(metrics["test/perplexity"], 1),
        "bits_per_pixel_raw": metrics["bits_per_pixel_raw"],
        "eval_seconds": round(time.perf_counter() - t0, 2),
    }
    bar = BARS.get(name)
    if bar:
        row["bar"] = bar
        row["meets_bar"] = row["test_psnr_db"] >= bar["test_psnr_db"] and (
            row["codes_used"] >= bar.get("codes_used_fraction", 0) * k
        )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per configuration")
    parser.add_argument("--configs", nargs="+", default=["fmnist-7x7", "fmnist-14x14", "plain-7x7"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS / "vqvae.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs:
            row = run_config(name, args.minutes, args.seed, Path(tmp))
            print(json.dumps({k: v for k, v in row.items() if k != "config"}), flush=True)
            rows.append(row)
    write_json(args.out, {
        "benchmark": "vqvae",
        "dataset": "fashion-mnist (train 60,000 / test 10,000)",
        "psnr_definition": "mean over test images of each image's PSNR, pixels scaled to [0, 1]",
        "ssim_definition": "mean over test images of each image's SSIM (Gaussian window 11, sigma 1.5), pixels in [0, 1]",
        "minutes_per_config": args.minutes,
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "torch": torch.__version__},
        "results": rows,
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
