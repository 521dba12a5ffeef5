"""Train / val / test roles: named splits kept, a reproducible held-out fraction for everything else."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganvq.data import describe_split, has_named_splits, load_dataset
from ganvq.data.splits import held_out
from ganvq.errors import GanvqError


def _ids(ds) -> list[int]:
    """Image identities: each test image is filled with its own index (mod 256) in channel 0."""
    return ds.images[:, 0, 0, 0].tolist()


@pytest.fixture
def labelled_npz(tmp_path):
    n = 200
    x = np.zeros((n, 8, 8, 3), np.uint8)
    x[:, :, :, 0] = np.arange(n)[:, None, None]
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(n) % 4)
    return tmp_path / "d.npz"


def test_held_out_is_disjoint_stratified_and_the_same_every_time(labelled_npz):
    train, test, val = (load_dataset(labelled_npz, s) for s in ("train", "test", "val"))
    assert not has_named_splits(labelled_npz)
    assert len(test) == 20 and len(train) == 180 and set(_ids(train)).isdisjoint(_ids(test))
    assert _ids(val) == _ids(test)  # without named splits the held-out images serve both roles
    assert torch.bincount(test.labels).tolist() == [5, 5, 5, 5]  # 10% of every class
    assert _ids(load_dataset(labelled_npz, "test")) == _ids(test)
    assert held_out(200, 0.1, np.arange(200) % 4).sum() == 20


def test_limit_never_moves_a_held_out_image_into_training(labelled_npz):
    held = set(_ids(load_dataset(labelled_npz, "test")))
    small = load_dataset(labelled_npz, "train", limit=50)
    assert len(small) == 50 and held.isdisjoint(_ids(small))


def test_val_fraction_changes_the_split_and_zero_holds_nothing_out(labelled_npz):
    assert len(load_dataset(labelled_npz, "test", val_fraction=0.25)) == 48  # round(0.25 * 50) = 12 of each class
    assert len(load_dataset(labelled_npz, "train", val_fraction=0.0)) == 200
    with pytest.raises(GanvqError, match="no held-out images.*--val-fraction 0"):
        load_dataset(labelled_npz, "test", val_fraction=0.0)


def test_folder_split_matches_by_file_position_and_reads_only_its_part(tmp_path, save_image):
    for i in range(30):
        save_image(tmp_path / "f" / f"{i:03d}.png", np.full((8, 8), i, np.uint8))
    train = load_dataset(tmp_path / "f", "train", size=8)
    test = load_dataset(tmp_path / "f", "test", size=8)
    assert len(train) == 27 and len(test) == 3 and set(_ids(train)).isdisjoint(_ids(test))
    mask = held_out(30, 0.1)
    assert _ids(test) == np.flatnonzero(mask).tolist()  # the same positions an array of the folder would hold out


def test_named_splits_are_kept_and_val_is_carved_from_train(tmp_path, write_idx_folder):
    folder = write_idx_folder(tmp_path / "d", n_train=40, n_test=5)
    assert has_named_splits(folder)
    assert len(load_dataset(folder, "train")) == 40 and len(load_dataset(folder, "test")) == 5
    assert len(load_dataset(folder, "val")) == 5  # no --val-fraction: the test split scores checkpoints
    val, train = load_dataset(folder, "val", val_fraction=0.1), load_dataset(folder, "train", val_fraction=0.1)
    assert len(val) == 10 and len(train) == 30  # at least one of each class 0..9 (4 images each)
    assert len(load_dataset(folder, "all")) == 45
    assert "named test split" in describe_split("test", True, 0.0)
    assert "10% of the images held out" in describe_split("test", False, 0.1)


def test_npz_with_x_test_is_named(tmp_path):
    x = np.zeros((10, 4, 4), np.uint8)
    np.savez(tmp_path / "d.npz", x_train=x, x_test=x[:3])
    assert has_named_splits(tmp_path / "d.npz") and len(load_dataset(tmp_path / "d.npz", "test")) == 3
    assert len(load_dataset(tmp_path / "d.npz", "train")) == 10
