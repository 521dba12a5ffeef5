"""The codec takes a VQGAN's codes as any VQ-VAE's: a prior over them, then bit-exact round trips."""

import pytest
import torch

from ganvq.models.vqvae import VQVAEConfig
from ganvq.prior import PriorConfig
from ganvq.quantize.vq import VQConfig
from ganvq.runs import PriorRunConfig, TrainConfig, VQGANOptions, VQVAERunConfig, load_vqvae


@pytest.fixture(scope="module")
def vqgan_codec(tmp_path_factory):
    """A tiny VQGAN (discriminator from step 2 of 4) and a local prior trained on its codes, as a Codec."""
    from ganvq.codec import Codec
    from ganvq.train.prior import train_prior
    from ganvq.train.vqgan import train_vqgan

    root = tmp_path_factory.mktemp("vqgan-codec")
    model = VQVAEConfig(hidden=32, res_blocks=1, downsamples=2, vq=VQConfig(codebook_size=16, dim=8))
    train = TrainConfig(steps=4, batch_size=16, precision="fp32", log_every=2, ckpt_every=100, eval_images=0)
    vqgan = VQGANOptions(disc_start=2, d_width=8, perceptual_weight=0.1)
    train_vqgan(VQVAERunConfig(model=model, train=train, limit=256, vqgan=vqgan), root / "vqgan", quiet=True)
    prior = TrainConfig(steps=10, batch_size=32, lr=3e-3, precision="fp32", log_every=10, ckpt_every=100,
                        eval_images=0)
    train_prior(PriorRunConfig(vqvae=str(root / "vqgan"), model=PriorConfig(arch="local", dim=32, layers=2),
                               train=prior, limit=256), root / "prior", quiet=True)
    return Codec.from_checkpoint(root / "prior"), root / "vqgan"


def test_the_codec_round_trips_a_vqgans_codes_bit_exactly(vqgan_codec, test_images):
    codec, run = vqgan_codec
    model, _ = load_vqvae(run)
    indices = model.encode_images(test_images)  # the VQGAN's own code maps of 40 test images
    assert torch.equal(codec.encode_images(test_images), indices)
    payloads = codec.encode_codes(indices, each=True)
    assert torch.equal(codec.decode_codes(payloads, [1] * len(indices)), indices)
    images = codec.decompress(codec.compress(test_images))
    assert torch.equal(images, codec.decode_images(indices))  # the VQGAN decoder's reconstructions, to the bit
