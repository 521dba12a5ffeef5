"""Does filtering the synthetic library help the small-data classifier? (issue 23's "sample filtering, measured").

For each conditional GAN run that benchmarks/bench_few.py trained (run folders named SIZE-CONFIG-seedSEED, kept
with its --workdir), draws a pool of --oversample x --n samples (EMA generator, sample seed 0, classes in turn;
its first --n samples are exactly the library bench_few scores), then builds libraries of --n images, an equal
number per class, from the pool's first samples that pass each filter:
- `none`: no filter (bench_few's library),
- `d-class-head`: the discriminator's projection term ranks the conditioning label first among the classes
  (argmax over c of D(x, c); the unconditional part of D's logit is the same for every c),
- `real-classifier`: the few-shot classifier (a), trained on the run's real subset, predicts the conditioning label.
Each library is scored like bench_few's (b): ganvq.metrics.utility's fixed few-shot classifier trained on the real
subset (repeated to the library's size) plus the library, accuracy on the 10,000 Fashion-MNIST test images, and
the gain over (a) in points. Each run also gets `ganvq audit membership`'s AUCs on its own training subset against
as many test images (LOGAN: the discriminator's logit; GAN-Leaks: distance to the nearest of 1,000 samples), which
show whether the discriminator memorised its images (augmentation's reason to exist). Writes
benchmarks/results/few_filter.json. Usage:

    python benchmarks/bench_few_filter.py runs/few/100-few-100-seed0 runs/few/100-no-augmentation-seed0 ...
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import torch
from machine import describe

from ganvq.commands.membership import audit_membership
from ganvq.commands.sample import sample
from ganvq.data import load_dataset
from ganvq.io import write_json
from ganvq.metrics.utility import (FEW_SHOT_STEPS, RECIPE, classifier_accuracy, few_shot_accuracy, predictions,
                                  real_plus_synthetic, train_classifier)
from ganvq.runs import open_run
from ganvq.runs.run import load_discriminator

RESULTS = Path(__file__).parent / "results"
NAME = re.compile(r"(?P<size>\d+)-(?P<config>.+)-seed(?P<seed>\d+)$")
FILTERS = ("none", "d-class-head", "real-classifier")
BATCH = 2000


@torch.no_grad()
def class_head_labels(run, images: torch.Tensor, num_classes: int) -> torch.Tensor:
    """argmax over classes c of the run's discriminator D(x, c), for uint8 images (N, C, H, W)."""
    D, _ = load_discriminator(run)
    x = images.float() / 127.5 - 1
    scores = torch.stack([torch.cat([D(x[i:i + BATCH], torch.full((len(x[i:i + BATCH]),), c))
                                     for i in range(0, len(x), BATCH)]) for c in range(num_classes)], 1)
    return scores.argmax(1)


def first_per_class(keep: torch.Tensor, labels: torch.Tensor, per_class: int, num_classes: int) -> torch.Tensor:
    """Indices of the first `per_class` kept samples of every class, or fewer where the pool has fewer, in pool
    order (with no filter: exactly bench_few's library, in its order, since the classifier's batches follow it)."""
    return torch.cat([torch.nonzero(keep & (labels == k)).flatten()[:per_class] for k in range(num_classes)]).sort()[0]


def measure(run_dir: Path, args, real_cache: dict, test) -> dict:
    run = open_run(run_dir, "gan")
    config = run.config
    k = config.model.num_classes
    if not k:
        raise SystemExit(f"{run_dir}: an unconditional GAN; its samples carry no labels to filter by")
    key = (config.subset, config.subset_seed)
    if key not in real_cache:
        real = load_dataset("fashion-mnist", "train").balanced(config.subset, config.subset_seed)
        # (a) as few_shot_accuracy trains it (deterministic), kept as the real-classifier filter
        clf = train_classifier(real.images, real.labels, k, RECIPE["seed"], steps=args.steps, augment=True)
        a = {"accuracy": classifier_accuracy(clf, test.images, test.labels)}
        real_cache[key] = (real, a, clf)
    real, a, clf = real_cache[key]
    t0 = time.perf_counter()
    pool, labels = sample(run, args.oversample * args.n, seed=0, device="cpu")
    agree = {"none": torch.ones(len(pool), dtype=torch.bool),
             "d-class-head": class_head_labels(run, pool, k) == labels,
             "real-classifier": predictions(clf, pool) == labels}
    row = {"run": str(run_dir), **{g: (m.group(g) if g == "config" else int(m.group(g)))
                                   for m in [NAME.search(run_dir.name)] if m for g in ("size", "config", "seed")},
           "generator_steps": int(run.meta["step"]), "pool": len(pool), "real_only_accuracy": a["accuracy"],
           "filters": {}}
    for name in FILTERS:
        idx = first_per_class(agree[name], labels, args.n // k, k)
        x_both, y_both, _ = real_plus_synthetic((real.images, real.labels), (pool[idx], labels[idx]))
        b = few_shot_accuracy((x_both, y_both), (test.images, test.labels), k, steps=args.steps)
        gain = round(100 * (b["accuracy"] - a["accuracy"]), 2)
        row["filters"][name] = {"agreement": round(float(agree[name].float().mean()), 4), "library": len(idx),
                                "accuracy": b["accuracy"], "gain_points": gain,
                                "per_class_accuracy": b.get("per_class_accuracy")}
    # why augmentation may not matter: how well D tells its training images from unseen ones (LOGAN's attack, the
    # run's own subset against as many test images; AUC 0.5: D has not memorised them)
    audit = audit_membership(run_dir, "train", "test", n=config.subset or 1000, samples=1000, seed=0,
                             out=run_dir / "audit-membership.json")
    row["d_membership_auc"] = {name: round(attack["auc"], 4) for name, attack in audit["attacks"].items()} | {
        "per_side": audit["per_side"]}
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


def summarize(rows: list[dict]) -> dict:
    """Mean gain per configuration and filter, with the per-seed gains."""
    out = {}
    for config in sorted({r["config"] for r in rows}):
        group = [r for r in rows if r["config"] == config]
        out[config] = {}
        for f in FILTERS:
            gains = [r["filters"][f]["gain_points"] for r in group]
            out[config][f] = {"gains": gains,
                              "mean_agreement": round(sum(r["filters"][f]["agreement"] for r in group) / len(group), 4),
                              "mean_gain_points": round(sum(gains) / len(group), 2)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="conditional GAN run folders of bench_few.py")
    parser.add_argument("--n", type=int, default=10_000, help="library size (default 10,000, bench_few's)")
    parser.add_argument("--oversample", type=int, default=4, help="pool = OVERSAMPLE x N samples (default 4)")
    parser.add_argument("--steps", type=int, default=FEW_SHOT_STEPS,
                        help=f"classifier steps (default {FEW_SHOT_STEPS}, bench_few's; fewer only for a smoke test)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "few_filter.json")
    parser.add_argument("--merge", action="store_true", help="keep --out's rows of other runs (measured earlier)")
    args = parser.parse_args()
    if args.n < 10 or args.oversample < 1:
        parser.error("--n must be at least 10 and --oversample at least 1")
    torch.set_num_threads(args.threads)
    test = load_dataset("fashion-mnist", "test")
    cache, rows = {}, []
    if args.merge and args.out.is_file():
        rows = [r for r in json.loads(args.out.read_text())["results"] if r["run"] not in {str(p) for p in args.runs}]
    for run_dir in args.runs:
        row = measure(run_dir, args, cache, test)
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("run", "generator_steps")}
                         | {f: row["filters"][f]["gain_points"] for f in FILTERS}), flush=True)
    rows.sort(key=lambda r: (r.get("size", 0), r.get("config", ""), r.get("seed", 0)))
    write_json(args.out, {
        "benchmark": "few_filter", "what": __doc__.split("\n\n")[0],
        "dataset": "fashion-mnist: each run's balanced training subset; accuracy on the 10,000 test images",
        "library_images": args.n, "classifier_steps": args.steps, "pool_images_per_run": args.oversample * args.n,
        "filters": list(FILTERS),
        "machine": describe(), "threads": args.threads, "measured": time.strftime("%Y-%m-%d %H:%M"),
        "summary": summarize(rows), "results": rows})
    print(json.dumps(summarize(rows), indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
