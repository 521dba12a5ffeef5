"""Do a private G's samples teach more when its latents are spread wider? (issue 22: what the utility lacks).

A private generator's samples cover little of the data (recall 0.14-0.16 on the shipped CNN's features against
0.58 without privacy: results/privacy-labels.json). Drawing z ~ N(0, s^2 I) with s > 1, the opposite of the
truncation trick, spreads the samples wider at no privacy cost (it only reads G). For each run folder given
(`dp-fmnist` runs of bench_privacy.py or bench_privacy_ema.py) and each scale s, draws samples of the EMA generator
(sample seed 0, classes in turn; at s = 1 exactly `ganvq sample`'s) and scores them like bench_privacy.py's rows:
FID, precision and recall against the 10,000 test images on the shipped CNN (10,000 samples), and the fixed
utility classifier trained on 60,000 samples, tested on the real test set. Usage:

    OMP_NUM_THREADS=1 python benchmarks/bench_privacy_latent.py --out benchmarks/results/privacy-latent.json \
        runs/bench-privacy-ema/full-dp-eps10 runs/bench-privacy-ema/full-dp-eps10-s1 --scales 1 1.5 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from machine import describe

from ganvq.commands.sample import _generate, _labels_for, latents, load_gan
from ganvq.data.datasets import load_dataset
from ganvq.errors import GanvqError
from ganvq.io import write_json
from ganvq.metrics.score import score_samples
from ganvq.metrics.utility import downstream_accuracy
from ganvq.runs import open_run

SCORED, UTILITY_N = 10_000, 60_000


def spread_samples(G, config, n: int, seed: int, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """n samples of G (classes in turn) from z ~ N(0, scale^2 I): the plain prior's draws, times scale."""
    z = latents(n, config.model.z_dim, torch.Generator().manual_seed(seed)) * scale
    y = _labels_for(config, n, None)
    return _generate(G, z, y, True), y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="private GAN run folders")
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0, 1.25, 1.5, 2.0])
    ap.add_argument("--seed", type=int, default=0, help="sample seed")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--merge", action="store_true", help="keep the rows of --out not measured again")
    ap.add_argument("--out", default="benchmarks/results/privacy-latent.json")
    args = ap.parse_args()
    if any(s <= 0 for s in args.scales):
        raise SystemExit("bench_privacy_latent.py: --scales must be positive")
    try:
        runs = {folder: open_run(folder, "gan") for folder in args.runs}  # a bad folder stops here, before any work
    except GanvqError as e:
        raise SystemExit(f"bench_privacy_latent.py: {e}") from None
    if any(not run.config.model.num_classes for run in runs.values()):
        raise SystemExit("bench_privacy_latent.py: the utility classifier needs class-conditional GAN runs")
    torch.set_num_threads(args.threads)
    t0 = time.time()
    rows = json.loads(Path(args.out).read_text())["results"] if args.merge and Path(args.out).exists() else []
    test = load_dataset("fashion-mnist", "test")
    for folder, run in runs.items():
        G, config = load_gan(run, "cpu", True)
        for scale in args.scales:
            images, _ = spread_samples(G, config, SCORED, args.seed, scale)
            scores = score_samples(images, "fashion-mnist", seed=args.seed)
            images, labels = spread_samples(G, config, UTILITY_N, args.seed, scale)
            accuracy = downstream_accuracy(images, labels, test.images, test.labels, config.model.num_classes)
            row = {"run": Path(folder).name, "folder": str(folder), "train_seed": config.train.seed, "scale": scale,
                   "generator_steps": run.meta.get("step"), "fid": scores["fid"], "precision": scores["precision"],
                   "recall": scores["recall"], "downstream_accuracy": accuracy["accuracy"]}
            rows = [r for r in rows if (r["folder"], r["scale"]) != (row["folder"], scale)] + [row]
            print(json.dumps(row), flush=True)
    write_json(args.out, {
        "what": f"private dp-fmnist runs (ε = 10) sampled through their EMA generator from z ~ N(0, s^2 I): FID, "
                f"precision and recall (k = 5) of {SCORED:,} samples against the 10,000 Fashion-MNIST test images "
                f"on the shipped CNN's features, and the fixed utility classifier trained on {UTILITY_N:,} samples, "
                "tested on the real test set; sample seed " + str(args.seed),
        "machine": describe(), "results": rows, "wall_minutes_this_invocation": round((time.time() - t0) / 60, 1),
        "invocation": "OMP_NUM_THREADS=1 python " + " ".join(sys.argv)})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
