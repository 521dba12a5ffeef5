"""Training speed on one process against several (torchrun + DistributedDataParallel) on this machine.

Each model trains through the real command line for about a minute, twice at the same global batch size:
1 process x 2 threads (`ganvq train ... --threads 2`), 1 process x 1 thread, and 2 processes x 1 thread (`torchrun --nproc-per-node 2
-m ganvq train ... --threads 1`, gloo). Images per second are read from the run's metrics.jsonl between its
first and last metric lines, so start-up, data loading and the final scoring are left out. The same runs on
one or more GPUs are recorded only when a GPU is present; otherwise their rows say "not run" (never passed).
Writes benchmarks/results/scale.json. Usage:
    python benchmarks/bench_scale.py [--minutes 1] [--models vqvae,gan]
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

from ganvq.io import write_json
from ganvq.runs import read_metrics

RESULTS = Path(__file__).parent / "results"
PRESETS = {"vqvae": "fmnist-7x7", "gan": "fmnist-best"}


def command(kind: str, out: Path, minutes: float, processes: int, threads: int, device: str) -> list[str]:
    """The training command line: plain `python -m ganvq`, or under torchrun for several processes."""
    launcher = [sys.executable, "-m", "ganvq"]
    if processes > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                    str(processes), "-m", "ganvq"]
    return [*launcher, "--quiet", "train", kind, "--preset", PRESETS[kind], "--out", str(out), "--steps", "1000000",
            "--minutes", str(minutes), "--threads", str(threads), "--log-every", "2", "--device", device]


def images_per_second(run: Path) -> tuple[float, int]:
    """Global images per second between the first and the last metric line, and the steps trained."""
    config = json.loads((run / "config.json").read_text())
    per_step = config["train"]["batch_size"] * config.get("gan", {}).get("n_d", 1)
    lines = [r for r in read_metrics(run) if "elapsed_seconds" in r and "train_seconds" not in r]
    first, last = lines[0], lines[-1]
    if last["step"] == first["step"]:  # one metric line: from the start (k-means initialisation included)
        first = {"step": 0, "elapsed_seconds": 0.0}
    return (last["step"] - first["step"]) * per_step / (last["elapsed_seconds"] - first["elapsed_seconds"]), last["step"]


def measure(kind: str, minutes: float, processes: int, threads: int, device: str = "cpu") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(Path(__file__).parents[1] / "src"))
        load = os.getloadavg()[0]
        start = time.perf_counter()
        done = subprocess.run(command(kind, out, minutes, processes, threads, device), env=env, capture_output=True,
                              text=True, timeout=minutes * 60 + 600, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{kind} on {processes} process(es) failed:\n{done.stderr[-3000:]}")
        rate, steps = images_per_second(out)
        final = next(r for r in reversed(read_metrics(out)) if "precision_used" in r)
    return {"model": kind, "preset": PRESETS[kind], "device": device, "processes": processes,
            "threads_per_process": threads, "images_per_second": round(rate, 1), "steps": steps,
            "precision": final["precision_used"],
            "wall_seconds": round(time.perf_counter() - start, 1), "load_average_before": round(load, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="training budget of each run")
    parser.add_argument("--models", default="vqvae,gan")
    parser.add_argument("--note", default="", help="what else ran on the machine, recorded with the results")
    parser.add_argument("--out", default=str(RESULTS / "scale.json"))
    args = parser.parse_args()
    rows = []
    for kind in args.models.split(","):
        by = {}
        for processes, threads in ((1, 2), (2, 1), (1, 1)):
            rows.append(measure(kind, args.minutes, processes, threads))
            by[processes, threads] = rows[-1]
            print(json.dumps(rows[-1]), flush=True)
        two = by[2, 1]["images_per_second"]
        by[2, 1]["speedup_over_1x2"] = round(two / by[1, 2]["images_per_second"], 2)
        by[2, 1]["speedup_over_1x1"] = round(two / by[1, 1]["images_per_second"], 2)
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    for kind in args.models.split(","):
        for processes in (1, 2):
            if processes <= gpus:
                rows.append(measure(kind, args.minutes, processes, 1, "cuda"))
            else:
                rows.append({"model": kind, "preset": PRESETS[kind], "device": "cuda", "processes": processes,
                             "status": "not run: no GPU lent" if gpus == 0 else f"not run: {gpus} GPU(s) here"})
    machine = describe()
    machine["cpus"] = os.cpu_count()
    machine["gpus"] = [torch.cuda.get_device_name(i) for i in range(gpus)]
    write_json(Path(args.out), {
        "what": "images/s of global training throughput, same global batch size, 1 process x 2 threads and "
                "1 x 1 vs 2 processes x 1 thread (torchrun, DDP over gloo), read between the first and last metric lines "
                "of a ~1-minute run through the CLI; GPU rows when a GPU is present",
        "machine": machine, "note": args.note, "minutes_per_run": args.minutes, "runs": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
