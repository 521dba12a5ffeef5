"""Do a conditional GAN's samples show the class asked for, and the data's variety? (issue 22: why utility lags FID).

For each run folder given (conditional GAN runs that benchmarks/bench_privacy.py trained, kept with its --workdir),
draws --n samples of the EMA generator (sample seed 0, classes in turn) and measures, on the shipped Fashion-MNIST
CNN (the evaluation suite's extractor, trained on real images):
- agreement: the share of samples the CNN puts in the class they were drawn for, overall and per class: the
  "GAN-test" of Shmelkov et al. (ECCV 2018);
- per class: precision, recall, density and coverage (k = 5) of class k's samples against the test images of class
  k on the CNN's features: whether a class's samples are realistic (precision) and cover the class's variety
  (recall, coverage);
- the downstream classifier (metrics.utility's fixed recipe, seed 0) trained on these samples: its accuracy on each
  class of the real test set and its confusion matrix: the "GAN-train" side, per class.
--augmented also trains the classifier with classic augmentation (random shifts and flips, the few-shot recipe's)
on the same samples: does augmentation make up for what they lack? --merge keeps the rows of --out not measured
again. --last-g adds each run's last generator weights beside the EMA ones it samples by default (post-processing of
the same private run, free in privacy). --real adds the same measures for as many real training images (drawn
with seed 0): the yardstick; the CNN was trained on those images, so their agreement is an upper bound, not a
comparison. Writes benchmarks/results/privacy-labels.json. Usage:

    python benchmarks/bench_privacy_labels.py --real --last-g --augmented runs/bench-privacy-fixed/full-dp-eps10-fixed
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
from machine import run_record

from ganvq.commands.sample import sample
from ganvq.data.datasets import FASHION_MNIST_CLASSES, load_dataset
from ganvq.errors import GanvqError
from ganvq.io import write_json
from ganvq.metrics.features import get_extractor
from ganvq.metrics.prdc import knn_radii, prdc
from ganvq.metrics.utility import RECIPE, classifier_accuracy, per_class_accuracy, predictions, train_classifier
from ganvq.runs import open_run

RESULTS = Path(__file__).parent / "results"
K = 5  # PRDC's nearest neighbours (metrics.prdc's default)


def reference_of(test: tuple, extractor) -> dict:
    """The test images' features and k-NN radii (k = 5, PRDC's), of all of them and of each class: the same for
    every row, so computed once."""
    features = extractor(test[0])[0]
    by_class = [features[test[1] == k] for k in range(int(test[1].max()) + 1)]
    return {"features": features, "radii": knn_radii(features, K), "by_class": by_class,
            "by_class_radii": [knn_radii(f, K) for f in by_class]}


def measure(name: str, images: torch.Tensor, labels: torch.Tensor, test: tuple, extractor, reference: dict,
            augmented: bool = False) -> dict:
    """Agreement, per-class PRDC against the test images of the class, and the downstream classifier per class."""
    features, predicted = extractor(images)
    right = predicted == labels
    classes = len(reference["by_class"])
    per_class_prdc = [prdc(reference["by_class"][k], features[labels == k], K, reference["by_class_radii"][k])
                      for k in range(classes)]
    model = train_classifier(images, labels, classes, RECIPE["seed"])
    with_augmentation = train_classifier(images, labels, classes, RECIPE["seed"], augment=True) if augmented else None
    test_predicted = predictions(model, test[0])
    confusion = torch.bincount(test[1].long() * classes + test_predicted.long(), minlength=classes**2)
    r3 = lambda v: round(v, 3)  # noqa: E731
    return {"name": name, "samples": len(images), "agreement": round(right.float().mean().item(), 4),
            "per_class": [r3(right[labels == k].float().mean().item()) for k in range(classes)],
            "prdc": {key: r3(value) for key, value in prdc(reference["features"], features, K,
                                                             reference["radii"]).items()},
            "per_class_prdc": {key: [r3(p[key]) for p in per_class_prdc] for key in per_class_prdc[0]},
            "downstream_accuracy": round((test_predicted == test[1]).float().mean().item(), 4),
            "downstream_per_class": [r3(a) for a in per_class_accuracy(test_predicted, test[1], classes)],
            "downstream_confusion": confusion.view(classes, classes).tolist(),
            **({"downstream_accuracy_augmented": round(classifier_accuracy(with_augmentation, *test), 4)}
               if augmented else {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", help="conditional GAN run folders")
    parser.add_argument("--n", type=int, default=10_000, help="samples per run")
    parser.add_argument("--last-g", action="store_true", help="also measure each run's last G, not only its EMA")
    parser.add_argument("--augmented", action="store_true",
                        help="also train the downstream classifier with classic augmentation")
    parser.add_argument("--merge", action="store_true", help="keep --out's rows of runs not measured again")
    parser.add_argument("--real", action="store_true", help="add the real training images' row (the yardstick)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--out", default=str(RESULTS / "privacy-labels.json"))
    args = parser.parse_args()
    if not args.runs and not args.real:
        parser.error("give run folders, --real, or both")
    if args.n < 60:
        parser.error(f"--n must be at least 60 (recall at k = 5 needs over 5 samples of each class), got {args.n}")
    try:
        runs = {path: open_run(path, "gan") for path in args.runs}  # a bad folder stops here, before any work
    except GanvqError as e:
        raise SystemExit(f"bench_privacy_labels.py: {e}") from None
    if args.threads:
        torch.set_num_threads(args.threads)
    load, started = [round(v, 2) for v in os.getloadavg()], time.perf_counter()
    extractor = get_extractor("ganvq")
    test_set = load_dataset("fashion-mnist", "test")
    test = (test_set.images, test_set.labels)
    reference = reference_of(test, extractor)
    rows = []
    if args.real:
        train = load_dataset("fashion-mnist", "train")
        pick = torch.randperm(len(train.images), generator=torch.Generator().manual_seed(0))[:args.n]
        rows.append({"run": None, **measure(f"real training images ({args.n:,})", train.images[pick],
                                           train.labels[pick], test, extractor, reference, args.augmented)})
    for path, ema in [(path, ema) for path in args.runs for ema in ([True, False] if args.last_g else [True])]:
        images, labels = sample(runs[path], args.n, 0, device="cpu", ema=ema)
        if labels is None:
            raise SystemExit(f"{path}: not a conditional run (its samples have no labels)")
        name = Path(path).name + ("" if ema else " (last G)")
        rows.append({"run": path, "ema": ema, **measure(name, images, labels, test, extractor, reference,
                                                        args.augmented)})
    for r in rows:
        print(f"{r['name']}: agreement {r['agreement']:.1%}, recall {r['prdc']['recall']:.3f}, mean per-class recall "
              f"{sum(r['per_class_prdc']['recall']) / len(r['per_class']):.3f}, downstream "
              f"{r['downstream_accuracy']:.1%}", flush=True)
    earlier = []  # what --merge kept: the earlier invocations' records, so the file says when each row was measured
    if args.merge and Path(args.out).is_file():
        before, names = json.loads(Path(args.out).read_text()), {r["name"] for r in rows}
        kept = [r for r in before["results"] if r["name"] not in names]
        earlier = before.get("earlier_invocations", []) + [{
            **{k: before[k] for k in ("machine", "measured", "wall_seconds", "command") if k in before},
            "rows": [r["name"] for r in kept]}]
        rows = kept + rows
    write_json(args.out, {
        "benchmark": "privacy-labels",
        "what": __doc__.splitlines()[0],
        "classifier": "the shipped Fashion-MNIST CNN (ganvq.metrics.features, trained on real images)",
        "reference": f"the {len(test[0]):,} Fashion-MNIST test images (per class: that class's test images)",
        "class_names": list(FASHION_MNIST_CLASSES), "downstream_recipe": dict(RECIPE),
        "sample_seed": 0, **run_record(load, started), "command": " ".join(["python", *sys.argv]),
        **({"earlier_invocations": earlier} if earlier else {}), "results": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
