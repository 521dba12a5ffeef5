import pytest
import torch

from ganvq.errors import GanvqError
from ganvq.quantize.base import rotation_trick
from ganvq.quantize.kmeans import kmeans, kmeans_objective
from ganvq.quantize.vq import VectorQuantizer, VQConfig


def _z(n=4, d=8, h=3, w=3, seed=0):
    return torch.randn(n, d, h, w, generator=torch.Generator().manual_seed(seed))


def test_straight_through_gradients_reach_encoder():
    q = VectorQuantizer(VQConfig(codebook_size=16, dim=8, kmeans_init=False))
    z = _z().requires_grad_()
    out = q(z)
    upstream = torch.randn_like(out.z_q)
    (out.z_q * upstream).sum().backward()
    # The straight-through estimator passes the decoder's gradient to z unchanged.
    torch.testing.assert_close(z.grad, upstream)


def test_commitment_loss_pulls_z_towards_its_code():
    q = VectorQuantizer(VQConfig(codebook_size=16, dim=8, kmeans_init=False, beta=0.25)).eval()
    z = _z().requires_grad_()
    out = q(z)
    out.loss.backward()
    code = q.indices_to_codes(out.indices)
    expected = 0.25 * 2 * (z - code) / z.numel()
    torch.testing.assert_close(z.grad, expected.detach())


def test_loss_update_trains_the_codebook_by_gradient():
    q = VectorQuantizer(VQConfig(codebook_size=16, dim=8, update="loss", kmeans_init=False, restart_dead=False))
    out = q(_z())
    out.loss.backward()
    assert isinstance(q.codebook, torch.nn.Parameter)
    assert q.codebook.grad is not None and q.codebook.grad.abs().sum() > 0


def test_ema_update_equals_its_formula_on_a_hand_computed_example():
    q = VectorQuantizer(VQConfig(codebook_size=2, dim=1, decay=0.5, eps=0.0, kmeans_init=False, restart_dead=False))
    q.codebook.copy_(torch.tensor([[0.0], [10.0]]))
    q.embed_sum.copy_(q.codebook)
    q.cluster_size.fill_(1.0)
    z = torch.tensor([1.0, 2.0, 9.0]).view(1, 1, 1, 3)
    out = q(z)
    assert out.indices.flatten().tolist() == [0, 0, 1]
    # counts [2, 1], sums [3, 9]: N = .5*1 + .5*[2, 1] = [1.5, 1]; m = .5*[0, 10] + .5*[3, 9] = [1.5, 9.5]
    torch.testing.assert_close(q.cluster_size, torch.tensor([1.5, 1.0]))
    torch.testing.assert_close(q.embed_sum, torch.tensor([[1.5], [9.5]]))
    torch.testing.assert_close(q.codebook, torch.tensor([[1.0], [9.5]]))


def test_kmeans_lowers_the_quantization_objective():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(8, 4, generator=g) * 5
    x = centres[torch.randint(8, (2000,), generator=g)] + 0.1 * torch.randn(2000, 4, generator=g)
    random_codes = torch.randn(8, 4, generator=g)
    fitted, counts = kmeans(x, 8, iters=20, generator=g)
    assert kmeans_objective(x, fitted) < 0.1 * kmeans_objective(x, random_codes)
    assert counts.sum() == 2000


def test_kmeans_init_fits_codes_to_the_first_batch():
    g = torch.Generator().manual_seed(1)
    centres = 5 * torch.randn(16, 8, generator=g)
    flat = centres[torch.randint(16, (256,), generator=g)] + 0.1 * torch.randn(256, 8, generator=g)
    z = flat.reshape(16, 4, 4, 8).permute(0, 3, 1, 2)  # (B, D, h, w)
    q = VectorQuantizer(VQConfig(codebook_size=16, dim=8, kmeans_init=True, update="kmeans", restart_dead=False))
    before = kmeans_objective(flat, q.codebook)
    q(z)
    assert bool(q.initialized)
    assert kmeans_objective(flat, q.codebook) < 0.5 * before


def test_dead_codes_are_restarted_from_encoder_outputs():
    q = VectorQuantizer(VQConfig(codebook_size=8, dim=2, kmeans_init=False, update="loss", dead_threshold=1.0))
    with torch.no_grad():
        q.codebook.copy_(torch.tensor([[0.0, 0.0]] + [[100.0 + i, 100.0] for i in range(7)]))
    z = (0.1 * torch.randn(1, 2, 4, 4)).requires_grad_(False)
    q.usage.fill_(0.5)  # below the threshold: all unused codes count as dead now
    q.usage[0] = 100.0
    q(z)
    flat = z.permute(0, 2, 3, 1).reshape(-1, 2)
    # Every dead code now sits exactly on one of the batch's encoder outputs.
    for code in q.codebook[1:]:
        assert (flat - code).norm(dim=1).min() < 1e-6


def test_two_phase_fit_codebook_lowers_the_objective_and_keeps_codes_fixed_by_gradient():
    q = VectorQuantizer(VQConfig(codebook_size=16, dim=8, update="kmeans", kmeans_init=False, restart_dead=False))
    flat = _z(n=32, seed=2).permute(0, 2, 3, 1).reshape(-1, 8)
    before = kmeans_objective(flat, q.codebook)
    after = q.fit_codebook(flat, iters=10)
    assert after < before
    assert not isinstance(q.codebook, torch.nn.Parameter)
    codes = q.codebook.clone()
    q(_z())  # phase 2: a training forward leaves the codebook unchanged
    torch.testing.assert_close(q.codebook, codes)


@pytest.mark.parametrize("cosine", [False, True])
@pytest.mark.parametrize("codebook_dim", [None, 4])
@pytest.mark.parametrize("update", ["ema", "loss", "kmeans"])
def test_indices_to_codes_reproduces_the_quantized_output_and_encode_its_indices(cosine, codebook_dim, update):
    q = VectorQuantizer(VQConfig(codebook_size=32, dim=8, codebook_dim=codebook_dim, cosine=cosine, update=update))
    q.train()
    q(_z(seed=3))  # initialise and update once
    q.eval()
    out = q(_z(seed=4))
    torch.testing.assert_close(q.indices_to_codes(out.indices), out.z_q)
    assert torch.equal(q.encode(_z(seed=4)), out.indices)


def test_cosine_codes_are_unit_vectors():
    q = VectorQuantizer(VQConfig(codebook_size=16, dim=8, cosine=True))
    q(_z())
    torch.testing.assert_close(q.codes().norm(dim=1), torch.ones(16))


def test_rotation_trick_forwards_the_code_and_rotates_the_gradient_by_the_explicit_matrix():
    torch.manual_seed(0)
    z = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    z_q = torch.randn(5, 4, dtype=torch.float64)
    g = torch.randn(5, 4, dtype=torch.float64)
    out = rotation_trick(z, z_q)
    assert torch.allclose(out, z_q, rtol=0, atol=1e-12)  # forward: the code itself, as with straight-through
    out.backward(g)
    for i in range(5):  # gradient of out = s R z with R, s constant: z.grad = s R^T g, R built explicitly
        e, q = z[i].detach(), z_q[i]
        u, v = e / e.norm(), q / q.norm()
        w = (u + v) / (u + v).norm()
        eye = torch.eye(4, dtype=torch.float64)
        rot = eye - 2 * torch.outer(w, w) + 2 * torch.outer(v, u)
        assert torch.allclose(rot @ u, v)  # R carries the output's direction onto the code's
        assert torch.allclose(rot.T @ rot, eye)  # and is a rotation
        assert torch.allclose(z.grad[i], (q.norm() / e.norm()) * rot.T @ g[i])


def test_rotation_trick_equals_straight_through_where_output_and_code_coincide():
    z = torch.randn(3, 8, requires_grad=True)
    g = torch.randn(3, 8)
    rotation_trick(z, z.detach().clone()).backward(g)
    assert torch.allclose(z.grad, g, atol=1e-6)


def test_vq_with_the_rotation_trick_trains_and_quantizes_like_straight_through():
    torch.manual_seed(0)
    z = torch.randn(2, 8, 3, 3, requires_grad=True)
    outs = {}
    for gradient in ("ste", "rotation"):
        torch.manual_seed(1)
        vq = VectorQuantizer(VQConfig(codebook_size=16, dim=8, gradient=gradient))
        q = vq(z)
        (q.z_q ** 2).sum().backward()
        outs[gradient] = (q.z_q.detach(), q.indices, z.grad.clone())
        z.grad = None
    assert torch.equal(outs["ste"][1], outs["rotation"][1])
    assert torch.allclose(outs["ste"][0], outs["rotation"][0])
    assert outs["rotation"][2].abs().sum() > 0 and not torch.allclose(outs["ste"][2], outs["rotation"][2])


def test_unknown_quantizer_gradient_is_a_clear_error():
    with pytest.raises(GanvqError, match="unknown quantizer gradient"):
        VQConfig(gradient="gumbel")
