import numpy as np
import pytest

from ganvq.data.splits import balanced_subset
from ganvq.errors import GanvqError


def _labels(n: int = 600, classes: int = 10) -> np.ndarray:
    return np.random.default_rng(5).integers(0, classes, n)


def test_a_subset_holds_as_many_images_of_every_class():
    labels = _labels()
    picked = balanced_subset(labels, 100, seed=0)
    assert len(picked) == len(set(picked.tolist())) == 100 and np.all(np.diff(picked) > 0)
    assert np.bincount(labels[picked], minlength=10).tolist() == [10] * 10


def test_the_remainder_goes_one_each_to_classes_the_seed_picks():
    counts = np.bincount(_labels()[balanced_subset(_labels(), 103, seed=4)], minlength=10)
    assert counts.sum() == 103 and sorted(set(counts.tolist())) == [10, 11] and (counts == 11).sum() == 3


def test_the_subset_is_reproducible_from_its_seed_and_another_seed_draws_another():
    labels = _labels()
    a, b = balanced_subset(labels, 50, seed=7), balanced_subset(labels.copy(), 50, seed=7)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, balanced_subset(labels, 50, seed=8))
    # the draw is numpy's PCG64, the same on every machine and numpy version: these positions, always
    assert balanced_subset(np.arange(20) % 2, 4, seed=0).tolist() == [5, 8, 12, 19]


def test_unlabelled_images_get_a_seeded_draw_of_n():
    a = balanced_subset(None, 30, seed=1, n_total=200)
    assert len(set(a.tolist())) == 30 and np.array_equal(a, balanced_subset(None, 30, seed=1, n_total=200))


@pytest.mark.parametrize(("n", "match"), [(0, "at least 1"), (601, "hold only 600"), (70, "class 9 .* only")])
def test_impossible_subsets_are_refused_in_one_line(n, match):
    labels = _labels()
    labels[labels == 9] = 8  # class 9 becomes rare below
    labels[:5] = 9
    with pytest.raises(GanvqError, match=match):
        balanced_subset(labels, n, seed=0)
