"""What every sampler shares: which labels to condition on, and exporting samples as a grid or a folder."""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from ganvq.errors import GanvqError
from ganvq.images import encode_png, save_grid
from ganvq.io import atomic_write_text, check_folder_writable, check_writable
from ganvq.progress import progress

SOURCE_FILE = "source.json"  # in an exported sample folder: the run and the data it was trained on


def condition_labels(num_classes: int | None, n: int, class_: int | str | None, what: str = "model",
                     names: tuple[str, ...] | None = None) -> torch.Tensor | None:
    """All `class_` (a number, or one of the class `names` in any letter case), else the classes in turn
    (0, 1, ..., K-1, 0, ...) so each gets an equal share; None for an unconditional model."""
    if not num_classes:
        if class_ is not None:
            raise GanvqError(f"this {what} was trained without labels, so it cannot sample a --class")
        return None
    if isinstance(class_, str):
        class_ = class_number(class_, num_classes, names, what)
    if class_ is not None:
        if not 0 <= class_ < num_classes:
            raise GanvqError(f"--class must lie in [0, {num_classes - 1}] for this {what}, got {class_}")
        return torch.full((n,), class_, dtype=torch.int64)
    return torch.arange(n) % num_classes


def class_number(text: str, num_classes: int, names: tuple[str, ...] | None, what: str) -> int:
    """The label a --class names: a whole number, else one of the class names (any letter case)."""
    key = text.strip()
    try:
        return int(key)
    except ValueError:
        pass
    by_name = {name.lower(): i for i, name in enumerate(names or ())}
    if key.lower() in by_name:
        return by_name[key.lower()]
    if not names:
        raise GanvqError(f"--class {text!r}: this {what}'s classes have no names; give a number in "
                         f"[0, {num_classes - 1}]")
    raise GanvqError(f"--class {text!r} is not a class of this {what}; give a number in [0, {num_classes - 1}] "
                     f"or a name: {', '.join(names)}")


def check_targets(out: str | Path | None, out_dir: str | Path | None) -> None:
    """Exactly one of a grid file or a new (or empty) folder, checked before any sampling work."""
    if (out is None) == (out_dir is None):
        raise GanvqError("give exactly one of --out (a grid PNG) or --out-dir (a folder of PNGs)")
    final = Path(out_dir) if out_dir is not None else None
    if final is not None and final.exists() and (not final.is_dir() or any(final.iterdir())):
        raise GanvqError(f"{final} already exists and is not an empty folder; choose another --out-dir")
    if final is not None:
        check_folder_writable(final)
    else:
        check_writable(out)


def export_samples(
    images: torch.Tensor,  # uint8 (N, C, H, W)
    labels: torch.Tensor | None,
    out: str | Path | None = None,
    out_dir: str | Path | None = None,
    grid_columns: int = 8,
    class_name: Callable[[int], str] | None = None,
    source: dict | None = None,
    quiet: bool = True,
) -> dict:
    """Write samples as one grid PNG (`out`) or a folder of N PNGs plus labels.csv (`out_dir`), and the
    `source` record (the run, its training data) as source.json beside them.

    The folder appears whole or not at all: it is filled under a temporary name, then renamed.
    """
    check_targets(out, out_dir)
    n = len(images)
    if out is not None:
        save_grid(out, images, nrow=grid_columns, upscale=2)
        return {"images": n, "out": str(out)}
    final = Path(out_dir)
    tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.partial")
    try:
        tmp.mkdir(parents=True)
        width = max(5, len(str(n - 1)))
        names = [f"{i:0{width}d}.png" for i in range(n)]
        with progress(n, "sample: writing", unit="image", quiet=quiet) as bar:
            for name, img in zip(names, images.permute(0, 2, 3, 1).numpy()):
                # Plain writes: the folder, not each file, is what appears atomically; one sync below
                # makes them durable at a fraction of the cost of an fsync per file (5x faster for 10,000).
                (tmp / name).write_bytes(encode_png(img))
                bar.update(1)
        if labels is not None:
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")  # quotes class names that hold commas
            writer.writerow(["file", "label", "class_name"])
            name_of = class_name or str
            writer.writerows([name, int(y), name_of(int(y))] for name, y in zip(names, labels))
            atomic_write_text(tmp / "labels.csv", buf.getvalue())
        if source is not None:
            atomic_write_text(tmp / SOURCE_FILE, json.dumps(source, indent=2) + "\n")
        os.sync()
        os.replace(tmp, final)  # replaces an empty folder too (POSIX rename)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise GanvqError(f"cannot write samples to {final}: {e.strerror or e}") from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"images": n, "out_dir": str(final), "labels": str(final / "labels.csv") if labels is not None else None}
