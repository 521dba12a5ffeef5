"""Real signals sent to a real `ganvq train` process: one line, exit 128 + signal, a checkpoint that resumes."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ganvq.runs import open_run, read_metrics
from ganvq.train.vqvae import train_vqvae

CLI = [sys.executable, "-c", "import sys; from ganvq.cli import main; sys.exit(main())"]
TINY = ["--limit", "128", "--batch-size", "16", "--codebook-size", "16", "--precision", "fp32", "--threads", "1"]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _default_sigint() -> None:
    # a suite started in the background of a shell without job control inherits SIGINT ignored, and ganvq rightly
    # keeps ignoring it; the process under test gets Ctrl-C's default, as from a terminal
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(tmp_path, *args):
    log = open(tmp_path / "stderr.log", "w")
    env = {**os.environ, "GANVQ_PROGRESS_SECONDS": "0", "OMP_NUM_THREADS": "1"}
    return (subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL, stderr=log, env=env, preexec_fn=_default_sigint),
            tmp_path / "stderr.log")


def _wait_for(log, text, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if text in log.read_text():
            return
        time.sleep(0.02)
    raise AssertionError(f"{text!r} never appeared: {log.read_text()[-2000:]}")


def _messages(log) -> list[str]:
    """The lines ganvq itself printed (not progress lines, not warnings)."""
    return [line for line in log.read_text().splitlines()
            if line.startswith("ganvq: ") and not line.startswith("ganvq: warning")]


def test_sigint_during_training_saves_and_says_how_to_resume(tmp_path):
    run = tmp_path / "run"
    config = tmp_path / "quick-scoring.json"
    config.write_text(json.dumps({"train": {"eval_images": 64}}))
    proc, log = _start(tmp_path, "train", "vqvae", "--out", str(run), "--steps", "100000", "--log-every", "3",
                       "--config", str(config), *TINY)
    _wait_for(log, "step 5/", proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    text = log.read_text()
    assert "Traceback" not in text
    notice, message = _messages(log)  # at once, then once the step has ended and the checkpoint is saved
    step = open_run(run).meta["step"]
    assert notice == "ganvq: interrupted: saving a checkpoint, then stopping (Ctrl-C again stops at once, " \
                     "without saving)"
    assert message == f"ganvq: interrupted at step {step}; checkpoint saved; resume with: ganvq train vqvae --resume {run}"
    assert step >= 5 and not open_run(run).meta["finished"]

    train_vqvae(None, run, resume=True, quiet=True, steps=step + 4)  # the saved run continues
    steps = [r["step"] for r in read_metrics(run) if "train/loss" in r]
    assert len(steps) == len(set(steps)) and steps[-1] == step + 4


def test_sigterm_during_final_scoring_saves_a_checkpoint_that_finishes_on_resume(tmp_path):
    run = tmp_path / "run"  # scoring 2,000 held-out images takes long enough for the signal to land in it
    proc, log = _start(tmp_path, "train", "vqvae", "--out", str(run), "--steps", "4", "--log-every", "2", *TINY)
    _wait_for(log, "final scoring", proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    assert "Traceback" not in log.read_text()
    *notice, message = _messages(log)  # a signal just before scoring began is also answered at once
    assert notice in ([], ["ganvq: terminated: saving a checkpoint, then stopping (a second signal stops at once, "
                           "without saving)"])
    assert message == f"ganvq: terminated at step 4; checkpoint saved; resume with: ganvq train vqvae --resume {run}"
    meta = open_run(run).meta
    assert meta["step"] == 4 and not meta["finished"] and meta["window"] == []

    result = train_vqvae(None, run, resume=True, quiet=True)  # resuming does the final scoring and saving
    assert result["step"] == 4 and result["val/images"] == 2000 and open_run(run).meta["finished"]
    assert [r["step"] for r in read_metrics(run)] == [2, 4, 4]  # the two metric lines, the final scores: once each


@pytest.mark.parametrize("delay", [0.3, 0.6, 1.2])
def test_ctrl_c_while_starting_is_one_line_without_a_traceback(tmp_path, delay):
    # inside numpy's and torch's imports (about 3 s; Python itself reaches main() in ~0.1 s), where torch once
    # swallowed it (exit 0, or a half-imported numpy)
    proc, log = _start(tmp_path, "train", "vqvae", "--out", str(tmp_path / "run"), "--steps", "5", *TINY)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130, log.read_text()[-1000:]
    assert "Traceback" not in log.read_text() and len(_messages(log)) == 1
