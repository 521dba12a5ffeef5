import pytest
import torch

from ganvq.errors import GanvqError
from ganvq.prior import CodePrior, PriorConfig


def _prior(**kw) -> CodePrior:
    torch.manual_seed(0)
    cfg = PriorConfig(codebook_size=16, height=3, width=4, dim=32, layers=2, heads=4, dropout=0.0, **kw)
    model = CodePrior(cfg).eval()
    with torch.no_grad():  # larger weights than the init, so the checks below are not trivially met
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return model


def test_kv_cache_steps_give_the_full_forward_logits():
    model = _prior()
    codes = torch.randint(0, 16, (5, 3, 4))
    full = model(codes)  # (5, 12, 16)
    cache = model.new_cache(5, "cpu", torch.float32)
    tokens = model.start_tokens(5, None, "cpu")
    for t in range(12):
        step = model.step(tokens, cache, t)
        torch.testing.assert_close(step, full[:, t], rtol=1e-4, atol=1e-4)
        tokens = codes.reshape(5, -1)[:, t]


def test_logits_at_a_position_ignore_later_codes():
    model = _prior()
    codes = torch.randint(0, 16, (2, 3, 4))
    changed = codes.clone()
    changed.view(2, -1)[:, 6:] = (changed.view(2, -1)[:, 6:] + 1) % 16
    a, b = model(codes), model(changed)
    torch.testing.assert_close(a[:, :7], b[:, :7])  # position t sees codes < t only
    assert not torch.allclose(a[:, 7:], b[:, 7:])


def test_nll_is_the_mean_cross_entropy_of_the_logits():
    model = _prior()
    codes = torch.randint(0, 16, (3, 3, 4))
    logp = model(codes).log_softmax(-1)
    expected = -logp.gather(2, codes.reshape(3, -1, 1)).mean()
    torch.testing.assert_close(model.nll(codes), expected)


def test_sampling_is_reproducible_and_top_1_is_greedy():
    model = _prior()
    a = model.sample(4, generator=torch.Generator().manual_seed(3))
    b = model.sample(4, generator=torch.Generator().manual_seed(3))
    assert a.shape == (4, 3, 4) and a.dtype == torch.int64 and torch.equal(a, b)
    assert 0 <= int(a.min()) and int(a.max()) < 16
    greedy = model.sample(2, top_k=1, generator=torch.Generator().manual_seed(1))
    # each greedy code is the argmax of the logits given the codes before it
    assert torch.equal(model(greedy).argmax(-1), greedy.reshape(2, -1))


def test_low_temperature_concentrates_samples():
    model = _prior()
    cold = model.sample(64, temperature=0.05, generator=torch.Generator().manual_seed(0))
    hot = model.sample(64, temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert cold.unique(dim=0).shape[0] < hot.unique(dim=0).shape[0]


def test_class_conditional_prior_uses_its_label():
    model = _prior(num_classes=3)
    codes = torch.randint(0, 16, (2, 3, 4))
    a = model(codes, torch.tensor([0, 0]))
    b = model(codes, torch.tensor([2, 2]))
    assert not torch.allclose(a, b)
    with pytest.raises(GanvqError, match="class-conditional"):
        model(codes)
    with pytest.raises(GanvqError, match=r"\[0, 2\]"):
        model(codes, torch.tensor([0, 3]))


def test_bad_sampling_options_are_errors():
    model = _prior()
    with pytest.raises(GanvqError, match="temperature"):
        model.sample(1, temperature=0)
    with pytest.raises(GanvqError, match="top-k"):
        model.sample(1, top_k=0)
