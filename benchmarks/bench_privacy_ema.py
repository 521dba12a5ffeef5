"""How long an average of G's weights suits a private GAN (issue 22): one `dp-fmnist` run at ε = 10, read out
through several averages of its generator's weights, each scored like `bench_privacy.py`'s rows.

DP-SGD's noise makes G wander, and the EMA of its weights carries much of a private run's utility (sampling G's
last weights instead loses 9-11 points: results/privacy-labels.json). ganvq's EMA uses decay
min(ema_decay, (1 + t) / (10 + t)), whose warm-up still rules at the preset's 5,500 G steps (it reaches 0.999 only
at t = 8,990): in effect it weighs G's update s about as s^8, roughly the last tenth of the run. This trains one
run and keeps, beside its own EMA, power-function averages (Karras et al. 2024, EDM2: after update n, decay
(1 - 1/n)^(gamma + 1), whose weight on update s grows as s^gamma, so a smaller gamma averages a longer tail of the
run). The averages only read G's weights, so they cost no privacy (post-processing) and change nothing in
training: every row of one run is the same training, and their differences are the averaging's alone.

    OMP_NUM_THREADS=1 python benchmarks/bench_privacy_ema.py --seed 0 --out benchmarks/results/privacy-ema-s0.json
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import shutil
import sys
import time
from pathlib import Path

import torch
from machine import describe
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_privacy import DELTA, SAMPLES, command, run_config  # noqa: E402

from ganvq.commands.evaluate import privacy_facts, utility  # noqa: E402
from ganvq.commands.sample import sample  # noqa: E402
from ganvq.io import write_json  # noqa: E402
from ganvq.metrics.score import score_samples  # noqa: E402
from ganvq.runs import open_run  # noqa: E402
from ganvq.train import loop  # noqa: E402
from ganvq.train.gan import GANTask, ema_update, power_ema_decay  # noqa: E402

AVERAGES = "averages.safetensors"  # the extra averages' weights, beside the run's checkpoint
LABELS_WHAT = ("agreement: the share of a readout's 10,000 samples the shipped Fashion-MNIST CNN puts in the class "
               "they were drawn for (GAN-test); recall_per_class_mean: the mean over classes of class k's samples' "
               "recall against class k's test images (k = 5 nearest neighbours, on the CNN's features)")


class AveragingTask(GANTask):
    """A GANTask that also keeps power-function averages of G's weights, one per gamma."""

    def __init__(self, config, gammas: list[float], out: Path):
        super().__init__(config, out=out)
        self.gammas = gammas
        self.averages = {g: copy.deepcopy(self.G).eval().requires_grad_(False) for g in gammas}

    def train_step(self, step: int) -> dict[str, float]:
        rollbacks = self.rollbacks
        metrics = super().train_step(step)
        if self.rollbacks == rollbacks:  # a rolled-back step updated no weights
            for gamma, average in self.averages.items():
                ema_update(average, self.G, power_ema_decay(gamma, step + 1))
        return metrics


def train(config, out: Path, gammas: list[float]) -> dict:
    """Train the run (afresh) and write its averages to out/AVERAGES; the loop's summary."""
    shutil.rmtree(out, ignore_errors=True)
    holder = {}

    def make(cfg, _):
        holder["task"] = AveragingTask(cfg, gammas, out)
        return holder["task"]

    summary = loop.run("gan", config, out, make, quiet=True)
    save_file({f"{g:g}.{k}": v.contiguous() for g, m in holder["task"].averages.items()
               for k, v in m.state_dict().items()}, str(out / AVERAGES))
    return summary


def _sampling(run, weights: dict[str, torch.Tensor]):
    """The run with `weights` (a generator's state dict) in place of its EMA, which sampling reads."""
    return dataclasses.replace(run, tensors={**run.tensors, **{f"G_ema.{k}": v for k, v in weights.items()}})


def readouts(run, gammas: list[float]) -> dict:
    """The run read out through each average: its own EMA, each power average, and G's last weights."""
    saved = load_file(str(run.folder / AVERAGES))
    out = {"ema (preset)": run, "last": _sampling(run, run.weights("G"))}
    for g in gammas:
        prefix = f"{g:g}."
        out[f"power gamma {g:g}"] = _sampling(run, {k[len(prefix):]: v for k, v in saved.items()
                                                    if k.startswith(prefix)})
    return out


def score(name: str, run, seed: int, utility_n: list[int]) -> dict:
    images = sample(run, SAMPLES, seed, device="cpu")[0]
    scores = score_samples(images, "fashion-mnist", seed=seed)
    by_n = {n: utility(run, n, seed)["accuracy"] for n in sorted(set(utility_n))}
    row = {"readout": name, "fid": scores["fid"], "class_coverage": scores.get("class_coverage"),
           "precision": scores.get("precision"), "recall": scores.get("recall"),
           "utility_accuracy_by_samples": {str(n): a for n, a in by_n.items()}}
    print(json.dumps(row), flush=True)
    return row


def add_labels(path: Path, run, gammas: list[float], seed: int) -> None:
    """Add to each row of the output at `path` whether its samples show their class: the share the shipped
    Fashion-MNIST CNN puts in the class asked for (GAN-test; bench_privacy_labels.py's agreement), and the mean over
    classes of class k's samples' recall against class k's test images (k = 5)."""
    from bench_privacy_labels import K, reference_of

    from ganvq.data.datasets import load_dataset
    from ganvq.metrics.features import get_extractor
    from ganvq.metrics.prdc import prdc

    data = json.loads(path.read_text())
    test = load_dataset("fashion-mnist", "test")
    extractor = get_extractor("ganvq")
    reference = reference_of((test.images, test.labels), extractor)
    views = readouts(run, gammas)
    for row in data["results"]:
        images, labels = sample(views[row["readout"]], SAMPLES, seed, device="cpu")
        features, predicted = extractor(images)
        recall = [prdc(reference["by_class"][k], features[labels == k], K, reference["by_class_radii"][k])["recall"]
                  for k in range(len(reference["by_class"]))]
        row["agreement"] = round((predicted == labels).float().mean().item(), 4)
        row["recall_per_class_mean"] = round(sum(recall) / len(recall), 4)
        print(json.dumps({k: row[k] for k in ("readout", "agreement", "recall_per_class_mean")}), flush=True)
    data["labels_what"], data["labels_invocation"] = LABELS_WHAT, "OMP_NUM_THREADS=1 python " + " ".join(sys.argv)
    write_json(path, data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=5500, help="G steps (the preset's study length)")
    ap.add_argument("--epsilon", type=float, default=10.0)
    ap.add_argument("--gammas", type=float, nargs="+", default=[1.0, 2.0, 4.0],
                    help="power-function averages kept beside the run's own EMA")
    ap.add_argument("--utility-n", type=int, nargs="+", default=[10_000, 60_000])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workdir", default="runs/bench-privacy-ema")
    ap.add_argument("--rescore", action="store_true", help="score the run already in the workdir (no training)")
    ap.add_argument("--labels", action="store_true",
                    help="add class agreement and per-class recall to each row of --out (run already scored)")
    ap.add_argument("--out", default="benchmarks/results/privacy-ema.json")
    args = ap.parse_args()
    if any(g < 0 for g in args.gammas):
        raise SystemExit("bench_privacy_ema: --gammas must be non-negative")
    torch.set_num_threads(args.threads)
    t0 = time.time()
    name = f"full-dp-eps{args.epsilon:g}" + (f"-s{args.seed}" if args.seed else "")
    out = Path(args.workdir) / name
    config = run_config(None, args.steps, args.epsilon, args.seed, args.threads)
    if args.labels:
        add_labels(Path(args.out), open_run(out, "gan"), args.gammas, args.seed)
        return
    load_before = [round(v, 2) for v in os.getloadavg()]
    train_seconds = None
    if not args.rescore:
        train_seconds = train(config, out, args.gammas)["train_seconds"]
    run = open_run(out, "gan")
    rows = [score(k, r, args.seed, args.utility_n) for k, r in readouts(run, args.gammas).items()]
    result = {
        "what": "one dp-fmnist run at the ε listed on all 60,000 Fashion-MNIST training images, read out through "
                "several averages of G's weights (post-processing: the same training and ε for every row): the "
                "run's own EMA (decay min(0.999, (1 + t) / (10 + t))), EDM2's power-function averages (decay "
                "(1 - 1/n)^(gamma + 1)), and G's last weights. Each scored like bench_privacy.py's rows: FID, "
                "precision and recall on the shipped Fashion-MNIST CNN against the 10,000 test images (10,000 "
                "samples, classes in turn), and the utility classifier trained on N samples, tested on the real "
                "test set",
        "machine": describe(), "seed": args.seed, "gammas": args.gammas,
        "run": {"name": name, "generator_steps": run.meta.get("step"), "train_seconds": train_seconds,
                "minutes": round(train_seconds / 60, 2) if train_seconds else None, "threads": args.threads,
                "load_average_before": load_before, "load_average_after": [round(v, 2) for v in os.getloadavg()],
                "privacy": privacy_facts(run), "delta": DELTA,
                "command": command(None, args.steps, args.epsilon, args.seed, args.threads, out)},
        "results": rows,
        "wall_minutes_this_invocation": round((time.time() - t0) / 60, 1),
        "invocation": "OMP_NUM_THREADS=1 python " + " ".join(sys.argv),
    }
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
