"""Does DiffAugment pay at a 5-minute budget on 1,000 images? Step-matched pairs, with and without it.

bench_gan.py compares `fmnist-best` with and without DiffAugment at equal wall-clock budgets. This
asks why DiffAugment loses there: each variant changes one thing in `fmnist-best` (the
augmentation probability p, a stronger discriminator by learning rate or by n_D = 2) and is
trained with and without translation for the same number of G steps (--steps, about what a
5-minute budget reaches on a 2-core AVX2 CPU; n_D = 2 runs get 2/3 of them, the same D work),
one torch thread per run, so several can run side by side without changing the result. Each run
is scored on 10,000 samples (FID, KID, precision, recall; no memorization audit) and the D
logits of its last metrics line are kept: DiffAugment can only help a discriminator that is
winning. Writes benchmarks/results/gan-da-variants.json. Usage:

    python benchmarks/bench_gan_da_variants.py [--steps 2400] [--variants base tr-p0.5 ...] [--merge]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch
from bench_gan import LIMITED_IMAGES
from machine import describe

from ganvq.config import gan_preset
from ganvq.io import write_json
from ganvq.metrics.score import score_samples
from ganvq.sample import sample
from ganvq.train.gan import train_gan

RESULTS = Path(__file__).parent / "results"
# name -> (DiffAugment policy, p, GANOptions changes, fraction of --steps)
VARIANTS = {
    "base": ("", 1.0, {}, 1.0),
    "tr-p0.5": ("translation", 0.5, {}, 1.0),
    "lrd1e-3": ("", 1.0, {"lr_d": 1e-3}, 1.0),
    "lrd1e-3-tr": ("translation", 1.0, {"lr_d": 1e-3}, 1.0),
    "nd2": ("", 1.0, {"n_d": 2}, 2 / 3),
    "nd2-tr": ("translation", 1.0, {"n_d": 2}, 2 / 3),
}


def run_variant(name: str, steps: int, workdir: Path, seed: int = 0) -> dict:
    """Train `fmnist-best` on 1,000 images with the variant's changes for its steps; score 10,000 samples."""
    policy, p, changes, fraction = VARIANTS[name]
    torch.set_num_threads(1)
    config = gan_preset("fmnist-best")
    train = dataclasses.replace(config.train, steps=round(steps * fraction), minutes=None, seed=seed,
                                ckpt_every=10**9, threads=1)
    gan = dataclasses.replace(config.gan, diffaugment=policy, diffaugment_p=p, **changes)
    config = dataclasses.replace(config, train=train, gan=gan, limit=LIMITED_IMAGES)
    t0 = time.perf_counter()
    summary = train_gan(config, workdir / name, quiet=True)
    lines = [json.loads(line) for line in (workdir / name / "metrics.jsonl").read_text().splitlines()]
    last = [d for d in lines if "train/logits_real" in d][-1]
    images, _ = sample(workdir / name, 10000, seed=seed)
    scores = score_samples(images, "fashion-mnist", seed=seed, audit=False)
    return {"name": name, "diffaugment": policy, "diffaugment_p": p, "changes": changes,
            "generator_steps": summary["step"], "seconds": round(time.perf_counter() - t0),
            "fid": scores["fid"], "kid_mean": scores["kid_mean"], "precision": scores["precision"],
            "recall": scores["recall"],
            "last_logits": {"step": last["step"], "real": last["train/logits_real"],
                            "fake": last["train/logits_fake"], "d_loss": last["train/d_loss"]},
            "machine": describe(), "measured": time.strftime("%Y-%m-%d")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2400, help="G steps of the n_D = 1 runs")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--workdir", help="keep the run folders here (default: a temporary folder)")
    parser.add_argument("--out", default=str(RESULTS / "gan-da-variants.json"))
    parser.add_argument("--merge", action="store_true", help="keep the other variants' rows from the existing --out")
    args = parser.parse_args()
    rows = {}
    if args.merge and Path(args.out).exists():
        rows = {r["name"]: r for r in json.loads(Path(args.out).read_text())["results"]}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants:
            rows[name] = run_variant(name, args.steps, Path(args.workdir or tmp))
            print(json.dumps(rows[name]), flush=True)
    ordered = [rows[name] for name in VARIANTS if name in rows]
    write_json(args.out, {"benchmark": "gan-da-variants", "steps": args.steps, "train_images": LIMITED_IMAGES,
                          "dataset": "fashion-mnist (scored against the 10,000 test images)",
                          "results": ordered})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
