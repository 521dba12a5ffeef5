"""Reliability bar: hundreds of hostile inputs through ganvq's CLI, and kill -9 / SIGINT / SIGTERM during training.

1. Trains a tiny VQ-VAE and prior (seconds), then makes the hostile corpus of tests/hostile/make_corpus.py
   (damaged and crafted IDX files and gzip bombs, .npz, PNG/JPEG, checkpoints, config files and metrics logs)
   and fuzzed .gvq files (random damage, with and without a recomputed check, and crafted headers).
2. Runs every case through the CLI's entry point `ganvq.cli.main(argv)` in a child process with a timeout and
   an address-space limit (resource.setrlimit), and classifies it: accepted (exit 0), refused (exit 2 and one
   `ganvq ...: error:` line), or a failure: a traceback, a multi-line error, another exit code, a kill by the
   memory limit, a timeout. The bar: 0 tracebacks. `--runner fork` (default) forks the child from this
   process after ganvq is imported (milliseconds instead of seconds of `import torch` per case); `--runner
   subprocess` starts `python -m ganvq` for every case (the same entry point; ~10x slower here). Either way,
   `--subprocess-sample K` also runs K cases through `python -m ganvq` and checks they end the same way.
3. With benchmarks/reliability_kill.py present, its `run_trials` (kill -9 at random moments then --resume,
   SIGINT/SIGTERM including the final save) under the "kill_and_signals" key.

Writes benchmarks/results/reliability.json:
    python benchmarks/bench_reliability.py [--count 20] [--gvq 60] [--seed 0] [--kills 20] [--signals 10]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
sys.path.insert(0, str(Path(__file__).parent))


def _load_corpus():
    spec = importlib.util.spec_from_file_location("make_corpus", ROOT / "tests" / "hostile" / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_corpus"] = module
    spec.loader.exec_module(module)
    return module


def _train_models(work: Path) -> tuple[Path, Path]:
    """A tiny VQ-VAE (16 codes, 7x7 maps) and a tiny prior over its codes, as the test suite's fixtures."""
    import torch

    from ganvq.models.vqvae import VQVAEConfig
    from ganvq.prior import PriorConfig
    from ganvq.quantize.vq import VQConfig
    from ganvq.runs import PriorRunConfig, TrainConfig, VQVAERunConfig
    from ganvq.train.prior import train_prior
    from ganvq.train.vqvae import train_vqvae

    torch.set_num_threads(1)
    vqvae, prior = work / "vqvae", work / "prior"
    model = VQVAEConfig(hidden=32, res_blocks=1, downsamples=2, vq=VQConfig(codebook_size=16, dim=8))
    train = TrainConfig(steps=20, batch_size=16, precision="fp32", log_every=2, ckpt_every=100, eval_images=0)
    train_vqvae(VQVAERunConfig(model=model, train=train, limit=256), vqvae, quiet=True)
    train = TrainConfig(steps=20, batch_size=32, lr=3e-3, precision="fp32", log_every=10, ckpt_every=100,
                        eval_images=64)
    train_prior(PriorRunConfig(vqvae=str(vqvae), model=PriorConfig(dim=32, layers=2, heads=2), train=train,
                               limit=256), prior, quiet=True)
    return vqvae, prior


def _gvq_files(prior: Path) -> tuple[list[bytes], bytes]:
    """A one-image and a 12-image .gvq file made with `prior`, and its model hash."""
    from ganvq.codec import Codec
    from ganvq.data import load_dataset

    codec = Codec.from_checkpoint(prior)
    images = load_dataset("fashion-mnist", "test", limit=12).images
    return [codec.compress(images[:1]), codec.compress(images)], codec.hash


def _vm_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def _child(argv: tuple[str, ...], err_path: Path, memory: int) -> None:
    """In a forked child: the CLI on `argv` under an address-space limit, stderr to a file; never returns."""
    rc = 1
    try:
        limit = _vm_bytes() + memory  # the parent's mappings (torch) count against the limit too
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 2)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        from ganvq.cli import main

        try:
            rc = main(list(argv))
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
        except BaseException:  # what Python itself would print for an uncaught exception
            traceback.print_exc()
            rc = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc)


def _run_fork(argv, err_path: Path, timeout: float, memory: int) -> tuple[int | None, str]:
    pid = os.fork()
    if pid == 0:
        _child(argv, err_path, memory)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None, "timeout"
        time.sleep(0.005)
    rc = os.waitstatus_to_exitcode(status)
    return rc, ""


def _run_subprocess(argv, err_path: Path, timeout: float, memory: int) -> tuple[int | None, str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    with open(err_path, "wb") as err:
        try:
            proc = subprocess.run([sys.executable, "-m", "ganvq", *argv], stdout=subprocess.DEVNULL, stderr=err,
                                  timeout=timeout, preexec_fn=limit, env={**os.environ, "OMP_NUM_THREADS": "1"})
        except subprocess.TimeoutExpired:
            return None, "timeout"
    return proc.returncode, ""


def classify(rc: int | None, err: str, note: str = "") -> str:
    """accepted, refused, or the kind of failure (traceback, multi_line_error, exit_N, signal_N, timeout)."""
    if note == "timeout":
        return "timeout"
    if "Traceback (most recent call last)" in err:
        return "traceback"
    if rc == 0:
        return "accepted"
    if rc is not None and rc < 0:
        return f"signal_{-rc}"
    if rc != 2:
        return f"exit_{rc}"
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("ganvq: warning:")]
    if len(lines) == 1 and lines[0].startswith("ganvq") and "error:" in lines[0]:
        return "refused"
    return "multi_line_error"


def run_cases(cases, work: Path, runner: str, timeout: float, memory: int) -> list[dict]:
    run = _run_fork if runner == "fork" else _run_subprocess
    records = []
    err_path = work / "stderr.txt"
    for i, case in enumerate(cases):
        t0 = time.perf_counter()
        rc, note = run(case.argv, err_path, timeout, memory)
        err = err_path.read_text(encoding="utf-8", errors="replace") if err_path.exists() else ""
        outcome = classify(rc, err, note)
        records.append({"kind": case.kind, "name": case.name, "outcome": outcome, "exit": rc,
                        "seconds": round(time.perf_counter() - t0, 3),
                        "message": (err.strip().splitlines() or [""])[-1][:300]})
        if outcome not in ("accepted", "refused"):
            print(f"  {outcome}: {case.kind}/{case.name}: {' '.join(case.argv)}\n{err[-2000:]}", file=sys.stderr)
        if (i + 1) % 50 == 0:
            print(f"  {i + 1}/{len(cases)} cases", file=sys.stderr)
    return records


def summarize(records: list[dict]) -> dict:
    by_kind: dict[str, Counter] = defaultdict(Counter)
    slowest: dict[str, float] = defaultdict(float)
    for r in records:
        by_kind[r["kind"]][r["outcome"]] += 1
        by_kind[r["kind"]]["tried"] += 1
        slowest[r["kind"]] = max(slowest[r["kind"]], r["seconds"])
    failures = [r for r in records if r["outcome"] not in ("accepted", "refused")]
    return {
        "inputs_tried": len(records),
        "tracebacks": sum(r["outcome"] == "traceback" for r in records),
        "failures": len(failures),
        "by_kind": {k: {**dict(v), "slowest_seconds": round(slowest[k], 2)} for k, v in sorted(by_kind.items())},
        "failed_cases": failures[:50],
        "slowest_cases": sorted(records, key=lambda r: -r["seconds"])[:5],
    }


def kill_and_signals(work: Path, kills: int, signals: int, seed: int) -> dict:
    """benchmarks/reliability_kill.py's run_trials, or a note saying why it did not run."""
    if not (Path(__file__).parent / "reliability_kill.py").exists():
        return {"skipped": "benchmarks/reliability_kill.py is not there yet: kill -9 and signal trials not run"}
    if kills == 0 and signals == 0:
        return {"skipped": "--kills 0 --signals 0"}
    from reliability_kill import run_trials

    return run_trials(work / "kill", kills=kills, signals=signals, seed=seed)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=20, help="damaged copies per base file and kind (default 20)")
    p.add_argument("--gvq", type=int, default=60, help="damaged copies of each of the two .gvq files (default 60)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bomb-mb", type=int, default=1024, help="zeros in the IDX gzip bomb, in MB (default 1024)")
    p.add_argument("--runner", choices=["fork", "subprocess"], default="fork")
    p.add_argument("--subprocess-sample", type=int, default=12, help="cases also run through python -m ganvq")
    p.add_argument("--timeout", type=float, default=120, help="seconds per case")
    p.add_argument("--memory-gb", type=float, default=4, help="address space a case may add (fork) or use")
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--signals", type=int, default=10)
    p.add_argument("--kill-results", metavar="JSON",
                   help="take kill_and_signals from this earlier reliability.json instead of running the trials "
                        "again (e.g. after fixing what the hostile inputs found)")
    p.add_argument("--workdir", help="keep the corpus and runs here (default: a temporary folder)")
    p.add_argument("--out", default=str(RESULTS / "reliability.json"))
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    corpus = _load_corpus()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ganvq-reliability-") as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        print("training a tiny VQ-VAE and prior ...", file=sys.stderr)
        vqvae, prior = _train_models(work / "runs")
        cases = corpus.make_corpus(work / "corpus", vqvae, seed=args.seed, count=args.count, bomb_mb=args.bomb_mb)
        files, model_hash = _gvq_files(prior)
        for i, good in enumerate(files):
            cases += corpus.gvq_cases(work / f"corpus-gvq{i}", prior, good, model_hash, args.seed + i, args.gvq)
        print(f"{len(cases)} hostile inputs ...", file=sys.stderr)
        memory = int(args.memory_gb * 2**30) if args.runner == "fork" else int((args.memory_gb + 4) * 2**30)
        records = run_cases(cases, work, args.runner, args.timeout, memory)
        result = {"bar": "0 tracebacks over >= 500 hostile inputs", **summarize(records)}
        sample = [c for i, c in enumerate(cases) if i % max(1, len(cases) // max(args.subprocess_sample, 1)) == 0]
        if args.runner == "fork" and args.subprocess_sample:
            checked = run_cases(sample[: args.subprocess_sample], work, "subprocess", args.timeout,
                                int((args.memory_gb + 4) * 2**30))
            same = [r["outcome"] == records[cases.index(c)]["outcome"] for r, c in zip(checked, sample)]
            result["subprocess_check"] = {"cases": len(checked), "same_outcome": sum(same),
                                          "tracebacks": sum(r["outcome"] == "traceback" for r in checked)}
        if args.kill_results:
            earlier = json.loads(Path(args.kill_results).read_text())
            result["kill_and_signals"] = {**earlier["kill_and_signals"], "from": "an earlier run: "
                                          + earlier.get("commit", args.kill_results)}
        else:
            result["kill_and_signals"] = kill_and_signals(work, args.kills, args.signals, args.seed)
    result["settings"] = {"count": args.count, "gvq": args.gvq, "seed": args.seed, "bomb_mb": args.bomb_mb,
                          "runner": args.runner, "timeout_s": args.timeout, "memory_gb": args.memory_gb,
                          "kills": args.kills, "signals": args.signals}
    try:
        from machine import describe

        result["machine"] = describe()
    except Exception:  # the machine description is a nicety
        pass
    result["seconds"] = round(time.perf_counter() - t0, 1)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    result["commit"] = commit.stdout.strip() or None
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("inputs_tried", "tracebacks", "failures", "by_kind")}, indent=2))
    return result


if __name__ == "__main__":
    main()
