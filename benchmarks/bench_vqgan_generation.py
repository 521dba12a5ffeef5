"""Generation through VQGAN codes against the GAN, at the same total training minutes.

The VQGAN is a run of bench_vqgan.py (runs/bench-vqgan/7x7-vqgan, trained --vqgan-minutes); a class-conditional
transformer prior is trained over its code maps for --prior-minutes; `fmnist-best` is trained for their sum.
Both are sampled (--n images, seed 0, classes in turn) and scored by the evaluation suite (FID, KID,
precision/recall, classes, label entropy, memorization audit). Writes benchmarks/results/vqgan-generation.json.
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_vqgan_generation.py --vqgan-minutes 5 --prior-minutes 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

import torch
from machine import describe

from ganvq.commands.sample import sample, sample_prior
from ganvq.io import write_json
from ganvq.metrics.score import score_samples
from ganvq.runs import build_run_config, gan_preset
from ganvq.train.gan import train_gan
from ganvq.train.prior import train_prior

RESULTS = Path(__file__).parent / "results"
RUNS = Path(__file__).parents[1] / "runs" / "bench-vqgan"
KEYS = ("fid", "kid_mean", "precision", "recall", "density", "coverage", "class_coverage", "label_entropy",
        "memorization")
BAR = {"fid_ratio_max": 1.5, "recall": "at least the GAN's"}


def _scores(images: torch.Tensor, seed: int) -> dict:
    scores = score_samples(images, "fashion-mnist", seed=seed)
    return {k: scores[k] for k in KEYS if k in scores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vqgan", default=str(RUNS / "7x7-vqgan"), help="VQGAN run folder (from bench_vqgan.py)")
    parser.add_argument("--vqgan-minutes", type=float, required=True, help="the minutes that VQGAN trained")
    parser.add_argument("--prior-minutes", type=float, default=3.0)
    parser.add_argument("--n", type=int, default=5000, help="samples scored per model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS / "vqgan-generation.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = {}
    prior_out = RUNS / "gen-prior"
    shutil.rmtree(prior_out, ignore_errors=True)
    config = build_run_config("prior", None, None, {
        "vqvae": args.vqgan, "class_conditional": True,
        "train": {"minutes": args.prior_minutes, "threads": args.threads, "seed": args.seed, "ckpt_every": 10**9,
                  "eval_images": 0}})
    summary = train_prior(config, prior_out, quiet=True)
    images, _, _ = sample_prior(prior_out, args.n, seed=args.seed)
    rows["vqgan+prior"] = {"run": str(prior_out.relative_to(RUNS.parents[1])), "prior_steps": summary["step"],
                           "prior_train_seconds": summary["train_seconds"], "vqgan_minutes": args.vqgan_minutes,
                           "total_minutes": args.vqgan_minutes + args.prior_minutes, **_scores(images, args.seed)}
    print(json.dumps(rows["vqgan+prior"]), flush=True)

    gan_out = RUNS / "gen-gan"
    shutil.rmtree(gan_out, ignore_errors=True)
    gan = gan_preset("fmnist-best")
    minutes = args.vqgan_minutes + args.prior_minutes
    gan = dataclasses.replace(gan, train=dataclasses.replace(gan.train, steps=None, minutes=minutes, seed=args.seed,
                                                             threads=args.threads, ckpt_every=10**9))
    summary = train_gan(gan, gan_out, quiet=True)
    images, _ = sample(gan_out, args.n, seed=args.seed)
    rows["gan fmnist-best"] = {"run": str(gan_out.relative_to(RUNS.parents[1])), "steps": summary["step"],
                               "train_seconds": summary["train_seconds"], "total_minutes": minutes,
                               **_scores(images, args.seed)}
    print(json.dumps(rows["gan fmnist-best"]), flush=True)
    a, b = rows["vqgan+prior"], rows["gan fmnist-best"]
    write_json(args.out, {
        "benchmark": "vqgan-generation", "samples": args.n, "threads": args.threads,
        "commands": [(f"OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_vqgan_generation.py "
                      f"--vqgan-minutes {args.vqgan_minutes:g} --prior-minutes {args.prior_minutes:g} --n {args.n}")],
        "features": "ganvq-fmnist-cnn-v1 (the evaluation suite's shipped extractor)",
        "bar": BAR, "fid_ratio_vqgan_over_gan": round(a["fid"] / b["fid"], 3),
        "meets_bar": a["fid"] <= BAR["fid_ratio_max"] * b["fid"] and a["recall"] >= b["recall"],
        "load_average_1min_5min_15min_at_end": [round(x, 2) for x in os.getloadavg()],
        "measured": time.strftime("%Y-%m-%d"), "machine": describe(), "results": rows,
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
