"""Seconds per training step and images per second of every preset, on this machine: the README's table.

Each preset's task is built as `ganvq train` builds it (precision auto, the preset's batch size) on data of
its own image size: Fashion-MNIST for the 28-pixel presets, the photo crops of benchmarks/photo_crops.py
for the RGB ones. After WARMUP steps (allocation, k-means initialisation) STEPS steps are timed; the
median of REPEATS timings is kept. A GAN step is one generator update with its n_D discriminator updates.

    python benchmarks/bench_presets.py                 # all presets, torch's threads
    python benchmarks/bench_presets.py --threads 2 --presets vqvae:rgb-32 gan:rgb-32
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from machine import describe
from photo_crops import DEFAULT_OUT as CROPS
from photo_crops import build as build_crops

from ganvq.io import write_json
from ganvq.runs import GAN_PRESETS, VQVAE_PRESETS, build_run_config
from ganvq.train import loop
from ganvq.train.gan import GANTask
from ganvq.train.vqvae import VQVAETask

RESULTS = Path(__file__).parent / "results"
WARMUP, STEPS, REPEATS = 3, 10, 3
DEFAULT = ["vqvae:fmnist-7x7", "vqvae:rgb-32", "vqvae:rgb-64", "vqvae:rgb-32-large", "vqvae:rgb-64-large",
           "gan:fmnist-best", "gan:fmnist-few", "gan:dcgan-textbook", "gan:rgb-32", "gan:rgb-64",
           "gan:resnet-32", "gan:resnet-64"]


def data_for(size: int, channels: int, crops: Path) -> str:
    """A dataset of the preset's image size: Fashion-MNIST at 28 gray, else the photo crops."""
    if size == 28 and channels == 1:
        return "fashion-mnist"
    path = crops / f"crops-{size}.npz"
    if not path.is_file():
        build_crops(crops)
    return str(path)


def time_preset(kind: str, name: str, threads: int | None, crops: Path, limit: int = 2048) -> dict:
    """Median seconds per step over REPEATS timings of STEPS steps, after WARMUP steps."""
    base = (VQVAE_PRESETS[name] if kind == "vqvae" else GAN_PRESETS[name].model)
    overrides = {"data": data_for(base.image_size, base.channels, crops), "limit": limit,
                 "train": {"steps": 1000, "threads": threads, "eval_images": 0}}
    config = build_run_config(kind, name, None, overrides)
    with loop.seeded(config.train):
        task = VQVAETask(config) if kind == "vqvae" else GANTask(config)
        for step in range(WARMUP):
            task.train_step(step)
        timings = []
        for r in range(REPEATS):
            t0 = time.perf_counter()
            for step in range(STEPS):
                task.train_step(WARMUP + r * STEPS + step)
            timings.append((time.perf_counter() - t0) / STEPS)
    per_step = statistics.median(timings)
    batch = config.train.batch_size
    return {"kind": kind, "preset": name, "image_size": base.image_size, "channels": config.model.channels,
            "batch_size": batch, "precision": config.train.precision, "seconds_per_step": round(per_step, 4),
            "images_per_second": round(batch / per_step, 1), "steps_per_minute": round(60 / per_step, 1),
            "learn_steps": config.train.learn_steps,
            "minutes_to_learn_steps": round(config.train.learn_steps * per_step / 60, 1) or None,
            "timings": [round(t, 4) for t in timings]}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", nargs="+", default=DEFAULT, metavar="KIND:NAME")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    p.add_argument("--crops", type=Path, default=CROPS, help="photo crop folder (built when missing)")
    p.add_argument("--out", type=Path, default=RESULTS / "presets.json")
    args = p.parse_args(argv)
    rows = []
    for item in args.presets:
        kind, name = item.split(":", 1)
        row = time_preset(kind, name, args.threads, args.crops)
        print(f"{kind:6} {name:20} {row['seconds_per_step']:.3f} s/step  {row['images_per_second']:7.1f} images/s",
              flush=True)
        rows.append(row)
    result = {"machine": describe(), "threads": args.threads, "warmup_steps": WARMUP, "timed_steps": STEPS,
              "repeats": REPEATS, "statistic": "median seconds per step of the repeats", "presets": rows}
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
