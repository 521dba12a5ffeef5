"""Training speed in fp32 and bf16 autocast on this machine, and what `--precision auto` picks.

bf16 autocast roughly doubles training speed on CPUs that compute bf16 natively (AVX-512-BF16,
AMX) and is emulated, far slower, elsewhere; `--precision auto` decides from the CPU's flags.
This measures both precisions side by side (alternating, so drift in machine load hits both) on
a real training step of the `fmnist-best` GAN and the `fmnist-7x7` VQ-VAE, and writes
benchmarks/results/precision.json. Usage:
    python benchmarks/bench_precision.py [--steps 10] [--repeats 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch
from machine import describe

from ganvq.device import resolve_precision
from ganvq.io import write_json
from ganvq.runs import TrainConfig, VQVAERunConfig, gan_preset, preset
from ganvq.train.gan import GANTask
from ganvq.train.vqvae import VQVAETask

RESULTS = Path(__file__).parent / "results"


def tasks(precision: str) -> dict:
    """name -> (task, images per step) for each model, with `precision` set."""
    gan = gan_preset("fmnist-best")
    gan = dataclasses.replace(gan, train=dataclasses.replace(gan.train, precision=precision, steps=10**6, minutes=None))
    vq = VQVAERunConfig(model=preset("fmnist-7x7"), train=TrainConfig(steps=10**6, precision=precision, eval_images=0))
    return {
        "gan fmnist-best": (GANTask(gan), gan.train.batch_size * gan.gan.n_d),
        "vqvae fmnist-7x7": (VQVAETask(vq), vq.train.batch_size),
    }


def seconds_per_step(task, steps: int, start: int) -> float:
    for i in range(2):  # warm-up (allocation, k-means initialisation)
        task.train_step(start + i)
    t0 = time.perf_counter()
    for i in range(steps):
        task.train_step(start + 2 + i)
    return (time.perf_counter() - t0) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per measurement")
    parser.add_argument("--repeats", type=int, default=2, help="alternating fp32/bf16 measurements; the best counts")
    parser.add_argument("--out", default=str(RESULTS / "precision.json"))
    args = parser.parse_args()
    built = {p: tasks(p) for p in ("fp32", "bf16")}
    best: dict[str, dict[str, float]] = {name: {} for name in built["fp32"]}
    for r in range(args.repeats):
        for precision in ("fp32", "bf16"):
            for name, (task, _) in built[precision].items():
                s = seconds_per_step(task, args.steps, r * (args.steps + 2))
                best[name][precision] = min(best[name].get(precision, float("inf")), s)
    cpu = torch.device("cpu")
    rows = []
    for name, by_precision in best.items():
        per_step = built["fp32"][name][1]
        row = {"model": name, **{f"{p}_images_per_second": round(per_step / s, 1) for p, s in by_precision.items()}}
        row["bf16_speedup"] = round(by_precision["fp32"] / by_precision["bf16"], 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
    write_json(args.out, {
        "benchmark": "precision",
        "method": f"best of {args.repeats} alternating runs of {args.steps} training steps after 2 warm-up steps",
        "machine": describe(),
        "auto_picks": resolve_precision(cpu, "auto"),
        "results": rows,
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
