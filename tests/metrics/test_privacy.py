import pytest

from ganvq.metrics.privacy import allowed_steps, calibrate_noise, epsilon_of

pytest.importorskip("opacus")


def test_rdp_epsilon_matches_opacus_reference_value():
    # opacus/tests/accountants_test.py: sigma 1.5, q 0.04, 90 epochs (2,250 steps), delta 1e-5 -> 7.32911117143
    assert epsilon_of("rdp", [(1.5, 0.04, 2250)], 1e-5) == pytest.approx(7.32911117143, abs=1e-8)


def test_epsilon_composes_a_history_as_one_run_of_its_steps():
    assert epsilon_of("rdp", [(1.5, 0.04, 1000), (1.5, 0.04, 1250)], 1e-5) == pytest.approx(
        epsilon_of("rdp", [(1.5, 0.04, 2250)], 1e-5))
    assert epsilon_of("rdp", [], 1e-5) == 0.0


def test_calibrated_noise_spends_the_budget_to_opacus_tolerance():
    sigma = calibrate_noise(8.0, 1e-5, 0.04, 2250)
    assert 8.0 - 0.01 <= epsilon_of("rdp", [(sigma, 0.04, 2250)], 1e-5) <= 8.0


def test_allowed_steps_is_the_last_step_within_the_budget():
    t = allowed_steps(1.5, 0.04, 7.33, 1e-5)
    assert epsilon_of("rdp", [(1.5, 0.04, t)], 1e-5) <= 7.33 < epsilon_of("rdp", [(1.5, 0.04, t + 1)], 1e-5)
    assert t == 2250  # 7.329 at 2,250 steps (the reference above)
