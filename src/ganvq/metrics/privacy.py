"""Privacy accounting for DP-SGD through opacus' accountants: ε spent by a run's steps, the noise a budget needs.

RDP (Mironov 2017; the subsampled Gaussian of Mironov et al. 2019) or PRV (Gopi et al. 2021). A run's accountant
state is its history [(noise multiplier σ, sample rate q, steps)], which its checkpoint keeps.
"""

from __future__ import annotations

import contextlib
import functools
import warnings

import numpy as np

from ganvq.errors import GanvqError

MAX_STEPS = 10**9  # the Poisson sampler's length: endless for any run


def require_opacus():
    """The opacus package, or a GanvqError saying how to install it."""
    try:
        import opacus
    except ImportError:
        raise GanvqError("private training needs opacus: pip install 'ganvq[privacy]'") from None
    import opacus.accountants
    import opacus.accountants.utils

    return opacus


@contextlib.contextmanager
def quiet_opacus():
    """Silence opacus' advice on RDP orders (a few steps at low noise pick the largest order; ε stays valid) and
    torch's note that D's backward hooks fire without input gradients (the images need none)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        yield


def make_accountant(name: str, history: list | None = None):
    """An opacus accountant ("rdp" or "prv"), holding `history`: [(noise multiplier, sample rate, steps)]."""
    opacus = require_opacus()
    accountant = opacus.accountants.create_accountant(name)
    accountant.history = [tuple(h) for h in history or []]
    return accountant


@functools.lru_cache(maxsize=64)
def _rdp_of_one_step(noise: float, sample_rate: float) -> tuple[float, ...]:
    """The subsampled Gaussian's RDP at opacus' default orders for one step (Mironov et al. 2019); steps add it up."""
    require_opacus()
    from opacus.accountants import RDPAccountant
    from opacus.accountants.analysis.rdp import compute_rdp

    return tuple(compute_rdp(q=sample_rate, noise_multiplier=noise, steps=1, orders=RDPAccountant.DEFAULT_ALPHAS))


def epsilon_of(name: str, history: list, delta: float) -> float:
    """ε spent by the composed steps of `history` at δ (0 before any step). RDP: opacus' RDPAccountant's own sum
    and conversion, with each (σ, q)'s per-step RDP computed once (the slow part: ~1 s on a loaded CPU)."""
    if not history or not sum(int(h[2]) for h in history):
        return 0.0
    with quiet_opacus():
        if name != "rdp":
            return float(make_accountant(name, history).get_epsilon(delta=delta))
        from opacus.accountants import RDPAccountant
        from opacus.accountants.analysis.rdp import get_privacy_spent

        rdp = sum(np.array(_rdp_of_one_step(float(s), float(q))) * int(t) for s, q, t in history)
        return float(get_privacy_spent(orders=RDPAccountant.DEFAULT_ALPHAS, rdp=rdp, delta=delta)[0])


def calibrate_noise(epsilon: float, delta: float, sample_rate: float, steps: int, accountant: str = "rdp") -> float:
    """The smallest noise multiplier σ (to opacus' tolerance of 0.01 in ε) whose `steps` D steps spend ε at δ."""
    opacus = require_opacus()
    try:
        with quiet_opacus():
            return float(opacus.accountants.utils.get_noise_multiplier(
                target_epsilon=epsilon, target_delta=delta, sample_rate=sample_rate, steps=steps,
                accountant=accountant))
    except ValueError as e:
        raise GanvqError(f"no noise multiplier reaches ε = {epsilon:g} at δ = {delta:g} in {steps} steps: {e}") from None


def allowed_steps(noise: float, sample_rate: float, epsilon: float, delta: float, accountant: str = "rdp") -> int:
    """The most D steps of noise σ at rate q that keep ε within the budget (a binary search over the accountant)."""
    def spent(t: int) -> float:
        return epsilon_of(accountant, [(noise, sample_rate, t)], delta)

    lo, hi = 0, 1
    while spent(hi) <= epsilon:
        lo, hi = hi, hi * 2
        if hi > MAX_STEPS:
            return MAX_STEPS
    while hi - lo > 1:  # spent(lo) <= epsilon < spent(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if spent(mid) <= epsilon else (lo, mid)
    return lo


