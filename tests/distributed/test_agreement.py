"""Processes that end together: a --minutes budget and a signal to torchrun end every rank at the same step, with
rank 0's checkpoint resumable; one-process behaviour of the pieces DDP adds; fp16's one line on CPU."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from ganvq.config import to_dict
from ganvq.device import grad_scaler
from ganvq.errors import GanvqError
from ganvq.io import load_checkpoint
from ganvq.models.sync_norm import GlobalBatchNorm2d, globalize_batch_norm
from ganvq.runs import CHECKPOINT, read_metrics
from ganvq.train.vqvae import train_vqvae

sys.path.insert(0, str(Path(__file__).parent))
import ranks
import workers

ROOT = Path(__file__).resolve().parents[2]


def test_a_minutes_budget_ends_every_process_at_the_same_step(tmp_path, tiny_vqvae_config):
    """Rank 0's clock decides; the others follow at the next step (a rank left waiting would time out)."""
    train = dataclasses.replace(tiny_vqvae_config.train, steps=None, minutes=0.05, eval_images=0, ckpt_every=5)
    ranks.spawn(workers.train_vqvae, 2, dataclasses.replace(tiny_vqvae_config, train=train), tmp_path / "run")
    _, meta = load_checkpoint(tmp_path / "run" / CHECKPOINT)
    assert meta["finished"] and meta["step"] >= 1


def test_sigterm_to_torchrun_saves_a_checkpoint_that_resumes_on_one_process(tmp_path, tiny_vqvae_config, one_thread):
    train = dataclasses.replace(tiny_vqvae_config.train, steps=100_000, log_every=1, ckpt_every=100_000,
                                ckpt_minutes=0, eval_images=0)
    config = dataclasses.replace(tiny_vqvae_config, train=train)
    (tmp_path / "config.json").write_text(json.dumps(to_dict(config)))
    run = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT / "src"))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "ganvq",
               "--quiet", "train", "vqvae", "--config", str(tmp_path / "config.json"), "--out", str(run)]
    launcher = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 150
        while len(read_metrics(run)) < 3:  # training, on both processes
            assert launcher.poll() is None, launcher.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "no steps within 150 s"
            time.sleep(0.2)
        launcher.send_signal(signal.SIGTERM)  # to torchrun alone: it relays the signal to its workers
        _, err = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
    assert "checkpoint saved" in err, err[-3000:]
    _, meta = load_checkpoint(run / CHECKPOINT)
    step = meta["step"]
    assert step >= 3 and not meta["finished"]
    summary = train_vqvae(None, run, resume=True, quiet=True, steps=step + 2)
    assert summary["step"] == step + 2


def test_global_batch_norm_is_batch_norm_in_one_process():
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    converted = globalize_batch_norm(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)))
    converted.load_state_dict(plain.state_dict())
    assert isinstance(converted[1], GlobalBatchNorm2d)
    assert converted.state_dict().keys() == plain.state_dict().keys()
    x = torch.randn(8, 3, 6, 6)
    assert torch.equal(plain(x), converted(x))


def test_fp16_on_a_cpu_is_one_line():
    with pytest.raises(GanvqError, match="fp16 needs a CUDA device"):
        grad_scaler(torch.device("cpu"), "fp16")
    assert not grad_scaler(torch.device("cpu"), "bf16").is_enabled()


def test_a_cpu_checkpoint_holds_no_cuda_generator_state(tiny_vqvae_run):
    tensors, _ = load_checkpoint(tiny_vqvae_run / CHECKPOINT)
    assert "rng.torch" in tensors and "rng.cuda" not in tensors


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU (not run on CPU machines)")
def test_cuda_generator_state_is_saved_and_restored(tmp_path, tiny_gan_config):
    """GAN latents and DiffAugment draw on the GPU: a resumed run continues their stream exactly."""
    from ganvq.train.gan import train_gan

    train = dataclasses.replace(tiny_gan_config.train, device="cuda", lr_schedule="constant")
    full = dataclasses.replace(tiny_gan_config, train=train)
    train_gan(full, tmp_path / "full", quiet=True)
    half = dataclasses.replace(full, train=dataclasses.replace(train, steps=3))
    train_gan(half, tmp_path / "half", quiet=True)
    tensors, _ = load_checkpoint(tmp_path / "half" / CHECKPOINT)
    assert "rng.cuda" in tensors
    train_gan(None, tmp_path / "half", resume=True, quiet=True, steps=6)
    a, _ = load_checkpoint(tmp_path / "full" / CHECKPOINT)
    b, _ = load_checkpoint(tmp_path / "half" / CHECKPOINT)
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a if k.startswith("G."))


def test_torchrun_with_a_numbered_gpu_is_one_line(monkeypatch):
    from ganvq.train import distributed

    with pytest.raises(GanvqError, match="each process takes cuda:LOCAL_RANK"):
        distributed._device("cuda:1", 0)
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(GanvqError, match="WORLD_SIZE='two' is not an integer"):
        distributed.launched()
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert distributed.launched() is distributed.SINGLE  # a single process: nothing changes


def test_bench_scale_reads_images_per_second_between_the_first_and_last_metric_lines(tmp_path, benchmark_module):
    bench = benchmark_module("bench_scale")
    (tmp_path / "config.json").write_text(json.dumps({"train": {"batch_size": 8}, "gan": {"n_d": 2}}))
    lines = [{"step": 2, "elapsed_seconds": 1.0}, {"step": 12, "elapsed_seconds": 3.0},
             {"step": 12, "train_seconds": 9.0, "precision_used": "fp32"}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert bench.images_per_second(tmp_path) == (10 * 16 / 2.0, 12)
