import pytest
import torch

from ganvq.errors import GanvqError
from ganvq.metrics.utility import classifier_accuracy, downstream_accuracy, train_classifier


def _classes(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images whose class is a bright bar's row band: 4 classes, noisy, trivially separable."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(4, (n,), generator=g)
    images = torch.randint(0, 60, (n, 1, 12, 12), generator=g, dtype=torch.uint8)
    for i, k in enumerate(labels.tolist()):
        images[i, 0, 3 * k : 3 * k + 3] = 250
    return images, labels


def test_the_fixed_recipe_learns_a_separable_task_and_is_reproducible():
    train, test = _classes(1024, 0), _classes(200, 1)
    result = downstream_accuracy(*train, *test, num_classes=4)  # 40 steps of the recipe
    assert result["accuracy"] >= 0.98 and result["train_images"] == 1024 and result["recipe"]["seed"] == 0
    a = train_classifier(*train, num_classes=4, epochs=1)
    b = train_classifier(*train, num_classes=4, epochs=1)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_labels_do_not_teach_anything_when_they_are_shuffled():
    (x, y), test = _classes(256, 0), _classes(400, 1)
    shuffled = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(3))]
    assert classifier_accuracy(train_classifier(x, shuffled, 4), *test) < 0.5


def test_labels_outside_the_classes_are_refused():
    x, y = _classes(16, 0)
    with pytest.raises(GanvqError, match="labels must lie"):
        train_classifier(x, y + 4, num_classes=4)


def test_classic_augmentation_shifts_and_flips_images_reproducibly_from_the_global_seed():
    from ganvq.metrics.utility import classic_augment

    x = torch.linspace(-1, 1, 8 * 28 * 28).reshape(8, 1, 28, 28)
    torch.manual_seed(1)
    a = classic_augment(x)
    torch.manual_seed(1)
    assert torch.equal(a, classic_augment(x)) and a.shape == x.shape
    assert sum(not torch.equal(a[i], x[i]) for i in range(8)) >= 6  # most images moved or mirrored


def test_the_few_shot_recipe_is_deterministic_for_a_seed_and_reports_a_b_and_c():
    from ganvq.metrics.utility import few_shot_utility

    real, synthetic, test = _classes(20, 0), _classes(200, 1), _classes(100, 2)
    a = few_shot_utility(real, synthetic, test, num_classes=4, seed=3, steps=15)
    b = few_shot_utility(real, synthetic, test, num_classes=4, seed=3, steps=15)
    c = few_shot_utility(real, synthetic, test, num_classes=4, seed=4, steps=15)

    def numbers(r):
        return {k: {kk: vv for kk, vv in v.items() if kk != "train_seconds"} if isinstance(v, dict) and k != "recipe"
                else v for k, v in r.items()}

    assert numbers(a) == numbers(b) and numbers(a) != numbers(c)
    assert a["real"]["train_images"] == 20 and a["synthetic"]["train_images"] == 200
    assert a["real_plus_synthetic"]["train_images"] == 20 * 10 + 200 and a["real_plus_synthetic"]["real_repeats"] == 10
    assert a["gain_points"] == round(100 * (a["real_plus_synthetic"]["accuracy"] - a["real"]["accuracy"]), 2)
    assert len(a["real"]["per_class_accuracy"]) == 4 and a["recipe"]["steps"] == 15 and a["recipe"]["seed"] == 3
