"""The shared loop: one writer per run folder, outputs closed on every exit, the caller's RNG and threads kept,
learning rates from torch's schedulers."""

import json
import math

import pytest
import torch

from ganvq.cli import main
from ganvq.errors import GanvqError
from ganvq.runs import RunLock, open_run
from ganvq.train import loop
from ganvq.train.vqvae import VQVAETask, train_vqvae


def test_a_second_writer_of_a_run_folder_is_refused(tmp_path, tiny_vqvae_config, capsys):
    out = tmp_path / "run"
    with RunLock(out):  # another process training into it (flock: any other open file holder counts)
        with pytest.raises(GanvqError, match="in use by another ganvq process"):
            train_vqvae(tiny_vqvae_config, out, quiet=True)
        capsys.readouterr()
        assert main(["train", "vqvae", "--out", str(out), "--steps", "2", "--limit", "64"]) == 2
        err = capsys.readouterr().err.strip()
        assert "in use by another ganvq process" in err and len(err.splitlines()) == 1
        assert main(["train", "vqvae", "--out", str(out), "--resume"]) == 2
        assert not (out / "config.json").exists() and not (out / "metrics.jsonl").exists()
    train_vqvae(tiny_vqvae_config, out, quiet=True)  # once the lock is gone, the folder trains
    assert json.loads((out / "config.json").read_text())["train"]["steps"] == 6


def test_a_run_that_fails_before_writing_leaves_no_folder(tmp_path, tiny_vqvae_config):
    import dataclasses

    out = tmp_path / "run"
    with pytest.raises(GanvqError):
        train_vqvae(dataclasses.replace(tiny_vqvae_config, data=str(tmp_path / "missing")), out, quiet=True)
    assert not out.exists()


class _Recorder:
    """Stands in for the progress bar and the TensorBoard writer; records whether it was closed."""

    def __init__(self, log):
        self.log = log
        self.total = None

    def __getattr__(self, name):
        return lambda *a, **k: None

    def close(self):
        self.log.append("closed")


@pytest.mark.parametrize("ending", ["finishes", "diverges", "ctrl-c", "crashes"])
def test_progress_bar_and_tensorboard_are_closed_on_every_exit(tmp_path, tiny_vqvae_config, monkeypatch, ending):
    closed = []
    monkeypatch.setattr(loop, "_progress", lambda *a: _Recorder(closed))
    monkeypatch.setattr(loop, "_tensorboard", lambda *a: _Recorder(closed))
    task = VQVAETask(tiny_vqvae_config)
    original = task.train_step

    def step(s):
        if s == 2 and ending == "diverges":
            return {"train/loss": math.nan}
        if s == 2 and ending == "ctrl-c":
            raise KeyboardInterrupt
        if s == 2 and ending == "crashes":
            raise RuntimeError("a bug")
        return original(s)

    monkeypatch.setattr(task, "train_step", step)
    expected = {"finishes": None, "diverges": GanvqError, "ctrl-c": loop.TrainingInterrupted, "crashes": RuntimeError}
    if expected[ending] is None:
        loop.train(task, tiny_vqvae_config.train, tmp_path)
    else:
        with pytest.raises(expected[ending]):
            loop.train(task, tiny_vqvae_config.train, tmp_path)
    assert closed.count("closed") >= 2  # both of them, at least once each


def test_training_leaves_the_callers_rng_and_threads_as_they_were(tmp_path, tiny_vqvae_config):
    import dataclasses

    threads = torch.get_num_threads()
    torch.manual_seed(1234)
    state = torch.get_rng_state()
    config = dataclasses.replace(tiny_vqvae_config, train=dataclasses.replace(tiny_vqvae_config.train, threads=1))
    train_vqvae(config, tmp_path / "a", quiet=True)
    assert torch.equal(torch.get_rng_state(), state) and torch.get_num_threads() == threads
    train_vqvae(config, tmp_path / "b", quiet=True)  # the config's seed alone decides the run
    ta, tb = open_run(tmp_path / "a").tensors, open_run(tmp_path / "b").tensors
    assert all(torch.equal(ta[k], tb[k]) for k in ta if k.startswith("model."))


def test_the_learning_rate_follows_warm_up_then_cosine(tmp_path, tiny_vqvae_config):
    import dataclasses

    train = dataclasses.replace(tiny_vqvae_config.train, steps=20, warmup_steps=2, log_every=1, ckpt_every=100,
                                eval_images=0)  # 20 steps: the warm-up may last a tenth of them
    train_vqvae(dataclasses.replace(tiny_vqvae_config, train=train), tmp_path, quiet=True)
    logged = [r["lr"] for r in map(json.loads, (tmp_path / loop.METRICS).read_text().splitlines()) if "lr" in r]
    expected = [train.lr * loop.lr_factor(train, s, 20) for s in range(20)]
    assert logged == pytest.approx(expected, rel=1e-12) and logged[0] == train.lr / 2 and logged[-1] < logged[2]


def _timed_run(tmp_path, tiny_vqvae_config, monkeypatch, seconds_at, **train_options) -> dict:
    """A 3-second --minutes run of a VQ-VAE task whose step `s` takes `seconds_at(s)` seconds (another job on the
    machine, simulated); its result."""
    import dataclasses
    import time

    options = {"steps": None, "minutes": 0.05, "log_every": 10**6, "ckpt_every": 10**6, "eval_images": 0,
               **train_options}
    train = dataclasses.replace(tiny_vqvae_config.train, **options)
    config = dataclasses.replace(tiny_vqvae_config, train=train)
    with loop.seeded(train):
        task = VQVAETask(config)

        def timed_step(step):
            time.sleep(seconds_at(step))
            return {"train/loss": 1.0}

        monkeypatch.setattr(task, "train_step", timed_step)
        return loop.train(task, train, tmp_path, quiet=True)


def test_a_minutes_budget_is_refitted_when_the_machine_speeds_up(tmp_path, tiny_vqvae_config, monkeypatch):
    # another job holds the CPU for the first 25 steps, then ends
    result = _timed_run(tmp_path, tiny_vqvae_config, monkeypatch, lambda step: 0.05 if step < 25 else 0.0)
    first_fit = 0.05 * 60 / 0.05  # what the calibration alone would have settled on: ~60 steps
    assert result["step"] > 3 * first_fit  # the step count followed the machine's new speed
    assert result["train_seconds"] >= 0.9 * 0.05 * 60  # and the whole budget was used


def test_a_minutes_budget_is_refitted_in_time_when_steps_slow_down_a_lot(tmp_path, tiny_vqvae_config, monkeypatch):
    # another job takes the CPU after 25 steps: each step then lasts 40 fast ones
    _timed_run(tmp_path, tiny_vqvae_config, monkeypatch, lambda step: 0.005 if step < 25 else 0.2, log_every=1,
               warmup_steps=0)
    rates = [r["lr"] for r in map(json.loads, (tmp_path / loop.METRICS).read_text().splitlines()) if "lr" in r]
    # 20 slow steps would outlast the whole 3 s budget: refitted by time, the schedule still ends on time
    assert rates[-1] < 0.25 * tiny_vqvae_config.train.lr, rates[-5:]


def test_a_slow_spell_does_not_end_a_minutes_run_early(tmp_path, tiny_vqvae_config, monkeypatch):
    # another job holds the CPU for steps 60 to 64 (1.5 s of the 3 s), then ends
    result = _timed_run(tmp_path, tiny_vqvae_config, monkeypatch, lambda step: 0.3 if 60 <= step < 65 else 0.01)
    # fitted during the spell, the count ends a few fast steps after it, with about a third of the budget left:
    # the run is fitted again at its faster speed and trains on
    assert result["train_seconds"] >= 0.9 * 0.05 * 60, result


def test_a_resumed_minutes_run_is_fitted_again_to_its_new_speed(tmp_path, tiny_vqvae_config, monkeypatch):
    """Interrupted while the machine was slow, a --minutes run goes on at the speed it has now: it trains for the
    rest of its budget rather than stopping at the count fitted to the slow spell (it stopped at a third of it)."""
    import dataclasses
    import os
    import signal
    import time

    train = dataclasses.replace(tiny_vqvae_config.train, steps=None, minutes=0.05, log_every=10**6, ckpt_every=10**6,
                                eval_images=0)
    config = dataclasses.replace(tiny_vqvae_config, train=train)

    def timed(task, seconds_at, stop_at=None):
        def step(s):
            if s == stop_at:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: the step ends, a checkpoint is saved
            time.sleep(seconds_at(s))
            return {"train/loss": 1.0}
        monkeypatch.setattr(task, "train_step", step)
        return task

    with loop.seeded(train):
        with pytest.raises(loop.TrainingInterrupted):
            loop.train(timed(VQVAETask(config), lambda s: 0.05, stop_at=25), train, tmp_path, quiet=True)
    stopped = open_run(tmp_path)
    assert stopped.meta["step"] == 26 and stopped.meta["total_steps"] < 70  # fitted to the slow spell
    with loop.seeded(train):
        result = loop.train(timed(VQVAETask(config, resuming=True), lambda s: 0.002), train, tmp_path,
                            previous=stopped, quiet=True)
    assert result["train_seconds"] >= 0.9 * 0.05 * 60, result  # the whole budget, across both sessions
    assert result["step"] > 3 * stopped.meta["total_steps"], result


def test_the_wsd_schedule_holds_the_rate_then_falls_linearly_to_zero():
    import dataclasses

    from ganvq.runs import TrainConfig

    cfg = dataclasses.replace(TrainConfig(), lr_schedule="wsd", warmup_steps=10)
    total = 110  # 100 steps after warm-up: constant to step 90, then down by 1/20 per step
    assert loop.lr_factor(cfg, 4, total) == pytest.approx(0.5)  # warm-up as before
    assert all(loop.lr_factor(cfg, s, total) == pytest.approx(1.0) for s in range(10, 91))
    assert loop.lr_factor(cfg, 100, total) == pytest.approx(0.5) and loop.lr_factor(cfg, 110, total) == 0.0
    assert loop.lr_factor(cfg, 50, None) == 1.0  # no known end: constant
    with pytest.raises(GanvqError, match="choose cosine, constant or wsd"):
        dataclasses.replace(cfg, lr_schedule="step")


def test_the_warm_up_lasts_at_most_a_tenth_of_a_short_run():
    import dataclasses

    from ganvq.runs import TrainConfig

    cfg = dataclasses.replace(TrainConfig(), warmup_steps=200)
    assert loop.lr_factor(cfg, 9, 5000) == pytest.approx(10 / 200)  # a long run: the whole warm-up
    assert loop.lr_factor(cfg, 9, 300) == pytest.approx(10 / 30)  # 300 steps (a --minutes run): 30 of warm-up
    assert loop.lr_factor(cfg, 30, 300) == pytest.approx(1.0)  # then the cosine from its top
    assert loop.lr_factor(cfg, 9, None) == pytest.approx(10 / 200)  # before the length is known
