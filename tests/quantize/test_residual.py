import pytest
import torch

from ganvq.errors import GanvqError
from ganvq.quantize.vq import ResidualQuantizer, VectorQuantizer, VQConfig


def _z(n=8, d=8, h=3, w=3, seed=0):
    return torch.randn(n, d, h, w, generator=torch.Generator().manual_seed(seed))


def test_each_level_quantizes_the_residual_of_the_levels_before_it_and_codes_fold_into_the_width():
    torch.manual_seed(0)
    q = ResidualQuantizer(VQConfig(codebook_size=16, dim=8, levels=3)).eval()
    z = _z()
    out = q(z)
    assert out.indices.shape == (8, 3, 9)  # (B, h, w * levels)
    per_level = out.indices.reshape(8, 3, 3, 3)  # column j * 3 + l holds level l at position j
    residual, total = z, torch.zeros_like(z)
    for level, vq in enumerate(q.levels):
        code = vq.indices_to_codes(per_level[..., level])
        flat = residual.permute(0, 2, 3, 1).reshape(-1, 8)
        assert torch.equal(per_level[..., level].reshape(-1), vq.nearest(flat))  # nearest code to the residual
        total, residual = total + code, residual - code
    torch.testing.assert_close(out.z_q, total)
    torch.testing.assert_close(q.indices_to_codes(out.indices), total)


def test_more_levels_quantize_more_finely():
    z = _z(n=64, d=4, h=4, w=4)
    errors = []
    for levels in (1, 2, 3):
        torch.manual_seed(0)
        q = ResidualQuantizer(VQConfig(codebook_size=8, dim=4, levels=levels))
        q(z)  # training mode: k-means initialises each level on its first residuals
        q.eval()
        errors.append(((q(z).z_q - z) ** 2).mean().item())
    assert errors[0] > errors[1] > errors[2]


def test_gradients_pass_straight_through_and_commitment_pulls_z_to_every_partial_sum():
    torch.manual_seed(0)
    q = ResidualQuantizer(VQConfig(codebook_size=16, dim=8, levels=2, beta=0.25)).eval()
    z = _z().requires_grad_()
    out = q(z)
    upstream = torch.randn_like(out.z_q)
    (out.z_q * upstream).sum().backward()
    torch.testing.assert_close(z.grad, upstream)
    z.grad = None
    q(z).loss.backward()
    per_level = out.indices.reshape(8, 3, 3, 2)
    first = q.levels[0].indices_to_codes(per_level[..., 0])
    both = first + q.levels[1].indices_to_codes(per_level[..., 1])
    expected = 0.25 / 2 * 2 * ((z - first) + (z - both)) / z.numel()
    torch.testing.assert_close(z.grad, expected.detach())


def test_one_level_is_the_plain_quantizer_and_other_updates_are_refused():
    from ganvq.models.vqvae import VQVAE, VQVAEConfig

    assert isinstance(VQVAE(VQVAEConfig()).quantizer, VectorQuantizer)
    model = VQVAE(VQVAEConfig(vq=VQConfig(levels=2)))
    assert isinstance(model.quantizer, ResidualQuantizer) and model.config.code_shape == (7, 14)
    with pytest.raises(GanvqError, match="ema"):
        VQConfig(levels=2, update="kmeans")
    with pytest.raises(GanvqError, match="levels"):
        VQConfig(levels=0)
