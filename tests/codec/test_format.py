import pytest
from hypothesis import given
from hypothesis import strategies as st

from ganvq.codec.format import (
    CHUNK,
    MIN_FILE,
    GvqFormatError,
    Header,
    min_payload,
    pack,
    read_varint,
    unpack,
    write_varint,
)

HASH = bytes(range(32))


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_varints_round_trip(n):
    data = write_varint(n)
    assert read_varint(data + b"\xff", 0, len(data), "x") == (n, len(data))


@given(st.integers(1, 3 * CHUNK), st.sampled_from([1, 3]), st.integers(1, 300), st.integers(1, 300))
def test_headers_round_trip(count, channels, height, width):
    sizes = [min(CHUNK, count - i * CHUNK) for i in range(-(-count // CHUNK))]
    payloads = [bytes([i % 256]) * (min_payload(n) + i % 5) for i, n in enumerate(sizes)]
    data = pack(Header(height, width, channels, count, HASH[:2]), payloads, HASH)
    header, parts = unpack(data, HASH)
    assert (header.height, header.width, header.channels, header.count) == (height, width, channels, count)
    assert parts == payloads


@pytest.mark.parametrize("count, payload", [(20_000, 80), (1 << 24, 0), (CHUNK, CHUNK // 8 - 1), (2, 0)])
def test_a_small_file_cannot_claim_many_images(count, payload):
    # decoding work is bounded by the file's size: at least one payload bit per image
    chunks = -(-count // CHUNK)
    payloads = [b""] * (chunks - 1) + [b"\x01" * payload]
    data = pack(Header(28, 28, 1, count, HASH[:2]), payloads, HASH)
    with pytest.raises(GvqFormatError, match="corrupted"):
        unpack(data, HASH)


def test_one_small_image_costs_nine_bytes_of_header():
    data = pack(Header(28, 28, 1, 1, HASH[:2]), [b"abc"], HASH)
    assert len(data) == MIN_FILE + 3 == 12


@pytest.mark.parametrize("data, message", [
    (b"", "not a .gvq file"),
    (b"\x89PNG\r\n\x1a\n" + bytes(30), "not a .gvq file"),
    (b"GQ", "truncated"),
    (b"GQ\x20" + bytes(10), "version 2"),
    (b"GQ\x10\x00", "truncated"),
])
def test_malformed_headers_are_named(data, message):
    with pytest.raises(GvqFormatError, match=message):
        unpack(data, HASH)


def test_a_file_keyed_to_another_model_is_refused():
    data = pack(Header(28, 28, 1, 1, HASH[:2]), [b"abc"], HASH)
    other = bytes(32)
    with pytest.raises(GvqFormatError, match="another model"):
        unpack(data, other)
    same_fingerprint = HASH[:2] + bytes(30)  # colliding 2-byte fingerprints: the keyed check still refuses
    with pytest.raises(GvqFormatError, match="corrupted"):
        unpack(data, same_fingerprint)
