"""GAN quality bar: the textbook DCGAN and ganvq's best preset at equal wall-clock budgets, plus limited data.

Trains, one after another on this machine, (a) `dcgan-textbook` and (b) `fmnist-best` for
--minutes each on all 60,000 Fashion-MNIST training images, then, on the first 1,000 training
images for --limited-minutes each, `fmnist-few` (the little-data preset) without DiffAugment and
with a mild translation (up to 1/16 of the size, edge fill), and `fmnist-best` without DiffAugment
and with each of three DiffAugment policies (the reference's transforms). Samples 10,000 images
from each (EMA generator, seed 0, classes in turn for conditional models), scores them with
`ganvq.metrics.score.score_samples` (FID, KID, precision/recall, density/coverage, class coverage,
label entropy, memorization audit), checks the bar, and writes benchmarks/results/gan.json plus one
sample grid per run (beside the JSON, named after it: gan_NAME.png for gan.json). Usage:
    python benchmarks/bench_gan.py [--minutes 15] [--limited-minutes 5] [--samples 10000] [--runs ...]
    python benchmarks/bench_gan.py --runs limited limited-translation --merge   # rerun some rows only
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

from ganvq.config import GANRunConfig, gan_preset, to_dict
from ganvq.io import write_json
from ganvq.metrics.score import score_samples
from ganvq.report.grids import save_grid
from ganvq.sample import sample
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


def run_one(name: str, minutes: float, n_samples: int, seed: int, workdir: Path, grid_prefix: Path,
            threads: int | None = None) -> dict:
    """Train one configuration for its budget, sample it, score the samples; one row of the results."""
    config = run_config(name, minutes, seed, threads)
    out = workdir / name
    summary = train_gan(config, out, quiet=True)
    t0 = time.perf_counter()
    images, _ = sample(out, n_samples, seed=seed)
    sample_seconds = time.perf_counter() - t0
    save_grid(grid_prefix.with_name(f"{grid_prefix.name}_{name}.png"), images[:100], nrow=10, upscale=2)
    scores = score_samples(images, "fashion-mnist", seed=seed)
    steps, batch, n_d = summary["step"], config.train.batch_size, config.gan.n_d
    return {
        "name": name,
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


def check_bar(rows: dict[str, dict]) -> dict:
    """The issue's bar, each check with the numbers it compared."""
    bar = {}
    if "textbook" in rows and "best" in rows:
        t, b = rows["textbook"], rows["best"]
        bar["fid_at_most_half_of_textbook"] = {"best": b["fid"], "textbook": t["fid"], "ok": b["fid"] <= 0.5 * t["fid"]}
        bar["recall_at_least_textbook"] = {"best": b["recall"], "textbook": t["recall"],
                                           "ok": b["recall"] >= t["recall"]}
    if "best" in rows and "class_coverage" in rows["best"]:
        b = rows["best"]
        need = 0.95 * math.log(10)
        bar["all_10_classes"] = {"class_coverage": b["class_coverage"], "ok": b["class_coverage"] == 10}
        bar["label_entropy"] = {"value": b["label_entropy"], "need": round(need, 4), "ok": b["label_entropy"] >= need}
    if "few" in rows and "few-diffaugment" in rows:
        # The check on the little-data preset, and a stricter one: with DiffAugment it must
        # also beat the full-data preset without it, so the gain is not only over a weaker model.
        a, d = rows["few"], rows["few-diffaugment"]
        bar["diffaugment_lowers_limited_data_fid"] = {"preset": a["preset"], "without": a["fid"], "with": d["fid"],
                                                      "ok": d["fid"] < a["fid"]}
        if "limited" in rows:
            best = rows["limited"]
            bar["diffaugment_beats_best_preset_without"] = {"preset": best["preset"], "without": best["fid"],
                                                           "with": d["fid"], "ok": d["fid"] < best["fid"]}
    bar["all_ok"] = all(v["ok"] for v in bar.values())
    return bar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="training budget of the full-data runs")
    parser.add_argument("--limited-minutes", type=float, default=5.0, help="training budget of the 1,000-image runs")
    parser.add_argument("--samples", type=int, default=10000, help="samples scored per run")
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS))
    parser.add_argument("--seed", type=int, default=0)
    # Two torch threads on two cores shared with another busy process run ~10x slower (OpenMP
    # oversubscription); run on an idle machine, or pass --threads 1 when it cannot be.
    parser.add_argument("--threads", type=int, help="torch threads for training (default: torch's choice)")
    parser.add_argument("--workdir", help="keep the run folders here (default: a temporary folder)")
    parser.add_argument("--out", default=str(RESULTS / "gan.json"))
    parser.add_argument("--merge", action="store_true", help="keep the other runs' rows from the existing --out")
    args = parser.parse_args()
    rows: dict[str, dict] = {}
    if args.merge and Path(args.out).exists():
        old = json.loads(Path(args.out).read_text())
        rows = {r["name"]: r for r in old["results"] if r["name"] not in args.runs}
        for r in rows.values():  # rows from before rows recorded these
            r.setdefault("machine", old["machine"])
            r.setdefault("precision_used", r["config"]["train"]["precision"])
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        for name in args.runs:
            minutes = args.minutes if RUNS[name][3] == "full" else args.limited_minutes
            # grids beside --out, named after it: gan_best.png for gan.json, gan-x_best.png for gan-x.json
            row = run_one(name, minutes, args.samples, args.seed, workdir, Path(args.out).with_suffix(""),
                          args.threads)
            print(json.dumps({k: v for k, v in row.items() if k not in ("config", "scores")}), flush=True)
            rows[name] = row
    bar = check_bar(rows)
    write_json(args.out, {
        "benchmark": "gan",
        "dataset": "fashion-mnist (train 60,000; scored against the 10,000 test images)",
        "minutes_per_full_run": args.minutes,
        "minutes_per_limited_run": args.limited_minutes,
        "samples_per_run": args.samples,
        "machine": describe(),
        "bar": bar,
        "results": list(rows.values()),
    })
    print(json.dumps(bar, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
