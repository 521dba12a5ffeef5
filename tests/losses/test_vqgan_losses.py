"""VQGAN's loss terms: the adaptive weight against its formula, the delayed start, the perceptual distances."""

import itertools

import pytest
import torch
from torch import nn

from ganvq.data import load_dataset
from ganvq.images import to_float
from ganvq.losses.gan import generator_loss
from ganvq.losses.vqgan import PerceptualLoss, adaptive_weight, adopt_weight, feature_matching_loss, ramped_weight
from ganvq.models.gan import GANConfig, PatchDiscriminator
from ganvq.train.vqgan import cnn_perceptual_loss


def test_adaptive_weight_equals_its_formula_with_hand_derived_gradients():
    torch.manual_seed(0)
    h, x = torch.randn(8, 5), torch.randn(8, 3)  # last layer's input features, targets
    w = torch.randn(3, 5, requires_grad=True)  # the decoder's last layer: x_hat = h W^T
    v = torch.randn(3)  # a linear discriminator D(x_hat) = x_hat v
    x_hat = h @ w.T
    rec = (x_hat - x).pow(2).mean()
    gan = generator_loss("hinge", x_hat @ v)  # -mean(D(x_hat))
    grad_rec = 2 / x_hat.numel() * (x_hat - x).detach().T @ h  # d rec / dW
    grad_gan = -torch.outer(v, h.sum(0)) / len(h)  # d gan / dW
    expected = grad_rec.norm() / (grad_gan.norm() + 1e-4)
    got = adaptive_weight(rec, gan, w, delta=1e-4)
    assert torch.allclose(got, expected, rtol=1e-5) and not got.requires_grad
    (rec + got * gan).backward()  # the graphs were kept for the training step's backward pass
    assert adaptive_weight(h.sum() * 0 + (h @ w.T).sum(), (h @ w.T).sum() * 1e-9, w, max_weight=7.0) == 7.0


def test_adaptive_weight_matches_separate_backward_passes_through_a_conv_decoder():
    torch.manual_seed(1)
    decoder = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 1, 3, padding=1))
    disc = PatchDiscriminator(GANConfig(d_width=4, d_norm="none"))
    z, x = torch.randn(2, 4, 28, 28), torch.rand(2, 1, 28, 28) * 2 - 1
    last = decoder[-1].weight

    def losses():
        x_hat = decoder(z)
        return (x_hat - x).pow(2).mean(), generator_loss("non-saturating", disc(x_hat))

    rec, gan = losses()
    got = adaptive_weight(rec, gan, last)
    norms = []
    for pick in (0, 1):
        decoder.zero_grad()
        losses()[pick].backward()
        norms.append(last.grad.norm())
    assert torch.allclose(got, norms[0] / (norms[1] + 1e-4), rtol=1e-5)


def test_adopt_weight_is_zero_before_the_start_step():
    assert [adopt_weight(0.5, s, 3) for s in range(5)] == [0, 0, 0, 0.5, 0.5]


def test_ramped_weight_is_zero_before_the_start_then_rises_linearly_to_the_weight():
    assert [ramped_weight(0.8, s, 2, 4) for s in range(8)] == pytest.approx([0, 0, 0.2, 0.4, 0.6, 0.8, 0.8, 0.8])
    assert [ramped_weight(0.8, s, 2, 0) for s in range(4)] == [0, 0, 0.8, 0.8]  # no ramp: adopt_weight's step


@pytest.fixture(scope="module")
def images():
    # fresh default strides: a 1-channel batch's are ambiguous, and another layout picks other conv kernels
    x = to_float(load_dataset("fashion-mnist", "test", limit=64).images)
    return x.new_empty(x.shape).copy_(x)


def test_cnn_perceptual_loss_is_zero_for_identical_images_and_grows_with_distortion(images):
    loss = cnn_perceptual_loss()
    assert torch.equal(loss(images, images.clone()), torch.zeros(len(images)))
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(images.shape, generator=gen)
    dist = [float(loss(images, (images + s * noise).clamp(-1, 1)).mean()) for s in (0.02, 0.05, 0.1, 0.2, 0.4)]
    assert all(a < b for a, b in itertools.pairwise(dist)) and dist[0] > 0
    blurred = nn.functional.avg_pool2d(images, 3, 1, 1, count_include_pad=False)
    assert (loss(images, blurred) > 0).all()  # blur counts as distortion too, image by image
    assert not any(p.requires_grad for p in loss.parameters()) and not loss.train().training  # a fixed network


def test_the_embedding_tap_adds_the_distance_between_the_fid_features(images):
    from ganvq.losses.vqgan import _unit_channels
    from ganvq.metrics.features import load_cnn

    plain, with_embedding = cnn_perceptual_loss(), cnn_perceptual_loss(embedding=True)
    assert torch.equal(with_embedding(images, images.clone()), torch.zeros(len(images)))
    shifted = (images + 0.2).clamp(-1, 1)
    cnn = load_cnn().eval()
    f, g = (_unit_channels(cnn(t)[0]) for t in (images, shifted))  # the 128-d features FID is computed on
    expected = plain(images, shifted) + (f - g).pow(2).sum(1)
    assert torch.allclose(with_embedding(images, shifted), expected, rtol=1e-4, atol=1e-6)


def test_perceptual_loss_passes_gradients_to_the_reconstruction(images):
    x_hat = (images + 0.1).clamp(-1, 1).requires_grad_(True)
    cnn_perceptual_loss()(images, x_hat).sum().backward()
    assert x_hat.grad is not None and x_hat.grad.abs().sum() > 0


def test_feature_matching_is_zero_for_identical_images_and_grows_with_distortion(images):
    torch.manual_seed(0)
    disc = PatchDiscriminator(GANConfig(d_width=8, d_norm="sn")).eval().requires_grad_(False)
    fm = [float(feature_matching_loss(disc.features(images), disc.features((images + s).clamp(-1, 1))))
          for s in (0.0, 0.1, 0.3, 0.6)]
    assert fm[0] == 0 and all(a < b for a, b in itertools.pairwise(fm))


def test_the_patch_discriminator_scores_each_patch():
    disc = PatchDiscriminator(GANConfig(d_width=8, d_norm="sn"))
    assert disc(torch.zeros(3, 1, 28, 28)).shape == (3, 7, 7)
    rgb = PatchDiscriminator(GANConfig(image_size=32, channels=3, d_width=8))
    assert rgb(torch.zeros(2, 3, 32, 32)).shape == (2, 4, 4)
    assert PerceptualLoss([nn.Identity()])(torch.ones(1, 2, 3, 3), torch.ones(1, 2, 3, 3)).item() == 0
