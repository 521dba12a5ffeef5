"""VQ-VAE against VQGAN at the same latent size and the same training minutes, side by side in one process.

For each latent size the two models train one after the other for the same wall-clock budget on the same
threads, then are scored on the Fashion-MNIST test set: reconstruction FID (the evaluation suite's shipped
extractor, ganvq-fmnist-cnn-v1), PSNR, SSIM, codes used. The VQGAN's PSNR and codes used around its
discriminator's start step come from its metrics.jsonl. Writes benchmarks/results/vqgan.json. Usage:
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_vqgan.py [--minutes 5] [--sizes 7x7 14x14]
        [--set disc_weight=0.2 --set perceptual_weight=0.1 ...] [--only vqgan] [--seed 1]
    # results/vqgan-perceptual.json (and -seed1, -seed2, -seed3 with --seed 1, 2, 3 --sizes 7x7; vqgan-14x14-amx.json:
    # --sizes 14x14 with the preset's own settings):
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --sizes 7x7 14x14 --set perceptual_weight=0.03 \
        --set perceptual_start=300 --set disc_start=2000 --out benchmarks/results/vqgan-perceptual.json
    # results/vqgan-p0-seed0.json .. -seed3.json: the same term from the first step, seeds 0 and 1 at both sizes,
    # seeds 2 and 3 (--sizes 7x7) one after the other on one core while another benchmark ran on the other:
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --sizes 7x7 14x14 --set perceptual_weight=0.03 \
        --set perceptual_start=0 --set disc_start=100000 --seed S --out benchmarks/results/vqgan-p0-seedS.json
    # (-seed4 .. -seed7: --sizes 7x7, two invocations at once; seeds 6 and 7 also with --inception-images 2000)
    # results/vqgan-sweep/d500-*.json: discriminator screens, also scored on Inception-v3 (which no loss sees):
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --sizes 7x7 --set perceptual=none --set disc_start=500 \
        --set disc_weight=0.8 --inception-images 2000 --tag d500npw8- --out benchmarks/results/vqgan-sweep/...
    # results/vqgan-d15-seedS.json: the 7x7 preset as shipped in 15-minute runs, long enough for its discriminator
    # to join at step 2,000; vqgan-d15nod-seedS.json: the same VQGAN without it, logged around the same step:
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --minutes 15 --sizes 7x7 --seed S --inception-images 2000 \
        --out benchmarks/results/vqgan-d15-seedS.json
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --minutes 15 --sizes 7x7 --seed S --inception-images 2000 \
        --only vqgan --set disc_start=100000 --around 2000 --out benchmarks/results/vqgan-d15nod-seedS.json
    # results/vqgan-s4400-seedS.json and vqgan-s4400nod-seedS.json: the same two VQGANs for 4,400 steps each, a
    # step count making them the same run up to step 2,000 (a --minutes budget lets them drift apart before):
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --steps 4400 --sizes 7x7 --seed S --inception-images 2000 \
        --only vqgan [--set disc_start=100000 --around 2000] --out benchmarks/results/vqgan-s4400[nod]-seedS.json
    # results/vqgan-sweep/emb-14x14-seedS.json and d100-14x14-seedS.json (seeds 0 and 1, two invocations at once):
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --sizes 14x14 --set perceptual_embedding=true --seed S \
        --inception-images 2000 --tag embS- --out benchmarks/results/vqgan-sweep/emb-14x14-seedS.json
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --sizes 14x14 --set disc_start=100 --seed S \
        --tag d100sS- --out benchmarks/results/vqgan-sweep/d100-14x14-seedS.json
    # results/vqgan-sweep/l1-14x14-seedS.json (and l1-pw05-…, with --set perceptual_weight=0.05 too):
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --sizes 14x14 --set pixel_loss=l1 --seed S \
        --tag l1p01sS- --out benchmarks/results/vqgan-sweep/l1-14x14-seedS.json
    # results/vqgan-sweep/preset-p14-amd-seedS.json: the 14x14 preset as shipped, on the same CPU as those screens:
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --sizes 14x14 --seed S --tag presetsS- \
        --out benchmarks/results/vqgan-sweep/preset-p14-amd-seedS.json
    # results/vqgan-p14-40min-seedS.json (seeds 0 and 1, two invocations at once; the VQ-VAE legs met more load than
    # the VQGAN legs, a new-user trial beside them, so the VQGANs made about 45% more steps; the files say so):
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --minutes 40 --sizes 14x14 --seed S --tag p14m40sS \
        --out benchmarks/results/vqgan-p14-40min-seedS.json
    # results/vqgan-p14-40min-parallel-seed0.json: the same minutes with both models trained at once, one per core,
    # so that both meet the same load; then joined by --combine:
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --minutes 40 --sizes 14x14 --only M --tag p14m40par \
        --out benchmarks/results/vqgan-p14-40min-parallel-seed0-M.json      # M = vqvae and vqgan, at once
    python benchmarks/bench_vqgan.py --combine benchmarks/results/vqgan-p14-40min-parallel-seed0-vqvae.json \
        benchmarks/results/vqgan-p14-40min-parallel-seed0-vqgan.json --out benchmarks/results/vqgan-p14-40min-parallel-seed0.json
    # results/vqgan-p14-40min-preset-seedS.json and -presetnod-seedS.json: the 14x14 preset as shipped (0.02 under
    # clip_spikes 3) beside the same without its discriminator; first the preset's VQGANs of seeds 1 and 2 at once
    # (vqgan-sweep/p14m40-preset-clip3-amd-seedS.json), then for each seed S the VQ-VAE and the VQGAN without D at
    # once (S = 1, then 2):
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --minutes 40 --sizes 14x14 --only vqgan --seed S \
        --tag pw002c3-sS --out benchmarks/results/vqgan-sweep/p14m40-preset-clip3-amd-seedS.json
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --minutes 40 --sizes 14x14 --only vqvae --seed S \
        --tag today-sS --out benchmarks/results/vqgan-sweep/p14m40-vqvae-today2-seedS.json
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --minutes 40 --sizes 14x14 --only vqgan --seed S \
        --set disc_start=100000 --around 2000 --tag nod-sS --out benchmarks/results/vqgan-p14-40min-presetnod-seedS.json
    python benchmarks/bench_vqgan.py --combine benchmarks/results/vqgan-sweep/p14m40-vqvae-today2-seedS.json \
        benchmarks/results/vqgan-sweep/p14m40-preset-clip3-amd-seedS.json \
        --apart "each model beside another one-thread bench_vqgan.py training on the other core, the two models one after the other" \
        --out benchmarks/results/vqgan-p14-40min-preset-seedS.json
    # results/vqgan-sweep/p14m40-dnone-seedS.json: the preset with a discriminator without spectral norm (S = 1
    # and 2 at once):
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --minutes 40 --sizes 14x14 --only vqgan --seed S \
        --set d_norm=none --tag dnone-sS --out benchmarks/results/vqgan-sweep/p14m40-dnone-seedS.json
    # results/vqgan-p14-40min-presettog-seedS.json: the preset's pair on seed S (3 and 4), the VQ-VAE and the VQGAN
    # at once (p14m40-vqvae-tog-seedS.json with --only vqvae, p14m40-preset-clip3-amd-seedS.json with --only vqgan),
    # joined:
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --minutes 40 --sizes 14x14 --only M --seed S --tag tog-sS \
        --out benchmarks/results/vqgan-sweep/...      # M = vqvae and vqgan, at once
    python benchmarks/bench_vqgan.py --combine benchmarks/results/vqgan-sweep/p14m40-vqvae-tog-seedS.json \
        benchmarks/results/vqgan-sweep/p14m40-preset-clip3-amd-seedS.json \
        --out benchmarks/results/vqgan-p14-40min-presettog-seedS.json
    # results/vqgan-sweep/p14m40-d1000-lrd4e3-seedS.json: the preset with a discriminator that joins at step 1,000
    # and learns at 4e-3 (four times the VQ-VAE's rate), seeds 1 and 3 at once, against the preset's VQGAN and
    # VQ-VAE of the same seeds (vqgan-p14-40min-d1000-lrd4e3-seedS.json joins it to that VQ-VAE with --apart):
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --minutes 40 --sizes 14x14 --only vqgan --seed S \
        --set disc_start=1000 --set lr_d=4e-3 --tag d1000lr4-sS \
        --out benchmarks/results/vqgan-sweep/p14m40-d1000-lrd4e3-seedS.json
    # results/vqgan-p14-60min-presettog-seed2.json: the preset's pair on seed 2 for 60 minutes per model, at once
    # (p14m60-vqvae-tog-seed2.json with --only vqvae, p14m60-preset-seed2.json with --only vqgan), joined:
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --minutes 60 --sizes 14x14 --only M --seed 2 --tag m60-s2 \
        --out benchmarks/results/vqgan-sweep/...      # M = vqvae and vqgan, at once
    python benchmarks/bench_vqgan.py --combine benchmarks/results/vqgan-sweep/p14m60-vqvae-tog-seed2.json \
        benchmarks/results/vqgan-sweep/p14m60-preset-seed2.json \
        --out benchmarks/results/vqgan-p14-60min-presettog-seed2.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import torch
from machine import describe

from ganvq.config import to_dict
from ganvq.data import load_dataset
from ganvq.images import to_float
from ganvq.io import write_json
from ganvq.metrics.features import get_extractor
from ganvq.metrics.fid import fid_from_features
from ganvq.metrics.recon import psnr_per_image, ssim_per_image, to_unit
from ganvq.metrics.score import fid_between
from ganvq.quantize.base import usage_stats
from ganvq.runs import VQGAN_PRESETS, VQVAERunConfig, build_run_config, load_vqvae, read_metrics
from ganvq.train.vqgan import train_vqgan
from ganvq.train.vqvae import train_vqvae

RESULTS = Path(__file__).parent / "results"
RUNS = Path(__file__).parents[1] / "runs" / "bench-vqgan"
PRESETS = {"7x7": "fmnist-7x7", "14x14": "fmnist-14x14"}
BAR = {"fid_ratio_max": 0.5, "psnr_drop_max_db": 1.0}


def option_value(text: str):
    """A --set value as JSON when it parses (numbers, true/false), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def config_for(kind: str, size: str, minutes: float, seed: int, threads: int, changes: dict,
               steps: int | None = None) -> VQVAERunConfig:
    """The preset's run config with a time budget (or a step count), no periodic scoring, a metric line every 25
    steps."""
    train = {"steps": steps, "minutes": None if steps else minutes, "seed": seed, "threads": threads,
             "eval_images": 0, "ckpt_every": 10**9, "log_every": 25}
    overrides = {"train": train, **({"vqgan": changes} if kind == "vqgan" else {})}
    return build_run_config(kind, PRESETS[size], None, overrides)


_INCEPTION_REFERENCE: dict[int, torch.Tensor] = {}  # features of the first N test images, computed once


def inception_fid(test: torch.Tensor, recon: torch.Tensor, n: int) -> float:
    """FID between the first `n` test images and their reconstructions on Inception-v3 (float32 stem, bf16 after
    it): a network no ganvq loss sees, unlike the CNN the perceptual term matches."""
    extractor = get_extractor("inception", bf16=True)
    if n not in _INCEPTION_REFERENCE:
        _INCEPTION_REFERENCE[n] = extractor(test[:n])[0]
    return fid_from_features(_INCEPTION_REFERENCE[n], extractor(recon[:n])[0])


@torch.no_grad()
def score(out: Path, test: torch.Tensor, inception_images: int = 0) -> dict:
    """PSNR, SSIM, codes used and reconstruction FID of the run in `out` on uint8 test images (encoded and decoded
    once, as evaluate_reconstruction does); with `inception_images`, also the FID on Inception-v3 of that many."""
    model, _ = load_vqvae(out)
    t0 = time.perf_counter()
    indices = model.encode_images(test)
    recon = model.decode_codes(indices)  # (N, C, H, W) in [-1, 1]
    x, x_hat = to_unit(to_float(test)), to_unit(recon)
    stats = usage_stats(indices, model.codebook_size)
    recon_u8 = (x_hat * 255).round().to(torch.uint8)
    fid = fid_between(test, recon_u8, features="ganvq")
    extra = ({"recon_fid_inception": round(inception_fid(test, recon_u8, inception_images), 3),
              "inception_images": inception_images} if inception_images else {})
    return {"recon_fid": round(fid, 3), **extra, "test_psnr_db": round(float(psnr_per_image(x, x_hat).mean()), 3),
            "test_ssim": round(float(ssim_per_image(x, x_hat).mean()), 4), "codes_used": stats["codes_used"],
            "codebook_size": model.codebook_size, "perplexity": round(stats["perplexity"], 1),
            "test_images": len(test), "eval_seconds": round(time.perf_counter() - t0, 1)}


def around_start(out: Path, start: int, before: int = 100, after: int = 600) -> list[dict]:
    """Training PSNR and codes used (per metric line) from `before` steps before the discriminator starts to
    `after` steps after it."""
    keep = ("train/psnr", "train/codes_used", "train/gan_weight", "train/d_loss")
    return [{"step": r["step"], **{k.removeprefix("train/"): round(r[k], 3) for k in keep if k in r}}
            for r in read_metrics(out) if "train/psnr" in r and start - before <= r["step"] <= start + after]


def run_model(kind: str, size: str, args, changes: dict, test: torch.Tensor) -> dict:
    config = config_for(kind, size, args.minutes, args.seed, args.threads, changes, args.steps)
    out = RUNS / f"{args.tag}{size}-{kind}"
    shutil.rmtree(out, ignore_errors=True)
    load = os.getloadavg()[0]
    summary = (train_vqgan if kind == "vqgan" else train_vqvae)(config, out, quiet=True)
    row = {"model": kind, "latent": size, "preset": PRESETS[size], "run": str(out.relative_to(RUNS.parents[1])),
           "steps": summary["step"], "train_seconds": summary["train_seconds"],
           "seconds_per_step": round(summary["train_seconds"] / summary["step"], 4),
           "batch_size": config.train.batch_size, "threads": config.train.threads,
           "precision_used": summary.get("precision_used"),
           "load_average_1min_start": round(load, 2), "load_average_1min_end": round(os.getloadavg()[0], 2),
           **score(out, test, args.inception_images)}
    if kind == "vqgan":
        row["vqgan"] = to_dict(config.vqgan)
        around = args.around if args.around is not None else config.vqgan.disc_start
        row["around_disc_start"] = around_start(out, around)
        if args.around is not None:
            row["around_step"] = args.around
    return row


def compare(a: dict, b: dict) -> dict:
    """The bar's comparison of a VQ-VAE row `a` and a VQGAN row `b` at one latent size."""
    ratio = b["recon_fid"] / a["recon_fid"]
    drop = a["test_psnr_db"] - b["test_psnr_db"]
    return {"latent": a["latent"], "fid_ratio_vqgan_over_vqvae": round(ratio, 3),
            **({"fid_ratio_inception": round(b["recon_fid_inception"] / a["recon_fid_inception"], 3)}
               if "recon_fid_inception" in a and "recon_fid_inception" in b else {}),
            "psnr_drop_db": round(drop, 3), "steps": [a["steps"], b["steps"]],
            "meets_bar": ratio <= BAR["fid_ratio_max"] and drop <= BAR["psnr_drop_max_db"]}


def combine(vqvae_json: Path, vqgan_json: Path, out: Path, apart: str | None = None) -> dict:
    """One JSON of a pair trained as two `--only` invocations at once, one model each on its own core, so that
    both met the same load over the same minutes: both files' rows, commands and the bar's comparison. `apart`:
    how the two ran instead, where they did not run at once (e.g. each beside another one-thread training)."""
    a, b = (json.loads(Path(p).read_text()) for p in (vqvae_json, vqgan_json))
    (ra,), (rb,) = a["results"], b["results"]
    if (ra["model"], rb["model"]) != ("vqvae", "vqgan") or ra["latent"] != rb["latent"]:
        raise SystemExit("--combine takes a VQ-VAE's JSON, then a VQGAN's, at one latent size")
    how = {"run_apart": apart} if apart else {"run_together": "the two commands ran at once, one model on each core"}
    data = {**b, "commands": a["commands"] + b["commands"], "results": [ra, rb], "comparisons": [compare(ra, rb)],
            **how, "sources": [Path(p).name for p in (vqvae_json, vqgan_json)]}
    write_json(out, data)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget per model")
    parser.add_argument("--steps", type=int, help="a step count per model instead of --minutes: the learning-rate "
                        "schedule then follows steps, not the clock, so two runs of one seed that differ only from "
                        "step S on are the same run up to S")
    parser.add_argument("--sizes", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    parser.add_argument("--only", choices=["vqvae", "vqgan"], help="train one of the two (tuning)")
    parser.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE",
                        help="a VQGAN option over the preset's, e.g. disc_weight=0.2 (tuning)")
    parser.add_argument("--eval-images", type=int, default=10000, help="test images scored (10,000: all)")
    parser.add_argument("--inception-images", type=int, default=0,
                        help="also score the first N test images' reconstructions on Inception-v3 (0: not)")
    parser.add_argument("--around", type=int, metavar="STEP",
                        help="log training PSNR around this step instead of the discriminator's start (a run "
                             "without one, to compare with a run whose discriminator starts there)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tag", default="", help="prefix of the run folders under runs/bench-vqgan/")
    parser.add_argument("--out", default=str(RESULTS / "vqgan.json"))
    parser.add_argument("--combine", nargs=2, type=Path, metavar=("VQVAE_JSON", "VQGAN_JSON"),
                        help="no training: join the JSONs of a pair run as two --only invocations at once into --out")
    parser.add_argument("--apart", metavar="HOW", help="with --combine: the pair did not run at once; how each ran "
                        "(e.g. 'each beside another one-thread training on the other core')")
    args = parser.parse_args()
    if args.combine:
        print(json.dumps(combine(*args.combine, Path(args.out), args.apart)["comparisons"][0]))
        return
    changes = {k: option_value(v) for k, v in (s.split("=", 1) for s in args.set)}
    torch.set_num_threads(args.threads)
    test = load_dataset("fashion-mnist", "test").images[: args.eval_images]
    started = time.time()
    rows, comparisons = [], []
    for size in args.sizes:
        pair = {}
        for kind in ("vqvae", "vqgan"):
            if args.only in (None, kind):
                pair[kind] = run_model(kind, size, args, changes, test)
                print(json.dumps({k: v for k, v in pair[kind].items() if k not in ("around_disc_start", "vqgan")}),
                      flush=True)
                rows.append(pair[kind])
        if len(pair) == 2:
            comparisons.append(compare(pair["vqvae"], pair["vqgan"]))
            print(json.dumps(comparisons[-1]), flush=True)
    write_json(args.out, {
        "benchmark": "vqgan",
        "dataset": "fashion-mnist (train 60,000 / test 10,000)",
        # the niceness this process ran at (os.nice(0) reads it), not the usage line's suggestion
        "commands": [f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')} nice -n {os.nice(0)} python "
                     f"benchmarks/bench_vqgan.py "
                     + (f"--steps {args.steps}" if args.steps else f"--minutes {args.minutes:g}")
                     + f" --sizes {' '.join(args.sizes)}"
                     + "".join(f" --set {s}" for s in args.set) + (f" --only {args.only}" if args.only else "")
                     + (f" --seed {args.seed}" if args.seed else "")
                     + (f" --around {args.around}" if args.around is not None else "")
                     + (f" --inception-images {args.inception_images}" if args.inception_images else "")],
        "minutes_per_model": None if args.steps else args.minutes,
        **({"steps_per_model": args.steps} if args.steps else {}),
        "recon_fid_definition": "FID between the test images and their reconstructions on ganvq-fmnist-cnn-v1 "
                                "features (the evaluation suite's shipped extractor)",
        "caveat": "the VQGAN's perceptual loss (perceptual 'cnn') compares features of that same extractor, so "
                  "its reconstruction FID is measured on the network it was trained to match",
        "psnr_definition": "mean over test images of each image's PSNR, pixels scaled to [0, 1]",
        "bar": BAR, "vqgan_presets": {k: to_dict(v) for k, v in VQGAN_PRESETS.items()},
        "load_average_1min_5min_15min_at_end": [round(x, 2) for x in os.getloadavg()],
        "wall_minutes": round((time.time() - started) / 60, 1),
        "machine": describe(), "results": rows, "comparisons": comparisons,
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
