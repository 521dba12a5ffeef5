"""Gather runs of bench_vqgan.py (one setting each, often --only vqgan) into one sweep table's JSON.

Tuning the VQGAN's options means many short bench_vqgan.py runs; each writes its own JSON (kept as written under
benchmarks/results/vqgan-sweep/). This copies their rows, each with the command that produced it, into
benchmarks/results/vqgan-sweep.json, which table.py renders as one table. Usage:
    OMP_NUM_THREADS=1 python benchmarks/bench_vqgan.py --sizes 7x7 --only vqgan --set perceptual_weight=0.03 \
        --tag pw03- --out benchmarks/results/vqgan-sweep/pw03.json      # one per setting, two at a time
    python benchmarks/collect_vqgan_sweep.py benchmarks/results/vqgan-sweep/*.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ganvq.io import write_json

RESULTS = Path(__file__).resolve().parent / "results"
KEYS = ("model", "latent", "steps", "seconds_per_step", "precision_used", "load_average_1min_start",
        "load_average_1min_end", "recon_fid", "recon_fid_inception", "inception_images", "test_psnr_db", "test_ssim",
        "codes_used", "codebook_size", "vqgan")


def collect(paths: list[Path]) -> dict:
    """The sweep's JSON: every row of every file, with its file, command, machine and minutes."""
    files = {path: json.loads(path.read_text()) for path in paths}
    rows = [{"file": path.name, "command": data["commands"][0], "cpu": data["machine"]["cpu"],
             "threads": data["machine"]["threads"], "minutes": data["minutes_per_model"],
             **{k: r[k] for k in KEYS if k in r}}
            for path, data in files.items() for r in data["results"]]
    first = files[paths[0]]
    return {"benchmark": "vqgan-sweep", "dataset": first["dataset"], "recon_fid_definition": first["recon_fid_definition"],
            "psnr_definition": first["psnr_definition"], "caveat": first["caveat"],
            "sources": [str(p.relative_to(RESULTS)) if p.is_relative_to(RESULTS) else p.name for p in paths],
            "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="JSON files written by bench_vqgan.py")
    parser.add_argument("--out", type=Path, default=RESULTS / "vqgan-sweep.json")
    args = parser.parse_args()
    write_json(args.out, collect([p.resolve() for p in args.files]))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
