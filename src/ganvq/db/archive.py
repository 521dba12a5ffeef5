"""ImageDB: images kept as range-coded code maps in one .gvqdb file, fetched one by one, searched by similarity.

The layout and its crash safety are described in db/format.py. One writer at a time: `add` holds an
exclusive lock (flock) on the archive for as long as it writes, and a second writer is refused with
a message; readers take no lock, since a writer never changes a committed byte.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganvq.codec import Codec
from ganvq.codec.format import pack as pack_gvq
from ganvq.db import format as fmt
from ganvq.db import names as names_mod
from ganvq.db.embed import DEFAULT_DIM, Projection, raw_features, resolve_kind
from ganvq.db.index import SearchIndex
from ganvq.errors import GanvqError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; writers there are not guarded
    fcntl = None

SUFFIX = ".gvqdb"
ADD_BATCH = 1000  # images per commit: each is one segment, made durable before the next starts
# The search embedding's projection is fitted once, when the first images are added, on up to FIT_IMAGES of
# them (whatever the commit size). A first add of fewer than FIT_MIN images is joined by images the archive's
# own model draws (its prior's samples, decoded; seeded), so one image added first still leaves a usable index.
FIT_IMAGES = 2048
FIT_MIN = 256


@dataclass
class _Segment:
    head: fmt.Head
    offset: int  # of its head
    body: fmt.Body | None  # None when the body is damaged
    problem: str | None = None


def _read_at(fd: int, offset: int, n: int) -> bytes:
    data = os.pread(fd, n, offset)
    if len(data) != n:
        raise fmt.DbFormatError(f"the archive is truncated (bytes {offset:,}-{offset + n:,} are missing)")
    return data


class ImageDB:
    """An open .gvqdb archive: `get`, `codes`, `search`, `check`, `info`; `add` when opened for writing."""

    def __init__(self, path: str | Path, ckpt: str | Path | None = None, writable: bool = False,
                 codec: Codec | None = None):
        self.path = Path(path)
        self._fd: int | None = None
        self._locked = False
        try:
            if self.path.exists() and not self.path.is_file():
                raise GanvqError(f"{self.path} is not a regular file, so not an image database")
            self._fd = os.open(self.path, (os.O_RDWR if writable else os.O_RDONLY) | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            raise GanvqError(f"{self.path}: no such image database (make one with `ganvq db create`)") from None
        except OSError as e:
            raise GanvqError(f"cannot open {self.path}: {e.strerror or e}") from None
        try:
            if writable:
                self._lock()
            self._load(ckpt, codec)
        except fmt.DbFormatError as e:
            self.close()
            raise fmt.DbFormatError(f"{self.path}: {e}") from None
        except BaseException:
            self.close()
            raise

    # -- opening --------------------------------------------------------------------------------------
    def _lock(self) -> None:
        if fcntl is None:
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise GanvqError(f"{self.path} is being written by another ganvq process; wait for it to finish"
                                 ) from None
            return  # a filesystem without flock: unguarded
        self._locked = True

    def _load(self, ckpt, codec: Codec | None) -> None:
        size = os.fstat(self._fd).st_size
        start = os.pread(self._fd, fmt.HEADER_OFFSET, 0)
        header, end = fmt.read_start(start, size)
        if not header:
            header, end = fmt.read_start(_read_at(self._fd, 0, end), size)
        self.header = header
        self.slot, self._next_slot = fmt.read_slots(start)
        if self.slot.end > size:
            raise fmt.DbFormatError(f"the archive is truncated: its last commit ends at byte {self.slot.end:,}, "
                                    f"the file has {size:,} bytes")
        try:
            self.model_hash = bytes.fromhex(header["model_hash"])
            self.shape = tuple(int(v) for v in header["shape"])
            self.dim = int(header["embedding"]["dim"])
            self.kind = str(header["embedding"]["kind"])
        except (KeyError, TypeError, ValueError):
            raise fmt.DbFormatError("the archive's header lacks a field or has a wrong one") from None
        if not 1 <= self.dim <= 1024:
            raise fmt.DbFormatError(f"the archive's header is damaged (embedding dimension {self.dim})")
        if self.slot.entries > self.slot.end:  # every entry takes at least its check byte: bound before allocating
            raise fmt.DbFormatError(f"the archive is damaged (its commit claims {self.slot.entries:,} entries in "
                                    f"{self.slot.end:,} bytes)")
        self.size = size
        self._codec = codec
        self._ckpt = Path(ckpt) if ckpt else Path(header.get("checkpoint", ""))
        self._ckpt_given = bool(ckpt)
        if codec is not None and codec.hash != self.model_hash:
            raise GanvqError(f"{self.path} was made with another model (fingerprint {self.model_hash[:2].hex()}, "
                             f"this one's is {codec.fingerprint})")
        self._read_segments()

    def _read_segments(self) -> None:
        segments: list[_Segment] = []
        offset, expect = self.slot.last_segment, self.slot.entries
        while offset:
            head = fmt.read_head(_read_at(self._fd, offset, fmt.SEGMENT_HEAD), offset, self.slot.end)
            if head.first_id + head.count != expect:
                raise fmt.DbFormatError(f"the index segment at byte {offset:,} is damaged (it holds entries "
                                        f"{head.first_id}-{head.first_id + head.count - 1}, {expect - 1} expected last)")
            raw = _read_at(self._fd, offset + fmt.SEGMENT_HEAD, head.body_length)
            seg = _Segment(head, offset, None)
            try:
                seg.body = fmt.read_body(raw, head, self.dim)
                if (int(seg.body.lengths.sum()) != head.data_length
                        or not names_mod.well_formed(seg.body.meta.get("names"))
                        or names_mod.count(seg.body.meta["names"]) != head.count):
                    raise fmt.DbFormatError("its index body does not fit its entries")
            except fmt.DbFormatError as e:
                seg.body, seg.problem = None, str(e)
            segments.append(seg)
            offset, expect = head.previous, head.first_id
        if expect != 0:
            raise fmt.DbFormatError(f"the archive's index is damaged (its first segment starts at entry {expect})")
        self._segments = segments[::-1]
        n = self.slot.entries
        self.offsets = np.zeros(n, np.int64)
        self.lengths = np.zeros(n, np.int64)
        self.checks = np.zeros(n, np.uint8)
        self.labels = np.full(n, -1, np.int64)
        self.embeddings = np.zeros((n, self.dim), np.uint8)
        self.readable = np.zeros(n, bool)
        self._segment_of = np.zeros(n, np.int64)
        self.projection = None
        self.embed_model_bytes = 0
        for k, seg in enumerate(self._segments):
            a, b = seg.head.first_id, seg.head.first_id + seg.head.count
            self._segment_of[a:b] = k
            if seg.body is None:
                continue
            body = seg.body
            self.lengths[a:b] = body.lengths
            self.offsets[a:b] = seg.head.data_offset + np.concatenate([[0], np.cumsum(body.lengths)[:-1]])
            self.checks[a:b], self.labels[a:b], self.embeddings[a:b] = body.checks, body.labels, body.embeddings
            self.readable[a:b] = True
            if body.embed_model and self.projection is None:
                self.projection = Projection.from_bytes(body.embed_model, self.dim)
                self.embed_model_bytes = len(body.embed_model)
        self._index = None

    @classmethod
    def create(cls, path: str | Path, ckpt: str | Path, embedding: str = "auto", dim: int = DEFAULT_DIM,
               codec: Codec | None = None) -> ImageDB:
        """A new, empty archive for the images a prior checkpoint (with its VQ-VAE) codes; opened for writing."""
        path = Path(path)
        if not 1 <= dim <= 1024:
            raise GanvqError(f"the embedding dimension must lie in [1, 1024], got {dim}")
        codec = codec or Codec.from_checkpoint(ckpt)
        header = {"model_hash": codec.hash.hex(), "checkpoint": str(Path(ckpt).resolve()),
                  "shape": list(codec.shape), "code_shape": list(codec.prior_shape),
                  "codebook_size": codec.codebook_size,
                  "embedding": {"kind": resolve_kind(embedding, codec.shape), "dim": dim}}
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            raise GanvqError(f"{path} exists already; add to it with `ganvq db add`, or choose a new name") from None
        except OSError as e:
            raise GanvqError(f"cannot create {path}: {e.strerror or e}") from None
        try:
            os.write(fd, fmt.pack_start(header))
            os.fsync(fd)
        finally:
            os.close(fd)
        return cls(path, ckpt, writable=True, codec=codec)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None

    def __enter__(self) -> ImageDB:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return self.slot.entries

    @property
    def codec(self) -> Codec:
        """The archive's model, loaded on first use from the checkpoint its header names (or the one given)."""
        if self._codec is None:
            if not str(self._ckpt):
                raise GanvqError(f"{self.path}: give the prior checkpoint it was made with (--ckpt)")
            if not self._ckpt.exists() and not self._ckpt_given:
                raise GanvqError(f"{self.path} was made with the prior checkpoint {self._ckpt}, which is not there "
                                 "(moved or deleted?): give it with --ckpt")
            codec = Codec.from_checkpoint(self._ckpt)
            if codec.hash != self.model_hash:
                raise GanvqError(f"{self._ckpt} is not the model {self.path} was made with (fingerprint "
                                 f"{codec.fingerprint}, the archive's is {self.model_hash[:2].hex()})")
            self._codec = codec
        return self._codec

    # -- adding ---------------------------------------------------------------------------------------
    def add(self, images, labels=None, names: list[str] | None = None, class_names: list[str] | None = None,
            batch: int = ADD_BATCH, progress=None) -> range:
        """Append uint8 images (N, C, H, W), committed `batch` at a time; returns their IDs."""
        if not self._locked and fcntl is not None:
            raise GanvqError(f"{self.path} is open for reading only")
        images = self.codec.check_images(images)
        n = len(images)
        if self.slot.entries + n > fmt.MAX_ENTRIES:
            raise GanvqError(f"an archive holds at most {fmt.MAX_ENTRIES:,} images")
        labels = np.full(n, -1, np.int64) if labels is None else np.asarray(labels, np.int64).reshape(-1)
        if len(labels) != n or (n and (labels.min() < -1 or labels.max() >= 1 << 15)):
            raise GanvqError(f"labels must be {n} integers in [-1, 32767]")
        names = [f"image/{self.slot.entries + i:06d}" for i in range(n)] if names is None else list(names)
        if len(names) != n:
            raise GanvqError(f"{len(names)} names for {n} images")
        first = self.slot.entries
        if first == 0 and n:
            self.projection = self._fit_projection(images[:FIT_IMAGES])
        os.ftruncate(self._fd, self.slot.end)  # what an interrupted add left after the last commit
        self.size = self.slot.end
        for i in range(0, n, batch):
            self._commit(images[i : i + batch], labels[i : i + batch], names[i : i + batch], class_names)
            if progress is not None:
                progress(min(batch, n - i))  # images just committed
        self._read_segments()
        return range(first, first + n)

    def _fit_projection(self, images: torch.Tensor) -> Projection:
        """The search embedding's projection, fitted on the first images added, with the model's own samples
        when they are fewer than FIT_MIN (see FIT_MIN)."""
        from ganvq.images import to_uint8_image

        codec = self.codec
        indices = codec.encode_images(images)
        if len(images) < FIT_MIN:
            n = FIT_MIN - len(images)
            labels = torch.arange(n) % codec.num_classes if codec.num_classes else None  # classes in turn
            drawn = codec.prior.sample(n, labels, generator=torch.Generator().manual_seed(0))
            decoded = torch.from_numpy(to_uint8_image(codec.vqvae.decode_codes(drawn))).permute(0, 3, 1, 2)
            images, indices = torch.cat([images, decoded]), torch.cat([indices, drawn])
        return Projection.fit(raw_features(self.kind, images, indices, codec.vqvae), self.dim)

    def _commit(self, images: torch.Tensor, labels: np.ndarray, names: list[str], class_names) -> None:
        codec = self.codec
        indices = codec.encode_images(images)
        payloads = codec.encode_codes(indices, each=True)
        lengths = np.array([len(p) for p in payloads], np.int64)
        if lengths.max() > fmt.MAX_ENTRY:
            raise GanvqError(f"an image codes to {lengths.max():,} bytes, more than an entry holds")
        features = raw_features(self.kind, images, indices, codec.vqvae)
        model = self.projection.to_bytes() if self.slot.entries == 0 else b""  # the first segment carries it
        data = b"".join(payloads)
        first, start = self.slot.entries, self.slot.end
        body = fmt.Body(lengths=lengths, labels=labels, checks=fmt.entry_checks(self.model_hash, first, payloads),
                        embeddings=self.projection.quantize(features),
                        meta={"names": names_mod.compact(names), "class_names": class_names},
                        embed_model=model, data_crc=fmt.crc(data))
        head_at = start + len(data)
        head = fmt.Head(first, len(images), start, len(data), self.slot.last_segment, 0)
        segment = fmt.pack_segment(head, body)
        os.pwrite(self._fd, data + segment, start)
        os.fsync(self._fd)
        slot = fmt.Slot(self.slot.generation + 1, head_at + len(segment), head_at, first + len(images))
        os.pwrite(self._fd, fmt.pack_slot(slot), self._next_slot)  # the commit: one small write
        os.fsync(self._fd)
        self._next_slot = fmt.SLOT_OFFSETS[1] if self._next_slot == fmt.SLOT_OFFSETS[0] else fmt.SLOT_OFFSETS[0]
        self.slot, self.size = slot, slot.end

    # -- reading --------------------------------------------------------------------------------------
    def _ids(self, ids) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        bad = ids[(ids < 0) | (ids >= len(self))]
        if len(bad):
            raise GanvqError(f"no entry {bad[0]} in {self.path} (IDs run from 0 to {len(self) - 1})")
        return ids

    def _unreadable(self, i: int) -> GanvqError:
        seg = self._segments[self._segment_of[i]]
        return GanvqError(f"entry {i} of {self.path} is damaged: the index segment of entries "
                          f"{seg.head.first_id}-{seg.head.first_id + seg.head.count - 1} is damaged ({seg.problem})")

    def payloads(self, ids) -> list[bytes]:
        """The stored bytes of entries, each read on its own and verified against its check byte."""
        out = []
        for i in self._ids(ids):
            if not self.readable[i]:
                raise self._unreadable(int(i))
            data = _read_at(self._fd, int(self.offsets[i]), int(self.lengths[i]))
            if fmt.entry_checks(self.model_hash, int(i), [data])[0] != self.checks[i]:
                raise GanvqError(f"entry {i} of {self.path} is damaged (its check does not match)")
            out.append(data)
        return out

    def codes(self, ids) -> torch.Tensor:
        """The code maps (n, h, w) of entries, exactly as added."""
        payloads = self.payloads(ids)
        if not payloads:
            return torch.empty(0, *self.codec.prior_shape, dtype=torch.int64)
        return self.codec.decode_codes(payloads, [1] * len(payloads))

    @torch.no_grad()
    def get(self, ids) -> torch.Tensor:
        """uint8 images (n, C, H, W) of entries, as the VQ-VAE decodes their codes.

        One image is decoded on its own (a batch of one); several through Codec.decode_images, in padded
        batches whose pixels never depend on the batch's other images. The two can differ by one level
        in rare pixels (convolution kernels round differently by batch size); codes never differ.
        """
        codes = self.codes(ids)
        if len(codes) == 1:
            codec = self.codec
            from ganvq.images import to_uint8_image

            x_hat = codec.vqvae.decode(codes.to(codec.device))
            return torch.from_numpy(to_uint8_image(x_hat)).permute(0, 3, 1, 2).contiguous()
        return self.codec.decode_images(codes)

    def gvq(self, ids) -> list[bytes]:
        """Entries as one-image .gvq files (the same bytes `ganvq compress` writes), without decoding them."""
        codec = self.codec
        return [pack_gvq(codec.header(1), [p], self.model_hash) for p in self.payloads(ids)]

    def name(self, i: int) -> str:
        seg = self._segments[self._segment_of[self._ids([i])[0]]]
        if seg.body is None:
            raise self._unreadable(i)
        return names_mod.name_at(seg.body.meta["names"], i - seg.head.first_id)

    def names(self) -> list[str | None]:
        """Every entry's name, in ID order (None for entries of a damaged index segment)."""
        out: list[str | None] = []
        for seg in self._segments:
            out.extend(names_mod.expand(seg.body.meta["names"]) if seg.body is not None else [None] * seg.head.count)
        return out

    def class_name(self, i: int) -> str | None:
        seg = self._segments[self._segment_of[i]]
        classes = seg.body.meta.get("class_names") if seg.body is not None else None
        label = int(self.labels[i])
        return str(classes[label]) if isinstance(classes, list) and 0 <= label < len(classes) else None

    # -- search -----------------------------------------------------------------------------------------
    @property
    def index(self) -> SearchIndex:
        if self._index is None:
            rows = np.flatnonzero(self.readable)
            if self.projection is None:
                raise GanvqError(f"{self.path} holds no images to search")
            self._index = SearchIndex(self.projection.dequantize(self.embeddings[rows]), rows)
        return self._index

    def embed(self, images) -> np.ndarray:
        """The stored form of images' embeddings, dequantized: float32 (n, dim)."""
        if self.projection is None:
            raise GanvqError(f"{self.path} holds no images to search")
        codec = self.codec
        images = codec.check_images(images)
        indices = codec.encode_images(images) if self.kind == "codes" else None
        features = raw_features(self.kind, images, indices, codec.vqvae)
        return self.projection.dequantize(self.projection.quantize(features))

    def search(self, query=None, k: int = 10, ids=None, method: str = "auto") -> tuple[np.ndarray, np.ndarray]:
        """(IDs (m, k), squared distances (m, k)) of the entries nearest to query images (m, C, H, W) or to
        stored entries `ids`."""
        if k < 1:
            raise GanvqError(f"k must be at least 1, got {k}")
        if (query is None) == (ids is None):
            raise GanvqError("search needs query images or entry IDs (one of the two)")
        if ids is not None:
            ids = self._ids(ids)
            if not self.readable[ids].all():
                raise self._unreadable(int(ids[~self.readable[ids]][0]))
            vectors = self.projection.dequantize(self.embeddings[ids])
        else:
            vectors = self.embed(query)
        return self.index.search(vectors, k, method)
