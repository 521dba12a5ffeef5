"""Which settings of ganvq's RGB GAN presets matter: variants of `rgb-32` (at 32 px, or 64), equal minutes and threads.

Each variant is `train gan --preset rgb-32` on the 32-pixel photo crops (benchmarks/photo_crops.py; the 64-pixel
ones at --image-size 64, where the variant `rgb-64` is that preset) with its discriminator norm, learning rates and
any other option given explicitly on the command line, so a variant means the same whatever the preset's defaults
are. Every run trains for the same wall-clock minutes on one torch thread (two runs at a time on a 2-core machine:
--jobs 2), then `ganvq eval gan` scores 1,000 samples with the FID Inception-v3 against bench_own_data.py's
reference of 2,000 random crops of the training photos (the GAN papers' convention; the held-out photos are so
unlike the training photos that real training crops score 192 against them). Steps are recorded: a variant that is
slower per step pays for it inside the budget, as a user's run would.

    python benchmarks/bench_rgb_gan.py --jobs 2                          # every variant, seed 0, 10 minutes
    python benchmarks/bench_rgb_gan.py --variants "bn D, lr 1e-3" --seeds 1 --merge --jobs 2
    python benchmarks/bench_rgb_gan.py --quick --out /tmp/rgb_gan.json  # seconds: a smoke test
    python benchmarks/bench_rgb_gan.py --image-size 64 --subset 200 --variants rgb-64 few-100 --seeds 0 1 2 --jobs 2 \
        --out benchmarks/results/rgb_gan_few_64.json   # the little-data default at 64 px against rgb-64
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_own_data import (GAN_SIZE, crops_file, fresh, repo_relative, score_gan, train_gan, training_photos_reference,
                            training_record)
from machine import run_record
from photo_crops import DEFAULT_OUT as DEFAULT_DATA
from photo_crops import build as build_crops

from ganvq.commands.sample import sample
from ganvq.data import load_dataset
from ganvq.images import save_grid
from ganvq.io import read_json, write_json
from ganvq.runs import GAN_PRESETS, read_metrics

RESULTS = Path(__file__).parent / "results"
SIZE = GAN_SIZE  # the crops train_gan trains on, unless --image-size 64 asks for the 64-pixel ones

# Options laid over `--preset rgb-32`, each variant naming its D norm, both learning rates and its batch (rows
# measured before the batch was named ran at the preset's batch of the time, 64); MODEL, model options given
# through a config file (train gan has no flag for them).
# few-100's DiffAugment: every transform, a 1/16 shift, edge fill
FEW_AUGMENT = ["--diffaugment", "color,translation,cutout", "--diffaugment-shift", 1 / 16, "--diffaugment-fill", "edge"]
VARIANTS: dict[str, list] = {
    "sn D, lr 2e-4 (before)": ["--d-norm", "sn", "--lr", 2e-4, "--lr-d", 4e-4, "--batch-size", 64],
    "sn D, lr 1e-3": ["--d-norm", "sn", "--lr", 1e-3, "--lr-d", 2e-3, "--batch-size", 64],
    "bn D, lr 2e-4": ["--d-norm", "bn", "--lr", 2e-4, "--lr-d", 4e-4, "--batch-size", 64],
    "bn D, lr 5e-4": ["--d-norm", "bn", "--lr", 5e-4, "--lr-d", 1e-3, "--batch-size", 64],
    "bn D, lr 1e-3": ["--d-norm", "bn", "--lr", 1e-3, "--lr-d", 2e-3, "--batch-size", 64],
    "bn D width 64, lr 2e-4": ["--d-norm", "bn", "--lr", 2e-4, "--lr-d", 4e-4, "--batch-size", 64],
    "bn D, lr 1e-3, DiffAugment": ["--d-norm", "bn", "--lr", 1e-3, "--lr-d", 2e-3, "--batch-size", 64,
                                   "--diffaugment", "color,translation"],
    "bn D, lr 1e-3, batch 32": ["--d-norm", "bn", "--lr", 1e-3, "--lr-d", 2e-3, "--batch-size", 32],
    "bn D, lr 2e-3": ["--d-norm", "bn", "--lr", 2e-3, "--lr-d", 4e-3, "--batch-size", 64],
    "bn D, lr 1e-3, EMA 0.99": ["--d-norm", "bn", "--lr", 1e-3, "--lr-d", 2e-3, "--batch-size", 64,
                                "--ema-decay", 0.99],
    "bn D, lr 1e-3, G width 64": ["--d-norm", "bn", "--lr", 1e-3, "--lr-d", 2e-3, "--batch-size", 64],
    "bn D, lr 1e-3, non-saturating": ["--d-norm", "bn", "--lr", 1e-3, "--lr-d", 2e-3, "--batch-size", 64,
                                      "--loss", "non-saturating"],
    "bn D, lr 1e-3, batch 32, non-saturating": ["--d-norm", "bn", "--lr", 1e-3, "--lr-d", 2e-3, "--batch-size", 32,
                                                "--loss", "non-saturating"],
    # for little data (--subset): the preset with few-100's regularisers, and few-100 itself at 32 px
    "bn D, lr 1e-3, batch 32, DiffAugment 3": ["--d-norm", "bn", "--lr", 1e-3, "--lr-d", 2e-3, "--batch-size", 32,
                                               *FEW_AUGMENT],
    "bn D, lr 1e-3, batch 32, DiffAugment 3, LeCam 1": ["--d-norm", "bn", "--lr", 1e-3, "--lr-d", 2e-3,
                                                        "--batch-size", 32, *FEW_AUGMENT, "--lecam", 1.0],
    "few-100": ["--d-norm", "sn", "--lr", 2e-4, "--lr-d", 4e-4, "--batch-size", 32, *FEW_AUGMENT, "--lecam", 1.0],
    # rgb-64 as it is (with --image-size 64): width 16 (MODEL), spectral norm, fmnist-best's rates and batch
    "rgb-64": ["--d-norm", "sn", "--lr", 2e-4, "--lr-d", 4e-4, "--batch-size", 64],
}
MODEL: dict[str, dict] = {"bn D width 64, lr 2e-4": {"d_width": 64}, "bn D, lr 1e-3, G width 64": {"g_width": 64},
                          "few-100": {"g_width": 16, "d_width": 16}, "rgb-64": {"g_width": 16, "d_width": 16}}
BASE = "sn D, lr 2e-4 (before)"  # differences are reported against this variant
PRESET = "bn D, lr 1e-3, batch 32"  # rgb-32 as it is; with --subset, differences are reported against it
PRESET_64 = "rgb-64"  # the same at --image-size 64
# What each option sets in the run's config.json: a reused run folder must agree with its variant.
CONFIG_KEYS = {"--d-norm": ("model", "d_norm"), "--lr": ("train", "lr"),
               "--lr-d": ("gan", "lr_d"), "--batch-size": ("train", "batch_size"),
               "--diffaugment": ("gan", "diffaugment"), "--ema-decay": ("gan", "ema_decay"),
               "--loss": ("gan", "loss"), "--diffaugment-shift": ("gan", "diffaugment_shift"),
               "--diffaugment-fill": ("gan", "diffaugment_fill"), "--lecam": ("gan", "lecam_weight")}


def folder(args, variant: str, seed: int) -> Path:
    name = variant.replace(' ', '-').replace(',', '').replace('(', '').replace(')', '')
    size = f"-{args.image_size}px" if args.image_size != SIZE else ""
    return args.workdir / f"{name}{f'-n{args.subset}' if args.subset else ''}{size}-s{seed}"


def matches(run: Path, variant: str, seed: int, minutes: float, subset: int | None = None, size: int = SIZE) -> bool:
    """Whether a finished run folder was trained as this variant, seed and budget say (for --reuse)."""
    if not (run / "eval-train-ref.json").exists() or not (run / "config.json").exists():
        return False
    cfg = read_json(run / "config.json")
    flags = VARIANTS[variant]
    preset = GAN_PRESETS["rgb-32"]  # what an option the variant does not give comes from
    expected = {(section, key): getattr(getattr(preset, section), key)
                for section, key in [*CONFIG_KEYS.values(), ("model", "d_width"), ("model", "g_width")]}
    expected.update({CONFIG_KEYS[f]: v for f, v in zip(flags[::2], flags[1::2])})
    expected.update({("model", key): value for key, value in MODEL.get(variant, {}).items()})
    expected.update({("train", "seed"): seed, ("train", "minutes"): minutes, ("train", "threads"): 1,
                     ("model", "image_size"): size})
    if subset:  # rows measured before --subset existed trained on every crop
        expected.update({("subset", None): subset, ("subset_seed", None): 0})
    missing = object()  # a config.json without the key (an older ganvq's) is not this variant's run

    def value_of(section: str, key: str | None):
        return cfg.get(section, missing) if key is None else cfg.get(section, {}).get(key, missing)
    return all(value_of(section, key) == value for (section, key), value in expected.items())


def train_one(variant: str, seed: int, args, reference: Path) -> dict:
    """Train and score one (variant, seed) through the CLI; its row."""
    run = folder(args, variant, seed)
    log: list[str] = []
    data = crops_file(args.data, args.image_size)
    scored = run / "eval-train-ref.json"
    reused = args.reuse and matches(run, variant, seed, args.minutes, args.subset, args.image_size)
    if not reused:
        fresh(run)
        extra = []
        if variant in MODEL:
            config = run.parent / f"{run.name}.json"
            write_json(config, {"model": MODEL[variant]})
            extra = ["--config", config]
        subset = ["--subset", args.subset, "--subset-seed", 0] if args.subset else []
        train_gan(run, data, "rgb-32", args.minutes, 1, seed, log, [*VARIANTS[variant], *extra, *subset],
                  args.image_size)
        score_gan(run, reference, args.samples, "inception", 0, scored, log)
    s = read_json(scored)
    grid = {}
    if args.subset and seed == 0:  # what the samples look like, beside the crops they learned from
        images, _ = sample(run, 64, seed=0, device="cpu")
        grid = {"grid": args.out.with_name(f"{args.out.stem}_{run.name.removesuffix('-s0')}.png")}
        save_grid(grid["grid"], images[:grid_images(args.image_size)], nrow=16)
        grid["grid"] = grid["grid"].name
    return {"variant": variant, "seed": seed, "options": [str(o) for o in VARIANTS[variant]],
            "model_options": MODEL.get(variant, {}),
            **training_record(run), "fid": round(s["fid"], 2), "kid_mean": round(s["kid_mean"], 4),
            "precision": s.get("precision"), "recall": s.get("recall"), "samples": s["samples"],
            **({"subset": args.subset} if args.subset else {}),
            "reference": s["reference"], "extractor": s["extractor"], "reused_run_folder": reused, **grid,
            "last_logged": last_logged(run),
            "commands": log}


def grid_images(size: int) -> int:
    """Images in a sample or crop grid: 64 at 32 px, the first 32 of them at 64 px (a grid file of about 250 KB)."""
    return 64 if size <= SIZE else 32


def last_logged(run: Path) -> dict:
    """D's loss and mean logits on real and fake images over the last logged window of training: how well D tells
    the training images from G's at the end (a D that has memorised them scores them far apart)."""
    last = [m for m in read_metrics(run) if "train/d_loss" in m][-1]
    return {"step": last["step"], **{k.removeprefix("train/"): round(v, 3) for k, v in last.items()
                                     if k in ("train/d_loss", "train/logits_real", "train/logits_fake")}}


def summarize(rows: list[dict], base_variant: str = BASE) -> dict:
    """Mean FID and KID per variant over its seeds, and the FID ratio to `base_variant`'s mean."""
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["variant"], []).append(r)
    base = statistics.mean(r["fid"] for r in by[base_variant]) if base_variant in by else None
    out = {}
    for name, runs in by.items():
        fids = [r["fid"] for r in runs]
        out[name] = {"seeds": sorted(r["seed"] for r in runs), "mean_fid": round(statistics.mean(fids), 2),
                     "fid_spread": round(max(fids) - min(fids), 2),
                     "mean_kid": round(statistics.mean(r["kid_mean"] for r in runs), 4),
                     "mean_steps": round(statistics.mean(r["steps"] for r in runs)),
                     f"fid_over_{base_variant}": round(statistics.mean(fids) / base, 3) if base else None}
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training minutes per run (default 10)")
    parser.add_argument("--samples", type=int, default=1000, help="samples scored per run (default 1,000)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time, one torch thread each (default 1)")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--workdir", default="runs/bench-rgb-gan")
    parser.add_argument("--reuse", action="store_true",
                        help="train and score nothing anew where a run folder already holds this variant's finished "
                             "run (its config.json is checked against the variant, seed and minutes)")
    parser.add_argument("--merge", action="store_true", help="keep the rows of --out not rerun")
    parser.add_argument("--subset", type=int, metavar="N",
                        help="train every run on the same N training crops (train gan --subset N --subset-seed 0): "
                             "little data; ratios are then to the preset, rgb-32 (default: every crop)")
    parser.add_argument("--image-size", type=int, choices=(32, 64), default=SIZE,
                        help="train and score at 32 px (default) or on the 64-pixel crops")
    parser.add_argument("--quick", action="store_true", help="3 seconds, 16 samples, two variants: a smoke test")
    parser.add_argument("--out", default=str(RESULTS / "rgb_gan.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.minutes, args.samples, args.variants = 0.05, 16, args.variants[:2]
    args.data, args.workdir, args.out = Path(args.data), Path(args.workdir), Path(args.out)
    if not crops_file(args.data, args.image_size).exists():
        build_crops(args.data, (args.image_size,))
    # bench_own_data.py's training-photo reference (the same file, built there or here)
    ref_args = argparse.Namespace(data=args.data, train_reference=2000, workdir=Path("runs/bench-own-data"))
    reference, _ = training_photos_reference(ref_args, args.image_size)
    if args.subset and not args.quick:  # crops the runs train on, from every photo, as the grids show samples
        n = grid_images(args.image_size)
        crops = load_dataset(crops_file(args.data, args.image_size), "train").balanced(args.subset, 0).images
        crops = crops[::3 * 64 // n][:n]  # every third crop for a grid of 64, every sixth for 32
        save_grid(args.out.with_name(f"{args.out.stem}_real.png"), crops, nrow=16)
    load = [round(v, 2) for v in os.getloadavg()]
    t0 = time.perf_counter()
    jobs = [(v, s) for s in args.seeds for v in args.variants]
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # evaluation on one thread too
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        rows = list(pool.map(lambda job: train_one(*job, args, reference), jobs))
    if args.merge and args.out.exists():
        done = {(r["variant"], r["seed"]) for r in rows}
        rows = [r for r in read_json(args.out)["runs"] if (r["variant"], r["seed"]) not in done] + rows
    base = (PRESET if args.image_size == SIZE else PRESET_64) if args.subset else BASE
    doc = {"benchmark": "rgb_gan", "what": __doc__.split("\n\n")[0].replace("\n", " "),
           "size": args.image_size, "minutes": args.minutes, "threads_per_run": 1, "jobs": args.jobs,
           "data": crops_file(args.data, args.image_size).name, **({"subset": args.subset} if args.subset else {}),
           "samples": args.samples, "quick": args.quick,
           "summary": summarize(rows, base), "runs": rows, **run_record(load, t0)}
    doc = repo_relative(doc)
    write_json(args.out, doc)
    for name, s in doc["summary"].items():
        print(f"{name:30s} FID {s['mean_fid']:7.2f}  KID {s['mean_kid']:.4f}  steps {s['mean_steps']}  "
              f"vs {base} {s[f'fid_over_{base}']}  seeds {s['seeds']}")
    print(f"wrote {args.out}")
    return doc


if __name__ == "__main__":
    main()
