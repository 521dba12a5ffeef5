"""Restoration bars (issue 20): ganvq against classical tools on the same damaged Fashion-MNIST test images.

Holes (a centred 14x14 box, random 50% of the pixels): code-space inpainting with a prior
(commands/restore.py) and a mask-trained VQ-VAE, against OpenCV's Telea and Navier-Stokes inpainting
and mean fill: FID of the completed images (the shipped Fashion-MNIST extractor, reference: the 10,000
clean test images), PSNR over the hole, diversity of K = 8 completions. Noise (sigma 0.1, 0.2, 0.4 of
[0, 1], not clipped): noise-trained VQ-VAEs against BM3D (told the true sigma) and non-local means.
Blur (Gaussian, sigma 1 px) and JPEG (quality 10): against the damaged input and Richardson-Lucy /
non-local means. Every method runs on one thread and gets the same damaged tensors. Usage:

    # the models: TRAIN_COMMANDS below, e.g.
    ganvq train vqvae --preset fmnist-14x14-k64 --init runs/bench-restore/vqvae-k64 --corrupt noise:0.2 \
        --lr 3e-4 --minutes 4 --threads 1 --out runs/bench-restore/vqvae-noise-0-2
    # one part at a time (each merged into the JSON, with a picture restore-PART.png)
    python benchmarks/bench_restore.py --part holes --n 2000 --threads 1
    # the noise models trained by the script itself (those missing) from a preset, then scored
    python benchmarks/bench_restore.py --part noise --noise-preset fmnist-14x14-k64 --noise-codebook 512 \
        --noise-minutes 15 --threads 1
    # holes completed by a MaskGIT prior (train prior --arch maskgit), keeping the rows of models not rerun
    python benchmarks/bench_restore.py --part holes --prior runs/bench-restore/prior-k64-maskgit --merge
    # holes filled by mask-trained models alone (runs/bench-restore/vqvae-mask-*, and vqgan-mask-* from train vqgan)
    python benchmarks/bench_restore.py --part holes --prior none --merge
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from machine import describe

from ganvq.commands.restore import restore_images
from ganvq.data import load_dataset
from ganvq.data.corrupt import add_noise, apply_mask, blur, gaussian_kernel, jpeg, make_mask, parse_mask
from ganvq.images import make_grid, save_image
from ganvq.io import read_json, write_json
from ganvq.metrics.features import get_extractor
from ganvq.metrics.fid import fid_from_features
from ganvq.metrics.recon import psnr_per_image, to_unit
from ganvq.runs import load_prior, load_vqvae, open_run, read_metrics

RESULTS = Path(__file__).parent / "results" / "restore.json"
TRAIN_COMMANDS = [  # as run for restore.json, one at a time on this 2-core machine shared with other jobs
    ("the clean VQ-VAE and local prior of benchmarks/bench_db.py (runs/bench-db, copied to runs/bench-restore): "
    "fmnist-14x14-k64 for 8 minutes, a local prior (dim 96, 2 layers, batch 256, lr 3e-3) for 5 minutes, 1 thread"),
    ("ganvq train vqvae --preset fmnist-14x14-k64 --init runs/bench-restore/vqvae-k64 --corrupt DAMAGE --lr 3e-4 "
    "--minutes 4 --threads 1 --out runs/bench-restore/vqvae-DAMAGE  (DAMAGE: noise:0.2, noise:0.4, mask:center, "
    "mask:random:0.5, noise:0.1, blur:1, jpeg:10)"),
    ("ganvq train vqvae --resume runs/bench-restore/vqvae-noise-0-2 --minutes 4 (and noise-0-4): 8 minutes in all "
    "for the two noise models of the bars; then each resumed once more for 4 minutes (12 in all; noise-0-4's margin "
    "over BM3D was 0.875 dB at 8 minutes, noise-0-2's 0.275 dB) and its sigma's rows rerun (--sigmas)"),
    ("later (runs/bench-restore rebuilt; the rows above are kept with --merge, marked measured_earlier): "
     "ganvq train vqvae --preset fmnist-14x14-k64 --codebook-size 512 --corrupt noise:0.2 --minutes 15 --threads 1 "
     "--out runs/bench-restore/vqvae-noise-0-2-fmnist-14x14-k64-k512  (what --noise-preset fmnist-14x14-k64 "
     "--noise-codebook 512 runs for a missing model: 512 codes instead of 64, the same network)"),
    ("ganvq train vqvae --preset fmnist-14x14-k64 --minutes 8 --threads 1 --out runs/bench-restore/vqvae-k64, then "
     "ganvq train prior --arch maskgit --vqvae runs/bench-restore/vqvae-k64 --limit 30000 --dim 64 --layers 2 "
     "--heads 4 --dropout 0 --batch-size 64 --lr 2e-3 --minutes 20 --threads 1 --out runs/bench-restore/prior-k64-"
     "maskgit (a 128-wide, 4-layer one at batch 128 made 20 steps in 10 minutes under load ~10 and was dropped; "
     "this one made 100 steps in its 20 minutes, was measured, then --resume --minutes 9 and measured again)"),
    ("python benchmarks/bench_restore.py --part noise --sigmas 0.4 --noise-preset fmnist-14x14-k64 "
     "--noise-codebook 512 --noise-minutes 9 --merge --threads 1  (trains vqvae-noise-0-4-fmnist-14x14-k64-k512)"),
    ("2026-12-03 (Intel Xeon with AMX, bf16), the mask-trained models from scratch, 15 minutes on 1 thread each, two "
     "at a time: ganvq train vqvae --preset fmnist-14x14-k64 --corrupt mask:random:0.5 --minutes 15 --threads 1 "
     "--out runs/bench-restore/vqvae-mask-random-0-5; the same with --corrupt mask:center --out "
     "runs/bench-restore/vqvae-mask-center, beside ganvq train vqgan --preset fmnist-14x14-k64 --corrupt mask:center "
     "--disc-start 800 --perceptual-start 800 --minutes 15 --threads 1 --out runs/bench-restore/vqgan-mask-center; "
     "then python benchmarks/bench_restore.py --part holes --prior none --merge --threads 1"),
]
PICTURES = [RESULTS.parent]  # where restore-*.png go: beside the JSON
PARTS = ("holes", "noise", "blur", "jpeg")  # the parts of restore.json, each measured by its own --part
MASKS = {"center": "center", "random50": "random:0.5"}
SIGMAS = (0.1, 0.2, 0.4)
BLUR_SIGMA, JPEG_QUALITY = 1.0, 10
DIVERSITY_SAMPLES, DIVERSITY_IMAGES = 8, 500
MOSAIC = 10  # BM3D on 10 x 10 mosaics of 28 x 28 images: one call costs ~1.2 s whatever its size up to ~100 images


def _features(images01: torch.Tensor) -> torch.Tensor:
    u8 = (images01.clamp(0, 1) * 255).round().to(torch.uint8)
    return get_extractor("ganvq")(u8)[0]


class Scorer:
    """PSNR (whole image, and over the hole) and FID against the clean test set, for images in [0, 1]."""

    def __init__(self, clean01: torch.Tensor, reference01: torch.Tensor):
        self.clean = clean01
        self.ref = _features(reference01)
        self.floor = round(fid_from_features(self.ref, _features(clean01)), 3)  # the clean subset's own FID

    def __call__(self, out01: torch.Tensor, seconds: float | None, hole: torch.Tensor | None = None) -> dict:
        out01 = out01.clamp(0, 1)
        row = {"fid": round(fid_from_features(self.ref, _features(out01)), 3),
               "psnr_db": round(float(psnr_per_image(self.clean, out01).mean()), 3),
               "images_per_second": round(len(out01) / seconds, 1) if seconds else None}
        if hole is not None:
            se = (out01 - self.clean).square() * hole
            mse = se.flatten(1).sum(1) / hole.flatten(1).sum(1)
            row["psnr_hole_db"] = round(float((10 * torch.log10(1 / mse.clamp_min(1e-10))).mean()), 3)
        return row


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages: other jobs on this machine slow every timing."""
    return [round(v, 2) for v in os.getloadavg()]


def noise_run_name(sigma: float, preset: str, codebook: int | None) -> str:
    """The run folder of the noise model --noise-preset/--noise-codebook trains for sigma."""
    return f"vqvae-noise-{sigma:g}".replace(".", "-") + f"-{preset}" + (f"-k{codebook}" if codebook else "")


def train_noise_models(args) -> list[str]:
    """Train (`ganvq train vqvae --corrupt noise:SIGMA`, one at a time) the noise models of --noise-preset that
    are missing or unfinished in --workdir; the commands run."""
    commands = []
    for sigma in args.sigmas or SIGMAS:
        out = Path(args.workdir) / noise_run_name(sigma, args.noise_preset, args.noise_codebook)
        if (out / "checkpoint.safetensors").is_file() and model_info(out)["train_minutes"] is not None:
            continue  # finished
        cmd = ["ganvq", "train", "vqvae", "--preset", args.noise_preset, "--corrupt", f"noise:{sigma:g}",
               "--threads", str(args.threads), "--seed", str(args.seed), "--quiet", "--out", str(out)]
        cmd += ["--codebook-size", str(args.noise_codebook)] if args.noise_codebook else []
        cmd += ["--init", args.noise_init] if args.noise_init else []
        cmd += ["--steps", str(args.noise_steps)] if args.noise_steps else ["--minutes", str(args.noise_minutes)]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        commands.append(" ".join(cmd))
    return commands


def save_rows(name: str, rows: dict[str, torch.Tensor], n: int = 8) -> str:
    """results/restore-NAME.png: one row per method (clean, damaged, ...) of the first n images, 2x enlarged."""
    path = PICTURES[0] / f"restore-{name}.png"
    save_image(path, make_grid(torch.cat([r[:n].clamp(0, 1) * 2 - 1 for r in rows.values()]), nrow=n), upscale=2)
    return f"{path.name}: rows {', '.join(rows)}"


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def _u8(x01: torch.Tensor) -> np.ndarray:
    return (x01[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def _from_u8(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack(a)).float()[:, None] / 255


def opencv_inpaint(x01: torch.Tensor, hole: torch.Tensor, flag: int) -> torch.Tensor:
    """cv2.inpaint (radius 3) of each image, on 8-bit pixels as OpenCV takes them."""
    import cv2

    masks = hole[:, 0].to(torch.uint8).numpy() * 255
    return _from_u8([cv2.inpaint(u, m, 3, flag) for u, m in zip(_u8(x01), masks)])


def mean_fill(x01: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Each hole filled with the mean of its image's visible pixels."""
    vis = ~hole
    mean = (x01 * vis).flatten(1).sum(1) / vis.flatten(1).sum(1)
    return torch.where(hole, mean.view(-1, 1, 1, 1), x01)


def bm3d_mosaic(noisy01: torch.Tensor, sigma: float) -> torch.Tensor:
    """BM3D (Dabov et al. 2007; the `bm3d` package, told the true sigma) on mosaics of MOSAIC^2 images."""
    import bm3d

    n, _, h, w = noisy01.shape
    per = MOSAIC * MOSAIC
    out = []
    for i in range(0, n, per):
        chunk = noisy01[i : i + per, 0].numpy().astype(np.float64)
        k = len(chunk)
        pad = np.zeros((per - k, h, w)) if k < per else np.zeros((0, h, w))
        tiles = np.concatenate([chunk, pad]).reshape(MOSAIC, MOSAIC, h, w).transpose(0, 2, 1, 3).reshape(MOSAIC * h, -1)
        den = bm3d.bm3d(tiles, sigma_psd=sigma)
        out.append(den.reshape(MOSAIC, h, MOSAIC, w).transpose(0, 2, 1, 3).reshape(per, h, w)[:k])
    return torch.from_numpy(np.concatenate(out)).float()[:, None]


def nl_means(noisy01: torch.Tensor, sigma: float | None) -> torch.Tensor:
    """scikit-image's non-local means (Buades et al. 2005), h = 0.8 sigma (its docs' advice); sigma estimated
    when None."""
    from skimage.restoration import denoise_nl_means, estimate_sigma

    out = []
    for img in noisy01[:, 0].numpy().astype(np.float64):
        s = sigma if sigma is not None else float(estimate_sigma(img))
        out.append(denoise_nl_means(img, h=0.8 * max(s, 1e-3), sigma=s, patch_size=5, patch_distance=6,
                                    fast_mode=True))
    return torch.from_numpy(np.stack(out)).float()[:, None]


def richardson_lucy(blurred01: torch.Tensor, sigma: float, iters: int = 30) -> torch.Tensor:
    """scikit-image's Richardson-Lucy deconvolution (Richardson 1972, Lucy 1974) with the true Gaussian PSF."""
    from skimage.restoration import richardson_lucy as rl

    k = gaussian_kernel(sigma).double().numpy()
    psf = np.outer(k, k)
    out = [rl(img, psf, num_iter=iters, clip=True) for img in blurred01[:, 0].clamp(0, 1).numpy().astype(np.float64)]
    return torch.from_numpy(np.stack(out)).float()[:, None]


def model_info(run_dir: Path) -> dict:
    """A model's training facts from its run folder: steps, minutes, threads, corruption, held-out PSNR."""
    run = open_run(run_dir)
    final = [r for r in read_metrics(run_dir) if "train_seconds" in r]
    cfg = run.config
    info = {"path": str(run_dir), "kind": run.kind, "steps": run.meta.get("step"),
            "train_minutes": round(final[-1]["train_seconds"] / 60, 2) if final else None,
            "threads": cfg.train.threads, "batch_size": cfg.train.batch_size}
    if run.kind == "vqvae":
        info.update(corrupt=cfg.corrupt, preset_model=f"{cfg.model.latent_size}x{cfg.model.latent_size}, "
                    f"{cfg.model.vq.codebook_size} codes, hidden {cfg.model.hidden}", vqgan=cfg.vqgan is not None,
                    init=Path(cfg.init).name if cfg.init else "")  # "": trained from scratch
    else:
        info.update(arch=cfg.model.arch, dim=cfg.model.dim, layers=cfg.model.layers)
    return info


def _vqvae_restore(run_dir: Path, damaged: torch.Tensor, hole=None):
    model, _ = load_vqvae(run_dir)
    out, s = timed(restore_images, model, damaged * 2 - 1, hole)
    return to_unit(out[:, 0]), s


def diversity(samples01: torch.Tensor, hole: torch.Tensor) -> float:
    """Mean over images of the mean pairwise RMS difference of K completions over the hole ([0, 1] units)."""
    k = samples01.shape[1]
    d = [((samples01[:, a] - samples01[:, b]).square() * hole).flatten(1).sum(1) / hole.flatten(1).sum(1)
         for a, b in itertools.combinations(range(k), 2)]
    return round(float(torch.stack(d).sqrt().mean()), 4)


def _prior_key(prior) -> str:
    """Row name of a prior's completions: ganvq_prior_* for the local prior (as before), ganvq_ARCH_* else."""
    arch = prior.config.arch
    return "ganvq_prior" if arch == "local" else f"ganvq_{arch}"


def part_holes(args, clean01, score) -> dict:
    priors = []
    for path in map(Path, args.prior):
        if (path / "checkpoint.safetensors").is_file():
            priors.append((path, *load_prior(path)[:2]))
        else:
            print(f"no prior run at {path}: its rows are not measured", flush=True)
    previous = args.previous.get("holes", {})
    rows = dict(previous.get("results", {}))  # rerunning some masks keeps the others' rows
    earlier = dict(previous.get("priors", {}))
    if "prior" in previous:  # as the JSON named its one prior before
        earlier[Path(previous["prior"]["path"]).name] = previous["prior"]
    for name in args.masks:
        spec = MASKS[name]
        g = torch.Generator().manual_seed(args.seed)
        hole = make_mask(parse_mask(spec), len(clean01), 28, 28, g)
        damaged = to_unit(apply_mask(clean01 * 2 - 1, hole))
        res = {"damaged_input": score(damaged, None, hole)}
        pics = {"clean": clean01, "damaged": damaged}
        import cv2

        for method, fn, a in (("mean_fill", mean_fill, (clean01, hole)),
                              ("opencv_telea", opencv_inpaint, (damaged, hole, cv2.INPAINT_TELEA)),
                              ("opencv_navier_stokes", opencv_inpaint, (damaged, hole, cv2.INPAINT_NS))):
            out, s = timed(fn, *a)
            res[method] = {**score(out, s, hole), "diversity": 0.0}
            pics[method] = out
        for prior_run, prior, model in priors:
            for c in args.candidates:
                key = f"{_prior_key(prior)}_best_of_{c}"
                out, s = timed(restore_images, model, clean01 * 2 - 1, hole, prior, 1, c, seed=args.seed)
                res[key] = {**score(to_unit(out[:, 0]), s, hole), "prior": prior_run.name}
                pics[key] = to_unit(out[:, 0])
                m = DIVERSITY_IMAGES
                many = restore_images(model, clean01[:m] * 2 - 1, hole[:m], prior, DIVERSITY_SAMPLES, c,
                                      seed=args.seed + 1)
                res[key]["diversity"] = diversity(to_unit(many), hole[:m])
                print(name, c, res[key], flush=True)
        for kind in ("vqvae", "vqgan"):  # a mask-trained VQ-VAE, and a VQGAN (train vqgan --corrupt mask:...)
            masked_run = Path(args.workdir) / f"{kind}-mask-{spec.replace(':', '-').replace('.', '-')}"
            if (masked_run / "checkpoint.safetensors").is_file():
                out, s = _vqvae_restore(masked_run, damaged, hole)
                pics[f"ganvq_mask_trained_{kind}"] = out
                res[f"ganvq_mask_trained_{kind}"] = {**score(out, s, hole), "diversity": 0.0,
                                                     "model": model_info(masked_run)}
        merge_rows(args, res, "holes", name)
        res["bar"] = holes_bar(res)
        res["picture"] = save_rows(f"holes-{name}", pics)
        rows[name] = res
        print(name, json.dumps(res, indent=1), flush=True)
    return {"masks": {k: str(v) for k, v in MASKS.items()},
            "priors": {**earlier, **{p.name: model_info(p) for p, _, _ in priors}},
            "diversity": f"mean pairwise RMS difference over the hole of {DIVERSITY_SAMPLES} completions of the "
                         f"first {DIVERSITY_IMAGES} images, pixels in [0, 1]", "results": rows}


def merge_rows(args, res: dict, part: str, name: str) -> None:
    """With --merge, add to `res` the previous JSON's ganvq rows of part/results/name that were not measured now
    (their runs may be gone), marked measured_earlier: the same damaged images, the same scoring."""
    if args.merge:
        old = args.previous.get(part, {}).get("results", {}).get(name, {})
        res.update({k: {**v, "measured_earlier": True} for k, v in old.items()
                    if k.startswith("ganvq") and k not in res})


def holes_bar(res: dict) -> dict:
    """The holes bar over one mask's rows: the best ganvq FID against half the best classical one."""
    classical = min(res[m]["fid"] for m in ("mean_fill", "opencv_telea", "opencv_navier_stokes"))
    best = min((k for k in res if k.startswith("ganvq")), key=lambda k: res[k]["fid"], default=None)
    ours = res[best]["fid"] if best else None
    return {"rule": "best ganvq FID <= 0.5 x best classical FID", "best_classical_fid": classical,
            "best_ganvq": best, "best_ganvq_fid": ours, "met": ours is not None and ours <= 0.5 * classical}


def part_noise(args, clean01, score) -> dict:
    rows = dict(args.previous.get("noise", {}).get("results", {})) if args.sigmas else {}  # rerunning some sigmas keeps the others' rows
    for sigma in args.sigmas or SIGMAS:
        g = torch.Generator().manual_seed(args.seed)
        noisy = (add_noise(clean01 * 2 - 1, sigma, g) + 1) / 2  # not clipped: Gaussian, as BM3D is told
        res = {"noisy_input": score(noisy, None)}
        pics = {"clean": clean01, "noisy": noisy}
        out, s = timed(bm3d_mosaic, noisy, sigma)
        res["bm3d"], pics["bm3d"] = score(out, s), out
        out, s = timed(nl_means, noisy, sigma)
        res["nl_means"], pics["nl_means"] = score(out, s), out
        tag = f"{sigma:g}".replace(".", "-")
        for run_dir in sorted(Path(args.workdir).glob("vqvae-noise-*")):
            out, s = _vqvae_restore(run_dir, noisy)
            key = "ganvq_noise_model_" + run_dir.name.removeprefix("vqvae-noise-")
            res[key] = {**score(out, s), "model": model_info(run_dir)}
            pics[key] = out
        merge_rows(args, res, "noise", f"sigma_{sigma:g}")
        own = [k for k, v in res.items() if k.startswith("ganvq_noise_model_")
               and v["model"]["corrupt"] == f"noise:{sigma:g}"]  # the models trained for this sigma
        if own:
            best = max(own, key=lambda k: res[k]["psnr_db"])
            margin = round(res[best]["psnr_db"] - res["bm3d"]["psnr_db"], 3)
            res["vs_bm3d"] = {"model": best, "margin_db": margin}
            if sigma in (0.2, 0.4):
                res["vs_bm3d"].update(bar="ganvq PSNR >= BM3D PSNR + 1 dB (sigma 0.2 and 0.4)", met=margin >= 1)
        res["picture"] = save_rows(f"noise-{sigma:g}", pics)
        rows[f"sigma_{sigma:g}"] = res
        print(sigma, json.dumps(res, indent=1), flush=True)
    return {"noise": "x + N(0, sigma^2) per pixel in [0, 1] units, not clipped; outputs clipped to [0, 1] "
                     "before scoring", "bm3d_note": f"BM3D runs on {MOSAIC}x{MOSAIC} mosaics of test images (one "
                     "call per 28x28 image costs ~1.2 s)", "results": rows}


def part_blur_jpeg(args, clean01, score, kind: str) -> dict:
    x = clean01 * 2 - 1
    if kind == "blur":
        damaged = to_unit(blur(x, BLUR_SIGMA))
        classical = ("richardson_lucy_30", richardson_lucy, (damaged, BLUR_SIGMA))
        run_dir = Path(args.workdir) / f"vqvae-blur-{BLUR_SIGMA:g}".replace(".", "-")
    else:
        damaged = to_unit(jpeg(x, JPEG_QUALITY))
        classical = ("nl_means_estimated_sigma", nl_means, (damaged, None))
        run_dir = Path(args.workdir) / f"vqvae-jpeg-{JPEG_QUALITY}"
    res = {"damaged_input": score(damaged, None)}
    pics = {"clean": clean01, "damaged": damaged}
    out, s = timed(classical[1], *classical[2])
    res[classical[0]], pics[classical[0]] = score(out, s), out
    if (run_dir / "checkpoint.safetensors").is_file():
        out, s = _vqvae_restore(run_dir, damaged)
        res["ganvq_trained_vqvae"] = {**score(out, s), "model": model_info(run_dir)}
        pics["ganvq_trained_vqvae"] = out
    res["picture"] = save_rows(kind, pics)
    print(kind, json.dumps(res, indent=1), flush=True)
    damage = f"Gaussian blur sigma {BLUR_SIGMA:g} px (reflected edges)" if kind == "blur" else \
        f"JPEG quality {JPEG_QUALITY} (Pillow)"
    return {"damage": damage, "results": res}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=PARTS, action="append", required=True)
    p.add_argument("--n", type=int, default=2000, help="first N Fashion-MNIST test images")
    p.add_argument("--prior", nargs="+", default=["runs/bench-restore/prior-k64-local"],
                   help="holes part: prior runs completing the holes (local and/or maskgit); missing ones are skipped")
    p.add_argument("--masks", nargs="+", choices=list(MASKS), default=list(MASKS), help="holes part: these masks")
    p.add_argument("--merge", action="store_true",
                   help="keep the previous JSON's ganvq rows (holes, noise) of models not measured now")
    p.add_argument("--noise-preset", help="noise part: first train the missing noise models from this VQ-VAE preset "
                                          "(runs vqvae-noise-SIGMA-PRESET[-kK] in --workdir)")
    p.add_argument("--noise-codebook", type=int, help="their codebook size (default: the preset's)")
    p.add_argument("--noise-minutes", type=float, default=15.0, help="their training minutes each (default 15)")
    p.add_argument("--noise-steps", type=int, help="or their training steps each")
    p.add_argument("--noise-init", help="fine-tune them from this (clean) VQ-VAE run of the same preset")
    p.add_argument("--workdir", default="runs/bench-restore", help="folder of the vqvae-<damage> runs")
    p.add_argument("--candidates", type=int, nargs="+", default=[1, 4])
    p.add_argument("--sigmas", type=float, nargs="+", help="noise part: rerun only these sigmas (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    PICTURES[0] = Path(args.out).parent
    test = load_dataset("fashion-mnist", "test").images
    clean01 = test[: args.n].float() / 255
    score = Scorer(clean01, test.float() / 255)
    report = read_json(args.out) if Path(args.out).is_file() else {}
    for part in PARTS:  # parts measured before each part recorded its own machine ran
        if isinstance(report.get(part), dict) and "machine" in report and "machine" not in report[part]:
            report[part]["machine"] = report["machine"]  # where the whole file was measured
    args.previous = dict(report)
    dataset = (f"fashion-mnist test, the first {args.n:,} of 10,000 images (the same damaged tensors for every "
               "method); FID reference: all 10,000 clean test images")
    if args.merge and report.get("dataset", dataset) != dataset:
        sys.exit(f"--merge: {args.out} was measured on other images ({report['dataset']}); give the same --n")
    if args.noise_preset and "noise" in args.part:
        trained = train_noise_models(args)
        print(f"trained {len(trained)} noise models", flush=True)
    for part in args.part:
        t0, load0 = time.perf_counter(), load_average()
        fn = {"holes": part_holes, "noise": part_noise}.get(part)
        result = fn(args, clean01, score) if fn else part_blur_jpeg(args, clean01, score, part)
        result["seconds"] = round(time.perf_counter() - t0, 1)
        result["machine"] = describe()
        result["load_average_1_5_15min"] = {"start": load0, "end": load_average()}
        result["command"] = "python benchmarks/bench_restore.py " + " ".join(sys.argv[1:] if argv is None else argv)
        report[part] = result
        work = Path(args.workdir)
        runs = [*work.glob("vqvae-*"), *work.glob("vqgan-*"), *work.glob("prior-*"), *map(Path, args.prior)]
        models = {d.name: model_info(d) for d in sorted(set(runs)) if (d / "checkpoint.safetensors").is_file()}
        report.update({
            "models": {**report.get("models", {}), **models},  # earlier parts' models, even if no longer on disk
            "train_commands": TRAIN_COMMANDS,
            "fid_floor_clean_subset": score.floor,
            "dataset": dataset,
            "fid_features": "ganvq's shipped Fashion-MNIST CNN (metrics/features.py)",
            "psnr_definition": "mean over images of each image's PSNR, pixels in [0, 1]; psnr_hole_db over the "
                               "hole's pixels only",
            "threads": args.threads, "machine": describe()})
        write_json(args.out, report)
        print(f"wrote {args.out} ({part})", flush=True)


if __name__ == "__main__":
    main()
