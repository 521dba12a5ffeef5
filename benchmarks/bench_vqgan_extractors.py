"""Does a VQGAN's lower reconstruction FID hold on a network its perceptual loss never saw?

bench_vqgan.py scores reconstructions on the evaluation suite's shipped CNN, the network whose features the VQGAN's
perceptual term matches (its caveat). This script takes the VQ-VAE/VQGAN pairs of earlier bench_vqgan result files
whose run folders are still on disk and scores them again on Inception-v3 (TTUR's FID network, which no ganvq loss
uses), beside the CNN, on the same test images. Each checkpoint is first checked against its result file: its CNN
FID on all 10,000 test images must equal the one recorded there, or the pair is skipped as retrained or changed.
Writes benchmarks/results/vqgan-extractors.json. Usage:
    python benchmarks/bench_vqgan_extractors.py benchmarks/results/vqgan-p0-seed4.json ... [--images 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
from bench_vqgan import BAR, RESULTS, inception_fid
from machine import describe

from ganvq.data import load_dataset
from ganvq.images import to_float
from ganvq.io import write_json
from ganvq.metrics.features import get_extractor
from ganvq.metrics.fid import fid_from_features
from ganvq.metrics.recon import psnr_per_image, to_unit
from ganvq.runs import load_vqvae

ROOT = Path(__file__).parents[1]


@torch.no_grad()
def reconstruct(run: Path, test: torch.Tensor) -> torch.Tensor:
    """uint8 reconstructions of uint8 `test` by the VQ-VAE in `run` (encoded and decoded once, as bench_vqgan)."""
    model, _ = load_vqvae(run)
    return (to_unit(model.decode_codes(model.encode_images(test))) * 255).round().to(torch.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="bench_vqgan result files whose runs are to be scored again")
    parser.add_argument("--images", type=int, default=2000, help="first N test images scored on both networks")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS / "vqgan-extractors.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started, load_start = time.time(), [round(v, 2) for v in os.getloadavg()]
    test = load_dataset("fashion-mnist", "test").images
    sub = test[: args.images]
    cnn = get_extractor("ganvq")
    reference = cnn(sub)[0]
    cnn_all = cnn(test)[0]
    pairs, skipped = [], []
    for name in args.results:
        data = json.loads(Path(name).read_text())
        by_latent: dict[str, dict] = {}
        for row in data["results"]:
            by_latent.setdefault(row["latent"], {})[row["model"]] = row
        for latent, rows in by_latent.items():
            if set(rows) != {"vqvae", "vqgan"}:
                continue
            pair = {"source": Path(name).name, "latent": latent, "seed": data["commands"][0].partition("--seed ")[2]
                    .split(" ")[0] or "0", "minutes_per_model": data["minutes_per_model"]}
            for kind, row in rows.items():
                run = ROOT / row["run"]
                if not run.exists():
                    skipped.append(f"{name} {latent}: {row['run']} is not on disk")
                    break
                recon_all = reconstruct(run, test)
                check = fid_from_features(cnn_all, cnn(recon_all)[0])
                if round(check, 3) != row["recon_fid"]:
                    skipped.append(f"{name} {latent}: {row['run']} scores {check:.3f}, not the recorded "
                                   f"{row['recon_fid']}")
                    break
                recon = recon_all[: args.images]
                pair[kind] = {"run": row["run"], "steps": row["steps"], "recorded_recon_fid_10k": row["recon_fid"],
                              "recorded_psnr_db_10k": row["test_psnr_db"],
                              "psnr_db": round(float(psnr_per_image(to_unit(to_float(sub)),
                                                                    to_unit(to_float(recon))).mean()), 3),
                              "fid_cnn": round(fid_from_features(reference, cnn(recon)[0]), 4),
                              "fid_inception": round(inception_fid(test, recon, args.images), 3)}
            else:
                a, b = pair["vqvae"], pair["vqgan"]
                pair["fid_ratio_cnn"] = round(b["fid_cnn"] / a["fid_cnn"], 3)
                pair["fid_ratio_inception"] = round(b["fid_inception"] / a["fid_inception"], 3)
                pair["fid_ratio_cnn_10k"] = round(b["recorded_recon_fid_10k"] / a["recorded_recon_fid_10k"], 3)
                pair["psnr_drop_db_10k"] = round(a["recorded_psnr_db_10k"] - b["recorded_psnr_db_10k"], 3)
                pairs.append(pair)
                print(json.dumps(pair), flush=True)
    write_json(args.out, {
        "benchmark": "vqgan-extractors",
        "dataset": "fashion-mnist test",
        "command": f"python benchmarks/bench_vqgan_extractors.py "
                   f"{' '.join(f'benchmarks/results/{Path(r).name}' for r in args.results)} "
                   f"--images {args.images} --threads {args.threads} --out benchmarks/results/{Path(args.out).name}",
        "method": f"the first {args.images:,} test images and their reconstructions by each run, FID on "
                  f"{cnn.name} (the network the VQGAN's perceptual term matches) and on "
                  f"{get_extractor('inception', bf16=True).name} (which no ganvq loss sees); each run's CNN FID on "
                  "all 10,000 test images was first checked equal to its result file's",
        "bar": BAR, "pairs": pairs, "skipped": skipped,
        "load_average_at_start": load_start, "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
        "measured": time.strftime("%Y-%m-%d"), "wall_minutes": round((time.time() - started) / 60, 1),
        "machine": describe(),
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
