"""Refactoring check: does this tree train exactly as an earlier commit did?

A change meant to leave behaviour alone (code moved into new layers, a loader rewritten) keeps
every figure in benchmarks/results/ when training is bit-identical. This trains the same short runs
with `src/` of REV (checked out in a temporary git worktree) and with this tree, each in a process
of its own on one thread, and compares every tensor of every checkpoint (weights, optimizer and RNG
state, counters) and every logged metric except wall-clock times:

- a VQ-VAE (fmnist-7x7, with a periodic checkpoint), a transformer prior and a class-conditional
  local prior over its codes, and two GANs (fmnist-few with adaptive DiffAugment; dcgan-textbook);
- across versions: the VQ-VAE and the GAN interrupted at step 20 by REV, resumed by this tree,
  against REV's uninterrupted runs.

Writes benchmarks/results/same-as.json. Usage (about 5 minutes on 2 cores):
    python benchmarks/bench_same_as.py --base REV
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from machine import describe
from safetensors.torch import load_file

from ganvq.io import write_json

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
COMMON = ["--limit", "2000", "--threads", "1", "--log-every", "10"]
RUNS = {  # name -> CLI arguments after `ganvq --quiet train`; prior runs read the VQ-VAE run "vq"
    "vq": ["vqvae", "--steps", "40", "--ckpt-every", "20", *COMMON],
    "prior": ["prior", "--vqvae", "{work}/vq", "--steps", "30", "--dim", "32", "--layers", "1", *COMMON],
    "local-prior": ["prior", "--vqvae", "{work}/vq", "--steps", "30", "--arch", "local", "--class-conditional", *COMMON],
    "gan-few-ada": ["gan", "--preset", "fmnist-few", "--steps", "30", "--diffaugment", "translation",
                    "--diffaugment-target", "0.6", "--sample-every", "0", *COMMON],
    "gan-textbook": ["gan", "--preset", "dcgan-textbook", "--steps", "20", "--lr", "0.001", "--sample-every", "0",
                     *COMMON],
}
INTERRUPTED = {"vq": "VQVAETask", "gan-few-ada": "GANTask"}  # also run by REV up to step 20, then resumed here
TIMES = ("elapsed_seconds", "train_seconds")

# Runs in a child process whose `ganvq` is one tree's src/: argv = work folder, then "train" or "interrupt".
CHILD = r"""
import importlib, json, sys
from ganvq.cli import main
work, what = sys.argv[1], sys.argv[2]
runs, interrupted = json.loads(sys.argv[3]), json.loads(sys.argv[4])
if what == "interrupt":
    for name, task in interrupted.items():
        module = importlib.import_module("ganvq.train." + ("vqvae" if task == "VQVAETask" else "gan"))
        cls = getattr(module, task)
        original = cls.train_step
        def stop_at_20(self, step, original=original):
            if step == 20:
                raise KeyboardInterrupt  # as Ctrl-C: the loop saves a checkpoint and stops
            return original(self, step)
        cls.train_step = stop_at_20
        main(["--quiet", "train", *[a.format(work=work) for a in runs[name]], "--out", f"{work}/{name}"])
        cls.train_step = original
else:
    resume = what == "resume"
    for name in (interrupted if resume else runs):
        args = ["--resume"] if resume else [a.format(work=work) for a in runs[name]][1:]
        kind = runs[name][0]
        assert main(["--quiet", "train", kind, *args, "--out", f"{work}/{name}"]) == 0, name
"""


def run_child(src: Path, work: Path, what: str) -> None:
    """Train (or interrupt, or resume) the runs in `work` with the ganvq of `src`, in a new process."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    subprocess.run([sys.executable, "-c", CHILD, str(work), what, json.dumps(RUNS), json.dumps(INTERRUPTED)],
                   env=env, check=True, stdout=subprocess.DEVNULL)


def compare(a: Path, b: Path) -> dict:
    """Tensors and metric lines of two run folders: how many differ."""
    ta, tb = load_file(a / "checkpoint.safetensors"), load_file(b / "checkpoint.safetensors")
    differ = sorted(k for k in ta.keys() | tb.keys() if k not in ta or k not in tb or not torch.equal(ta[k], tb[k]))

    def lines(run: Path) -> list[dict]:
        return [{k: v for k, v in json.loads(line).items() if k not in TIMES}
                for line in (run / "metrics.jsonl").read_text().splitlines()]

    return {"tensors": len(ta), "tensors_differing": len(differ), "first_differing": differ[:5],
            "metric_lines": len(lines(a)), "metrics_equal": lines(a) == lines(b),
            "identical": not differ and lines(a) == lines(b)}


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit to compare with (e.g. HEAD~1 or a hash)")
    parser.add_argument("--out", default=str(RESULTS / "same-as.json"))
    args = parser.parse_args()
    base = git("rev-parse", args.base)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        git("worktree", "add", "--detach", str(tmp / "base-tree"), base)
        try:
            for side, src in (("base", tmp / "base-tree" / "src"), ("this", ROOT / "src")):
                (tmp / side).mkdir()
                run_child(src, tmp / side, "train")
            (tmp / "cross").mkdir()
            run_child(tmp / "base-tree" / "src", tmp / "cross", "interrupt")
            run_child(ROOT / "src", tmp / "cross", "resume")
            runs = {name: compare(tmp / "base" / name, tmp / "this" / name) for name in RUNS}
            resumed = {name: compare(tmp / "base" / name, tmp / "cross" / name) for name in INTERRUPTED}
        finally:
            git("worktree", "remove", "--force", str(tmp / "base-tree"))
    identical = all(r["identical"] for r in [*runs.values(), *resumed.values()])
    result = {
        "benchmark": "same-as",
        "base": base,
        "this": git("rev-parse", "HEAD") + (" with uncommitted changes" if git("status", "--porcelain", "src") else ""),
        "runs": {name: " ".join(argv) for name, argv in RUNS.items()},
        "method": "each side trains in its own process on 1 thread; every checkpoint tensor compared with "
                  "torch.equal, every metrics.jsonl line compared without its wall-clock times",
        "same_runs": runs,
        "resumed_across_versions": resumed,
        "all_identical": identical,
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": describe(),
        "measured": time.strftime("%Y-%m-%d"),
    }
    write_json(args.out, result)
    print(json.dumps({"all_identical": identical, **{k: v["identical"] for k, v in runs.items()},
                      **{f"resumed {k}": v["identical"] for k, v in resumed.items()}}, indent=2))


if __name__ == "__main__":
    main()
