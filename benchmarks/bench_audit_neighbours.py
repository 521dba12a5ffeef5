"""How many neighbours the audit's relative distance should use.

The audit (ganvq/metrics/audit.py) takes each sample's nearest-training-image distance relative to the mean distance
to its k nearest training images. Carlini et al. 2023 used k = 50 on millions of images; on the 100-image training
sets of bench_few.py that is half the set. This sweeps k over the known cases of bench_audit.py on bench_few's 100-
and 500-image subsets (subset seed 0) and on all 60,000 training images (test images 2,000 on as the yardstick, the
first 2,000 as unseen queries), the flat grey image on 100 noise images, and bench_few run folders given as
arguments (10,000 samples, sample seed 0, all 10,000 test images as the yardstick). Added here: each of the first
1,000 training images blended 3:1 with its nearest other one (mostly a copy), and the equal means of it and its 1,
2 or 4 nearest others (near a few training images, a copy of none). A good k flags unseen images at about 1% and
averages (class means, flat grey, means of several) rarely, while keeping copies and near-copies flagged. Writes
benchmarks/results/audit_neighbours.json. Usage:

    python benchmarks/bench_audit_neighbours.py [--neighbours 5,10,25,50] [runs/few/100-...-seed0 ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from bench_audit import HELD_OUT, QUERIES, _cases, sampled_runs, write_results
from bench_few import _subset

from ganvq.data import load_dataset
from ganvq.metrics.audit import audit_reference, memorization_audit

RESULTS = Path(__file__).parent / "results"
KEYS = ("closer_than_test_q0.01_fraction", "relative_closer_than_test_q0.01_fraction", "likely_copy_fraction")


def _blends(train: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each of the first QUERIES training images blended with its nearest other training images: 3:1 with one
    (mostly a copy), and equal means of 2, 3 and 5 (itself and its 1, 2, 4 nearest): images near a few training
    images, copies of none."""
    x, r = train[:QUERIES].flatten(1).float(), train.flatten(1).float()
    dist = x.square().sum(1, keepdim=True) - 2 * x @ r.T + r.square().sum(1)
    dist[torch.arange(len(x)), torch.arange(len(x))] = float("inf")
    nearest = dist.topk(4, 1, largest=False).indices
    f, g = train.float(), train[:QUERIES].float()
    out = {"blend-3:1": 0.75 * g + 0.25 * f[nearest[:, 0]]}
    for m in (2, 3, 5):
        out[f"mean-of-{m}-nearest"] = (g + f[nearest[:, :m - 1]].sum(1)) / m
    return {name: v.round().clamp(0, 255).to(torch.uint8) for name, v in out.items()}


def _queries() -> list[tuple[str, str, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(case, training set name, queries, training images, yardstick images) of the known small-set cases."""
    test = load_dataset("fashion-mnist", "test").images
    unseen, yardstick = test[:HELD_OUT], test[HELD_OUT:]
    full = load_dataset("fashion-mnist", "train")
    out = []
    for size in (100, 500, len(full)):
        subset = _subset(size, 0) if size < len(full) else full
        cases = {**_cases(subset.images, subset.labels, unseen), **_blends(subset.images)}
        out += [(case, f"fashion-mnist-{size}", x, subset.images, yardstick) for case, x in cases.items()]
    g = torch.Generator().manual_seed(0)
    noise = torch.randint(0, 256, (1_100, 1, 28, 28), generator=g, dtype=torch.uint8)
    grey = torch.full((QUERIES, 1, 28, 28), 128, dtype=torch.uint8)
    return out + [("flat-grey", "uniform-noise-100", grey, noise[:100], noise[100:])]


def _runs(run_dirs: list[Path]) -> list[tuple[str, str, torch.Tensor, torch.Tensor, torch.Tensor]]:
    test = load_dataset("fashion-mnist", "test").images
    return [(name, f"fashion-mnist-{len(subset)}", images, subset, test)
            for name, subset, images, _ in sampled_runs(run_dirs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, help="GAN run folders of bench_few.py to audit as well")
    parser.add_argument("--neighbours", default="5,10,25,50", help="the k to compare (default 5,10,25,50)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "audit_neighbours.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ks = [int(k) for k in args.neighbours.split(",")]
    rows = []
    print(f"{'case':<44} {'k':>3} closer relative likely", flush=True)
    for case, training, queries, train, yardstick in _queries() + _runs(args.runs):
        for k in ks:
            summary = memorization_audit(queries, train, audit_reference(yardstick, train, k), neighbours=k)[0]
            rows.append({"case": case, "training": training, "queries": len(queries), "neighbours": k,
                         **{key: summary[key] for key in KEYS}})
            print(f"{case:<44} {k:>3} " + " ".join(f"{summary[key]:.4f}" for key in KEYS), flush=True)
    write_results(args.out, "audit-neighbours", __doc__, args.threads, rows)


if __name__ == "__main__":
    main()
