"""How the memorization audit reads known cases: copies, near-copies, unseen images, averages, and kept GAN runs.

The audit (ganvq/metrics/audit.py) flags a sample that is closer to a training image than 99% of held-out test
images are: by plain RMS pixel distance (`closer_than_test_q0.01_fraction`), by that distance relative to the mean
distance to its 5 nearest training images (`relative_...`, after Carlini et al. 2023), and by both
(`likely_copy_fraction`). This measures each on cases whose answer is known, on Fashion-MNIST: the training set
is the whole train split (60,000) or the balanced 100-image subset bench_few trains on (subset seed 0); the
held-out yardstick is test images 2,000 on, and the queries:
  unseen       test images 0-1,999 (never trained on: about 1% flagged by design)
  copies       training images themselves (the subset repeated, or the first 1,000)
  noisy-copies those plus Gaussian noise of sigma 8 grey levels
  shifted-1px  those moved one pixel right, edge filled
  blurred      those through a 3x3 box blur
  class-means  the mean image of each class of the training set, repeated
and, on a dataset of uniform noise (100 training, 1,000 held-out 28x28 images), the flat grey image.
Run folders of bench_few.py (its --workdir) given as arguments are also sampled (10,000 samples, sample seed 0)
and audited against their subset. Writes benchmarks/results/audit.json. Usage:

    python benchmarks/bench_audit.py [runs/few/100-batch-32-lecam-1-seed0 ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from bench_few import SAMPLE_SEED, _subset
from machine import describe

from ganvq.data import load_dataset
from ganvq.io import write_json
from ganvq.metrics.audit import audit_reference, memorization_audit

RESULTS = Path(__file__).parent / "results"
KEYS = ("closer_than_test_q0.01_fraction", "relative_closer_than_test_q0.01_fraction", "likely_copy_fraction",
        "median_ratio", "sample_relative_median", "test_relative_median")
HELD_OUT = 2_000  # test images used as unseen queries; the rest are the audit's yardstick
QUERIES = 1_000


def _cases(train: torch.Tensor, labels: torch.Tensor, unseen: torch.Tensor) -> dict[str, torch.Tensor]:
    """The known queries for training set `train` (its first QUERIES images, or it repeated to that count)."""
    g = torch.Generator().manual_seed(0)
    copies = train.repeat(-(-QUERIES // len(train)), 1, 1, 1)[:QUERIES]
    shifted = copies.roll(1, dims=3)
    shifted[..., 0] = copies[..., 0]
    means = torch.stack([train[labels == c].float().mean(0) for c in labels.unique()]).round().to(torch.uint8)
    return {
        "unseen": unseen,
        "copies": copies,
        "noisy-copies": (copies.float() + 8 * torch.randn(copies.shape, generator=g)).clamp(0, 255).to(torch.uint8),
        "shifted-1px": shifted,
        "blurred": torch.nn.functional.avg_pool2d(copies.float(), 3, 1, 1, count_include_pad=False).round()
                   .to(torch.uint8),
        "class-means": means.repeat(-(-QUERIES // len(means)), 1, 1, 1)[:QUERIES],
    }


def _row(case: str, training: str, samples: torch.Tensor, train: torch.Tensor, reference: dict) -> dict:
    summary = memorization_audit(samples, train, reference)[0]
    row = {"case": case, "training": training, "queries": len(samples), **{k: summary[k] for k in KEYS}}
    print(f"{training:>18} {case:<14} " + " ".join(f"{summary[k]:.4f}" for k in KEYS), flush=True)
    return row


def known_cases() -> list[dict]:
    full = load_dataset("fashion-mnist", "train")
    test = load_dataset("fashion-mnist", "test").images
    unseen, yardstick = test[:HELD_OUT], test[HELD_OUT:]
    subset = _subset(100, 0)
    rows = []
    for name, images, labels in (("fashion-mnist-100", subset.images, subset.labels),
                                 ("fashion-mnist-60000", full.images, full.labels)):
        reference = audit_reference(yardstick, images)
        cases = _cases(images, labels, unseen)
        rows += [_row(case, name, x, images, reference) for case, x in cases.items()]
    g = torch.Generator().manual_seed(0)
    noise = torch.randint(0, 256, (1_100, 1, 28, 28), generator=g, dtype=torch.uint8)
    train, held = noise[:100], noise[100:]
    grey = torch.full((QUERIES, 1, 28, 28), 128, dtype=torch.uint8)
    rows.append(_row("flat-grey", "uniform-noise-100", grey, train, audit_reference(held, train)))
    return rows


def sampled_runs(run_dirs: list[Path]) -> list[tuple[str, torch.Tensor, torch.Tensor, int]]:
    """(name, the subset it trained on, 10,000 samples at SAMPLE_SEED, G steps) of each bench_few run folder."""
    from ganvq.commands.sample import sample
    from ganvq.runs import open_run

    out = []
    for run_dir in run_dirs:
        run = open_run(run_dir, "gan")
        if not run.config.subset:
            raise SystemExit(f"{run_dir}: not a bench_few run (it trained on no --subset)")
        subset = _subset(run.config.subset, run.config.subset_seed).images
        images, _ = sample(run, 10_000, seed=SAMPLE_SEED, device="cpu")
        out.append((run_dir.name, subset, images, int(run.meta["step"])))
    return out


def gan_runs(run_dirs: list[Path]) -> list[dict]:
    test = load_dataset("fashion-mnist", "test").images
    rows = []
    for name, subset, images, steps in sampled_runs(run_dirs):
        row = _row(name, f"fashion-mnist-{len(subset)}", images, subset, audit_reference(test, subset))
        rows.append(row | {"generator_steps": steps, "yardstick": "all 10,000 test images"})
    return rows


def write_results(out: Path, benchmark: str, doc: str, threads: int, rows: list[dict]) -> None:
    """The benchmark's JSON: what it measured, on which yardstick and machine, and its rows."""
    write_json(out, {"benchmark": benchmark, "what": doc.split("\n\n")[0],
                     "yardstick": f"Fashion-MNIST test images {HELD_OUT:,} on (known cases); all 10,000 (runs)",
                     "machine": describe(), "threads": threads, "measured": time.strftime("%Y-%m-%d %H:%M"),
                     "results": rows})
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, help="GAN run folders of bench_few.py to audit as well")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "audit.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{'training':>18} {'case':<14} " + " ".join(KEYS), flush=True)
    rows = known_cases() + gan_runs(args.runs)
    write_results(args.out, "audit", __doc__, args.threads, rows)


if __name__ == "__main__":
    main()
