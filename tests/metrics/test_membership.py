import itertools

import pytest
import torch

from ganvq.metrics.membership import (
    attack_summary,
    bootstrap_intervals,
    calibrated_gan_leaks_scores,
    gan_leaks_scores,
    logan_scores,
    roc_auc,
    roc_curve,
    tpr_at_fpr,
)


def _images(n: int, seed: int) -> torch.Tensor:
    return torch.randint(0, 256, (n, 1, 8, 8), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def test_auc_is_the_mann_whitney_probability_with_ties_counted_half():
    g = torch.Generator().manual_seed(0)
    m, o = torch.randint(0, 5, (40,), generator=g).float(), torch.randint(0, 5, (30,), generator=g).float()
    pairs = [1.0 if a > b else 0.5 if a == b else 0.0 for a, b in itertools.product(m.tolist(), o.tolist())]
    assert roc_auc(m, o) == pytest.approx(sum(pairs) / len(pairs))


def test_roc_curve_runs_from_the_origin_to_one_one():
    fpr, tpr = roc_curve(torch.tensor([3.0, 2.0]), torch.tensor([1.0, 2.0]))
    assert fpr.tolist() == [0.0, 0.0, 0.5, 1.0] and tpr.tolist() == [0.0, 0.5, 1.0, 1.0]


def test_tpr_at_fpr_takes_the_best_threshold_within_the_false_positive_limit():
    members = torch.tensor([10.0, 9.0, 1.0, 0.0])
    non_members = torch.tensor([8.0] + [0.5] * 99)
    assert tpr_at_fpr(members, non_members, 0.0) == 0.5  # above 8: no non-member
    assert tpr_at_fpr(members, non_members, 0.01) == 0.75  # down to 1: one non-member in 100


def test_bootstrap_intervals_cover_chance_when_both_sides_share_one_distribution():
    g = torch.Generator().manual_seed(0)
    members = torch.randn(500, generator=g)
    few, many = torch.randn(500, generator=g), torch.randn(5000, generator=g)
    s = attack_summary(members, few, rounds=300)
    (lo, hi), (tlo, thi) = s["auc_95"], s["tpr_at_1pct_fpr_95"]
    assert lo < 0.5 < hi and lo <= s["auc"] <= hi and tlo <= 0.01 <= thi
    (lo, hi), (tlo, thi) = bootstrap_intervals(members, many, rounds=300).values()  # unbalanced sides
    assert lo < 0.5 < hi and tlo <= 0.01 <= thi
    assert bootstrap_intervals(members, few, rounds=50) == bootstrap_intervals(members, few, rounds=50)  # seeded
    assert "auc_95" not in attack_summary(members, few, rounds=0)


def test_gan_leaks_auc_is_one_when_members_are_exact_copies_among_the_samples():
    members, non_members = _images(300, 1), _images(300, 2)
    samples = torch.cat([members, _images(700, 3)])  # a generator that reproduces every member
    s = attack_summary(gan_leaks_scores(members, samples), gan_leaks_scores(non_members, samples))
    assert s["auc"] == pytest.approx(1.0, abs=1e-12) and s["tpr_at_1pct_fpr"] == 1.0
    reference = _images(1000, 9)
    s = attack_summary(calibrated_gan_leaks_scores(members, samples, reference),
                       calibrated_gan_leaks_scores(non_members, samples, reference))
    assert s["auc"] == pytest.approx(1.0, abs=1e-12) and s["tpr_at_1pct_fpr"] == 1.0


def test_attacks_are_at_chance_when_members_and_non_members_share_one_distribution():
    members, non_members, samples = _images(1000, 4), _images(1000, 5), _images(2000, 6)
    s = attack_summary(gan_leaks_scores(members, samples), gan_leaks_scores(non_members, samples))
    assert abs(s["auc"] - 0.5) < 0.06  # std of the AUC at 1,000 + 1,000 is ~0.013
    assert s["tpr_at_1pct_fpr"] < 0.05
    reference = _images(2000, 7)
    s = attack_summary(calibrated_gan_leaks_scores(members, samples, reference),
                       calibrated_gan_leaks_scores(non_members, samples, reference))
    assert abs(s["auc"] - 0.5) < 0.06 and s["tpr_at_1pct_fpr"] < 0.05


def test_calibration_finds_copied_members_that_are_far_from_everything_else():
    # members: outliers (half-bright images) that the generator copies roughly (±40 levels); non-members: typical
    # images, close to many samples. Plain GAN-Leaks sees the members as farther than the non-members; calibrated
    # by the distance to the nearest real reference image, the members stand out.
    g = torch.Generator().manual_seed(8)
    typical = lambda n: torch.randint(100, 156, (n, 1, 8, 8), generator=g).to(torch.uint8)  # noqa: E731
    members = torch.randint(0, 256, (200, 1, 8, 8), generator=g).to(torch.uint8)
    copies = (members.int() + torch.randint(-40, 41, members.shape, generator=g)).clamp(0, 255).to(torch.uint8)
    samples, non_members, reference = torch.cat([copies, typical(2000)]), typical(200), typical(2000)
    plain = attack_summary(gan_leaks_scores(members, samples), gan_leaks_scores(non_members, samples))
    calibrated = attack_summary(calibrated_gan_leaks_scores(members, samples, reference),
                                calibrated_gan_leaks_scores(non_members, samples, reference))
    assert plain["auc"] < 0.1 and calibrated["auc"] > 0.9


def test_logan_scores_are_the_discriminators_logits_averaged_per_image():
    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 1))
    images = _images(7, 7)

    class Conditional(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = D

        def forward(self, x, y):
            return self.body(x).flatten() + y

    labels = torch.arange(7)
    scores = logan_scores(Conditional(), images, labels, batch=3)
    expected = D(images.float() / 127.5 - 1).flatten() + labels
    assert torch.allclose(scores, expected, atol=1e-5)
