"""Which settings of ganvq's RGB VQ-VAE presets matter: one setting changed at a time, equal steps.

Each variant is the preset (`rgb-64` by default: its model and batch) with quantizer and optimiser options laid over
it through a config file, trained through the CLI for a fixed number of steps (same seed, same torch threads, so the
result does not depend on the machine's load), and scored on the held-out photos' crops by `ganvq eval vqvae`
(benchmarks/photo_crops.py; split by photo). Equal steps,
not equal minutes: none of the variants changes the model, so the cost of a step is the same for all of them (its
seconds are recorded anyway). Equal-minute comparisons with a peer library are bench_own_data.py's job.

    python benchmarks/bench_rgb_recipe.py                                 # every variant, seed 0, 1,000 steps
    python benchmarks/bench_rgb_recipe.py --variants vqtorch before --seeds 1 --merge
    python benchmarks/bench_rgb_recipe.py --preset rgb-32 --size 32 --variants vqtorch before \
        --out benchmarks/results/rgb_recipe_32.json
    python benchmarks/bench_rgb_recipe.py --quick --out /tmp/recipe.json  # seconds: a smoke test
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_own_data import crops_file, fresh, repo_relative, run_cli, training_record
from machine import run_record
from photo_crops import DEFAULT_OUT as DEFAULT_DATA
from photo_crops import build as build_crops

from ganvq.config import deep_update
from ganvq.io import read_json, write_json

RESULTS = Path(__file__).parent / "results"
# The two recipes compared, as options laid over the preset (config-file sections model.vq and train): "before"
# is what the RGB presets used before this benchmark, "vqtorch" vector-quantize-pytorch's recommended quantizer
# settings (EMA decay 0.8, commitment weight 1, restarts below 2 hits) with Adam at a constant 1e-3. The other
# variants are "vqtorch" with one setting changed back or changed anew.
BEFORE = {"model": {"vq": {"decay": 0.9, "beta": 0.25, "dead_threshold": 1.0}},
          "train": {"lr": 2e-3, "lr_schedule": "cosine"}}
VQTORCH = {"model": {"vq": {"decay": 0.8, "beta": 1.0, "dead_threshold": 2.0}},
           "train": {"lr": 1e-3, "lr_schedule": "constant"}}


def _with(section: str, **changes) -> dict:
    """VQTORCH with `changes` in `section` ("vq" or "train")."""
    return deep_update(VQTORCH, {"model": {"vq": changes}} if section == "vq" else {"train": changes})


VARIANTS: dict[str, dict] = {
    "vqtorch": VQTORCH,
    "before": BEFORE,
    "commitment 0.25": _with("vq", beta=0.25),
    "decay 0.9": _with("vq", decay=0.9),
    "cosine schedule": _with("train", lr_schedule="cosine"),
    "wsd schedule": _with("train", lr_schedule="wsd"),
    "lr 2e-3": _with("train", lr=2e-3),
    "lr 5e-4": _with("train", lr=5e-4),
    "rotation trick": _with("vq", gradient="rotation"),
    # the three single changes that gained on one seed each, together
    "decay 0.9 + wsd + rotation": deep_update(_with("vq", decay=0.9, gradient="rotation"),
                                              {"train": {"lr_schedule": "wsd"}}),
}
BASE = "vqtorch"  # differences are reported against this variant


def train_one(variant: str, seed: int, args) -> dict:
    """Train and score one (variant, seed) through the CLI; its row."""
    import yaml

    run = fresh(args.workdir / f"{variant.replace(' ', '-')}-s{seed}")
    run.mkdir()
    config = run.parent / f"{run.name}.yaml"
    config.write_text(yaml.safe_dump(VARIANTS[variant]))
    log: list[str] = []
    data = crops_file(args.data, args.size)
    run_cli(["train", "vqvae", "--data", data, "--preset", args.preset, "--image-size", args.size, "--channels", 3,
             "--config", config, "--steps", args.steps, "--threads", args.threads, "--seed", seed,
             "--ckpt-every", 10**9, "--out", run / "run"], log)
    scored = run / "eval.json"
    run_cli(["eval", "vqvae", "--ckpt", run / "run", "--data", data, "--split", "test", "--out", scored], log)
    s = read_json(scored)
    return {"variant": variant, "seed": seed, "overrides": VARIANTS[variant], **training_record(run / "run"),
            "test_psnr_db": round(s["test/psnr"], 3), "test_ssim": round(s["test/ssim"], 4),
            "codes_used": s["test/codes_used"], "test_images": s["test/images"], "commands": log}


def summarize(rows: list[dict]) -> dict:
    """Mean PSNR per variant over its seeds, and its difference from BASE's on the seeds both have."""
    by = {}
    for r in rows:
        by.setdefault(r["variant"], {})[r["seed"]] = r["test_psnr_db"]
    base = by.get(BASE, {})
    out = {}
    for name, seeds in by.items():
        shared = sorted(set(seeds) & set(base))
        out[name] = {"seeds": sorted(seeds), "mean_psnr_db": round(statistics.mean(seeds.values()), 3),
                     "spread_db": round(max(seeds.values()) - min(seeds.values()), 3),
                     f"minus_{BASE}_db": (round(statistics.mean(seeds[s] - base[s] for s in shared), 3)
                                         if shared else None)}
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="rgb-64")
    parser.add_argument("--size", type=int, default=64, choices=[32, 64])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (default 1)")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--workdir", default="runs/bench-rgb-recipe")
    parser.add_argument("--merge", action="store_true", help="keep the rows of --out not rerun")
    parser.add_argument("--quick", action="store_true", help="5 steps, two variants: a smoke test")
    parser.add_argument("--out", default=str(RESULTS / "rgb_recipe.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.variants = 5, args.variants[:2]
    args.data, args.workdir, args.out = Path(args.data), Path(args.workdir), Path(args.out)
    if not crops_file(args.data, args.size).exists():
        build_crops(args.data, (args.size,))
    load = [round(v, 2) for v in os.getloadavg()]
    t0 = time.perf_counter()
    jobs = [(v, s) for s in args.seeds for v in args.variants]
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        rows = list(pool.map(lambda job: train_one(*job, args), jobs))
    if args.merge and args.out.exists():
        done = {(r["variant"], r["seed"]) for r in rows}
        rows = [r for r in read_json(args.out)["runs"] if (r["variant"], r["seed"]) not in done] + rows
    doc = {"benchmark": "rgb_recipe", "what": __doc__.split("\n\n")[0].replace("\n", " "),
           "preset": args.preset, "size": args.size, "steps": args.steps, "threads_per_run": args.threads,
           "jobs": args.jobs, "data": crops_file(args.data, args.size).name, "quick": args.quick,
           "psnr_definition": "mean over held-out crops of each crop's PSNR, pixels in [0, 1] (ganvq eval vqvae)",
           "summary": summarize(rows), "runs": rows, **run_record(load, t0)}
    doc = repo_relative(doc)
    write_json(args.out, doc)
    for name, s in doc["summary"].items():
        print(f"{name:18s} {s['mean_psnr_db']:.3f} dB  vs {BASE} {s[f'minus_{BASE}_db']}  seeds {s['seeds']}")
    print(f"wrote {args.out}")
    return doc


if __name__ == "__main__":
    main()
