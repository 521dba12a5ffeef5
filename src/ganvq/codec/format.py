"""The .gvq file format: a compact header, the entropy-coded code maps, a check.

For a 28x28 image every byte costs 0.01 bits per pixel, so the header spends as few as it can;
one grayscale 28x28 image carries 9 bytes of overhead (2 magic, 1 version/flags, 2 fingerprint,
1 + 1 size, 2 check):

    offset  size  field
    0       2     magic b"GQ"
    2       1     version (high 4 bits, now 1) | flags (low 4 bits: bit 0 RGB, bit 1 several images,
                  bits 2-3 zero)
    3       2     model fingerprint: the first 2 bytes of the SHA-256 of the VQ-VAE and prior weights
    5       1+    image height (unsigned LEB128 varint)
    .       1+    image width (varint)
    .       1+    number of images minus 2 (varint; only with flag "several images")
    .       1+    byte length of each chunk's payload but the last (varints; several images only)
    .       ...   payload: one range-coded stream per chunk of up to CHUNK images (see codec/entropy.py)
    end-2   2     check: the low 16 bits of CRC-32(full 32-byte model SHA-256 || all bytes before it)

Decoding work is bounded by the file's size: a chunk of n images holds at least ceil(n / IMAGES_PER_BYTE)
payload bytes (at least one bit per image; the encoder pads with zero bytes, which decode the same, in the
rare streams that would be shorter), and a stream must not decode to more information than its bytes hold
(see codec.py), so a small file cannot claim, or make the decoder produce, many images.

Keying the check with the full model hash means a file decoded with the wrong model fails the
check even when the 2-byte fingerprints collide, so it can never turn silently into a wrong image;
the fingerprint itself only lets the error say which of the two went wrong.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from ganvq.errors import GanvqError

MAGIC = b"GQ"
VERSION = 1
FLAG_RGB = 1
FLAG_SEVERAL = 2
_KNOWN_FLAGS = FLAG_RGB | FLAG_SEVERAL
CHUNK = 256  # images per range-coded stream in a multi-image file: bounds the decoder's memory
FINGERPRINT_BYTES = 2
CHECK_BYTES = 2
MIN_FILE = len(MAGIC) + 1 + FINGERPRINT_BYTES + 1 + 1 + CHECK_BYTES  # 9: header + check, empty payload
MAX_SIDE = 1 << 16  # a larger image size in a header can only be damage
MAX_IMAGES = 1 << 24
IMAGES_PER_BYTE = 8  # a chunk of n images has at least ceil(n / 8) payload bytes: one bit per image


class GvqFormatError(GanvqError):
    """The bytes are not a readable .gvq file: wrong magic, version, model, length or check."""


@dataclass(frozen=True)
class Header:
    height: int
    width: int
    channels: int  # 1 grayscale, 3 RGB
    count: int  # images in the file
    fingerprint: bytes  # FINGERPRINT_BYTES of the model hash


def write_varint(n: int) -> bytes:
    """Unsigned LEB128: 7 bits per byte, high bit set on all bytes but the last."""
    if n < 0:
        raise ValueError(f"varint of a negative number {n}")
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    """(value, next position) of the varint at data[pos:end]; a GvqFormatError when it runs past end."""
    value = shift = 0
    while True:
        if pos >= end:
            raise GvqFormatError(f"the file is truncated (it ends inside the {what})")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise GvqFormatError(f"the file is corrupted (an overlong {what})")


def min_payload(images: int) -> int:
    """The fewest payload bytes a stream of `images` images may have (one bit per image)."""
    return -(-images // IMAGES_PER_BYTE)


def check_value(model_hash: bytes, body: bytes) -> bytes:
    """The 2-byte check of a file body (everything before the check), keyed with the model hash."""
    return (zlib.crc32(body, zlib.crc32(model_hash)) & 0xFFFF).to_bytes(CHECK_BYTES, "little")


def pack(header: Header, payloads: list[bytes], model_hash: bytes) -> bytes:
    """A whole .gvq file from its header and one payload per chunk of CHUNK images."""
    if header.channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {header.channels}")
    if len(payloads) != -(-header.count // CHUNK):
        raise ValueError(f"{len(payloads)} payloads for {header.count} images")
    several = header.count > 1
    flags = (FLAG_RGB if header.channels == 3 else 0) | (FLAG_SEVERAL if several else 0)
    parts = [MAGIC, bytes([VERSION << 4 | flags]), model_hash[:FINGERPRINT_BYTES],
             write_varint(header.height), write_varint(header.width)]
    if several:
        parts.append(write_varint(header.count - 2))
        parts += [write_varint(len(p)) for p in payloads[:-1]]
    parts += payloads
    body = b"".join(parts)
    return body + check_value(model_hash, body)


def unpack(data: bytes, model_hash: bytes) -> tuple[Header, list[bytes]]:
    """Header and chunk payloads of a .gvq file, after checking magic, version, model and check."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise GvqFormatError(f"expected the bytes of a .gvq file, got {type(data).__name__}")
    data = bytes(data)
    if data[: len(MAGIC)] != MAGIC:
        what = "it is empty" if not data else "it does not start with the .gvq magic bytes 'GQ'"
        raise GvqFormatError(f"not a .gvq file ({what})")
    if len(data) < len(MAGIC) + 1:
        raise GvqFormatError("the file is truncated (it ends inside the header)")
    version, flags = data[2] >> 4, data[2] & 0x0F
    if version != VERSION:
        origin = "a newer ganvq, or a damaged file" if version > VERSION else "an unknown writer, or a damaged file"
        raise GvqFormatError(f"unsupported .gvq format version {version} (from {origin}); "
                             f"this ganvq reads version {VERSION}")
    if len(data) < MIN_FILE:
        raise GvqFormatError(f"the file is truncated ({len(data)} bytes; a .gvq file has at least {MIN_FILE})")
    fingerprint = data[3 : 3 + FINGERPRINT_BYTES]
    body, check = data[:-CHECK_BYTES], data[-CHECK_BYTES:]
    if check != check_value(model_hash, body):
        if fingerprint != model_hash[:FINGERPRINT_BYTES]:
            raise GvqFormatError(
                f"the file was made with another model (fingerprint {fingerprint.hex()}; this checkpoint's is "
                f"{model_hash[:FINGERPRINT_BYTES].hex()}); decompress it with the checkpoint it was compressed with"
            )
        raise GvqFormatError("the file is corrupted or truncated (its check does not match)")
    if flags & ~_KNOWN_FLAGS:
        raise GvqFormatError(f"the file is corrupted (unknown flags {flags:#x})")
    end = len(body)
    pos = 3 + FINGERPRINT_BYTES
    height, pos = read_varint(data, pos, end, "image height")
    width, pos = read_varint(data, pos, end, "image width")
    if not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE):
        raise GvqFormatError(f"the file is corrupted (image size {height}x{width})")
    count, lengths = 1, []
    if flags & FLAG_SEVERAL:
        count, pos = read_varint(data, pos, end, "image count")
        count += 2
        if count > MAX_IMAGES or count > IMAGES_PER_BYTE * len(data):
            raise GvqFormatError(f"the file is corrupted (it claims {count} images in {len(data)} bytes)")
        for _ in range(-(-count // CHUNK) - 1):
            n, pos = read_varint(data, pos, end, "chunk lengths")
            lengths.append(n)
    payloads = []
    for n in lengths:
        if pos + n > end:
            raise GvqFormatError("the file is truncated (a chunk runs past its end)")
        payloads.append(data[pos : pos + n])
        pos += n
    payloads.append(data[pos:end])
    for i, payload in enumerate(payloads):
        if len(payload) < min_payload(min(CHUNK, count - i * CHUNK)):
            raise GvqFormatError(f"the file is corrupted (chunk {i} holds {len(payload)} bytes for "
                                 f"{min(CHUNK, count - i * CHUNK)} images)")
    channels = 3 if flags & FLAG_RGB else 1
    return Header(height, width, channels, count, fingerprint), payloads
