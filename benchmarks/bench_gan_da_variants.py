"""Does DiffAugment pay at a 5-minute budget on 1,000 images? Step-matched pairs, with and without it.

bench_gan.py compares presets with and without DiffAugment at equal wall-clock budgets. This asks
why: each variant changes one thing in `fmnist-best` (the augmentation probability p, fixed or
adapted as ADA does; a stronger discriminator by learning rate or by n_D = 2; the width: 16
instead of 64, as in `fmnist-few`; the translation's size and fill) and is trained with and
without DiffAugment for the same number of G steps: --steps, about what a 5-minute budget reaches on a 2-core AVX2 CPU, times the
variant's factor (n_D = 2 runs get 2/3 of them, the same D work; width-16 runs 4.125 times as
many, what their cheaper steps reach in the same minutes). One torch thread per run, so two can
run side by side without changing the result. Each run is scored on 10,000 samples (FID, KID,
precision, recall; no memorization audit). D's mean logits on its 1,000 training images, on the
next 1,000 (held out) and on 1,000 fakes measure its overfitting: DiffAugment can only help a
discriminator that scores held-out real images like fakes. Writes
benchmarks/results/gan-da-variants.json (--steps 10000 --out results/gan-da-variants-long.json: about
4 times a 5-minute budget's steps). Usage:

    python benchmarks/bench_gan_da_variants.py [--steps 2400] [--variants base tr-p0.5 ...] [--seed 0] [--merge]
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import json
import tempfile
import time
from pathlib import Path

import torch
from bench_gan import DIFFAUGMENT, LIMITED_IMAGES, MILD_SHIFT_FILL
from machine import describe

from ganvq.commands.sample import sample
from ganvq.data.datasets import load_dataset
from ganvq.images import to_float
from ganvq.io import write_json
from ganvq.metrics.score import score_samples
from ganvq.runs import gan_preset, load_discriminator, load_gan
from ganvq.train.gan import train_gan

RESULTS = Path(__file__).parent / "results"
WIDTH16 = {"g_width": 16, "d_width": 16}
# name -> (DiffAugment policy, p, GANOptions changes, GANConfig changes, factor on --steps)
VARIANTS = {
    "base": ("", 1.0, {}, {}, 1.0),
    "tr-p0.5": ("translation", 0.5, {}, {}, 1.0),
    "lrd1e-3": ("", 1.0, {"lr_d": 1e-3}, {}, 1.0),
    "lrd1e-3-tr": ("translation", 1.0, {"lr_d": 1e-3}, {}, 1.0),
    "nd2": ("", 1.0, {"n_d": 2}, {}, 2 / 3),
    "nd2-tr": ("translation", 1.0, {"n_d": 2}, {}, 2 / 3),
    "w16": ("", 1.0, {}, WIDTH16, 4.125),
    "w16-tr": ("translation", 1.0, {}, WIDTH16, 4.125),
    "w16-tr-mild": ("translation", 1.0, MILD_SHIFT_FILL, WIDTH16, 4.125),
    # ADA's adaptive p (target 0.6) on the reference transforms: augments only as far as D overfits
    "w16-ada": (DIFFAUGMENT, 1.0, {"diffaugment_target": 0.6}, WIDTH16, 4.125),
}


def d_logits(run: Path) -> dict[str, float]:
    """Mean D logits (unaugmented) on the 1,000 training images, the next 1,000 and 1,000 fakes of the last G."""
    D, config = load_discriminator(run)
    G, _ = load_gan(run, ema=False)
    data = load_dataset("fashion-mnist", limit=2 * LIMITED_IMAGES)
    x, y = to_float(data.images), data.labels
    n = LIMITED_IMAGES
    z = torch.randn(n, config.model.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return {"train": D(x[:n], y[:n]).mean().item(), "held_out": D(x[n:], y[n:]).mean().item(),
                "fake": D(G(z, y[:n]), y[:n]).mean().item()}


def run_variant(name: str, steps: int, workdir: Path, seed: int = 0) -> dict:
    """Train `fmnist-best` on 1,000 images with the variant's changes for its steps; score 10,000 samples."""
    policy, p, changes, model, factor = VARIANTS[name]
    torch.set_num_threads(1)
    config = gan_preset("fmnist-best")
    train = dataclasses.replace(config.train, steps=round(steps * factor), minutes=None, seed=seed,
                                ckpt_every=10**9, threads=1)
    gan = dataclasses.replace(config.gan, diffaugment=policy, diffaugment_p=p, **changes)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, **model), train=train, gan=gan,
                                 limit=LIMITED_IMAGES)
    run = workdir / f"{name}-seed{seed}"
    t0 = time.perf_counter()
    summary = train_gan(config, run, quiet=True)
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    last = [d for d in lines if "train/logits_real" in d][-1]
    aug_p = [d["train/aug_p"] for d in lines if "train/aug_p" in d]  # adaptive p, as logged (window means)
    images, _ = sample(run, 10000, seed=0)
    scores = score_samples(images, "fashion-mnist", seed=0, audit=False)
    return {"name": name, "seed": seed, "diffaugment": policy, "diffaugment_p": p, "changes": {**changes, **model},
            "generator_steps": summary["step"], "seconds": round(time.perf_counter() - t0),
            "fid": scores["fid"], "kid_mean": scores["kid_mean"], "precision": scores["precision"],
            "recall": scores["recall"],
            "last_logits": {"step": last["step"], "real": last["train/logits_real"],
                            "fake": last["train/logits_fake"], "d_loss": last["train/d_loss"]},
            **({"aug_p": {"last": aug_p[-1], "max": max(aug_p)}} if aug_p else {}),
            "d_logits": d_logits(run), "machine": describe(), "measured": time.strftime("%Y-%m-%d")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2400, help="G steps of the n_D = 1 runs")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--seed", type=int, default=0, help="training seed (sampling and scoring use seed 0)")
    parser.add_argument("--workdir", help="keep the run folders here (default: a temporary folder)")
    parser.add_argument("--out", default=str(RESULTS / "gan-da-variants.json"))
    parser.add_argument("--merge", action="store_true", help="keep the other variants' rows from the existing --out")
    args = parser.parse_args()
    done = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants:
            done[name, args.seed] = run_variant(name, args.steps, Path(args.workdir or tmp), args.seed)
            print(json.dumps(done[name, args.seed]), flush=True)
    # Two invocations (say, one per seed) may run side by side with --merge: each re-reads --out
    # under a lock when it finishes, so neither loses the other's rows.
    with open(f"{args.out}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows, old = {}, {}
        if args.merge and Path(args.out).exists():
            old = json.loads(Path(args.out).read_text())
            rows = {(r["name"], r.get("seed", 0)): r for r in old["results"]}
        rows.update(done)
        ordered = sorted(rows.values(), key=lambda r: (list(VARIANTS).index(r["name"]), r.get("seed", 0)))
        write_json(args.out, {"benchmark": "gan-da-variants", "steps": args.steps, "train_images": LIMITED_IMAGES,
                              "dataset": "fashion-mnist (scored against the 10,000 test images)",
                              **({"note": old["note"]} if "note" in old else {}), "results": ordered})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
