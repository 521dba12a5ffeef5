"""`ganvq db ...` over paths: create an archive, add files/folders/datasets, get, search, export, check, info."""

from __future__ import annotations

import csv
import io
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ganvq.commands.codec_files import _read_image, _write
from ganvq.commands.reconstruct import files_read
from ganvq.data import dataset_name, describe_skipped, has_named_splits, is_image_folder, load_dataset
from ganvq.data.folder import IMAGE_EXTENSIONS, list_image_files, misfits
from ganvq.db import ImageDB, check, info
from ganvq.errors import GanvqError, warn
from ganvq.images import encode_image
from ganvq.progress import Progress

EXPORT_BATCH = 1000


def create_db(path: str, ckpt: str, embedding: str = "auto", dim: int = 32) -> dict:
    """A new, empty archive for the images the prior checkpoint `ckpt` (with its VQ-VAE) codes."""
    if Path(path).suffix != ".gvqdb":
        raise GanvqError(f"{path}: an image database's name ends in .gvqdb")
    with ImageDB.create(path, ckpt, embedding=embedding, dim=dim) as db:
        return info(db)


def _check_folder(files: list[Path], shape: tuple[int, int, int]) -> None:
    """A GanvqError naming the first image of a folder whose size or colour does not fit the model."""
    c, h, w = shape
    bad = misfits(files, shape)
    if bad:
        f, what = bad[0]
        raise GanvqError(f"{f}: the image is {what}; this model codes {w}x{h} {'grayscale' if c == 1 else 'RGB'} "
                         f"images ({len(bad)} of the {len(files)} files in the folder do not fit; resize them first, or "
                         "give --resize)")


def _sources(inputs: list[str], split: str, shape: tuple[int, int, int], resize: bool, limit: int | None = None
             ) -> Iterator[tuple[torch.Tensor, np.ndarray, list[str], list[str] | None]]:
    """(uint8 images (n, C, H, W), labels (n,) with -1 for none, names, class names) per input, the first `limit`
    images in all (None: every one; no input is read past it)."""
    c, h, _ = shape
    left = limit
    for item in inputs:
        if left is not None and left <= 0:
            return
        p = Path(item)
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS:
            yield _read_image(p, shape, resize)[None], np.array([-1]), [p.name], None
            left = None if left is None else left - 1
            continue
        folder = is_image_folder(p)
        named = has_named_splits(p)
        if split != "all" and not named:
            raise GanvqError(f"{item}: --split {split} needs a dataset with named splits (train/test); this input "
                             "has none, so leave --split out")
        part = split if named else "all"
        if folder and not resize:
            _check_folder(list_image_files(p)[:left], shape)
        data = load_dataset(item, part, size=h, channels=c, limit=left)
        left = None if left is None else left - len(data)
        if describe_skipped(data):
            warn(describe_skipped(data))
        labels = np.full(len(data), -1) if data.labels is None else data.labels.numpy()
        read = files_read(item, data) if folder else None
        names = None if read is None else [f"{p.name}/{f.relative_to(p).as_posix()}" for f in read]
        if names is None:
            names = [f"{dataset_name(item)}/{part}/{i:05d}" for i in range(len(data))]
        yield data.images, labels, names, list(data.class_names) if data.class_names else None


def _stopped(done: int, total: int, first: int) -> str:
    return (f"{done:,} of the {total:,} images were committed before it stopped (IDs {first}-{first + done - 1}); "
            "the same command with --skip-existing adds only the rest")


def add_to_db(path: str, inputs: list[str], split: str = "all", limit: int | None = None, batch: int = 1000,
              resize: bool = False, ckpt: str | None = None, quiet: bool = False,
              skip_existing: bool = False) -> dict:
    """Add images (files, folders, datasets) to an archive, committing `batch` at a time; labels and source
    names are kept. Every input is read and checked before the first image is added; `skip_existing` leaves out
    images whose source name the archive holds already (to finish an add that was stopped)."""
    t0 = time.perf_counter()
    with ImageDB(path, ckpt, writable=True) as db:
        first = len(db)
        sources = list(_sources(inputs, split, db.codec.shape, resize, limit))
        skipped = 0
        held = set(db.names()) if first else set()
        if held and not skip_existing:
            again = [n for s in sources for n in s[2] if n in held]
            if again:
                warn(f"{len(again):,} of the images to add ({again[0]}{', ...' if len(again) > 1 else ''}) have a "
                     "name the archive holds already and are stored again; --skip-existing leaves them out")
        if held and skip_existing:
            for k, (images, labels, names, classes) in enumerate(sources):
                new = np.array([n not in held for n in names], bool)
                skipped += int((~new).sum())
                sources[k] = (images[torch.from_numpy(new)], labels[new], [n for n, m in zip(names, new) if m],
                              classes)
        total = sum(len(s[0]) for s in sources)
        if total == 0 and skipped:  # a finished add run again: nothing left to do
            return {"added": 0, "skipped_existing": skipped, "entries": len(db), "bytes": db.slot.end}
        if total == 0:
            raise GanvqError("no images to add")
        try:
            for images, labels, names, classes in sources:
                if not len(images):
                    continue
                bar = Progress(len(images), "db add", unit="image", quiet=quiet)
                db.add(images, labels, names, classes, batch=batch, progress=bar.update)
                bar.close()
        except KeyboardInterrupt:
            if len(db) > first:
                print(f"db add: {_stopped(len(db) - first, total, first)}", file=sys.stderr)
            raise
        except GanvqError as e:
            if len(db) > first:
                raise GanvqError(f"{e}; {_stopped(len(db) - first, total, first)}") from None
            raise
        added = len(db) - first
        seconds = time.perf_counter() - t0
        return {"added": added, **({"skipped_existing": skipped} if skip_existing else {}),
                "ids": [first, first + added - 1], "entries": len(db), "seconds": round(seconds, 3),
                "images_per_second": round(added / seconds, 1), "bytes": db.slot.end}


def get_from_db(path: str, ids: list[int], out: str, ckpt: str | None = None) -> dict:
    """Entries decoded to PNGs OUT/ID.png."""
    out_dir = Path(out)
    with ImageDB(path, ckpt) as db:
        images = db.get(ids)
        for i, img in zip(ids, images.permute(0, 2, 3, 1).numpy()):
            _write(out_dir / f"{i}.png", encode_image(img, ".png"))
        return {"written": len(ids), "out": str(out_dir)}


def search_db(path: str, query: str, k: int = 10, ckpt: str | None = None, method: str = "auto") -> dict:
    """The k entries nearest to QUERY: an entry ID or an image file."""
    with ImageDB(path, ckpt) as db:
        by_id = query.strip().isdigit()
        if not by_id:
            _ = db.codec  # loaded before the clock starts: a query image's encoding is timed, the model's loading not
        t0 = time.perf_counter()
        if by_id:
            if Path(query).is_file():
                warn(f"--query {query} is read as an entry ID; for the file of that name, give ./{query}")
            ids, dist = db.search(ids=[int(query)], k=k, method=method)
        else:
            image = _read_image(Path(query), db.shape, resize=True)
            ids, dist = db.search(image[None], k=k, method=method)
        ms = 1000 * (time.perf_counter() - t0)
        hits = [{"id": int(i), "distance": round(float(np.sqrt(d)), 4), "name": db.name(int(i)),
                 "label": int(db.labels[i]), "class": db.class_name(int(i))} for i, d in zip(ids[0], dist[0])]
        return {"query": query, "k": k, "milliseconds": round(ms, 2),
                "milliseconds_definition": "the query's encoding (for an image file) and the search, not the "
                                           "model's loading",
                "distance_definition": f"Euclidean distance between the query's and the entry's embeddings (the "
                                       f"archive's '{db.kind}' kind, {db.dim} dimensions; 0: the same embedding, "
                                       "smaller: more alike)",
                "results": hits}


def info_db(path: str) -> dict:
    with ImageDB(path) as db:
        return info(db)


def check_db(path: str) -> dict:
    """Every checksum verified; a GanvqError naming the damaged entries by ID when there are any."""
    with ImageDB(path) as db:
        report = check(db)
    if not report["ok"]:
        ids = report["damaged_ids"]
        shown = ", ".join(map(str, ids[:10])) + (", ..." if report["damaged"] > 10 else "")
        first = report["reasons"][str(ids[0])]
        raise GanvqError(f"{path}: {report['damaged']} damaged entr{'y' if report['damaged'] == 1 else 'ies'} "
                         f"(IDs {shown}; entry {ids[0]}: {first}); the others are readable")
    return report


def export_db(path: str, out: str, fmt: str = "png", ckpt: str | None = None, quiet: bool = False,
              skip_damaged: bool = False) -> dict:
    """Every entry to OUT/ID.png (decoded) or OUT/ID.gvq (the stored bytes in a .gvq file), with index.csv;
    `skip_damaged`: entries that fail their checks are left out and listed, rather than ending the export."""
    if fmt not in ("png", "gvq"):
        raise GanvqError(f"--format must be png or gvq, got {fmt!r}")
    out_dir = Path(out)
    rows = io.StringIO()
    table = csv.writer(rows)
    table.writerow(["id", "file", "name", "label", "class"])
    damaged: list[int] = []
    with ImageDB(path, ckpt) as db:

        def blobs_of(ids: list[int]) -> list[bytes]:
            return db.gvq(ids) if fmt == "gvq" else [
                encode_image(x, ".png") for x in db.get(ids).permute(0, 2, 3, 1).numpy()]

        bar = Progress(len(db), "db export", unit="image", quiet=quiet)
        for a in range(0, len(db), EXPORT_BATCH):
            ids = list(range(a, min(a + EXPORT_BATCH, len(db))))
            try:
                blobs = blobs_of(ids)
            except GanvqError as e:
                if not skip_damaged:
                    raise GanvqError(f"{e}; --skip-damaged exports the other entries") from None
                readable = []
                for i in ids:  # one at a time, to find the damaged ones
                    try:
                        readable.append((i, blobs_of([i])[0]))
                    except GanvqError:
                        damaged.append(i)
                ids, blobs = [i for i, _ in readable], [b for _, b in readable]
            for i, blob in zip(ids, blobs):
                _write(out_dir / f"{i}.{fmt}", blob)
                table.writerow([i, f"{i}.{fmt}", db.name(i), int(db.labels[i]), db.class_name(i) or ""])
            bar.update(len(ids))
        bar.close()
        _write(out_dir / "index.csv", rows.getvalue().encode())
        if damaged:
            shown = ", ".join(map(str, damaged[:10])) + (", ..." if len(damaged) > 10 else "")
            warn(f"{len(damaged)} damaged entr{'y' if len(damaged) == 1 else 'ies'} left out (IDs {shown}); "
                 f"`ganvq db check {path}` says what is wrong with each")
        return {"exported": len(db) - len(damaged), "format": fmt, "out": str(out_dir),
                **({"damaged_ids": damaged} if skip_damaged else {})}
