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
