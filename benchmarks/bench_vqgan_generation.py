"""Generation through VQGAN codes against the GAN, at the same total training minutes.

The VQGAN is a run of bench_vqgan.py (--vqgan, trained --vqgan-minutes); a class-conditional transformer prior
is trained over its code maps for --prior-minutes (the library's default prior, with --prior-set changes);
`fmnist-best` is trained for their sum (not with --no-gan, an ablation). Both are sampled (--n images, --seed,
classes in turn; the prior at each of --temperatures) and scored by the evaluation suite (FID, KID,
precision/recall, classes, label entropy, memorization audit). Writes benchmarks/results/vqgan-generation.json.
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_vqgan_generation.py --vqgan-minutes 5 --prior-minutes 3
    # results/vqgan-generation.json and -seed1.json (S = 0, 1; both at once, one thread each): the 7x7 VQGANs of
    # results/vqgan-perceptual.json and -seed1.json (5 minutes; re-made by bench_vqgan.py --sizes 7x7 --seed S
    # --set perceptual_weight=0.03 --set perceptual_start=300 --set disc_start=2000 --tag pc-sS-), a prior with a
    # 20-step warm-up, learning rate 3e-3 and no dropout (tuned on seed 0 with 3-minute runs):
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan_generation.py --vqgan runs/bench-vqgan/pc-sS-7x7-vqgan \
        --vqgan-minutes 5 --prior-minutes 3 --prior-set train.warmup_steps=20 --prior-set train.lr=0.003 \
        --prior-set model.dropout=0 --temperatures 1.0 0.95 --seed S --tag sS- [--out ...-seed1.json]
    # results/vqgan-generation-vqvae-ablation.json: the same prior over the plain VQ-VAE of seed 0's pair
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan_generation.py --vqgan runs/bench-vqgan/pc-s0-7x7-vqvae \
        --vqgan-minutes 5 --prior-minutes 3 --prior-set train.warmup_steps=20 --prior-set train.lr=0.003 \
        --prior-set model.dropout=0 --temperatures 1.0 --no-gan --tag abl- \
        --out benchmarks/results/vqgan-generation-vqvae-ablation.json
    # results/vqgan-generation-inception.json (-seed5.json; -vqvae-ablation.json with the VQ-VAE and --no-gan): the
    # same over the preset-recipe VQGANs of results/vqgan-p0-seed4.json and -seed5.json, also scored on Inception-v3:
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan_generation.py --vqgan runs/bench-vqgan/p0sS7x7-vqgan \
        --vqgan-minutes 5 --prior-minutes 3 --prior-set train.warmup_steps=20 --prior-set train.lr=0.003 \
        --prior-set model.dropout=0 --temperatures 1.0 --inception 2000 --seed S --tag sS- --out ...
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
from bench_vqgan import inception_fid, option_value
from machine import describe

from ganvq.commands.sample import sample, sample_prior
from ganvq.data import load_dataset
from ganvq.io import write_json
from ganvq.metrics.score import score_samples
from ganvq.runs import build_run_config, gan_preset, open_run
from ganvq.train.gan import train_gan
from ganvq.train.prior import train_prior

RESULTS = Path(__file__).parent / "results"
RUNS = Path(__file__).parents[1] / "runs" / "bench-vqgan"
KEYS = ("fid", "kid_mean", "precision", "recall", "density", "coverage", "class_coverage", "label_entropy",
        "memorization")
BAR = {"fid_ratio_max": 1.5, "recall": "at least the GAN's"}


def _scores(images: torch.Tensor, seed: int, inception: int = 0) -> dict:
    """The evaluation suite's scores of `images`; with `inception`, also the FID of the first that many (classes in
    turn) against the first that many test images on Inception-v3, a network no ganvq loss sees."""
    scores = score_samples(images, "fashion-mnist", seed=seed)
    extra = {}
    if inception:
        test = load_dataset("fashion-mnist", "test").images
        extra = {"fid_inception": round(inception_fid(test, images, inception), 3), "inception_images": inception}
    return {**{k: scores[k] for k in KEYS if k in scores}, **extra}


def _nested(assignments: list[str]) -> dict:
    """["train.lr=2e-3", "model.dim=64"] -> {"train": {"lr": 0.002}, "model": {"dim": 64}} (values as JSON when
    they parse, else strings)."""
    out: dict = {}
    for item in assignments:
        key, _, text = item.partition("=")
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = option_value(text)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vqgan", default=str(RUNS / "7x7-vqgan"), help="VQGAN run folder (from bench_vqgan.py)")
    parser.add_argument("--vqgan-minutes", type=float, required=True, help="the minutes that VQGAN trained")
    parser.add_argument("--prior-minutes", type=float, default=3.0)
    parser.add_argument("--prior-set", action="append", default=[], metavar="KEY=VALUE",
                        help="a prior config option over the default, e.g. train.warmup_steps=20 or model.dim=64")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0],
                        help="sampling temperatures of the prior; each is scored and judged against the bar")
    parser.add_argument("--n", type=int, default=5000, help="samples scored per model")
    parser.add_argument("--inception", type=int, default=0, metavar="N",
                        help="also the FID of N samples against N test images on Inception-v3 (0: not)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-gan", action="store_true",
                        help="train and score the prior's route only (an ablation: no GAN, no bar)")
    parser.add_argument("--tag", default="", help="prefix of the run folders under runs/bench-vqgan/")
    parser.add_argument("--out", default=str(RESULTS / "vqgan-generation.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = {}
    prior_out = RUNS / f"{args.tag}gen-prior"
    shutil.rmtree(prior_out, ignore_errors=True)
    changes = _nested(args.prior_set)
    train = {"minutes": args.prior_minutes, "threads": args.threads, "seed": args.seed, "ckpt_every": 10**9,
             "eval_images": 0, **changes.pop("train", {})}
    config = build_run_config("prior", None, None, {
        "vqvae": args.vqgan, "class_conditional": True, "train": train, **changes})
    summary = train_prior(config, prior_out, quiet=True)
    codes_run = open_run(args.vqgan, "vqvae")
    vqgan_steps = codes_run.meta["step"]
    route = "vqgan+prior" if codes_run.config.vqgan is not None else "vqvae+prior"  # an ablation's plain VQ-VAE
    for temperature in args.temperatures:
        images, _, _ = sample_prior(prior_out, args.n, seed=args.seed, temperature=temperature)
        rows[f"{route} T={temperature:g}"] = {
            "run": str(prior_out.relative_to(RUNS.parents[1])), "vqgan": args.vqgan, "prior_steps": summary["step"],
            "prior_train_seconds": summary["train_seconds"], "temperature": temperature,
            "vqgan_minutes": args.vqgan_minutes, "vqgan_steps": vqgan_steps,
            "total_minutes": args.vqgan_minutes + args.prior_minutes, **_scores(images, args.seed, args.inception)}
        print(json.dumps(rows[f"{route} T={temperature:g}"]), flush=True)

    if not args.no_gan:
        gan_out = RUNS / f"{args.tag}gen-gan"
        shutil.rmtree(gan_out, ignore_errors=True)
        gan = gan_preset("fmnist-best")
        minutes = args.vqgan_minutes + args.prior_minutes
        gan = dataclasses.replace(gan, train=dataclasses.replace(gan.train, steps=None, minutes=minutes,
                                                                 seed=args.seed, threads=args.threads,
                                                                 ckpt_every=10**9))
        summary = train_gan(gan, gan_out, quiet=True)
        images, _ = sample(gan_out, args.n, seed=args.seed)
        rows["gan fmnist-best"] = {"run": str(gan_out.relative_to(RUNS.parents[1])), "steps": summary["step"],
                                   "train_seconds": summary["train_seconds"], "total_minutes": minutes,
                                   **_scores(images, args.seed, args.inception)}
        print(json.dumps(rows["gan fmnist-best"]), flush=True)
    gan = rows.get("gan fmnist-best")
    judged = {name: {"fid_ratio_vqgan_over_gan": round(row["fid"] / gan["fid"], 3),
                     "meets_bar": row["fid"] <= BAR["fid_ratio_max"] * gan["fid"] and row["recall"] >= gan["recall"]}
              for name, row in rows.items() if gan and "prior_steps" in row}
    write_json(args.out, {
        "benchmark": "vqgan-generation", "samples": args.n, "threads": args.threads,
        "commands": [(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')} nice -n {os.nice(0)} python "
                      f"benchmarks/bench_vqgan_generation.py --vqgan {args.vqgan} "
                      f"--vqgan-minutes {args.vqgan_minutes:g} --prior-minutes {args.prior_minutes:g} --n {args.n}"
                      + "".join(f" --prior-set {s}" for s in args.prior_set)
                      + " --temperatures " + " ".join(f"{t:g}" for t in args.temperatures)
                      + (f" --seed {args.seed}" if args.seed else "") + (" --no-gan" if args.no_gan else "")
                      + (f" --inception {args.inception}" if args.inception else ""))],
        "features": "ganvq-fmnist-cnn-v1 (the evaluation suite's shipped extractor)",
        "reference": "the 10,000 Fashion-MNIST test images",
        "temperature_note": "temperatures below 1 were chosen by looking at these test-set scores; T=1 is untuned",
        "prior_config_changes": args.prior_set, "bar": BAR, "judged": judged,
        "meets_bar": any(j["meets_bar"] for j in judged.values()) if gan else None,
        "load_average_1min_5min_15min_at_end": [round(x, 2) for x in os.getloadavg()],
        "measured": time.strftime("%Y-%m-%d"), "machine": describe(), "results": rows,
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
