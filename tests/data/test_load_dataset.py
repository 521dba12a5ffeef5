"""load_dataset / resolve_dataset: real Fashion-MNIST, name lookup, and every source kind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ganvq.data import ImageDataset, load_dataset, resolve_dataset
from ganvq.data import datasets as datasets_module
from ganvq.errors import GanvqError

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="module")
def fashion_train() -> ImageDataset:
    # No skip: without the installed data the suite must fail, loudly.
    assert FASHION_MNIST.is_dir(), f"{FASHION_MNIST} missing: apt-get install dataset-fashion-mnist"
    return load_dataset(str(FASHION_MNIST), "train")


def test_real_fashion_mnist_train(fashion_train):
    assert fashion_train.images.shape == (60000, 1, 28, 28) and fashion_train.images.dtype == torch.uint8
    assert fashion_train.labels.dtype == torch.int64
    assert torch.bincount(fashion_train.labels).tolist() == [6000] * 10
    assert fashion_train.num_classes == 10 and fashion_train.class_names[9] == "Ankle boot"
    assert fashion_train.shape == (1, 28, 28) and len(fashion_train) == 60000
    assert fashion_train.name == "fashion-mnist" and fashion_train.skipped == ()


def test_real_fashion_mnist_test_by_name(monkeypatch, tmp_path):
    monkeypatch.delenv("GANVQ_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # keep a user's cache out of the lookup
    test = load_dataset("fashion-mnist", "test")
    assert test.images.shape == (10000, 1, 28, 28) and test.source == str(FASHION_MNIST)
    assert sorted(test.labels.unique().tolist()) == list(range(10))


def test_subset_takes_the_first_samples(fashion_train):
    sub = fashion_train.subset(5)
    assert len(sub) == 5 and sub.num_classes == 10
    assert torch.equal(sub.images, fashion_train.images[:5]) and torch.equal(sub.labels, fashion_train.labels[:5])
    assert len(fashion_train.subset(10**9)) == 60000


@pytest.fixture
def isolated_lookup(monkeypatch, tmp_path):
    """Point all three lookup places at empty temporary folders; return them in lookup order."""
    env, home, system = tmp_path / "env", tmp_path / "home", tmp_path / "system"
    monkeypatch.setenv("GANVQ_DATA", str(env))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(datasets_module, "SYSTEM_DATA_DIR", system)
    monkeypatch.chdir(tmp_path)  # so a stray ./mnist folder cannot shadow the name
    return env, home / ".cache" / "ganvq", system


def test_lookup_order_is_env_then_cache_then_system(isolated_lookup, write_idx_folder):
    env, cache, system = isolated_lookup
    write_idx_folder(system / "mnist")
    assert resolve_dataset("mnist") == system / "mnist"
    write_idx_folder(cache / "mnist")
    assert resolve_dataset("MNIST") == cache / "mnist"
    write_idx_folder(env / "mnist")
    assert resolve_dataset("mnist") == env / "mnist"
    assert load_dataset("mnist").source == str(env / "mnist")


def test_missing_known_dataset_says_how_to_get_it(isolated_lookup):
    with pytest.raises(GanvqError, match="apt-get install dataset-fashion-mnist.*GANVQ_DATA/fashion-mnist"):
        load_dataset("fashion-mnist")


def test_unknown_name_is_no_such_file_or_dataset(isolated_lookup):
    with pytest.raises(GanvqError, match="no such file or dataset"):
        load_dataset("imagenet-1k")
    with pytest.raises(GanvqError, match="no such file or dataset"):
        load_dataset("/nonexistent/data.npz")
    with pytest.raises(GanvqError, match="no dataset given"):
        load_dataset("")  # would otherwise silently read the current folder


def test_idx_folder_splits_and_labels(tmp_path, write_idx_folder):
    folder = write_idx_folder(tmp_path / "d", n_train=12, n_test=5)
    train, test = load_dataset(folder), load_dataset(folder, "test")
    assert train.images.shape == (12, 1, 8, 8) and test.images.shape == (5, 1, 8, 8)
    assert train.labels.tolist() == [i % 10 for i in range(12)] and train.num_classes == 10
    assert train.name == "d"


def test_idx_label_count_mismatch_names_both_files(tmp_path, write_idx_folder):
    folder = write_idx_folder(tmp_path / "d", n_train=12, n_train_labels=11)
    with pytest.raises(GanvqError, match="train-images-idx3-ubyte.gz.*12 images.*train-labels-idx1-ubyte.gz.*11"):
        load_dataset(folder)


def test_idx_folder_without_test_files_holds_out_a_fraction(tmp_path, write_idx_folder):
    folder = write_idx_folder(tmp_path / "d")
    for f in folder.glob("t10k-*"):
        f.unlink()
    whole = load_dataset(folder, "all")
    train, test = load_dataset(folder, "train"), load_dataset(folder, "test", val_fraction=0.25)
    assert len(whole) == 12 and len(train) + len(load_dataset(folder, "test")) == 12
    assert len(test) >= 1 and len(train) >= len(load_dataset(folder, "train", val_fraction=0.25))
    with pytest.raises(GanvqError, match="no held-out images"):
        load_dataset(folder, "test", val_fraction=0.0)


def test_single_idx_file_has_no_labels_and_one_split(tmp_path, write_idx_folder):
    file = write_idx_folder(tmp_path / "d") / "t10k-images-idx3-ubyte.gz"
    ds = load_dataset(file, "all")
    assert ds.images.shape == (5, 1, 8, 8) and ds.labels is None and ds.num_classes is None
    assert len(load_dataset(file, "train")) == 4 and len(load_dataset(file, "test")) == 1  # 10% of 5, at least 1


def test_idx_labels_file_alone_is_not_images(tmp_path, write_idx_folder):
    file = write_idx_folder(tmp_path / "d") / "train-labels-idx1-ubyte.gz"
    with pytest.raises(GanvqError, match="expected images"):
        load_dataset(file)


def test_npz_source(tmp_path):
    np.savez(tmp_path / "toy.npz", x_train=np.zeros((3, 4, 4, 3), np.uint8), y_train=np.array([0, 2, 1]))
    ds = load_dataset(tmp_path / "toy.npz")
    assert ds.shape == (3, 4, 4) and ds.num_classes == 3 and ds.name == "toy"


def test_npy_source_holds_out_a_fraction_and_has_no_labels(tmp_path):
    x = np.random.default_rng(0).random((40, 8, 8, 3)).astype(np.float32)  # floats in [0, 1], channels last
    np.save(tmp_path / "toy.npy", x)
    train, held = load_dataset(tmp_path / "toy.npy"), load_dataset(tmp_path / "toy.npy", "test")
    assert train.shape == (3, 8, 8) and train.labels is None and train.name == "toy"
    assert len(train) + len(held) == 40 and len(held) == 4  # the default --val-fraction, 0.1
    assert torch.equal(train.images[0], torch.from_numpy(np.rint(x[0] * 255).astype(np.uint8)).permute(2, 0, 1))


@pytest.mark.parametrize("array, message", [
    (np.zeros((3, 4), np.uint8), "expected images of shape"),
    (np.zeros((3, 4, 4), np.complex64), "unsupported pixel dtype"),
    (np.full((3, 4, 4), 300, np.int32), "must lie in"),
    (np.array([{"a": 1}], dtype=object), "Python objects"),
])
def test_bad_npy_sources_are_one_line_errors(tmp_path, array, message):
    np.save(tmp_path / "bad.npy", array, allow_pickle=True)
    with pytest.raises(GanvqError, match=message):
        load_dataset(tmp_path / "bad.npy")
    (tmp_path / "cut.npy").write_bytes((tmp_path / "bad.npy").read_bytes()[:-8])
    if array.dtype != object:
        with pytest.raises(GanvqError, match="truncated"):  # checked before numpy allocates what it declares
            load_dataset(tmp_path / "cut.npy")


def test_images_enlarged_much_beyond_their_size_are_described(tmp_path, save_image):
    from ganvq.data import describe_enlarged

    np.save(tmp_path / "tiny.npy", np.zeros((10, 5, 6), np.uint8))
    line = describe_enlarged(load_dataset(tmp_path / "tiny.npy", size=28), 28)
    assert line == f"{tmp_path / 'tiny.npy'} holds images of 6x5: enlarged 5.6 times to 28x28, so they train " \
                   "blurry; --image-size sets the size"
    assert describe_enlarged(load_dataset(tmp_path / "tiny.npy", size=7), 7) is None  # 1.4 times: left alone
    assert describe_enlarged(load_dataset(tmp_path / "tiny.npy"), 28) is None  # read at its own size
    for i, side in enumerate((40, 10, 12)):
        save_image(tmp_path / "f" / f"{i}.png", np.zeros((side, side + 2), np.uint8))
    folder = load_dataset(tmp_path / "f", size=32, val_fraction=0)
    assert [f for f, _, _ in folder.small] == ["1.png", "2.png"]
    assert "2 image file(s) in" in describe_enlarged(folder, 32) and "(e.g. 1.png, 12x10): enlarged up to 3.2 times" \
        in describe_enlarged(folder, 32)


@pytest.mark.parametrize("content", [b"x\n", b"a,b,c\n1,2,3\n"])  # shorter than IDX's header, and a bad magic
def test_a_file_of_no_known_format_names_those_ganvq_reads(tmp_path, content):
    (tmp_path / "table.csv").write_bytes(content)
    with pytest.raises(GanvqError, match=r"table.csv: not a file ganvq reads; ganvq reads IDX files, .npz and .npy "
                                         r"arrays"):
        load_dataset(tmp_path / "table.csv")
    (tmp_path / "train-idx3-ubyte").write_bytes(content)  # named as IDX: the IDX reader's own reason
    with pytest.raises(GanvqError, match=r"train-idx3-ubyte: not an IDX file.*ganvq reads IDX files"):
        load_dataset(tmp_path / "train-idx3-ubyte")


def test_image_folder_source_defaults_to_32_and_reports_skips(tmp_path, save_image):
    save_image(tmp_path / "cats" / "a.png", np.zeros((40, 50, 3), np.uint8))
    save_image(tmp_path / "dogs" / "b.png", np.zeros((20, 20, 3), np.uint8))
    (tmp_path / "dogs" / "c.png").write_bytes(b"junk")
    ds = load_dataset(tmp_path, "all")
    assert ds.images.shape == (2, 3, 32, 32) and ds.labels.tolist() == [0, 1]
    assert ds.class_names == ("cats", "dogs") and ds.num_classes == 2
    assert [f for f, _ in ds.skipped] == ["dogs/c.png"]
    assert load_dataset(tmp_path, "all", size=16, channels=1).shape == (1, 16, 16)


def test_resize_and_channel_conversion_of_arrays(tmp_path):
    images = np.full((2, 6, 8, 3), (100, 150, 200), np.uint8)  # non-square, constant colour
    np.savez(tmp_path / "d.npz", images=images)
    ds = load_dataset(tmp_path / "d.npz", "all", size=3)
    assert ds.shape == (3, 3, 3)
    assert ds.images[:, :, 1, 1].tolist() == [[100, 150, 200]] * 2  # constant stays constant
    gray = load_dataset(tmp_path / "d.npz", "all", channels=1)
    assert gray.shape == (1, 6, 8) and (gray.images == round(0.299 * 100 + 0.587 * 150 + 0.114 * 200)).all()


def test_limit_takes_first_samples_but_counts_all_classes(tmp_path):
    np.savez(tmp_path / "d.npz", images=np.arange(5, dtype=np.uint8).reshape(5, 1, 1), labels=[0, 0, 1, 4, 2])
    ds = load_dataset(tmp_path / "d.npz", "all", limit=2)
    assert ds.images.ravel().tolist() == [0, 1] and ds.labels.tolist() == [0, 0] and ds.num_classes == 5


@pytest.mark.parametrize("kwargs", [{"split": "valid"}, {"val_fraction": 1.0}, {"channels": 4}, {"size": 0},
                                    {"limit": 0}])
def test_bad_arguments_raise(tmp_path, write_idx_folder, kwargs):
    with pytest.raises(GanvqError):
        load_dataset(write_idx_folder(tmp_path / "d"), **kwargs)
