"""Reliability trials: kill -9 and SIGINT/SIGTERM at random moments of a small VQ-VAE training run.

- kill -9 at `kills` random moments, each followed by `ganvq train vqvae --resume RUN` (which may be killed
  in turn: the kills form chains, each chain resumed until it finishes). Every resume must continue from
  a loadable checkpoint, and each finished chain must end bit-identical to an uninterrupted run of the same
  steps: every tensor of the checkpoint (weights, optimizer and RNG state, counters) and every metric line
  except wall-clock times (so the log repeats no rolled-back step).
- SIGINT or SIGTERM (alternately) at `signals` moments, some of them during the final scoring and saving:
  each must exit 130/143 with one line and no traceback, and leave a loadable checkpoint that resumes to
  the same final checkpoint as the uninterrupted run.
- Ctrl-C while the process is still starting (importing torch): one line, exit 130, no traceback.

`run_trials(workdir, kills=20, signals=10, seed=0)` returns the figures; run as a script it writes
benchmarks/results/reliability_kill.json (about 5 minutes on 2 cores; process start-up dominates):
    python benchmarks/reliability_kill.py [--kills 20] [--signals 10] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
CLI = [sys.executable, "-c", "import sys; from ganvq.cli import main; sys.exit(main())"]
STEPS = 120
# A 16-code VQ-VAE on 256 Fashion-MNIST images: ~30 ms a step on one thread, a checkpoint every 20 steps
# (scored on 256 held-out images) and the step-0, final and time-based ones.
MODEL = {"model": {"hidden": 32, "res_blocks": 1, "downsamples": 2, "vq": {"codebook_size": 16, "dim": 8}},
         "train": {"eval_images": 256}}
ARGS = ["--steps", str(STEPS), "--limit", "256", "--batch-size", "16", "--precision", "fp32", "--threads", "1",
        "--log-every", "5", "--ckpt-every", "20"]
TIMES = ("elapsed_seconds", "train_seconds")
EXPECTED_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


def _env() -> dict:
    # A progress line per step: the trial knows which phase each signal landed in.
    return {**os.environ, "GANVQ_PROGRESS_SECONDS": "0", "OMP_NUM_THREADS": "1"}


def _launch(workdir: Path, run: Path, resume: bool, log: Path) -> subprocess.Popen:
    if resume:
        args = ["train", "vqvae", "--resume", str(run)]
    else:
        args = ["train", "vqvae", "--out", str(run), "--config", str(workdir / "model.json"), *ARGS]
    with open(log, "w") as f:
        # SIGINT as a terminal gives it: a job started in the background of a script inherits it ignored
        return subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL, stderr=f, env=_env(),
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _phase(log: Path) -> str:
    """Where the process was, from its last progress line: starting, step N, or final (scoring and saving)."""
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("train vqvae: ")]
    if not lines:
        return "starting"
    if "final scoring" in lines[-1]:
        return "final"
    return lines[-1].split("/")[0].removeprefix("train vqvae: ")


def _checkpoint(run: Path) -> dict:
    """The run's checkpoint as the library reads it: loadable, its step and whether it finished."""
    from ganvq.errors import GanvqError
    from ganvq.runs import open_run

    if not (run / "checkpoint.safetensors").exists():
        return {"loadable": False, "step": None, "finished": False, "error": "no checkpoint"}
    try:
        meta = open_run(run, "vqvae").meta
    except GanvqError as e:
        return {"loadable": False, "step": None, "finished": False, "error": str(e)}
    return {"loadable": True, "step": meta["step"], "finished": bool(meta["finished"])}


def _tensors(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run / "checkpoint.safetensors"))


def _same(run: Path, reference: Path) -> dict:
    """Whether `run` ended as the reference did: every checkpoint tensor, the model's weights, the metric lines."""
    import torch

    from ganvq.runs import read_metrics

    a, b = _tensors(run), _tensors(reference)
    same = {k for k in a.keys() & b.keys() if a[k].dtype == b[k].dtype and torch.equal(a[k], b[k])}
    model = [k for k in b if k.startswith("model.")]

    def log(folder):
        return [{k: v for k, v in r.items() if k not in TIMES} for r in read_metrics(folder)]

    return {"all_tensors": a.keys() == b.keys() and same == set(b), "model_weights": all(k in same for k in model),
            "metrics": log(run) == log(reference), "tensors_differing": sorted(set(b) - same)[:10]}


def _tracebacks(*logs: Path) -> int:
    return sum(log.read_text(errors="replace").count("Traceback") for log in logs if log.exists())


def _wait(proc: subprocess.Popen, timeout: float = 300) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def _reference(workdir: Path) -> dict:
    """The uninterrupted run, timed: seconds to its step-0 checkpoint (start-up) and per step after."""
    run, log = workdir / "reference", workdir / "reference.log"
    start = time.monotonic()
    proc = _launch(workdir, run, False, log)
    ready = None
    while proc.poll() is None:
        if ready is None and (run / "checkpoint.safetensors").exists():
            ready = time.monotonic() - start
        time.sleep(0.01)
    total = time.monotonic() - start
    if proc.returncode != 0:
        raise RuntimeError(f"the reference run failed: {log.read_text()[-2000:]}")
    ready = ready if ready is not None else total / 2
    return {"run": run, "log": log, "startup_seconds": ready, "seconds": total,
            "step_seconds": max(total - ready, 0.1) / STEPS}


def _kill_trials(workdir: Path, ref: dict, kills: int, rng: random.Random) -> dict:
    moments, chains, logs = [], [], []
    chain = 0
    while len(moments) < kills:
        chain += 1
        run = workdir / f"kill-chain-{chain}"
        resume, step_before, finished = False, 0, False
        while not finished:
            log = workdir / f"kill-chain-{chain}-{len(logs)}.log"
            logs.append(log)
            proc = _launch(workdir, run, resume, log)
            if resume and moments and moments[-1]["chain"] == chain:
                moments[-1]["resume_started"] = True
            if len(moments) >= kills:  # enough kills: let this chain finish
                rc = _wait(proc)
                finished = True
                chains.append({"chain": chain, "final_rc": rc, **_checkpoint(run)})
                break
            training = (STEPS - step_before) * ref["step_seconds"] + 1.0
            if not resume:  # a new run is a run once its step-0 checkpoint exists
                while proc.poll() is None and not (run / "checkpoint.safetensors").exists():
                    time.sleep(0.005)
                delay = rng.uniform(0, training)
            else:  # a resumed one is killed anywhere, its start-up included
                delay = rng.uniform(0, ref["startup_seconds"] + training)
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.005)
            if proc.poll() is not None:  # it finished before this moment came: the chain is complete
                finished = True
                chains.append({"chain": chain, "final_rc": proc.returncode, **_checkpoint(run)})
                break
            phase = _phase(log)
            proc.send_signal(signal.SIGKILL)
            rc = _wait(proc)
            after = _checkpoint(run)
            moments.append({"chain": chain, "resumed_process": resume, "delay_seconds": round(delay, 3),
                            "phase": phase, "rc": rc, "checkpoint_step_before": step_before, **after,
                            "stray_temp_files": len(list(run.glob(".*.tmp"))) if run.exists() else 0,
                            "resume_started": False})
            if after["loadable"]:
                step_before, resume = after["step"], True
            elif not resume:  # killed before the first checkpoint: nothing to resume, start again
                shutil.rmtree(run, ignore_errors=True)
        if chains and chains[-1]["chain"] == chain and chains[-1]["final_rc"] == 0:
            chains[-1].update(_same(run, ref["run"]))
    # A kill is followed by a resume that continues when its checkpoint loads, the next process resumed from
    # it, and the chain ended where the reference did.
    ok_chains = {c["chain"] for c in chains if c["final_rc"] == 0 and c.get("all_tensors") and c.get("metrics")}
    continued = sum(m["loadable"] and m["resume_started"] and m["chain"] in ok_chains for m in moments)
    return {"trials": len(moments), "continued": continued, "chains": len(chains),
            "chains_identical_to_uninterrupted": len(ok_chains),
            "killed_before_any_checkpoint": sum(not m["loadable"] for m in moments),
            "phases": _count(m["phase"] if m["phase"] in ("starting", "final") else "training" for m in moments),
            "moments": moments, "chain_results": chains, "tracebacks": _tracebacks(*logs)}


def _signal_trials(workdir: Path, ref: dict, signals: int, rng: random.Random) -> dict:
    final_phase = max(1, math.ceil(signals * 0.3)) if signals else 0  # these land in the final scoring/saving
    trials, logs = [], []
    for i in range(signals):
        sig = signal.SIGINT if i % 2 == 0 else signal.SIGTERM
        run, log = workdir / f"signal-{i}", workdir / f"signal-{i}.log"
        logs.append(log)
        at_end = i >= signals - final_phase
        for attempt in range(3):  # a moment drawn after the run had ended (a faster machine): draw again
            shutil.rmtree(run, ignore_errors=True)
            proc = _launch(workdir, run, False, log)
            while proc.poll() is None and not (run / "checkpoint.safetensors").exists():
                time.sleep(0.005)  # the run has begun once its step-0 checkpoint exists
            if at_end:
                while proc.poll() is None and "final scoring" not in log.read_text(errors="replace"):
                    time.sleep(0.005)
                time.sleep(rng.uniform(0, 0.05))
            else:
                time.sleep(rng.uniform(0, STEPS * ref["step_seconds"]) * (0.5 ** attempt))
            phase = _phase(log)
            running = proc.poll() is None
            if running:
                break
            _wait(proc)
        if running:
            proc.send_signal(sig)
        rc = _wait(proc)
        text = log.read_text(errors="replace")
        messages = [line for line in text.splitlines()
                    if line.startswith("ganvq: ") and not line.startswith("ganvq: warning")]
        saved = _checkpoint(run)
        # 128 + signal from ganvq, or death by the signal itself when it came while the finished process was
        # exiting (the shell shows 128 + signal either way). A run stopped before its end must say how to resume.
        if saved["finished"]:
            one_line = len(messages) <= 1
        else:
            one_line = len(messages) == 1 and "--resume" in messages[0]
        trial = {"signal": signal.Signals(sig).name, "target": "final" if at_end else "random", "phase": phase,
                 "delivered": running, "rc": rc, "exit_ok": rc in (EXPECTED_EXIT[sig], -sig) or not running,
                 "one_line": one_line or not running, "message": messages[-1] if messages else None, **saved}
        if saved["loadable"]:  # and it resumes to the uninterrupted run's end
            resume_log = workdir / f"signal-{i}-resume.log"
            logs.append(resume_log)
            if not saved["finished"]:
                trial["resume_rc"] = _wait(_launch(workdir, run, True, resume_log))
            trial.update({f"resumed_{k}": v for k, v in _same(run, ref["run"]).items() if k != "tensors_differing"})
        trials.append(trial)
    delivered = [t for t in trials if t["delivered"]]
    return {"trials": len(trials), "delivered": len(delivered), "loadable": sum(t["loadable"] for t in delivered),
            "exit_code_ok": sum(t["exit_ok"] for t in delivered), "one_line": sum(t["one_line"] for t in delivered),
            "in_final_phase": sum(t["phase"] == "final" for t in delivered),
            "resumed_identical": sum(bool(t.get("resumed_all_tensors") and t.get("resumed_metrics"))
                                     for t in delivered),
            "moments": trials, "tracebacks": _tracebacks(*logs)}


def _early_interrupt(workdir: Path) -> dict:
    """Ctrl-C 0.3 s after start, while torch is still loading."""
    log = workdir / "early.log"
    proc = _launch(workdir, workdir / "early", False, log)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    rc = _wait(proc)
    text = log.read_text(errors="replace")
    return {"rc": rc, "lines": text.strip().splitlines(), "tracebacks": text.count("Traceback")}


def _count(items) -> dict:
    counts: dict = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def run_trials(workdir: str | Path, kills: int = 20, signals: int = 10, seed: int = 0) -> dict:
    """Kill -9 a small VQ-VAE run at `kills` random moments (each followed by --resume) and send SIGINT/SIGTERM at
    `signals` moments (some in the final scoring and saving); returns the counts and every trial's record."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "model.json").write_text(json.dumps(MODEL))
    rng = random.Random(seed)
    start = time.monotonic()
    ref = _reference(workdir)
    kill = _kill_trials(workdir, ref, kills, rng)
    sig = _signal_trials(workdir, ref, signals, rng)
    early = _early_interrupt(workdir)
    return {
        "run": {"command": "ganvq train vqvae " + " ".join(ARGS), "model": MODEL, "seed": seed,
                "uninterrupted_seconds": round(ref["seconds"], 2), "startup_seconds": round(ref["startup_seconds"], 2)},
        "kill9": {k: v for k, v in kill.items() if k not in ("moments", "chain_results")},
        "signals": {k: v for k, v in sig.items() if k != "moments"},
        "early_ctrl_c": early,
        "tracebacks": kill["tracebacks"] + sig["tracebacks"] + early["tracebacks"],
        "seconds": round(time.monotonic() - start, 1),
        "kill9_moments": kill["moments"], "kill9_chains": kill["chain_results"], "signal_moments": sig["moments"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--signals", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS / "reliability_kill.json"))
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from machine import describe

    from ganvq.io import write_json

    with tempfile.TemporaryDirectory(prefix="ganvq-reliability-") as work:
        result = run_trials(work, args.kills, args.signals, args.seed)
    write_json(args.out, {"machine": describe(), **result})
    k, s = result["kill9"], result["signals"]
    print(f"kill -9: {k['continued']}/{k['trials']} continued, {k['chains_identical_to_uninterrupted']}/{k['chains']} "
          f"chains bit-identical; signals: {s['loadable']}/{s['delivered']} loadable, {s['in_final_phase']} in the "
          f"final phase; tracebacks: {result['tracebacks']}; {result['seconds']} s")


if __name__ == "__main__":
    main()
