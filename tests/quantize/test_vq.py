import pytest
import torch

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
