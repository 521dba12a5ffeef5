"""torchrun training: N processes (gloo on CPU) compute what one process computes at the same global batch
size, and a run resumes on another number of processes. Every run has a time limit (a hang fails)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganvq.data.batching import BatchStream
from ganvq.errors import GanvqError
from ganvq.io import load_checkpoint
from ganvq.quantize.vq import VectorQuantizer
from ganvq.runs import CHECKPOINT, module_weights, read_metrics
from ganvq.train.gan import train_gan
from ganvq.train.vqvae import train_vqvae

sys.path.insert(0, str(Path(__file__).parent))
import ranks
import workers

ROOT = Path(__file__).resolve().parents[2]


# The EMA codebook statistics, per code. Each process encodes half the batch, so an encoder output almost equally far
# from two codes can go to the other one (on an AVX2-only CPU, one vector did): then these differ at those two codes.
CODE_STATISTICS = ("quantizer.usage", "quantizer.cluster_size", "quantizer.embed_sum")


def _close(a: Path, b: Path, modules: tuple[str, ...], atol: float = 1e-4, near_ties: bool = False) -> None:
    ta, _ = load_checkpoint(a / CHECKPOINT)
    tb, _ = load_checkpoint(b / CHECKPOINT)
    for name in modules:
        wa, wb = module_weights(ta, name), module_weights(tb, name)
        assert wa.keys() == wb.keys()
        for k in wa:
            if near_ties and k in CODE_STATISTICS:  # one near-tie assignment at most: two codes' rows differ
                differs = ((wa[k] - wb[k]).abs().reshape(len(wa[k]), -1) > atol).any(1)
                assert int(differs.sum()) <= 2, f"{name}.{k} differs at codes {differs.nonzero().flatten().tolist()}"
            elif wa[k].is_floating_point():
                assert torch.allclose(wa[k], wb[k], atol=atol, rtol=1e-4), f"{name}.{k} differs"
            else:
                assert torch.equal(wa[k], wb[k]), f"{name}.{k} differs"


def _log(run: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if "seconds" not in k} for r in read_metrics(run)]


def _same_log(a: Path, b: Path) -> None:
    la, lb = _log(a), _log(b)
    assert [r.keys() for r in la] == [r.keys() for r in lb]
    for ra, rb in zip(la, lb):
        for k in ra:
            if isinstance(ra[k], str):
                assert ra[k] == rb[k]
            else:
                assert ra[k] == pytest.approx(rb[k], rel=1e-3, abs=1e-4), (ra["step"], k)


@pytest.fixture
def restarting_vqvae(tiny_vqvae_config):
    """The tiny VQ-VAE with an EMA codebook whose codes die fast (decay 0.5, threshold far above any code's
    hits), so dead-code restarts happen inside a four-step window; a scored checkpoint at step 2."""
    m = tiny_vqvae_config.model
    vq = dataclasses.replace(m.vq, update="ema", decay=0.5, dead_threshold=200.0)
    train = dataclasses.replace(tiny_vqvae_config.train, steps=4, log_every=1, ckpt_every=2, eval_images=32)
    return dataclasses.replace(tiny_vqvae_config, model=dataclasses.replace(m, vq=vq), train=train)


def test_two_processes_train_the_vqvae_one_process_trains(tmp_path, restarting_vqvae, monkeypatch, one_thread):
    restarts = []
    original = VectorQuantizer._restart_dead

    def counted(self, flat):
        restarts.append(int((self.usage < self.config.dead_threshold).sum()))
        return original(self, flat)

    monkeypatch.setattr(VectorQuantizer, "_restart_dead", counted)
    train_vqvae(restarting_vqvae, tmp_path / "one", quiet=True)
    assert sum(restarts) > 0  # codes were restarted inside the window
    monkeypatch.undo()

    ranks.spawn(workers.train_vqvae, 2, restarting_vqvae, tmp_path / "two")
    _close(tmp_path / "one", tmp_path / "two", ("model",), near_ties=True)  # the codebook and its statistics too
    _same_log(tmp_path / "one", tmp_path / "two")  # per-step means and codebook use over the global batch


def test_two_processes_train_the_gan_one_process_trains(tmp_path, tiny_gan_config, one_thread):
    """Conditional BN in G (over the global batch), SN in D, DiffAugment and ADA's adaptive p."""
    gan = dataclasses.replace(tiny_gan_config.gan, diffaugment_target=0.6, sample_every=0)
    train = dataclasses.replace(tiny_gan_config.train, steps=6)
    config = dataclasses.replace(tiny_gan_config, gan=gan, train=train)
    train_gan(config, tmp_path / "one", quiet=True)
    ranks.spawn(workers.train_gan, 2, config, tmp_path / "two")
    _close(tmp_path / "one", tmp_path / "two", ("G", "D", "G_ema"))
    _, meta_one = load_checkpoint(tmp_path / "one" / CHECKPOINT)
    _, meta_two = load_checkpoint(tmp_path / "two" / CHECKPOINT)
    assert meta_two["extra"]["aug_p"] == pytest.approx(meta_one["extra"]["aug_p"])
    # ADA's statistic since its last adjustment (6 = 4 + 2 D steps): both processes' signs, all 2 x 16 images
    assert meta_two["extra"]["ada"]["images"] == meta_one["extra"]["ada"]["images"] == 32
    assert meta_two["extra"]["ada"]["signs"] == pytest.approx(meta_one["extra"]["ada"]["signs"])
    assert (tmp_path / "two" / "samples" / "latest.png").is_file()  # written by rank 0


def test_a_run_resumes_on_another_number_of_processes(tmp_path, tiny_vqvae_config, one_thread):
    """Three steps on one process, then torchrun with two processes to step 6: the same weights as six steps on
    one process (positions and counters are stored in global terms)."""
    train = dataclasses.replace(tiny_vqvae_config.train, steps=3, lr_schedule="constant", ckpt_every=100,
                                eval_images=0)
    config = dataclasses.replace(tiny_vqvae_config, train=train)
    train_vqvae(config, tmp_path / "resumed", quiet=True)
    full = dataclasses.replace(config, train=dataclasses.replace(train, steps=6))
    train_vqvae(full, tmp_path / "full", quiet=True)

    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT / "src"))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "ganvq", "--quiet", "train", "vqvae", "--resume", str(tmp_path / "resumed"), "--steps", "6"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    _close(tmp_path / "full", tmp_path / "resumed", ("model",))
    _, meta = load_checkpoint(tmp_path / "resumed" / CHECKPOINT)
    assert meta["step"] == 6 and meta["finished"]


def test_each_process_reads_its_slice_of_every_global_batch():
    images = torch.arange(40, dtype=torch.uint8).reshape(40, 1, 1, 1)
    whole = BatchStream(images, None, 8, seed=3)
    parts = [BatchStream(images, None, 8, seed=3, rank=r, world=4) for r in range(4)]
    for _ in range(7):  # across an epoch boundary
        x = whole.next_batch()[0]
        assert torch.equal(torch.cat([p.next_batch()[0] for p in parts]), x)
    assert {str(p.state_dict()) for p in parts} == {str(whole.state_dict())}  # the same global position


def test_a_batch_that_does_not_split_over_the_processes_is_one_line():
    images = torch.zeros(40, 1, 1, 1, dtype=torch.uint8)
    with pytest.raises(GanvqError, match="does not split evenly over 3 processes"):
        BatchStream(images, None, 8, seed=0, rank=0, world=3)


def test_two_processes_train_the_prior_one_process_trains(tmp_path, tiny_prior_config, one_thread):
    """Without dropout (whose masks are drawn per process) the prior's weights match too."""
    from ganvq.train.prior import train_prior

    model = dataclasses.replace(tiny_prior_config.model, dropout=0.0)
    train = dataclasses.replace(tiny_prior_config.train, steps=4)
    config = dataclasses.replace(tiny_prior_config, model=model, train=train)
    train_prior(config, tmp_path / "one", quiet=True)
    ranks.spawn(workers.train_prior, 2, config, tmp_path / "two")
    _close(tmp_path / "one", tmp_path / "two", ("model",))
    _same_log(tmp_path / "one", tmp_path / "two")


def test_two_processes_train_a_batch_norm_discriminator_with_r1_as_one_process(tmp_path, tiny_gan_config, one_thread):
    """D with batch norm (real and fake scored in separate passes, each normalised over the global batch) and the
    R1 penalty, whose double backward runs inside DDP."""
    model = dataclasses.replace(tiny_gan_config.model, d_norm="bn")
    gan = dataclasses.replace(tiny_gan_config.gan, loss="non-saturating", r1_gamma=1.0, sample_every=0)
    train = dataclasses.replace(tiny_gan_config.train, steps=3)
    config = dataclasses.replace(tiny_gan_config, model=model, gan=gan, train=train)
    train_gan(config, tmp_path / "one", quiet=True)
    ranks.spawn(workers.train_gan, 2, config, tmp_path / "two")
    _close(tmp_path / "one", tmp_path / "two", ("G", "D", "G_ema"))
