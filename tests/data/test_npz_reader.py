"""read_npz: the three image layouts, float conversion, split keys and bad files."""

from __future__ import annotations

import numpy as np
import pytest

from ganvq.data import read_npz
from ganvq.data.npz import npz_splits
from ganvq.errors import GanvqError

N, H, W = 4, 5, 6
BASE = np.arange(N * H * W, dtype=np.uint8).reshape(N, H, W)  # (N, H, W)


@pytest.mark.parametrize(
    "images, channels",
    [
        (BASE, 1),  # N×H×W
        (BASE[..., None], 1),  # N×H×W×1
        (np.stack([BASE, BASE + 1, BASE + 2], axis=-1), 3),  # N×H×W×3
        (np.stack([BASE, BASE + 1, BASE + 2], axis=1), 3),  # N×3×H×W
    ],
    ids=["NHW", "NHWC1", "NHWC3", "NCHW"],
)
def test_layouts_become_uint8_nchw(tmp_path, images, channels):
    np.savez(tmp_path / "d.npz", x_train=images, y_train=np.arange(N))
    x, y = read_npz(tmp_path / "d.npz")
    assert x.shape == (N, channels, H, W) and x.dtype == np.uint8 and x.flags.c_contiguous
    for c in range(channels):
        np.testing.assert_array_equal(x[:, c], BASE + c)
    assert y.dtype == np.int64 and y.tolist() == list(range(N))


def test_floats_in_unit_range_are_rounded_to_uint8(tmp_path):
    images = np.array([0.0, 0.2, 0.5, 1.0], np.float32).reshape(4, 1, 1)
    np.savez(tmp_path / "d.npz", images=images)
    x, y = read_npz(tmp_path / "d.npz")
    assert x.ravel().tolist() == [0, 51, 128, 255] and y is None


def test_float_ranges_minus_one_to_one_and_0_to_255(tmp_path):
    np.savez(tmp_path / "a.npz", images=np.array([-1.0, 0.0, 1.0], np.float32).reshape(3, 1, 1))
    np.savez(tmp_path / "b.npz", images=np.array([0.0, 2.0, 254.6], np.float64).reshape(3, 1, 1))
    assert read_npz(tmp_path / "a.npz")[0].ravel().tolist() == [0, 128, 255]
    assert read_npz(tmp_path / "b.npz")[0].ravel().tolist() == [0, 2, 255]


@pytest.mark.parametrize("images", [np.full((2, 3, 3), -1.5), np.full((2, 3, 3), np.nan), np.full((2, 3, 3), 300),
                                    np.full((2, 3, 3), 255.5)])
def test_out_of_range_pixels_are_rejected(tmp_path, images):
    np.savez(tmp_path / "d.npz", images=images)
    with pytest.raises(GanvqError, match="d.npz"):
        read_npz(tmp_path / "d.npz")


def test_train_and_test_splits_use_their_keys(tmp_path):
    np.savez(tmp_path / "d.npz", x_train=BASE, y_train=np.zeros(N, np.uint8), x_test=BASE[:2], y_test=np.ones(2))
    assert read_npz(tmp_path / "d.npz", "train")[0].shape[0] == N
    with pytest.raises(GanvqError, match="labels must be integers"):  # y_test saved as float
        read_npz(tmp_path / "d.npz", "test")


def test_images_key_is_a_train_split_only(tmp_path):
    np.savez(tmp_path / "d.npz", images=BASE, labels=np.arange(N))
    x, y = read_npz(tmp_path / "d.npz", "train")
    assert x.shape == (N, 1, H, W) and y.tolist() == list(range(N))
    with pytest.raises(GanvqError, match="no test images.*'x_test'.*the file has: images, labels"):
        read_npz(tmp_path / "d.npz", "test")


@pytest.mark.parametrize("keys", [("x", "y"), ("X", "Y"), ("arr_0", "arr_1"), ("train_images", "train_labels"),
                                  ("data", "labels")])
def test_common_key_spellings(tmp_path, keys):
    np.savez(tmp_path / "d.npz", **{keys[0]: BASE, keys[1]: np.arange(N)})
    x, y = read_npz(tmp_path / "d.npz")
    assert x.shape == (N, 1, H, W) and y.tolist() == list(range(N))


def test_named_splits_are_found_from_member_names(tmp_path):
    np.savez(tmp_path / "a.npz", X_train=BASE, x_TEST=BASE[:2], x_val=BASE[:1])
    np.savez(tmp_path / "b.npz", x=BASE)
    assert npz_splits(tmp_path / "a.npz") == {"train", "test", "val"} and npz_splits(tmp_path / "b.npz") == {"train"}
    assert read_npz(tmp_path / "a.npz", "val")[0].shape[0] == 1


def test_mismatched_label_count_is_rejected(tmp_path):
    np.savez(tmp_path / "d.npz", x_train=BASE, y_train=np.arange(N + 1))
    with pytest.raises(GanvqError, match="5 labels for 4 images"):
        read_npz(tmp_path / "d.npz")


def test_unknown_keys_are_listed(tmp_path):
    np.savez(tmp_path / "d.npz", pixels=BASE)
    with pytest.raises(GanvqError, match="'x_train' or .*'arr_0'.*the file has: pixels"):
        read_npz(tmp_path / "d.npz")


@pytest.mark.parametrize("content", [b"", b"random bytes, not a zip", b"PK\x03\x04 truncated zip"])
def test_unreadable_files_give_ganvq_error(tmp_path, content):
    (tmp_path / "d.npz").write_bytes(content)
    with pytest.raises(GanvqError, match="d.npz"):
        read_npz(tmp_path / "d.npz")


def test_plain_npy_is_rejected(tmp_path):
    np.save(tmp_path / "d.npy", BASE)
    (tmp_path / "d.npy").rename(tmp_path / "d.npz")
    with pytest.raises(GanvqError, match="not an .npz"):
        read_npz(tmp_path / "d.npz")


def test_object_arrays_are_refused(tmp_path):
    np.savez(tmp_path / "d.npz", images=np.array([None, 1], dtype=object))
    with pytest.raises(GanvqError, match="d.npz"):
        read_npz(tmp_path / "d.npz")


def test_wrong_shapes_are_rejected(tmp_path):
    np.savez(tmp_path / "d.npz", images=np.zeros((2, 5, 5, 4), np.uint8))
    with pytest.raises(GanvqError, match="no channel axis"):
        read_npz(tmp_path / "d.npz")
    np.savez(tmp_path / "d.npz", images=np.zeros((0, 5, 5), np.uint8))
    with pytest.raises(GanvqError, match="no images"):
        read_npz(tmp_path / "d.npz")


def test_corrupt_compressed_member_gives_ganvq_error(tmp_path):
    path = tmp_path / "d.npz"
    np.savez_compressed(path, images=np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8))
    data = bytearray(path.read_bytes())
    data[200:260] = bytes(60)
    path.write_bytes(bytes(data))
    with pytest.raises(GanvqError, match="corrupt .npz member"):
        read_npz(path)
