"""The truncation trick on small-data GANs: does trading variety for fidelity at sampling time move FID?

For each GAN run that benchmarks/bench_few.py trained (run folders named SIZE-CONFIG-seedSEED, kept with its
--workdir), draws --samples samples of the EMA generator (sample seed 0, classes in turn, as bench_few does) at each
--truncations value t (`ganvq sample --truncation t`: entries of z with |z| > t redrawn, Brock et al. 2019; "none" is
the plain prior, bench_few's own samples) and scores them with the evaluation suite against the 10,000 Fashion-MNIST
test images (FID, KID, precision/recall, density/coverage) and the memorization audit against the run's subset. The
same t is applied to every run, so a configuration and its run without augmentation are compared alike. Writes
benchmarks/results/few_truncation.json. Usage:

    python benchmarks/bench_few_truncation.py runs/few/100-batch-32-lecam-1-seed0 runs/few/100-batch-32-no-augmentation-seed0
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import torch
from bench_few import SAMPLE_SEED, _subset
from machine import describe

from ganvq.commands.sample import sample
from ganvq.io import write_json
from ganvq.metrics.score import score_samples
from ganvq.runs import open_run

RESULTS = Path(__file__).parent / "results"
NAME = re.compile(r"(?P<size>\d+)-(?P<config>.+)-seed(?P<seed>\d+)$")
SCORE_KEYS = ("fid", "kid_mean", "precision", "recall", "density", "coverage")


def truncation_value(text: str) -> float | None:
    """A --truncations entry: "none" (the plain prior) or a positive number."""
    if text == "none":
        return None
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"a truncation must be positive or 'none', got {text}")
    return value


def measure(run_dir: Path, truncations: list[float | None], samples: int, test_limit: int | None) -> dict:
    """One run's scores at each truncation."""
    run = open_run(run_dir, "gan")
    config = run.config
    if not config.subset:
        raise SystemExit(f"{run_dir}: not a bench_few run (it trained on no --subset)")
    subset = _subset(config.subset, config.subset_seed)
    match = NAME.match(run_dir.name)
    row = {"run": run_dir.name, **({"size": int(match["size"]), "config": match["config"], "seed": int(match["seed"])}
                                   if match else {}),
           "generator_steps": int(run.meta["step"]), "samples": samples, "by_truncation": []}
    for t in truncations:
        images, _ = sample(run, samples, seed=SAMPLE_SEED, truncation=t, device="cpu")
        scores = score_samples(images, "fashion-mnist", "test", seed=SAMPLE_SEED, n_ref=test_limit,
                               train_subset=subset.images)
        memo = scores.get("memorization", {})
        row["by_truncation"].append({"truncation": t, **{k: scores[k] for k in SCORE_KEYS},
                                     "audit_median_ratio": memo.get("median_ratio")})
        print(json.dumps({"run": run_dir.name, "truncation": t, "fid": round(scores["fid"], 3)}), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="GAN run folders of bench_few.py")
    parser.add_argument("--truncations", nargs="+", type=truncation_value, default=[None, 2.0, 1.5, 1.0],
                        help='values of t, "none" for the plain prior (default: none 2 1.5 1)')
    parser.add_argument("--samples", type=int, default=10_000, help="samples per score (default 10,000, bench_few's)")
    parser.add_argument("--test-limit", type=int, help="test images scored against (default: all 10,000)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "few_truncation.json")
    args = parser.parse_args()
    if args.samples < 10:
        parser.error("--samples must be at least 10")
    torch.set_num_threads(args.threads)
    rows = [measure(run_dir, args.truncations, args.samples, args.test_limit) for run_dir in args.runs]
    write_json(args.out, {
        "benchmark": "few_truncation", "what": __doc__.split("\n\n")[0],
        "dataset": "fashion-mnist: samples scored against the test images"
                   + (f" (first {args.test_limit:,})" if args.test_limit else " (all 10,000)")
                   + "; the audit against each run's training subset",
        "extractor": "the evaluation suite's shipped Fashion-MNIST CNN (128-d embedding)",
        "machine": describe(), "threads": args.threads, "measured": time.strftime("%Y-%m-%d %H:%M"),
        "results": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
