"""read_idx: round trips for every IDX type code, and a clear GanvqError for each kind of bad file."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ganvq.data import read_idx
from ganvq.errors import GanvqError


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_uint8_round_trip_raw_and_gz(tmp_path, write_idx, name):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    out = read_idx(write_idx(tmp_path / name, arr))
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, arr)
    out[0, 0, 0] = 7  # callers may hand the array to torch.from_numpy, which wants it writable


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_other_type_codes_are_read_big_endian(tmp_path, write_idx, dtype):
    arr = (np.arange(-6, 6).reshape(3, 4) * 1000 % 120).astype(dtype)
    out = read_idx(write_idx(tmp_path / "a.idx", arr))
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


def test_gzip_is_detected_by_content_not_name(tmp_path, idx_bytes):
    arr = np.ones((2, 2), np.uint8)
    (tmp_path / "plain").write_bytes(gzip.compress(idx_bytes(arr)))
    np.testing.assert_array_equal(read_idx(tmp_path / "plain"), arr)


def test_truncated_gz_names_file_and_says_truncated(tmp_path, idx_bytes):
    data = gzip.compress(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(GanvqError, match="truncated") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_corrupt_gz_gives_ganvq_error(tmp_path, idx_bytes):
    data = bytearray(gzip.compress(idx_bytes(np.arange(4000, dtype=np.int32))))
    data[20:40] = bytes(20)
    path = tmp_path / "x.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(GanvqError, match="x.gz"):
        read_idx(path)


def test_gz_name_without_gzip_content_is_rejected(tmp_path):
    (tmp_path / "x.gz").write_bytes(b"hello world")
    with pytest.raises(GanvqError, match="not a gzip file"):
        read_idx(tmp_path / "x.gz")


def test_wrong_magic_is_rejected(tmp_path, idx_bytes):
    data = bytearray(idx_bytes(np.zeros((2, 2), np.uint8)))
    data[0] = 0x50  # e.g. a PNG or text file handed in by mistake
    (tmp_path / "bad").write_bytes(bytes(data))
    with pytest.raises(GanvqError, match="magic"):
        read_idx(tmp_path / "bad")


def test_unknown_type_code_is_rejected(tmp_path, idx_bytes):
    data = bytearray(idx_bytes(np.zeros((2, 2), np.uint8)))
    data[2] = 0x0A
    (tmp_path / "bad").write_bytes(bytes(data))
    with pytest.raises(GanvqError, match="type code 0x0A"):
        read_idx(tmp_path / "bad")


@pytest.mark.parametrize("length", [0, 3, 9])  # empty, inside the magic, inside the dims
def test_file_shorter_than_header_is_rejected(tmp_path, idx_bytes, length):
    data = idx_bytes(np.zeros((2, 2, 2), np.uint8))[:length]
    (tmp_path / "short").write_bytes(data)
    with pytest.raises(GanvqError, match="short"):
        read_idx(tmp_path / "short")


def test_missing_payload_bytes_say_truncated(tmp_path, idx_bytes):
    (tmp_path / "x").write_bytes(idx_bytes(np.zeros((4, 5), np.uint8))[:-3])
    with pytest.raises(GanvqError, match="truncated.*needs 20 bytes, found 17"):
        read_idx(tmp_path / "x")


def test_extra_payload_bytes_are_rejected(tmp_path, idx_bytes):
    (tmp_path / "x").write_bytes(idx_bytes(np.zeros((4, 5), np.uint8)) + b"\0\0")
    with pytest.raises(GanvqError, match="2 unexpected bytes"):
        read_idx(tmp_path / "x")


def test_missing_file_and_directory_give_ganvq_error(tmp_path):
    with pytest.raises(GanvqError, match="cannot read"):
        read_idx(tmp_path / "nope.gz")
    with pytest.raises(GanvqError, match="cannot read"):
        read_idx(tmp_path)


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(0, 5), min_size=1, max_size=4), gz=st.booleans(), seed=st.integers(0, 99))
def test_any_uint8_shape_round_trips(tmp_path_factory, write_idx, shape, gz, seed):
    arr = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    path = tmp_path_factory.mktemp("idx") / ("a.gz" if gz else "a")
    np.testing.assert_array_equal(read_idx(write_idx(path, arr)), arr)
