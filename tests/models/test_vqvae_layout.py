"""The VQ-VAE's layout options: with or without the full-resolution stem."""

import dataclasses

import pytest
import torch
from torch import nn

from ganvq.config import from_dict, to_dict
from ganvq.errors import GanvqError
from ganvq.models.vqvae import VQVAE, VQVAEConfig
from ganvq.runs.presets import preset


def _convs(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


@pytest.mark.parametrize("image_size, channels", [(64, 3), (28, 1)])
def test_without_the_stem_the_strided_convolutions_meet_the_pixels(image_size, channels):
    cfg = VQVAEConfig(image_size=image_size, channels=channels, hidden=64, stem=False)
    model = VQVAE(cfg).eval()
    first, last = _convs(model.encoder)[0], _convs(model.decoder)[-1]
    assert isinstance(first, nn.Conv2d) and first.in_channels == channels and first.stride == (2, 2)
    assert isinstance(last, nn.ConvTranspose2d) and last.out_channels == channels and last.stride == (2, 2)
    assert not isinstance(model.encoder.net[0], nn.ReLU)  # the pixels are not rectified
    x = torch.rand(2, channels, image_size, image_size) * 2 - 1
    out = model(x, target=x)
    assert out.x_hat.shape == x.shape and out.indices.shape == (2, cfg.latent_size, cfg.latent_size)
    with_stem = VQVAE(dataclasses.replace(cfg, stem=True))
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in with_stem.parameters())
    assert len(_convs(with_stem.encoder)) == len(_convs(model.encoder)) + 1


def test_rgb_64_has_no_stem_and_a_config_saved_before_the_option_keeps_its_stem():
    assert preset("rgb-64").stem is False and preset("rgb-32").stem is True
    saved = to_dict(preset("rgb-32"))
    del saved["stem"]  # a run folder written before the option existed
    assert from_dict(VQVAEConfig, saved).stem is True


def test_no_stem_needs_a_downsample():
    with pytest.raises(GanvqError, match="stem"):
        VQVAEConfig(downsamples=0, stem=False)


def test_decoder_only_images_carry_gradient_to_the_decoder_and_not_the_encoder():
    torch.manual_seed(0)
    model = VQVAE(VQVAEConfig(downsamples=1, hidden=8, vq=dataclasses.replace(VQVAEConfig().vq, codebook_size=16)))
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    out = model(x, decoder_only=2)
    assert out.x_hat_decoder.shape == (2, 1, 28, 28)
    assert torch.allclose(out.x_hat_decoder, out.x_hat[:2])  # the same images, decoded again
    out.x_hat_decoder.square().mean().backward()
    assert all(p.grad is None or not p.grad.any() for p in model.encoder.parameters())
    assert any(p.grad is not None and p.grad.any() for p in model.decoder.parameters())
    assert model(x).x_hat_decoder is None


def test_codes_out_of_the_codebook_are_refused_with_the_values_found(tiny_vqvae_run):
    from ganvq.runs import load_vqvae

    model, _ = load_vqvae(tiny_vqvae_run)
    h, w = model.config.code_shape
    codes = torch.zeros(2, h, w, dtype=torch.int64)
    codes[1, 0, 0] = model.codebook_size + 5
    with pytest.raises(GanvqError, match=rf"lie in \[0, {model.codebook_size - 1}\] for this model; these run from 0 "
                                         rf"to {model.codebook_size + 5} \(codes of another model\?\)"):
        model.decode_codes(codes)
