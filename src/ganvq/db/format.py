"""The .gvqdb archive layout: one file of range-coded code maps, metadata, embeddings and an offset index.

Everything is little-endian; every part carries a CRC-32. The file is only ever appended to, and an
add becomes visible in one small write (a commit slot), so a kill at any moment leaves the last
commit readable:

    offset  size  part
    0       32    preamble: magic b"GVQDB\\0\\r\\n", version u32, header length u32, 12 zero bytes, CRC-32
    32      32    commit slot A  }  generation u64, committed end u64, last segment u64, entries u32, CRC-32;
    64      32    commit slot B  }  the valid slot of the higher generation is the archive's state
    96      n+4   header: JSON (model hash and checkpoint, image and code shapes, embedding), CRC-32
    ...           segments, one per commit of an add, each:
                    data   the entries' payloads back to back: each the range-coded stream of one code map,
                           exactly the payload of a one-image .gvq file (codec/format.py)
                    head   SEGMENT_HEAD bytes: magic b"GSEG", first ID, count, data offset and length,
                           previous segment's offset (0: none), body length, CRC-32 of the head
                    body   zlib(lengths u16 and labels i16, as byte planes), one check byte per entry, the embeddings
                           (count x dim uint8), metadata JSON (names, class names), the embedding
                           model (first segment only), CRC-32 of the data, then CRC-32 of the body

A commit writes the data, head and body after the committed end, fsyncs, then writes the older of
the two slots with the next generation and fsyncs again. A torn slot fails its CRC and the other
slot (the previous commit) is used; bytes past the committed end are an interrupted add's, ignored
by readers and cut off by the next writer. Segments are chained from the newest back, so opening
reads the heads and bodies (a few bytes per entry) and never the entries themselves.

An entry's check byte is the low byte of a CRC-32 keyed with the model hash and the entry's ID: it
lets `get` verify an entry from its own bytes alone (a damaged entry slips past it with probability
1/256), and the data CRC-32 of its segment, which `check` reads, catches the rest. One byte rather
than the .gvq file's two: a Fashion-MNIST entry is ~60 bytes, and the whole archive spends ~5% on
everything but its payloads.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from ganvq.errors import GanvqError

MAGIC = b"GVQDB\0\r\n"
VERSION = 1
PREAMBLE = struct.Struct("<8sII12s")  # magic, version, header length, reserved; then its CRC-32
SLOT = struct.Struct("<QQQI")  # generation, committed end, last segment offset, entries; then its CRC-32
SLOT_OFFSETS = (32, 64)
HEADER_OFFSET = 96
SEG_MAGIC = b"GSEG"
HEAD = struct.Struct("<4sIIQQQI")  # magic, first ID, count, data offset, data length, previous, body length
SEGMENT_HEAD = HEAD.size + 4
MAX_HEADER = 1 << 20  # a header JSON is a few hundred bytes; more can only be damage
MAX_ENTRY = (1 << 16) - 1  # bytes of one entry's payload (u16 lengths); a 28x28 map takes ~60
MAX_ENTRIES = (1 << 32) - 1


class DbFormatError(GanvqError):
    """The bytes are not a readable .gvqdb archive, or a part of it is damaged."""


def crc(data: bytes, start: int = 0) -> int:
    return zlib.crc32(data, start) & 0xFFFFFFFF


def _with_crc(data: bytes) -> bytes:
    return data + struct.pack("<I", crc(data))


def _crc_ok(data: bytes) -> bool:
    return len(data) >= 4 and struct.unpack("<I", data[-4:])[0] == crc(data[:-4])


def entry_checks(model_hash: bytes, first_id: int, payloads: list[bytes]) -> np.ndarray:
    """One check byte per entry: the low byte of CRC-32(payload) keyed with the model hash and the entry's ID."""
    key = crc(model_hash)
    return np.array([crc(p, crc(struct.pack("<I", first_id + i), key)) & 0xFF for i, p in enumerate(payloads)],
                    dtype=np.uint8)


# -- preamble, commit slots, header ---------------------------------------------------------------
def pack_start(header: dict) -> bytes:
    """Preamble, two empty commit slots (generation 0: no entries) and the header of a new archive."""
    body = json.dumps(header, sort_keys=True).encode()
    start = _with_crc(PREAMBLE.pack(MAGIC, VERSION, len(body), bytes(12)))
    end = HEADER_OFFSET + len(body) + 4
    empty = pack_slot(Slot(0, end, 0, 0))
    return start + empty + empty + _with_crc(body)


def read_start(data: bytes, size: int) -> tuple[dict, int]:
    """(header, its end) from the first bytes of an archive of `size` bytes, or a DbFormatError naming the fault."""
    if data[: len(MAGIC)] != MAGIC:
        what = "it is empty" if size == 0 else "it does not start with the .gvqdb magic bytes"
        raise DbFormatError(f"not a ganvq image database ({what})")
    if len(data) < HEADER_OFFSET:
        raise DbFormatError(f"the archive is truncated ({size} bytes; its fixed header needs {HEADER_OFFSET})")
    if not _crc_ok(data[: PREAMBLE.size + 4]):
        raise DbFormatError("the archive's preamble is damaged (its checksum does not match)")
    _, version, length, _ = PREAMBLE.unpack_from(data)
    if version != VERSION:
        raise DbFormatError(f"unsupported .gvqdb version {version} (this ganvq reads version {VERSION})")
    if length > MAX_HEADER:
        raise DbFormatError(f"the archive's preamble is damaged (header length {length:,})")
    end = HEADER_OFFSET + length + 4
    if end > size:
        raise DbFormatError(f"the archive is truncated ({size} bytes; its header ends at byte {end})")
    if len(data) < end:
        return {}, end  # the caller reads this many bytes and asks again
    if not _crc_ok(data[HEADER_OFFSET:end]):
        raise DbFormatError("the archive's header is damaged (its checksum does not match)")
    try:
        header = json.loads(data[HEADER_OFFSET : end - 4])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DbFormatError("the archive's header is damaged (not JSON)") from None
    if not isinstance(header, dict):
        raise DbFormatError("the archive's header is damaged (not a JSON object)")
    return header, end


@dataclass(frozen=True)
class Slot:
    generation: int
    end: int  # the committed end of the file: everything after it belongs to an interrupted add
    last_segment: int  # offset of the newest segment's head, 0 when there is none
    entries: int


def pack_slot(slot: Slot) -> bytes:
    return _with_crc(SLOT.pack(slot.generation, slot.end, slot.last_segment, slot.entries))


def read_slots(data: bytes) -> tuple[Slot, int]:
    """The current commit (the valid slot of the higher generation) and the offset of the slot to write next."""
    valid = []
    for offset in SLOT_OFFSETS:
        raw = data[offset : offset + SLOT.size + 4]
        if _crc_ok(raw):
            valid.append((Slot(*SLOT.unpack_from(raw)), offset))
    if not valid:
        raise DbFormatError("both commit slots of the archive are damaged: its entries cannot be located")
    slot, offset = max(valid, key=lambda v: v[0].generation)
    other = SLOT_OFFSETS[1] if offset == SLOT_OFFSETS[0] else SLOT_OFFSETS[0]
    return slot, other


# -- segments -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Head:
    first_id: int
    count: int
    data_offset: int
    data_length: int
    previous: int
    body_length: int


@dataclass
class Body:
    lengths: np.ndarray  # uint16 (count,)
    labels: np.ndarray  # int16 (count,), -1 for none
    checks: np.ndarray  # uint8 (count,)
    embeddings: np.ndarray  # uint8 (count, dim)
    meta: dict  # names (see names.py), class names
    embed_model: bytes  # the embedding model's bytes (first segment only), else b""
    data_crc: int


def _part(data: bytes) -> bytes:
    return struct.pack("<I", len(data)) + data


def _planes(values: np.ndarray) -> bytes:
    """2-byte integers as their low bytes, then their high bytes: the high bytes (nearly all equal) compress
    to almost nothing, the low bytes to their entropy."""
    return values.view(np.uint8).reshape(-1, 2).T.tobytes()


def _unplanes(data: bytes, dtype: str) -> np.ndarray:
    return np.frombuffer(data, np.uint8).reshape(2, -1).T.copy().view(dtype).reshape(-1)


def pack_segment(head: Head, body: Body) -> bytes:
    """Head and body of a segment (its data is written before it)."""
    table = zlib.compress(_planes(body.lengths.astype("<u2")) + _planes(body.labels.astype("<i2")), 9)
    raw = b"".join([_part(table), body.checks.tobytes(), np.ascontiguousarray(body.embeddings).tobytes(),
                    _part(zlib.compress(json.dumps(body.meta).encode(), 9)), _part(body.embed_model),
                    struct.pack("<I", body.data_crc)])
    raw = _with_crc(raw)
    fields = (SEG_MAGIC, head.first_id, head.count, head.data_offset, head.data_length, head.previous, len(raw))
    return _with_crc(HEAD.pack(*fields)) + raw


def read_head(data: bytes, offset: int, end: int) -> Head:
    """The head of the segment at `offset`, checked against its CRC and the committed end."""
    if len(data) < SEGMENT_HEAD or not _crc_ok(data[:SEGMENT_HEAD]) or data[:4] != SEG_MAGIC:
        raise DbFormatError(f"the index segment at byte {offset:,} is damaged (its head checksum does not match); "
                            "entries before it cannot be located")
    _, *fields = HEAD.unpack_from(data)
    head = Head(*fields)
    if (head.data_offset + head.data_length > offset or offset + SEGMENT_HEAD + head.body_length > end
            or head.previous >= offset):
        raise DbFormatError(f"the index segment at byte {offset:,} is damaged (its offsets do not fit the file)")
    return head


def _take(raw: bytes, pos: int, n: int) -> tuple[bytes, int]:
    if pos + n > len(raw):
        raise ValueError("short")
    return raw[pos : pos + n], pos + n


def read_body(raw: bytes, head: Head, dim: int) -> Body:
    """The body of a segment; a DbFormatError when its CRC or its layout is wrong."""
    if not _crc_ok(raw):
        raise DbFormatError("its index body's checksum does not match")
    raw = raw[:-4]
    n = head.count
    try:
        pos = 0
        (size,), pos = struct.unpack("<I", raw[:4]), 4
        table, pos = _take(raw, pos, size)
        # bound the decompressed size before inflating: 4 bytes per entry exactly
        inflater = zlib.decompressobj()
        table = inflater.decompress(table, 4 * n + 1)
        if len(table) != 4 * n:
            raise ValueError("table size")
        checks, pos = _take(raw, pos, n)
        embeddings, pos = _take(raw, pos, n * dim)
        size = struct.unpack("<I", _take(raw, pos, 4)[0])[0]
        meta, pos = _take(raw, pos + 4, size)
        size = struct.unpack("<I", _take(raw, pos, 4)[0])[0]
        model, pos = _take(raw, pos + 4, size)
        (data_crc,) = struct.unpack("<I", _take(raw, pos, 4)[0])
        inflater = zlib.decompressobj()
        meta = json.loads(inflater.decompress(meta, MAX_HEADER * 64))
        if not isinstance(meta, dict):
            raise ValueError("meta")
    except (ValueError, struct.error, zlib.error, UnicodeDecodeError):
        raise DbFormatError("its index body is malformed") from None
    return Body(lengths=_unplanes(table[: 2 * n], "<u2").astype(np.int64),
                labels=_unplanes(table[2 * n :], "<i2").astype(np.int64),
                checks=np.frombuffer(checks, np.uint8), embeddings=np.frombuffer(embeddings, np.uint8).reshape(n, dim),
                meta=meta, embed_model=model, data_crc=data_crc)
