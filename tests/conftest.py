import pytest

from ganvq.config import TrainConfig, VQVAERunConfig
from ganvq.models.vqvae import VQVAEConfig
from ganvq.quantize.vq import VQConfig


@pytest.fixture
def tiny_vqvae_config():
    """A VQ-VAE small enough to train a few steps in a fraction of a second, on 256 Fashion-MNIST images."""
    model = VQVAEConfig(hidden=32, res_blocks=1, downsamples=2, vq=VQConfig(codebook_size=16, dim=8))
    train = TrainConfig(steps=6, batch_size=16, precision="fp32", log_every=2, ckpt_every=3, eval_images=64)
    return VQVAERunConfig(model=model, train=train, data="fashion-mnist", limit=256)
