import contextlib
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from ganvq.models.vqvae import VQVAEConfig
from ganvq.prior import PriorConfig
from ganvq.quantize.vq import VQConfig
from ganvq.runs import PriorRunConfig, TrainConfig, VQVAERunConfig
from ganvq.train.vqvae import train_vqvae

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def benchmark_module():
    """load(name) -> the module benchmarks/NAME.py, which may import its siblings (e.g. `machine`)."""

    def load(name: str):
        sys.path.insert(0, str(BENCHMARKS))
        try:
            spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
        finally:
            sys.path.remove(str(BENCHMARKS))

    return load


@pytest.fixture
def tiny_vqvae_config():
    """A VQ-VAE small enough to train a few steps in a fraction of a second, on 256 Fashion-MNIST images."""
    model = VQVAEConfig(hidden=32, res_blocks=1, downsamples=2, vq=VQConfig(codebook_size=16, dim=8))
    train = TrainConfig(steps=6, batch_size=16, precision="fp32", log_every=2, ckpt_every=3, eval_images=64)
    return VQVAERunConfig(model=model, train=train, data="fashion-mnist", limit=256)


@pytest.fixture
def tiny_gan_config():
    """A conditional GAN (SN projection D, hinge, EMA, DiffAugment) that trains 6 steps in about a second."""
    from ganvq.models.gan import GANConfig
    from ganvq.runs import GANOptions, GANRunConfig

    model = GANConfig(arch="dcgan", d_norm="sn", z_dim=16, g_width=8, d_width=8)
    train = TrainConfig(steps=6, batch_size=16, lr=2e-4, precision="fp32", log_every=2, ckpt_every=3, eval_images=0)
    gan = GANOptions(loss="hinge", lr_d=4e-4, ema_decay=0.9, diffaugment="color,translation,cutout", sample_every=3)
    return GANRunConfig(model=model, train=train, gan=gan, data="fashion-mnist", limit=256)


@contextlib.contextmanager
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models gain nothing from threads, and on a busy 2-core machine thread handoffs dominate."""
    with _one_thread():
        yield


@pytest.fixture(scope="session")
def tiny_vqvae_run(tmp_path_factory):
    """A VQ-VAE (16 codes, 7x7 maps) trained for 4 steps on 256 Fashion-MNIST images: a second or so."""
    model = VQVAEConfig(hidden=32, res_blocks=1, downsamples=2, vq=VQConfig(codebook_size=16, dim=8))
    train = TrainConfig(steps=4, batch_size=16, precision="fp32", log_every=2, ckpt_every=100, eval_images=0)
    out = tmp_path_factory.mktemp("vqvae")
    with _one_thread():
        train_vqvae(VQVAERunConfig(model=model, train=train, limit=256), out, quiet=True)
    return out


@pytest.fixture
def tiny_prior_config(tiny_vqvae_run):
    """A two-layer, 32-wide prior trained for 6 steps on the tiny VQ-VAE's codes."""
    train = TrainConfig(steps=6, batch_size=16, lr=1e-3, precision="fp32", log_every=2, ckpt_every=3, eval_images=64)
    return PriorRunConfig(vqvae=str(tiny_vqvae_run), model=PriorConfig(dim=32, layers=2, heads=2), train=train,
                          limit=256)


@pytest.fixture(scope="session")
def tiny_prior_run(tmp_path_factory, tiny_vqvae_run):
    """A trained tiny prior run folder (its checkpoint holds the VQ-VAE): what the codec loads."""
    from ganvq.train.prior import train_prior

    train = TrainConfig(steps=20, batch_size=32, lr=3e-3, precision="fp32", log_every=10, ckpt_every=100,
                        eval_images=64)
    config = PriorRunConfig(vqvae=str(tiny_vqvae_run), model=PriorConfig(dim=32, layers=2, heads=2), train=train,
                            limit=256)
    out = tmp_path_factory.mktemp("prior")
    with _one_thread():
        train_prior(config, out, quiet=True)
    return out


@pytest.fixture(scope="session")
def tiny_local_prior_run(tmp_path_factory, tiny_vqvae_run):
    """A trained tiny local (neighbourhood MLP) prior run folder: the fast codec's model."""
    from ganvq.train.prior import train_prior

    train = TrainConfig(steps=30, batch_size=32, lr=3e-3, precision="fp32", log_every=10, ckpt_every=100,
                        eval_images=64)
    config = PriorRunConfig(vqvae=str(tiny_vqvae_run), model=PriorConfig(arch="local", dim=32, layers=2),
                            train=train, limit=256)
    out = tmp_path_factory.mktemp("local-prior")
    with _one_thread():
        train_prior(config, out, quiet=True)
    return out


@pytest.fixture
def crash_after_checkpoint(monkeypatch):
    """Train make_task() (seeded as a run is) until its 5th step raises (a power cut), after the periodic
    checkpoint at step 3."""
    from ganvq.io import load_checkpoint
    from ganvq.train import loop

    def run(make_task, train_config, out) -> None:
        with loop.seeded(train_config):
            task = make_task()
            original = task.train_step

            def crash_at_5(step):
                if step == 4:
                    raise RuntimeError("power cut")
                return original(step)

            monkeypatch.setattr(task, "train_step", crash_at_5)
            with pytest.raises(RuntimeError, match="power cut"):
                loop.train(task, train_config, out, quiet=True)
        _, meta = load_checkpoint(out / loop.CHECKPOINT)
        assert meta["step"] == 3 and not meta["finished"]

    return run
