"""Runs that survive anything: a log that never repeats rolled-back steps, scoring cut short by a signal,
finished runs trained longer, checkpoints by time, progress readable in a log file."""

import dataclasses
import json
import os
import signal

import numpy as np
import pytest
import torch

from ganvq.cli import main
from ganvq.errors import GanvqError
from ganvq.io import load_checkpoint
from ganvq.runs import open_run, read_metrics, trim_metrics
from ganvq.train import loop
from ganvq.train.vqvae import VQVAETask, train_vqvae


def _weights(run):
    tensors, _ = load_checkpoint(run / loop.CHECKPOINT)
    return loop.module_weights(tensors, "model")


def _same_weights(a, b) -> bool:
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def _log(run) -> list[dict]:
    """The metric records without wall-clock figures, which differ between any two runs."""
    return [{k: v for k, v in r.items() if "seconds" not in k} for r in read_metrics(run)]


def test_after_a_crash_and_a_torn_line_the_resumed_log_equals_an_uninterrupted_one(
        tmp_path, tiny_vqvae_config, crash_after_checkpoint):
    config = dataclasses.replace(tiny_vqvae_config, train=dataclasses.replace(tiny_vqvae_config.train, log_every=1))
    full = tmp_path / "full"
    train_vqvae(config, full, quiet=True)

    crashed = tmp_path / "crashed"  # checkpoint at step 3, lines logged for steps 4 and 5, then a power cut
    crash_after_checkpoint(lambda: VQVAETask(config), config.train, crashed)
    with open(crashed / loop.METRICS, "a") as f:
        f.write('{"step": 6, "train/lo')  # a line torn by the kill
    assert [r["step"] for r in read_metrics(crashed)][-2:] == [3, 4]  # the torn line is skipped when read

    train_vqvae(config, crashed, resume=True, quiet=True)
    assert _log(crashed) == _log(full)  # steps 4 and 5 once each, with the same values
    assert _same_weights(full, crashed)


def test_trim_metrics_keeps_the_steps_a_checkpoint_holds(tmp_path):
    lines = [json.dumps({"step": s, "x": s}) for s in (1, 2, 2, 3)] + ['{"step": 4', "not json", '[1, 2]']
    (tmp_path / loop.METRICS).write_text("\n".join(lines))
    trim_metrics(tmp_path, 2)
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2, 2]
    assert (tmp_path / loop.METRICS).read_text().endswith("\n")
    trim_metrics(tmp_path / "none", 2)  # no log yet: nothing to do


def test_a_signal_during_periodic_scoring_saves_and_the_resumed_run_scores_first(tmp_path, tiny_vqvae_config,
                                                                                 monkeypatch):
    full = tmp_path / "full"
    train_vqvae(tiny_vqvae_config, full, quiet=True)

    original = VQVAETask.evaluate

    def interrupted_scoring(self):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives at once; scoring is cut short
        return original(self)

    out = tmp_path / "run"
    monkeypatch.setattr(VQVAETask, "evaluate", interrupted_scoring)
    with pytest.raises(loop.TrainingInterrupted, match="terminated at step 3; checkpoint saved") as info:
        train_vqvae(tiny_vqvae_config, out, quiet=True)
    assert info.value.exit_code == 143
    _, meta = load_checkpoint(out / loop.CHECKPOINT)
    assert meta["step"] == 3 and meta["score_pending"] and not meta["finished"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the guard put the handlers back

    monkeypatch.setattr(VQVAETask, "evaluate", original)
    train_vqvae(None, out, resume=True, quiet=True)
    assert _log(out) == _log(full) and _same_weights(full, out)


def test_a_second_signal_while_the_interrupt_is_saved_stops_with_one_line_and_the_last_checkpoint(
        tmp_path, tiny_vqvae_config, monkeypatch):
    original_step, original_save = VQVAETask.train_step, loop.save_checkpoint
    saves = []

    def first_signal(self, step):
        if step == 2:
            os.kill(os.getpid(), signal.SIGINT)  # a request: the loop saves before the next step
        return original_step(self, step)

    def save_interrupted(*args, **kwargs):
        saves.append(args[0])
        if len(saves) == 2:  # the interrupt's save: a second Ctrl-C arrives in the middle of it
            os.kill(os.getpid(), signal.SIGINT)
        return original_save(*args, **kwargs)

    monkeypatch.setattr(VQVAETask, "train_step", first_signal)
    monkeypatch.setattr(loop, "save_checkpoint", save_interrupted)
    out = tmp_path / "run"
    with pytest.raises(loop.TrainingInterrupted, match="interrupted at step 3, without saving; the checkpoint of "
                                                       "step 0 can be continued") as info:
        train_vqvae(tiny_vqvae_config, out, quiet=True)
    assert info.value.exit_code == 130 and len(saves) == 2
    assert load_checkpoint(out / loop.CHECKPOINT)[1]["step"] == 0  # the checkpoint before stands
    monkeypatch.setattr(VQVAETask, "train_step", original_step)
    monkeypatch.setattr(loop, "save_checkpoint", original_save)
    assert train_vqvae(None, out, resume=True, quiet=True)["step"] == tiny_vqvae_config.train.steps


def test_a_finished_run_trains_longer_with_steps_or_minutes(tmp_path, tiny_vqvae_config, capsys):
    out = tmp_path / "run"
    first = train_vqvae(tiny_vqvae_config, out, quiet=True)
    capsys.readouterr()
    before = (out / loop.CHECKPOINT).read_bytes()
    # resuming it as it is (a job queue rerunning a command killed after its final save) changes nothing
    assert train_vqvae(None, out, resume=True, quiet=True) == first
    assert (out / loop.CHECKPOINT).read_bytes() == before
    assert "already finished at step 6: nothing to train; to train longer" in capsys.readouterr().err
    with pytest.raises(GanvqError, match="give more than 6"):
        train_vqvae(None, out, resume=True, quiet=True, steps=6)

    (out / ".checkpoint.safetensors.1a2b3c4d.tmp").write_bytes(b"half a checkpoint")  # left by a kill -9
    result = train_vqvae(None, out, resume=True, quiet=True, steps=9)
    assert not list(out.glob(".*.tmp"))
    run = open_run(out)
    assert result["step"] == 9 and run.meta["finished"] and run.config.train.steps == 9
    assert json.loads((out / loop.CONFIG).read_text())["train"]["steps"] == 9  # config.json says what was trained
    assert [r["step"] for r in read_metrics(out) if "train/loss" in r] == [2, 4, 6, 8, 9]

    capsys.readouterr()  # the CLI: --resume RUN, without --out; the options a resumed run keeps are named
    assert main(["--quiet", "train", "vqvae", "--resume", str(out), "--minutes", "0.002", "--lr", "1"]) == 0
    err = capsys.readouterr().err
    assert "--lr ignored" in err
    run = open_run(out)
    assert run.meta["finished"] and run.meta["step"] > 9 and run.config.train.steps is None
    assert main(["train", "vqvae", "--resume", str(out), "--out", str(tmp_path / "other"), "--steps", "20"]) == 2
    assert "different run folders" in capsys.readouterr().err
    assert main(["train", "vqvae", "--steps", "20"]) == 2
    assert "--resume RUN" in capsys.readouterr().err


def test_checkpoints_are_also_written_by_time(tmp_path, tiny_vqvae_config, monkeypatch):
    import time

    saved = []
    real_save = loop.save_checkpoint
    monkeypatch.setattr(loop, "save_checkpoint", lambda path, t, meta: (saved.append(meta["step"]),
                                                                          real_save(path, t, meta)))
    train = dataclasses.replace(tiny_vqvae_config.train, steps=8, ckpt_every=100, ckpt_minutes=0.1 / 60)
    with loop.seeded(train):
        task = VQVAETask(dataclasses.replace(tiny_vqvae_config, train=train))
        original = task.train_step
        monkeypatch.setattr(task, "train_step", lambda s: (time.sleep(0.06), original(s))[1])
        loop.train(task, train, tmp_path, quiet=True)
    assert saved[0] == 0 and saved[-1] == 8  # the first and the final checkpoint
    assert 2 <= len(saved[1:-1]) <= 7 and all(0 < s < 8 for s in saved[1:-1])  # about every 0.1 s: ~every 2 steps
    with pytest.raises(GanvqError, match="--ckpt-minutes"):
        dataclasses.replace(train, ckpt_minutes=float("nan"))


def test_progress_goes_to_a_log_file_as_plain_lines(tmp_path, tiny_vqvae_config, capsys, monkeypatch):
    monkeypatch.setenv("GANVQ_PROGRESS_SECONDS", "0")  # a line per step, to see them in a 6-step run
    train_vqvae(tiny_vqvae_config, tmp_path / "a")
    lines = capsys.readouterr().err.splitlines()  # pytest's stderr is not a terminal, like `> log 2>&1`
    assert lines[0] == "train vqvae: step 1/6 (17%)"
    assert any(line.startswith("train vqvae: step 3/6 (50%)") and "step/s" in line and "ETA" in line
               and "loss" in line and "codes_used" in line for line in lines)
    assert any(line.startswith("train vqvae: step 6/6 (100%)") and "took" in line for line in lines)
    assert lines[-1] == "train vqvae: step 6: final scoring and checkpoint"

    train_vqvae(tiny_vqvae_config, tmp_path / "b", quiet=True)
    assert capsys.readouterr().err == ""


def test_progress_is_a_bar_on_a_terminal_and_nothing_when_quiet():
    import io

    from ganvq.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term, log, quiet = Terminal(), io.StringIO(), io.StringIO()
    bars = [Progress(10, "eval", "image", stream=s, quiet=s is quiet, interval=3600) for s in (term, log, quiet)]
    for bar in bars:
        for _ in range(10):
            bar.update()
        bar.set_postfix({"psnr": 21.123456})
        bar.close()
    assert bars[0].mode == "bar" and "10/10" in term.getvalue() and "psnr=21.12" in term.getvalue()
    assert log.getvalue().splitlines() == ["eval: image 1/10 (10%)",
                                          log.getvalue().splitlines()[1]]  # the start, then the end
    assert log.getvalue().splitlines()[1].startswith("eval: image 10/10 (100%)  ")
    assert "took" in log.getvalue() and "psnr 21.12" in log.getvalue() and quiet.getvalue() == ""
    cut = io.StringIO()  # work cut short (Ctrl-C, an error): the last line does not say the whole of it took that
    with pytest.raises(KeyboardInterrupt), Progress(10, "eval", "image", stream=cut, interval=3600) as bar:
        bar.update(4)
        raise KeyboardInterrupt
    last = cut.getvalue().splitlines()[-1]
    assert last.startswith("eval: image 4/10 (40%)") and "stopped after" in last and "took" not in last


def test_the_resume_hint_under_torchrun_names_torchrun(monkeypatch, tmp_path):
    from ganvq.train.stop import resume_hint

    for name in ("WORLD_SIZE", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert resume_hint("vqvae", tmp_path) == f"resume with: ganvq train vqvae --resume {tmp_path}"
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    torchrun = "resume with: torchrun --nproc-per-node 2 -m ganvq train gan --resume"
    assert resume_hint("gan", tmp_path) == f"{torchrun} {tmp_path}"
    monkeypatch.setenv("WORLD_SIZE", "16")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")
    assert resume_hint("gan", tmp_path, finished=True).startswith("train longer with: torchrun --nnodes ... "
                                                                  "--nproc-per-node 8 -m ganvq train gan --resume")


def test_the_first_signal_is_answered_at_once_and_only_where_asked(capfd):
    from ganvq.train.stop import StopRequests

    for notify, escalate, signum, said in [
            (True, True, signal.SIGINT, "ganvq: interrupted: saving a checkpoint, then stopping (Ctrl-C again "
                                        "stops at once, without saving)\n"),
            (True, True, signal.SIGTERM, "ganvq: terminated: saving a checkpoint, then stopping (a second "
                                         "signal stops at once, without saving)\n"),
            (True, False, signal.SIGINT, "ganvq: interrupted: saving a checkpoint, then stopping\n"),  # torchrun
            (False, True, signal.SIGINT, "")]:  # before the loop runs, or on another rank than 0
        with StopRequests(escalate=escalate) as stop:
            stop.notify = notify
            os.kill(os.getpid(), signum)  # handled before the next bytecode: a request, said on stderr
            assert stop.requested and stop.signum == signum
        assert capfd.readouterr().err == said


def _npy_run(tmp_path, capsys, images: np.ndarray) -> tuple:
    """A 2-step VQ-VAE run on an .npy file of `images` (uint8 N,H,W or N,H,W,3): the file and the run folder."""
    data, run = tmp_path / "mine.npy", tmp_path / "run"
    np.save(data, images)
    assert main(["train", "vqvae", "--data", str(data), "--out", str(run), "--steps", "2", "--batch-size", "8",
                 "--codebook-size", "16", "--quiet"]) == 0
    capsys.readouterr()
    return data, run


def test_resuming_on_data_that_changed_warns_or_refuses_in_one_line(tmp_path, capsys):
    rng = np.random.default_rng(0)
    data, run = _npy_run(tmp_path, capsys, rng.integers(0, 256, (60, 28, 28), dtype=np.uint8))
    np.save(data, rng.integers(0, 256, (40, 28, 28), dtype=np.uint8))  # fewer images: it goes on, and says so
    assert main(["train", "vqvae", "--resume", str(run), "--steps", "3", "--quiet"]) == 0
    assert "has changed since this run began training on it" in capsys.readouterr().err
    np.save(data, rng.integers(0, 256, (40, 28, 28, 3), dtype=np.uint8))  # now in colour: the model cannot take it
    assert main(["train", "vqvae", "--resume", str(run), "--steps", "4", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err) and "channels or classes have changed" in err[-1], err
    assert open_run(run).meta["step"] == 3  # nothing was written


def test_a_run_begun_from_init_resumes_without_it_and_a_misfit_init_is_one_line(tmp_path, capsys):
    data, first = _npy_run(tmp_path, capsys, np.random.default_rng(1).integers(0, 256, (60, 28, 28), np.uint8))
    common = ["--data", str(data), "--batch-size", "8", "--quiet"]
    second = tmp_path / "second"
    assert main(["train", "vqvae", "--init", str(first), "--out", str(second), "--steps", "2", "--codebook-size", "16",
                 *common]) == 0
    other = tmp_path / "other"
    assert main(["train", "vqvae", "--init", str(first), "--out", str(other), "--steps", "2", "--codebook-size", "32",
                 *common]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--init {first}: its VQ-VAE differs" in err[0], err
    import shutil

    shutil.rmtree(first)  # the run it began from is gone; its own checkpoint holds all it needs
    assert main(["train", "vqvae", "--resume", str(second), "--steps", "3", "--quiet"]) == 0
    assert open_run(second).meta["step"] == 3


def test_a_run_saved_for_another_device_resumes_here_with_device(tmp_path, capsys):
    from ganvq.io import save_checkpoint

    _, run = _npy_run(tmp_path, capsys, np.random.default_rng(2).integers(0, 256, (60, 28, 28), np.uint8))
    tensors, meta = load_checkpoint(run / loop.CHECKPOINT)  # as if trained on a GPU machine with --device cuda
    meta["config"]["train"]["device"] = "cuda"
    save_checkpoint(run / loop.CHECKPOINT, tensors, meta)
    if not torch.cuda.is_available():
        assert main(["train", "vqvae", "--resume", str(run), "--steps", "3", "--quiet"]) == 2
        assert "no CUDA device" in capsys.readouterr().err
    assert main(["train", "vqvae", "--resume", str(run), "--steps", "3", "--device", "cpu", "--threads", "1",
                 "--quiet"]) == 0
    assert "ignored" not in capsys.readouterr().err
    moved = open_run(run)
    assert moved.meta["step"] == 3 and moved.config.train.device == "cpu" and moved.config.train.threads == 1
    assert json.loads((run / "config.json").read_text())["train"]["device"] == "cpu"


def test_a_checkpoint_that_cannot_be_written_names_the_step_that_stands(tmp_path, tiny_vqvae_config, monkeypatch):
    real = loop.save_checkpoint

    def full_disk_after_step_3(path, tensors, meta):
        if meta["step"] > 3:
            raise GanvqError(f"cannot write {path}: No space left on device")
        real(path, tensors, meta)

    monkeypatch.setattr(loop, "save_checkpoint", full_disk_after_step_3)
    with pytest.raises(GanvqError, match=r"No space left on device; the checkpoint of step 3 stands.*--resume"):
        train_vqvae(tiny_vqvae_config, tmp_path, quiet=True)
    assert open_run(tmp_path).meta["step"] == 3
