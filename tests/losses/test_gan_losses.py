import math

import pytest
import torch

from ganvq.errors import GanvqError
from ganvq.losses.gan import (
    LOSSES,
    consistency_penalty,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    lecam_penalty,
    r1_penalty,
)

REAL = [2.0, -1.0]  # D(x) logits
FAKE = [0.5, -3.0]  # D(G(z)) logits


def _sigmoid(t: float) -> float:
    return 1 / (1 + math.exp(-t))


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


# Each loss written out with the math module from its paper's formula, independently of torch.
HAND_D = {
    "minimax": _mean(-math.log(_sigmoid(r)) for r in REAL) + _mean(-math.log(1 - _sigmoid(f)) for f in FAKE),
    "non-saturating": _mean(-math.log(_sigmoid(r)) for r in REAL) + _mean(-math.log(1 - _sigmoid(f)) for f in FAKE),
    "hinge": _mean(max(0, 1 - r) for r in REAL) + _mean(max(0, 1 + f) for f in FAKE),  # (0 + 2)/2 + (1.5 + 0)/2
    "wgan-gp": _mean(FAKE) - _mean(REAL),
}
HAND_G = {
    "minimax": _mean(math.log(1 - _sigmoid(f)) for f in FAKE),  # the article: G minimises log(1 - D(G(z)))
    "non-saturating": _mean(-math.log(_sigmoid(f)) for f in FAKE),
    "hinge": -_mean(FAKE),
    "wgan-gp": -_mean(FAKE),
}


@pytest.mark.parametrize("kind", LOSSES)
def test_each_loss_equals_its_formula_on_hand_computed_logits(kind):
    real, fake = torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64)
    assert discriminator_loss(kind, real, fake).item() == pytest.approx(HAND_D[kind], rel=1e-6)
    assert generator_loss(kind, fake).item() == pytest.approx(HAND_G[kind], rel=1e-6)


def test_hinge_values_are_the_ones_worked_out_by_hand():
    assert HAND_D["hinge"] == 1.75 and HAND_G["hinge"] == 1.25


def test_minimax_generator_gradient_vanishes_when_d_rejects_fakes_but_non_saturating_does_not():
    logits = torch.tensor([-10.0], requires_grad=True)  # D is sure the fake is fake
    (g_minimax,) = torch.autograd.grad(generator_loss("minimax", logits), logits)
    (g_ns,) = torch.autograd.grad(generator_loss("non-saturating", logits), logits)
    assert abs(g_minimax.item()) < 1e-4  # -sigmoid(-10): the saturation Goodfellow et al. warn about
    assert g_ns.item() == pytest.approx(-1.0, abs=1e-4)


@pytest.mark.parametrize("kind", LOSSES)
def test_losses_stay_finite_for_extreme_logits(kind):
    logits = torch.tensor([-200.0, 200.0])
    assert torch.isfinite(discriminator_loss(kind, logits, logits)) and torch.isfinite(generator_loss(kind, logits))


def test_an_unknown_loss_is_a_clear_error():
    with pytest.raises(GanvqError, match="hinge"):
        generator_loss("least-squares", torch.zeros(2))


def test_gradient_penalty_and_its_gradient_match_autograd_on_a_tiny_critic():
    torch.manual_seed(0)
    w = torch.randn(1, 1, 2, 2, dtype=torch.float64, requires_grad=True)
    real = torch.randn(3, 1, 2, 2, dtype=torch.float64)
    fake = torch.randn(3, 1, 2, 2, dtype=torch.float64)
    eps = torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64).view(3, 1, 1, 1)

    def critic(x):  # D(x) = sum w x^2: grad_x D = 2 w x, so the penalty depends on where x_hat lies
        return (w * x**2).sum((1, 2, 3))

    gp = gradient_penalty(critic, real, fake, eps)
    x_hat = eps * real + (1 - eps) * fake
    expected = (((2 * w * x_hat).flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert gp.item() == pytest.approx(expected.item(), rel=1e-10)
    (grad_w,) = torch.autograd.grad(gp, w)  # the penalty must train the critic's weights
    (expected_w,) = torch.autograd.grad(expected, w)
    torch.testing.assert_close(grad_w, expected_w)


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic():
    w = torch.tensor([0.6, 0.8]).view(1, 1, 1, 2)  # ||w|| = 1: a linear critic with unit gradient everywhere
    x = torch.randn(4, 1, 1, 2)
    assert gradient_penalty(lambda t: (w * t).sum((1, 2, 3)), x, -x).item() == pytest.approx(0.0, abs=1e-12)


def test_r1_penalty_and_its_gradient_match_autograd_on_a_tiny_critic():
    torch.manual_seed(1)
    w = torch.randn(1, 2, 2, 2, dtype=torch.float64, requires_grad=True)
    real = torch.randn(4, 2, 2, 2, dtype=torch.float64, requires_grad=True)
    logits = (w * real**2).sum((1, 2, 3)) + (w * real).sum((1, 2, 3))  # grad_x D = 2 w x + w
    r1 = r1_penalty(logits, real)
    expected = (2 * w * real.detach() + w).flatten(1).pow(2).sum(1).mean()
    assert r1.item() == pytest.approx(expected.item(), rel=1e-10)
    (grad_w,) = torch.autograd.grad(r1, w)
    (expected_w,) = torch.autograd.grad(expected, w)
    torch.testing.assert_close(grad_w, expected_w)


def test_consistency_penalty_is_the_mean_squared_gap_of_the_two_draws_logits():
    logits, again = torch.tensor([1.0, -2.0, 0.5], requires_grad=True), torch.tensor([0.0, -2.0, 2.5])
    penalty = consistency_penalty(logits, again)
    assert penalty.item() == pytest.approx((1.0 + 0.0 + 4.0) / 3)
    penalty.backward()
    assert logits.grad.tolist() == pytest.approx([2 / 3, 0.0, -4 / 3])  # 2 (a - b) / n: pulls each pair together
    assert consistency_penalty(again, again).item() == 0.0


def test_lecam_penalty_is_the_papers_formula_worked_out_by_hand():
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-3.0, 1.0])
    # anchors a_R = 1, a_F = -2: reals above -2 by 4, 2.5, 1; fakes below 1 by 4 (the other, 1.0, is not below)
    assert lecam_penalty(real, fake, 1.0, -2.0).item() == pytest.approx((16 + 6.25 + 1) / 3 + 16 / 2)
    assert lecam_penalty(real, fake, -5.0, 3.0).item() == 0.0  # reals under a_F, fakes over a_R: nothing to pull
    logits = torch.tensor([1.5], requires_grad=True)
    lecam_penalty(logits, torch.tensor([0.0]), 0.0, 0.5).backward()
    assert logits.grad.item() == pytest.approx(2 * (1.5 - 0.5))  # pulls a real logit down toward a_F
