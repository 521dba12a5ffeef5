import pytest
import torch

from ganvq.errors import GanvqError
from ganvq.models.gan import (
    GANConfig,
    base_and_stages,
    build_discriminator,
    build_generator,
)

# (arch, d_norm) pairs the presets use, at every size the issue asks for; conditional at 28 and 64 pixels.
SHAPES = [(arch, norm, size, channels, 0 if size == 32 else 10)
          for arch, norm in [("dcgan", "bn"), ("dcgan", "sn"), ("resnet", "sn")]
          for size, channels in [(28, 1), (32, 3), (64, 3)]]


def _tiny(**kw) -> GANConfig:
    return GANConfig(**{"z_dim": 16, "g_width": 8, "d_width": 8, **kw})


@pytest.mark.parametrize("arch,d_norm,size,channels,num_classes", SHAPES)
def test_generator_and_discriminator_shapes_and_range(arch, d_norm, size, channels, num_classes):
    torch.manual_seed(0)
    cfg = _tiny(arch=arch, d_norm=d_norm, image_size=size, channels=channels, num_classes=num_classes)
    G, D = build_generator(cfg), build_discriminator(cfg)
    y = torch.tensor([0, 3, 9]) if num_classes else None
    x = G(torch.randn(3, 16), y)
    assert x.shape == (3, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1
    logits = D(x, y)
    assert logits.shape == (3,)
    logits.sum().backward()  # gradients reach G through D
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())


def test_sizes_factor_into_a_base_and_doublings():
    assert base_and_stages(28) == (7, 2)
    assert base_and_stages(32) == (4, 3)
    assert base_and_stages(64) == (4, 4)
    with pytest.raises(GanvqError, match="not supported"):
        GANConfig(image_size=27)


def test_spectral_norm_keeps_each_discriminator_layer_near_unit_gain():
    torch.manual_seed(0)
    D = build_discriminator(_tiny(d_norm="sn"))
    x = torch.randn(2, 1, 28, 28)
    for _ in range(15):  # power iteration advances one step per training-mode forward pass
        D(x)
    for conv in D.convs:
        sigma = torch.linalg.matrix_norm(conv.weight.flatten(1), ord=2)
        assert sigma.item() == pytest.approx(1.0, abs=0.05)


def test_conditional_generator_draws_different_images_for_different_classes():
    torch.manual_seed(0)
    G = build_generator(_tiny(num_classes=10))
    with torch.no_grad():  # make the per-class BN gains differ, as training would
        G.norms[0].gain.weight.normal_(1, 0.5)
    G.eval()
    z = torch.randn(2, 16)
    a, b = G(z, torch.tensor([1, 1])), G(z, torch.tensor([2, 2]))
    assert not torch.allclose(a, b)
    torch.testing.assert_close(a, G(z, torch.tensor([1, 1])))  # same class, same z: same image


def test_projection_discriminator_scores_depend_on_the_label():
    torch.manual_seed(0)
    D = build_discriminator(_tiny(d_norm="sn", num_classes=10)).eval()
    x = torch.randn(2, 1, 28, 28)
    assert not torch.allclose(D(x, torch.tensor([0, 0])), D(x, torch.tensor([5, 5])))


def test_a_pooled_projection_meets_the_summed_features_with_s0_squared_fewer_weights():
    torch.manual_seed(0)
    flat = build_discriminator(_tiny(d_norm="none", num_classes=10))
    pooled = build_discriminator(_tiny(d_norm="none", num_classes=10, d_projection="pooled")).eval()
    assert flat.embed.weight.shape == (10, 16 * 7 * 7) and pooled.embed.weight.shape == (10, 16)
    x, y = torch.randn(3, 1, 28, 28), torch.tensor([0, 4, 9])
    h = x
    for conv in pooled.convs:
        h = torch.nn.functional.leaky_relu(conv(h), 0.2)
    expected = pooled.last(h).flatten() + (pooled.embed.weight[y] * h.sum((2, 3))).sum(1)
    torch.testing.assert_close(pooled(x, y), expected)
    with pytest.raises(GanvqError, match="projection"):
        GANConfig(d_projection="spatial")


@pytest.mark.parametrize("arch,d_norm,projection", [("dcgan", "none", "flat"), ("dcgan", "sn", "pooled"),
                                                     ("resnet", "sn", "flat")])
def test_the_projection_read_as_a_classifier_gives_each_class_its_projection_term(arch, d_norm, projection):
    torch.manual_seed(0)
    D = build_discriminator(_tiny(arch=arch, d_norm=d_norm, num_classes=10, d_projection=projection)).eval()
    x, y = torch.randn(3, 1, 28, 28), torch.tensor([0, 4, 9])
    logits, scores = D(x, y, classes=True)
    assert scores.shape == (3, 10)
    torch.testing.assert_close(logits, D(x, y))  # the logits are those of a plain call
    unconditioned = logits - scores.gather(1, y[:, None])[:, 0]
    for k in (0, 4, 7):  # class k's score is what labelling every image k adds to the logit
        torch.testing.assert_close(D(x, torch.full((3,), k)), unconditioned + scores[:, k])
    with pytest.raises(GanvqError, match="class scores"):
        build_discriminator(_tiny(arch=arch, d_norm=d_norm))(x, classes=True)


def test_labels_must_match_the_model():
    G = build_generator(_tiny(num_classes=10))
    with pytest.raises(GanvqError, match="conditional"):
        G(torch.randn(2, 16))
    G = build_generator(_tiny())
    with pytest.raises(GanvqError, match="unconditional"):
        G(torch.randn(2, 16), torch.tensor([0, 1]))


def test_resnet_discriminator_refuses_batch_norm():
    with pytest.raises(GanvqError, match="batch norm"):
        GANConfig(arch="resnet", d_norm="bn")
