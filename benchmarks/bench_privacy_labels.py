"""Do a conditional GAN's samples show the class they were asked for? (issue 22: why utility lags FID).

For each run folder given (conditional GAN runs that benchmarks/bench_privacy.py trained, kept with its --workdir),
draws --n samples of the EMA generator (sample seed 0, classes in turn) and classifies them with the shipped
Fashion-MNIST CNN (the evaluation suite's extractor, trained on real images): the share whose predicted class is
the one asked for, overall and per class. It is the "GAN-test" of Shmelkov et al. (ECCV 2018), the mirror of the
downstream accuracy ("GAN-train": trained on samples, tested on real images). Writes
benchmarks/results/privacy-labels.json. Usage:

    python benchmarks/bench_privacy_labels.py runs/bench-privacy-fixed/full-dp-eps10-fixed ...
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
from machine import run_record

from ganvq.commands.sample import sample
from ganvq.io import write_json
from ganvq.metrics.features import get_extractor
from ganvq.runs import open_run

RESULTS = Path(__file__).parent / "results"


def label_agreement(path: str, n: int, extractor) -> dict:
    """The share of n samples the real-image classifier puts in the class they were drawn for, and per class."""
    run = open_run(path, "gan")
    images, labels = sample(run, n, 0, device="cpu")
    if labels is None:
        raise SystemExit(f"{path}: not a conditional run (its samples have no labels)")
    predicted = extractor(images)[1]
    right = predicted == labels
    classes = int(labels.max()) + 1
    return {"run": path, "name": Path(path).name, "samples": n, "agreement": round(right.float().mean().item(), 4),
            "per_class": [round(right[labels == k].float().mean().item(), 3) for k in range(classes)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="conditional GAN run folders")
    parser.add_argument("--n", type=int, default=10_000, help="samples per run")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--out", default=str(RESULTS / "privacy-labels.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load, started = [round(v, 2) for v in os.getloadavg()], time.perf_counter()
    extractor = get_extractor("ganvq")
    rows = [label_agreement(path, args.n, extractor) for path in args.runs]
    for r in rows:
        print(f"{r['name']}: {r['agreement']:.1%} of {r['samples']:,} samples in the class asked for")
    write_json(args.out, {
        "benchmark": "privacy-labels",
        "what": __doc__.splitlines()[0],
        "classifier": "the shipped Fashion-MNIST CNN (ganvq.metrics.features, trained on real images)",
        "sample_seed": 0, **run_record(load, started), "results": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
