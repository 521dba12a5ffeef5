import math

import torch

from ganvq.prior import CodePrior, PriorConfig
from ganvq.prior import exact as exact_module
from ganvq.prior.exact import (
    EXP_BITS,
    FREQ_BITS,
    LOGIT_BITS,
    ExactPrior,
    exp_table,
    frequencies,
)


def _prior(num_classes: int = 0) -> CodePrior:
    torch.manual_seed(0)
    cfg = PriorConfig(codebook_size=32, height=4, width=4, dim=32, layers=2, heads=2, dropout=0.0,
                      num_classes=num_classes)
    model = CodePrior(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def test_exp_table_is_rounded_exp():
    table = exp_table()
    assert table[0] == 2**EXP_BITS and bool((table[1:] <= table[:-1]).all()) and table[-1] == 0
    i = torch.arange(0, 4096, 97)
    ref = torch.round(2.0**EXP_BITS * torch.exp(-i.double() / 2**LOGIT_BITS))
    assert bool(((table[i] - ref).abs() <= 1).all())


def test_integer_logits_match_the_float_model():
    model = _prior()
    codes = torch.randint(0, 32, (6, 4, 4))
    exact = ExactPrior(model).logits(codes) / 2**LOGIT_BITS
    # int8 weights, 14-bit activations, logits rounded to 1/256 nat, the exp table's 1/512-nat steps
    torch.testing.assert_close(exact.float(), model(codes).float(), atol=0.03, rtol=0)


def test_kv_cache_pass_equals_full_pass_bit_for_bit():
    model = _prior(num_classes=3)
    exact = ExactPrior(model)
    codes = torch.randint(0, 32, (5, 4, 4))
    labels = torch.tensor([0, 1, 2, 0, 1])
    full = exact.logits(codes, labels)
    state = exact.start(5, labels)
    for t in range(16):
        assert torch.equal(exact.step_logits(state), full[:, t : t + 1])
        exact.advance(state, codes.reshape(5, -1)[:, t : t + 1])


def test_frequencies_are_positive_and_sum_to_2_24():
    logits = torch.cat([torch.randint(-3000, 3000, (50, 32)).double(), torch.zeros(1, 32),
                        torch.tensor([[1e6] + [0.0] * 31])])
    f = frequencies(logits)
    assert f.dtype == torch.int32 and bool((f >= 1).all())
    assert bool((f.sum(-1) == 2**FREQ_BITS).all())
    # close to softmax where the table resolves it
    p = torch.softmax(logits[:50] / 2**LOGIT_BITS, -1)
    assert bool(((f[:50] / 2**FREQ_BITS - p).abs() < 1e-4 + 0.01 * p).all())
    assert math.isclose(f[-2, 0] / 2**FREQ_BITS, 1 / 32, rel_tol=1e-5)


def _both_paths(fn):
    """fn() with int8 products in int32 (torch._int_mm) and with them in float32 BLAS."""
    out = []
    for native in (True, False):
        saved = exact_module._native_int8
        exact_module._native_int8 = lambda native=native: native
        try:
            out.append(fn())
        finally:
            exact_module._native_int8 = saved
    return out


def test_int32_and_float32_products_give_the_same_integers_even_at_the_largest_fan_in():
    lin = torch.nn.Linear(1024, 8)
    with torch.no_grad():
        lin.weight.copy_(torch.where(torch.arange(8)[:, None] % 2 == 0, 1.0, -1.0).expand(8, 1024))
        lin.weight[1] *= torch.linspace(0.5, 1, 1024)
    layer = exact_module._Linear(lin)
    # every product of one sign at the limbs' extremes: 8191 = 63 * 128 + 127 and -8192 + 1 = -64 * 128 + 1
    x = torch.stack([torch.full((1024,), 8191.0), torch.full((1024,), -8191.0), torch.randn(1024) * 2**19]) * 1.0
    a, b = _both_paths(lambda: layer(x))
    assert torch.equal(a, b)
    model = _prior(num_classes=3)
    codes, labels = torch.randint(0, 32, (5, 4, 4)), torch.tensor([0, 1, 2, 0, 1])
    a, b = _both_paths(lambda: ExactPrior(model).logits(codes, labels))
    assert torch.equal(a, b)
