import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ganvq.quantize.fsq import FSQ, FSQConfig


@settings(max_examples=25, deadline=None)
@given(levels=st.lists(st.integers(2, 9), min_size=1, max_size=4))
def test_fsq_round_trips_every_index(levels):
    q = FSQ(FSQConfig(levels=tuple(levels), dim=len(levels)))
    indices = torch.arange(q.codebook_size).view(1, 1, -1)
    codes = q.indices_to_scaled(indices)
    assert torch.equal(q.codes_to_indices(codes), indices)


def test_fsq_rounds_each_channel_to_exactly_its_levels():
    levels = (8, 5, 3)
    q = FSQ(FSQConfig(levels=levels, dim=3))
    z = torch.linspace(-20, 20, 4001).view(1, 1, 1, -1).expand(1, 3, 1, -1)
    codes = q.quantize(z)
    for c, n in enumerate(levels):
        assert len(torch.unique(codes[0, c])) == n


def test_fsq_indices_to_codes_matches_the_forward_pass_and_gradients_flow():
    q = FSQ(FSQConfig(levels=(8, 8, 8), dim=16))
    z = torch.randn(2, 16, 7, 7, requires_grad=True)
    out = q(z)
    assert out.indices.shape == (2, 7, 7) and int(out.indices.max()) < 512
    torch.testing.assert_close(q.indices_to_codes(out.indices), out.z_q)
    out.z_q.sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
