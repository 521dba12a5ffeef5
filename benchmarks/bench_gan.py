"""GAN quality bar: the textbook DCGAN and ganvq's best preset at equal wall-clock budgets, plus limited data.

Trains, one after another on this machine, (a) `dcgan-textbook` and (b) `fmnist-best` for
--minutes each on all 60,000 Fashion-MNIST training images, then, on the first 1,000 training
images for --limited-minutes each, `fmnist-few` (the little-data preset) without DiffAugment and
with a mild translation (up to 1/16 of the size, edge fill), and `fmnist-best` without DiffAugment
and with each of three DiffAugment policies (the reference's transforms). Samples 10,000 images
from each (EMA generator, seed 0, classes in turn for conditional models), scores them with
`ganvq.metrics.score.score_samples` (FID, KID, precision/recall, density/coverage, class coverage,
label entropy, memorization audit), checks the bar, and writes benchmarks/results/gan.json plus one
sample grid per run (beside the JSON, named after it: gan_NAME.png for gan.json). The 1,000-image
runs are trained --limited-seeds times (training seeds --seed, --seed + 1, ...; sampled and scored
with --seed), because one seed's FID there moves by 0.2-0.5 from seed to seed: the DiffAugment checks
compare means over seeds. Usage:
    python benchmarks/bench_gan.py [--minutes 15] [--limited-minutes 5] [--limited-seeds 3] [--runs ...]
    python benchmarks/bench_gan.py --runs limited few few-diffaugment --merge   # rerun some rows only
With --merge the other rows are kept from the existing JSON; every row records its machine, and the
bar compares rows that were trained in the same invocation and on the same machine kind.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import tempfile
import time
from pathlib import Path

import torch
from machine import describe

from ganvq.commands.sample import sample
from ganvq.config import to_dict
from ganvq.images import save_grid
from ganvq.io import write_json
from ganvq.metrics.score import score_samples
from ganvq.runs import GANRunConfig, gan_preset
from ganvq.train.gan import train_gan

RESULTS = Path(__file__).parent / "results"
DIFFAUGMENT = "color,translation,cutout"
LIMITED_IMAGES = 1000
MILD_SHIFT_FILL = {"diffaugment_shift": 1 / 16, "diffaugment_fill": "edge"}  # up to 2 pixels at 28, edge fill
MILD_TRANSLATION = {"diffaugment": "translation", **MILD_SHIFT_FILL}
# name -> (preset, training images or None for all, GANOptions changes (DiffAugment), budget kind)
RUNS = {
    "textbook": ("dcgan-textbook", None, {}, "full"),
    "best": ("fmnist-best", None, {}, "full"),
    "limited": ("fmnist-best", LIMITED_IMAGES, {"diffaugment": ""}, "limited"),
    "limited-diffaugment": ("fmnist-best", LIMITED_IMAGES, {"diffaugment": DIFFAUGMENT}, "limited"),
    "limited-translation": ("fmnist-best", LIMITED_IMAGES, {"diffaugment": "translation"}, "limited"),
    "limited-translation-cutout": ("fmnist-best", LIMITED_IMAGES, {"diffaugment": "translation,cutout"}, "limited"),
    "few": ("fmnist-few", LIMITED_IMAGES, {"diffaugment": ""}, "limited"),
    "few-diffaugment": ("fmnist-few", LIMITED_IMAGES, MILD_TRANSLATION, "limited"),
}
SCORE_KEYS = ("fid", "kid_mean", "kid_std", "precision", "recall", "density", "coverage", "class_coverage",
              "label_entropy", "class_histogram", "memorization")


def run_config(name: str, minutes: float, seed: int, threads: int | None = None) -> GANRunConfig:
    """The benchmark's run config for `name`: the preset, its data limit and DiffAugment, a minutes budget."""
    preset, limit, changes, _ = RUNS[name]
    config = gan_preset(preset)
    # ckpt_every is out of reach: a periodic checkpoint would spend the budget on disk writes.
    train = dataclasses.replace(config.train, steps=None, minutes=minutes, seed=seed, ckpt_every=10**9,
                                threads=threads)
    gan = dataclasses.replace(config.gan, **changes)
    return dataclasses.replace(config, train=train, gan=gan, limit=limit)


def run_one(name: str, minutes: float, n_samples: int, seed: int, workdir: Path, grid_prefix: Path | None,
            threads: int | None = None, train_seed: int | None = None) -> dict:
    """Train one configuration for its budget (seed `train_seed`, default `seed`), sample it with `seed`, score
    the samples; one row of the results. grid_prefix None writes no sample grid."""
    train_seed = seed if train_seed is None else train_seed
    config = run_config(name, minutes, train_seed, threads)
    out = workdir / f"{name}-seed{train_seed}"
    summary = train_gan(config, out, quiet=True)
    t0 = time.perf_counter()
    images, _ = sample(out, n_samples, seed=seed)
    sample_seconds = time.perf_counter() - t0
    if grid_prefix is not None:
        save_grid(grid_prefix.with_name(f"{grid_prefix.name}_{name}.png"), images[:100], nrow=10, upscale=2)
    scores = score_samples(images, "fashion-mnist", seed=seed)
    steps, batch, n_d = summary["step"], config.train.batch_size, config.gan.n_d
    return {
        "name": name,
        "seed": train_seed,
        "preset": RUNS[name][0],
        "train_images": config.limit or 60000,
        "diffaugment": config.gan.diffaugment,
        "minutes": minutes,
        "config": to_dict(config),
        "generator_steps": steps,
        "train_seconds": summary["train_seconds"],
        # Real images D scored per second of training: the throughput the two recipes are compared at.
        "train_images_per_second": round(steps * n_d * batch / summary["train_seconds"], 1),
        "sample_images_per_second": round(n_samples / sample_seconds, 1),
        "threads": torch.get_num_threads(),
        "precision_used": summary["precision_used"],
        "machine": describe(),
        "measured": time.strftime("%Y-%m-%d"),
        **{k: scores[k] for k in SCORE_KEYS if k in scores},
        "scores": scores,
    }


def _fids(rows: list[dict], name: str, seeds: list[int] | None = None) -> tuple[list[int], list[float]]:
    """The training seeds of `name`'s rows (those in `seeds` only, when given) and their FIDs, by seed."""
    found = sorted((r.get("seed", 0), r["fid"]) for r in rows if r["name"] == name
                   and (seeds is None or r.get("seed", 0) in seeds))
    return [s for s, _ in found], [f for _, f in found]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def check_bar(rows: list[dict]) -> dict:
    """The issue's bar, each check with the numbers it compared.

    The full-data checks compare the two runs of the first seed; the 1,000-image checks compare mean FIDs
    over the training seeds both runs have (each seed's FID is listed too).
    """
    first = {}
    for r in sorted(rows, key=lambda r: r.get("seed", 0)):
        first.setdefault(r["name"], r)
    bar = {}
    if "textbook" in first and "best" in first:
        t, b = first["textbook"], first["best"]
        bar["fid_at_most_half_of_textbook"] = {"best": b["fid"], "textbook": t["fid"], "ok": b["fid"] <= 0.5 * t["fid"]}
        bar["recall_at_least_textbook"] = {"best": b["recall"], "textbook": t["recall"],
                                           "ok": b["recall"] >= t["recall"]}
    if "best" in first and "class_coverage" in first["best"]:
        b = first["best"]
        need = 0.95 * math.log(10)
        bar["all_10_classes"] = {"class_coverage": b["class_coverage"], "ok": b["class_coverage"] == 10}
        bar["label_entropy"] = {"value": b["label_entropy"], "need": round(need, 4), "ok": b["label_entropy"] >= need}
    if "few" in first and "few-diffaugment" in first:
        # The check on the little-data preset, and a stricter one: with DiffAugment it must
        # also beat the full-data preset without it, so the gain is not only over a weaker model.
        seeds = sorted(set(_fids(rows, "few")[0]) & set(_fids(rows, "few-diffaugment")[0]))
        without, with_ = _fids(rows, "few", seeds)[1], _fids(rows, "few-diffaugment", seeds)[1]
        d = _mean(with_)
        bar["diffaugment_lowers_limited_data_fid"] = {
            "preset": first["few"]["preset"], "seeds": seeds, "without": _mean(without), "with": d,
            "without_each": without, "with_each": with_, "ok": d < _mean(without)}
        if "limited" in first:
            best_seeds, best = _fids(rows, "limited")
            bar["diffaugment_beats_best_preset_without"] = {
                "preset": first["limited"]["preset"], "seeds": best_seeds, "without": _mean(best), "with": d,
                "without_each": best, "ok": d < _mean(best)}
    bar["all_ok"] = all(v["ok"] for v in bar.values())
    return bar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="training budget of the full-data runs")
    parser.add_argument("--limited-minutes", type=float, default=5.0, help="training budget of the 1,000-image runs")
    parser.add_argument("--samples", type=int, default=10000, help="samples scored per run")
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS))
    parser.add_argument("--seed", type=int, default=0, help="training seed; sampling and scoring seed of every run")
    parser.add_argument("--limited-seeds", type=int, default=3,
                        help="train each 1,000-image run this many times, with seeds --seed, --seed + 1, ...")
    # Two torch threads on two cores shared with another busy process run ~10x slower (OpenMP
    # oversubscription); run on an idle machine, or pass --threads 1 when it cannot be.
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--workdir", help="keep the run folders here (default: a temporary folder)")
    parser.add_argument("--out", default=str(RESULTS / "gan.json"))
    parser.add_argument("--merge", action="store_true", help="keep the other runs' rows from the existing --out")
    args = parser.parse_args()
    if args.limited_seeds < 1:
        parser.error("--limited-seeds must be at least 1")
    if args.threads:  # for the whole process: sampling and scoring as well as training (which sets its own)
        torch.set_num_threads(args.threads)
    rows: list[dict] = []
    if args.merge and Path(args.out).exists():
        old = json.loads(Path(args.out).read_text())
        rows = [r for r in old["results"] if r["name"] not in args.runs]
        for r in rows:  # rows from before rows recorded these
            r.setdefault("machine", old["machine"])
            r.setdefault("precision_used", r["config"]["train"]["precision"])
            r.setdefault("seed", r["config"]["train"]["seed"])
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        for name in args.runs:
            full = RUNS[name][3] == "full"
            minutes = args.minutes if full else args.limited_minutes
            for i in range(1 if full else args.limited_seeds):
                # grids beside --out, named after it (gan_best.png for gan.json), of the first seed only
                grid = Path(args.out).with_suffix("") if i == 0 else None
                row = run_one(name, minutes, args.samples, args.seed, workdir, grid, args.threads,
                              train_seed=args.seed + i)
                print(json.dumps({k: v for k, v in row.items() if k not in ("config", "scores")}), flush=True)
                rows.append(row)
    rows.sort(key=lambda r: (list(RUNS).index(r["name"]), r["seed"]))
    bar = check_bar(rows)
    write_json(args.out, {
        "benchmark": "gan",
        "dataset": "fashion-mnist (train 60,000; scored against the 10,000 test images)",
        "minutes_per_full_run": args.minutes,
        "minutes_per_limited_run": args.limited_minutes,
        "samples_per_run": args.samples,
        "machine": describe(),
        "bar": bar,
        "results": rows,
    })
    print(json.dumps(bar, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
