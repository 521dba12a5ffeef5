import dataclasses
import json
import os
import signal

import pytest
import torch

from ganvq.errors import GanvqError
from ganvq.io import load_checkpoint
from ganvq.runs import load_vqvae, open_run
from ganvq.train import loop
from ganvq.train.vqvae import VQVAETask, train_vqvae


def _weights(run):
    tensors, _ = load_checkpoint(run / loop.CHECKPOINT)
    return loop.module_weights(tensors, "model")


def test_resume_from_a_periodic_checkpoint_equals_an_uninterrupted_run(tmp_path, tiny_vqvae_config, crash_after_checkpoint):
    full = tmp_path / "full"
    train_vqvae(tiny_vqvae_config, full, quiet=True)

    # The same run crashes at step 5, after its periodic checkpoint at step 3 (ckpt_every=3).
    crashed = tmp_path / "crashed"
    crash_after_checkpoint(lambda: VQVAETask(tiny_vqvae_config), tiny_vqvae_config.train, crashed)

    train_vqvae(tiny_vqvae_config, crashed, resume=True, quiet=True)
    a, b = _weights(full), _weights(crashed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_ctrl_c_saves_a_checkpoint_that_resumes(tmp_path, tiny_vqvae_config, monkeypatch):
    original = VQVAETask.train_step

    def interrupt_at_4(self, step):
        if step == 4:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, in the middle of step 5
        return original(self, step)

    monkeypatch.setattr(VQVAETask, "train_step", interrupt_at_4)
    with pytest.raises(loop.TrainingInterrupted, match="--resume"):
        train_vqvae(tiny_vqvae_config, tmp_path, quiet=True)
    monkeypatch.setattr(VQVAETask, "train_step", original)
    _, meta = load_checkpoint(tmp_path / loop.CHECKPOINT)
    assert meta["step"] == 5 and not meta["finished"]  # step 5 completes, then the loop stops

    full = tmp_path / "full"
    train_vqvae(tiny_vqvae_config, full, quiet=True)
    train_vqvae(tiny_vqvae_config, tmp_path, resume=True, quiet=True)
    a, b = _weights(full), _weights(tmp_path)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_training_logs_metrics_and_a_loadable_checkpoint(tmp_path, tiny_vqvae_config):
    result = train_vqvae(tiny_vqvae_config, tmp_path, quiet=True)
    records = [json.loads(line) for line in (tmp_path / loop.METRICS).read_text().splitlines()]
    assert any("train/codes_used" in r and "train/perplexity" in r and "train/dead_codes" in r for r in records)
    assert "val/psnr" in records[-1] and result["step"] == 6
    model, config = load_vqvae(tmp_path)
    assert config == dataclasses.replace(tiny_vqvae_config, val_fraction=0.0)  # the held-out fraction in force
    assert not model.training


def test_a_run_folder_is_not_overwritten(tmp_path, tiny_vqvae_config):
    train_vqvae(tiny_vqvae_config, tmp_path, quiet=True)
    with pytest.raises(GanvqError, match="already holds a run"):
        train_vqvae(tiny_vqvae_config, tmp_path, quiet=True)


def test_non_finite_loss_stops_with_a_clear_message(tmp_path, tiny_vqvae_config, monkeypatch):
    task = VQVAETask(tiny_vqvae_config)
    monkeypatch.setattr(task, "train_step", lambda step: {"train/loss": float("nan")})
    with pytest.raises(GanvqError, match="diverged at step 1"):
        loop.train(task, tiny_vqvae_config.train, tmp_path, quiet=True)


def test_weights_gone_non_finite_under_a_finite_loss_are_never_saved(tmp_path, tiny_vqvae_config, monkeypatch):
    # an optimiser step can leave NaN weights behind a finite loss (the loss is taken before it); the checkpoint due
    # at step 3 must not store them as the "last good" one
    task = VQVAETask(tiny_vqvae_config)
    original = task.train_step

    def step(s):
        metrics = original(s)
        if s == 2:  # the third step: its loss is finite, the weights it leaves are not
            with torch.no_grad():
                next(task.model.parameters()).fill_(float("nan"))
        return metrics

    monkeypatch.setattr(task, "train_step", step)
    with pytest.raises(GanvqError, match=r"diverged by step 3 \(weight model\..* is not finite, though the loss "
                                         r"was\); last good checkpoint: .* \(step 0\)"):
        loop.train(task, tiny_vqvae_config.train, tmp_path, quiet=True)
    run = open_run(tmp_path)
    assert run.meta["step"] == 0 and all(torch.isfinite(t).all() for t in run.tensors.values() if t.is_floating_point())


def test_the_weights_are_checked_once_per_checkpointed_step(tmp_path, tiny_vqvae_config, monkeypatch):
    # the scoring and the checkpoint of one step look at the same weights: one pass over them, not two
    checked = []
    original = loop._non_finite_weight

    def counting(task):
        checked.append(task)
        return original(task)

    monkeypatch.setattr(loop, "_non_finite_weight", counting)
    train = dataclasses.replace(tiny_vqvae_config.train, steps=6, ckpt_every=3)
    result = train_vqvae(dataclasses.replace(tiny_vqvae_config, train=train), tmp_path, quiet=True)
    # the new run's checkpoint of step 0, step 3 (scored, then saved) and step 6 (the final ones): 3 passes, not 5
    assert result["step"] == 6 and len(checked) == 3


def test_two_phase_recipe_trains(tmp_path, tiny_vqvae_config):
    model = dataclasses.replace(
        tiny_vqvae_config.model, vq=dataclasses.replace(tiny_vqvae_config.model.vq, update="kmeans")
    )
    train = dataclasses.replace(tiny_vqvae_config.train, kmeans_every=3, kmeans_batches=2)
    result = train_vqvae(dataclasses.replace(tiny_vqvae_config, model=model, train=train), tmp_path, quiet=True)
    assert result["step"] == 6 and result["val/codes_used"] > 1


def test_minutes_budget_stops_training(tmp_path, tiny_vqvae_config):
    train = dataclasses.replace(tiny_vqvae_config.train, steps=None, minutes=0.05)
    result = train_vqvae(dataclasses.replace(tiny_vqvae_config, train=train), tmp_path, quiet=True)
    assert result["train_seconds"] < 0.05 * 60 + 5  # budget plus one step and the final evaluation


def test_unreadable_held_out_files_are_said_and_a_run_left_without_any_says_it_logs_no_val_scores(
        tmp_path, tiny_vqvae_config, capsys):
    import dataclasses

    import numpy as np
    from PIL import Image

    from ganvq.data.splits import held_out
    from ganvq.runs import read_metrics

    held = np.flatnonzero(held_out(20, 0.1))  # positions (among the sorted files) held out: 2 of 20
    first_trained = next(i for i in range(20) if i not in held)
    for name, bad in (("some", [*held[:1], first_trained]), ("all", held)):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(20):
            path = folder / f"{i:02d}.png"
            if i in bad:
                path.write_text("not an image")
            else:
                Image.fromarray(np.full((28, 28), 10 * i, np.uint8)).save(path)
        config = dataclasses.replace(tiny_vqvae_config, data=str(folder), limit=None, val_fraction=0.1)
        train_vqvae(config, tmp_path / f"run-{name}", quiet=True)
        err = capsys.readouterr().err
        if name == "some":
            assert f"skipped 1 unreadable file(s) of the 2 held-out files in {folder}" in err
            assert f"skipped 1 unreadable file(s) of the 18 training files in {folder}" in err
            assert "val/psnr" in read_metrics(tmp_path / f"run-{name}")[-1]
        else:
            assert "no held-out images to score the run on" in err and "it logs no val/ scores" in err
            assert not any(k.startswith("val/") for k in read_metrics(tmp_path / f"run-{name}")[-1])
