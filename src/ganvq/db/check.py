"""`db check` and `db info`: every checksum of an archive verified, and what it holds in numbers."""

from __future__ import annotations

import os

import numpy as np

from ganvq.db import format as fmt
from ganvq.db.archive import ImageDB

READ_BLOCK = 1 << 24  # bytes of entry data read at a time


def check(db: ImageDB) -> dict:
    """Verify every part: each segment's index body and data CRC-32, then each entry's check byte.

    The preamble, commit slots, header and segment heads were verified when the archive was opened
    (a fault there refuses the whole archive). Returns the damaged entries by ID, with the reason.
    """
    damaged: dict[int, str] = {}
    for seg in db._segments:
        a, b = seg.head.first_id, seg.head.first_id + seg.head.count
        if seg.body is None:
            damaged.update({i: f"index segment damaged ({seg.problem})" for i in range(a, b)})
            continue
        data = b"".join(os.pread(db._fd, min(READ_BLOCK, seg.head.data_length - p), seg.head.data_offset + p)
                        for p in range(0, seg.head.data_length, READ_BLOCK))
        if len(data) != seg.head.data_length:
            damaged.update({i: "truncated" for i in range(a, b)})
            continue
        starts = db.offsets[a:b] - seg.head.data_offset
        payloads = [data[s : s + n] for s, n in zip(starts, db.lengths[a:b])]
        bad = np.flatnonzero(fmt.entry_checks(db.model_hash, a, payloads) != db.checks[a:b])
        damaged.update({a + int(i): "its check does not match" for i in bad})
        if fmt.crc(data) != seg.body.data_crc and not len(bad):
            # the 1-byte checks all pass: the damage is in an entry whose check it slipped past
            damaged.update({i: f"the data checksum of entries {a}-{b - 1} does not match" for i in range(a, b)})
    tail = db.size - db.slot.end
    return {"archive": str(db.path), "entries": len(db), "segments": len(db._segments),
            "damaged": len(damaged), "damaged_ids": sorted(damaged)[:100],
            "reasons": {str(i): damaged[i] for i in sorted(damaged)[:10]},
            "uncommitted_bytes": tail, "ok": not damaged}


def info(db: ImageDB) -> dict:
    """Entries, bytes by part (payloads, embeddings, everything else), labels, model and embedding."""
    payload = int(db.lengths.sum())
    embed = len(db) * db.dim + db.embed_model_bytes  # the search index: vectors and their PCA
    size = db.slot.end
    n = len(db)
    labels = db.labels[db.labels >= 0]
    c, h, w = db.shape
    return {
        "archive": str(db.path), "entries": len(db), "image_shape": [c, h, w],
        "code_shape": db.header.get("code_shape"), "model_fingerprint": db.model_hash[:2].hex(),
        "checkpoint": db.header.get("checkpoint"),
        "embedding": {"kind": db.kind, "dim": db.dim, "model_bytes": db.embed_model_bytes},
        "bytes": size, "payload_bytes": payload, "embedding_bytes": embed,
        "overhead_bytes": size - payload - embed,
        # per image and against the payload: None for an empty archive, which has neither
        "overhead_percent": round(100 * (size - payload - embed) / payload, 2) if payload else None,
        "bytes_per_image": round(size / n, 2) if n else None,
        "payload_bytes_per_image": round(payload / n, 2) if n else None,
        "bits_per_pixel": round(8 * (size - embed) / n / (h * w), 4) if n else None,
        "bits_per_pixel_definition": f"the archive's bits less its search index's (embedding_bytes), per image, "
                                     f"over its {w}x{h} pixel positions: the rate of the images as stored",
        "bits_per_pixel_with_index": round(8 * size / n / (h * w), 4) if n else None,
        "labelled": len(labels), "classes": len(np.unique(labels)),
        "segments": len(db._segments), "uncommitted_bytes": db.size - db.slot.end,
    }
