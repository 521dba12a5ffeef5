"""Datasets in memory: name → path resolution, and one loader for IDX, .npz, .npy and image folders."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganvq.data.arrays import convert_channels, num_classes_of, resize_center_crop, to_labels, to_uint8_nchw
from ganvq.data.folder import (
    IMAGE_EXTENSIONS,
    folder_channels,
    header_mode,
    is_colour_mode,
    list_image_files,
    read_image_file,
    read_image_folder,
)
from ganvq.data.idx import read_idx
from ganvq.data.limits import check_values
from ganvq.data.npz import npz_splits, read_npy, read_npz
from ganvq.data.splits import SPLITS, balanced_subset, resolve_val_fraction, select
from ganvq.errors import GanvqError

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
KNOWN_DATASETS: dict[str, tuple[str, ...] | None] = {  # name -> class names
    "fashion-mnist": FASHION_MNIST_CLASSES,
    "mnist": tuple(str(d) for d in range(10)),
}
SYSTEM_DATA_DIR = Path("/usr/share/datasets")  # where `apt-get install dataset-<name>` puts files
_IDX_PREFIX = {"train": "train", "test": "t10k"}  # file name prefixes of the MNIST family
DEFAULT_FOLDER_SIZE = 32
# training_images_and_channels counts a folder's readable images (headers only) up to this many files: enough to
# decide the small-data presets (at most 500 images), cheap beside training
COUNT_READABLE_UP_TO = 2000


@dataclass(frozen=True, eq=False)  # eq=False: comparing tensors elementwise has no single truth value
class ImageDataset:
    """Images held in memory as stored (uint8), with optional integer labels."""

    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor | None  # int64 (N,)
    name: str
    source: str  # the path it was read from
    num_classes: int | None
    class_names: tuple[str, ...] | None = None
    skipped: tuple[tuple[str, str], ...] = ()  # (file, reason) for unreadable files in a folder
    # (file or "", width, height) of the images read that were enlarged to the size asked for (shorter side below
    # it): an array's shape once, or a folder's small files
    small: tuple[tuple[str, int, int], ...] = ()

    def __post_init__(self) -> None:
        # ValueError, not GanvqError: a malformed dataset here is a bug in the caller, not bad input.
        x, y = self.images, self.labels
        if x.dtype != torch.uint8 or x.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {x.dtype} {tuple(x.shape)}")
        if y is not None and (y.dtype != torch.int64 or y.shape != x.shape[:1]):
            raise ValueError(f"labels must be int64 ({len(x)},), got {y.dtype} {tuple(y.shape)}")

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of one image: (C, H, W)."""
        c, h, w = self.images.shape[1:]
        return (c, h, w)

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, n: int) -> ImageDataset:
        """The first n samples (all of them if n >= len)."""
        if n < 0:
            raise GanvqError(f"subset size must be non-negative, got {n}")
        labels = None if self.labels is None else self.labels[:n]
        return dataclasses.replace(self, images=self.images[:n], labels=labels)

    def balanced(self, n: int, seed: int = 0) -> ImageDataset:
        """A reproducible subset of n images, equal per class (see ganvq.data.splits.balanced_subset), copied."""
        labels = None if self.labels is None else self.labels.numpy()
        idx = torch.from_numpy(balanced_subset(labels, n, seed, len(self), f"the training images of {self.name}"))
        return dataclasses.replace(self, images=self.images[idx].clone(),
                                   labels=None if self.labels is None else self.labels[idx].clone())


def describe_skipped(dataset: ImageDataset, shown: int = 5, role: str = "") -> str | None:
    """One line naming the unreadable files a folder load skipped, or None when there were none; `role` ("training",
    "held-out") says which of the folder's files were read, where not all of them were."""
    if not dataset.skipped:
        return None
    return describe_unreadable(dataset.skipped, len(dataset) + len(dataset.skipped), dataset.source, role, shown)


def describe_unreadable(skipped, total: int, source: str | None = None, role: str = "", shown: int = 5) -> str:
    """The one wording of unreadable files skipped: (file, why) pairs out of `total` files, in `source` where given."""
    names = ", ".join(f"{f} ({why})" for f, why in skipped[:shown])
    more = f", and {len(skipped) - shown} more" if len(skipped) > shown else ""
    of = f"the {total} {role} files" if role else f"{total}"
    where = f" in {source}" if source else ""
    return f"skipped {len(skipped)} unreadable file(s) of {of}{where}: {names}{more}"


DATA_FILE = "data.json"  # in a run folder: data_fingerprint of its training data, as it was when training began


def data_fingerprint(data: str | os.PathLike | None) -> dict | None:
    """What identifies a user's training data cheaply, to tell later whether it changed: an image folder's file count
    and a hash of its sorted file names, a file's size in bytes; None for a known dataset name (or no data)."""
    if not data:
        return None
    try:
        path = resolve_dataset(data)
    except GanvqError:
        return None
    if _canonical_name(str(data)) is not None and not Path(data).expanduser().exists():
        return None  # a known dataset by name: installed, not the user's to change
    if is_image_folder(path):
        names = [f.relative_to(path).as_posix() for f in list_image_files(path)]
        digest = hashlib.sha256("\n".join(names).encode("utf-8", "surrogateescape")).hexdigest()
        return {"image_files": len(names), "names_sha256": digest}
    if path.is_file():
        return {"bytes": path.stat().st_size}
    return None


def changed_data_note(run_folder: str | os.PathLike, data: str | os.PathLike | None,
                      resuming: bool = False) -> str | None:
    """A warning when a run's training data differs from what RUN/data.json recorded at training: the held-out
    images of data without a test split are chosen by position among the files, so added or removed files turn
    held-out images into training images and scores against them read too well. `resuming`: said to a run about to
    continue training on the data as it is now."""
    recorded = Path(run_folder) / DATA_FILE
    if not recorded.is_file() or has_named_splits(data or ""):
        return None
    try:
        then = json.loads(recorded.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    now = data_fingerprint(data)
    if not isinstance(then, dict) or now is None or then == now:
        return None
    counts = (f" ({then['image_files']:,} image files then, {now['image_files']:,} now)"
              if "image_files" in then and "image_files" in now else "")
    if resuming:
        return (f"{data} has changed since this run began training on it{counts}: it goes on with the data as it "
                "is now, so it no longer continues exactly, and as held-out images are chosen by position, some it "
                "trained on may now be held out and score too well; restore the data as it was to continue exactly")
    return (f"{data} has changed since this run trained on it{counts}: its held-out images are chosen by position, "
            "so some of those scored now may have been trained on, and the scores read too well; score against "
            "images the run never saw (--real), or restore the data as it was")


def no_held_out_note(data: str, fraction: float, error: GanvqError) -> str | None:
    """The warning for a run left with no held-out images to score itself on (they could not be read, or there are
    too few images), or None where --val-fraction 0 chose that."""
    if fraction <= 0 and not has_named_splits(data):
        return None
    return f"no held-out images to score the run on ({error}): it logs no val/ scores"


ENLARGED_WARNING = 1.5  # describe_enlarged speaks when images were enlarged more than this many times


def describe_enlarged(dataset: ImageDataset, size: int) -> str | None:
    """One line saying that images smaller than the size they are read at were enlarged more than ENLARGED_WARNING
    times (blurry training data), or None when none were."""
    small = [(f, w, h) for f, w, h in dataset.small if size > ENLARGED_WARNING * min(w, h)]
    if not small:
        return None
    f, w, h = min(small, key=lambda s: min(s[1], s[2]))
    times = f"{size / min(w, h):.1f} times"
    where = f"{dataset.source} holds images of {w}x{h}: enlarged {times}" if not f else \
        f"{len(small):,} image file(s) in {dataset.source} are smaller (e.g. {f}, {w}x{h}): enlarged up to {times}"
    return f"{where} to {size}x{size}, so they train blurry; --image-size sets the size"


def has_named_splits(name_or_path: str | os.PathLike) -> bool:
    """Whether an input has a named test split: a known dataset name, a folder of IDX files with `t10k-*`
    files, or an .npz with `x_test`-style keys. Other inputs hold out a fraction (see ganvq.data.splits)."""
    p = Path(name_or_path).expanduser()
    if not p.exists():
        return _canonical_name(str(name_or_path)) is not None
    if p.is_dir():
        return _idx_file(p, "test", "images") is not None
    return p.suffix.lower() == ".npz" and "test" in npz_splits(p)


def held_out_fraction(name_or_path: str | os.PathLike, fraction: float | None) -> float:
    """The held-out fraction in force for an input: `fraction` as given, else 0 for inputs with a named test
    split and 10% for the others (ganvq.data.splits)."""
    return resolve_val_fraction(fraction, has_named_splits(name_or_path))


def resolve_dataset(name_or_path: str | os.PathLike) -> Path:
    """Map an existing path to itself, or a known dataset name to the first folder that holds it."""
    if not str(name_or_path).strip():
        raise GanvqError("no dataset given (empty name or path)")
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    name = _canonical_name(str(name_or_path))
    if name is None:
        known = ", ".join(KNOWN_DATASETS)
        raise GanvqError(f"{name_or_path}: no such file or dataset (known datasets: {known})")
    candidates = _search_dirs(name)
    for folder in candidates:
        if _idx_file(folder, "train", "images") or _idx_file(folder, "test", "images"):
            return folder
    where = ", ".join(str(c) for c in candidates)
    install = "run `apt-get install dataset-fashion-mnist`, or " if name == "fashion-mnist" else ""
    raise GanvqError(
        f"dataset {name!r} not found (looked in {where}); {install}put its four IDX files "
        f"(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        f"t10k-labels-idx1-ubyte.gz) in $GANVQ_DATA/{name}/"
    )


def dataset_name(name_or_path: str | os.PathLike) -> str:
    """A dataset's short name: the known name ("fashion-mnist") or the file/folder stem."""
    return _canonical_name(str(name_or_path)) or _stem(resolve_dataset(name_or_path))


def load_dataset(
    name_or_path: str | os.PathLike,
    split: str = "train",
    size: int | None = None,
    channels: int | None = None,
    on_bad: str = "skip",
    limit: int | None = None,
    val_fraction: float | None = None,
    exclude: Collection[str] = (),
) -> ImageDataset:
    """Load one role ("train", "val", "test" or "all"; see ganvq.data.splits) of a named dataset, IDX folder
    or file, .npz, image folder or image file into memory. `val_fraction` is the held-out fraction (None:
    the default for the input); `limit` keeps the first N images of the role; `exclude` names files of an
    image folder (relative, with /) to leave out."""
    if split not in SPLITS:
        raise GanvqError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if channels not in (None, 1, 3):
        raise GanvqError(f"channels must be 1, 3 or None, got {channels!r}")
    if size is not None and size < 1:
        raise GanvqError(f"image size must be positive, got {size}")
    if limit is not None and limit < 1:
        raise GanvqError(f"limit must be positive, got {limit}")
    path = resolve_dataset(name_or_path)
    name = dataset_name(name_or_path)
    named = has_named_splits(path)
    fraction = held_out_fraction(path, val_fraction)
    if split == "all" and named:
        parts = [load_dataset(path, s, size, channels, on_bad, None, 0.0) for s in ("train", "test")]
        return _concat(parts, limit)
    part, role = _part_and_role(path, split, named, fraction)
    class_names, skipped, small = None, (), ()

    def keep(n: int, labels: np.ndarray | None) -> np.ndarray:
        return select(role, n, fraction, labels, str(path))

    image_folder = is_image_folder(path)  # read file by file, resized while reading
    if image_folder:
        folder = read_image_folder(path, size or DEFAULT_FOLDER_SIZE, channels, on_bad, limit, keep, exclude)
        images, labels = folder.images, folder.labels
        class_names, skipped, small = folder.classes, tuple(folder.skipped), tuple(folder.small)
    elif path.is_dir():  # a folder of IDX files
        images, labels = _read_idx_split(path, part)
        class_names = KNOWN_DATASETS.get(name) if labels is not None else None
    elif path.suffix.lower() == ".npz":
        images, labels = read_npz(path, part)
    elif path.suffix.lower() == ".npy":
        images, labels = read_npy(path), None
    elif path.suffix.lower() in IMAGE_EXTENSIONS:
        images, labels = read_image_file(path, size or DEFAULT_FOLDER_SIZE, channels), None
    else:
        images, labels = to_uint8_nchw(read_idx(path), str(path)), None

    y = None if labels is None else torch.from_numpy(labels)
    # Counted before selecting and `limit`, so a quick run on a subset still builds a model for every class.
    num_classes = len(class_names) if class_names else num_classes_of(y)
    if not image_folder:  # a folder picked its files while reading
        picked = keep(len(images), labels)
        if limit is not None:
            picked = picked[:limit]
        if len(picked) < len(images):
            # Copies, so the full array is freed rather than kept alive behind a view.
            images = images[picked]
            y = None if y is None else y[torch.from_numpy(picked)].clone()
    x = torch.from_numpy(np.ascontiguousarray(images))
    if size is not None:
        check_values((len(x), x.shape[1], size, size), f"{path} resized to {size}x{size}")
        if not image_folder and min(x.shape[2:]) < size:
            small = (("", int(x.shape[3]), int(x.shape[2])),)  # every image of an array: its shape, once
        x = resize_center_crop(x, size)
    x = convert_channels(x, channels)
    return ImageDataset(x, y, name, str(path), num_classes, class_names, skipped, small)


def training_images_and_channels(name_or_path: str | os.PathLike, limit: int | None = None,
                                 val_fraction: float | None = None) -> tuple[int, int]:
    """About how many images `load_dataset(name_or_path, "train", limit=..., val_fraction=...)` holds, and their
    channels (1 or 3) when none are forced, reading the data once: an image folder's files are counted and only
    their headers read (colour when any readable image is); up to COUNT_READABLE_UP_TO training files, those whose
    header does not open are not counted."""
    path = resolve_dataset(name_or_path)
    if is_image_folder(path):
        fraction = held_out_fraction(path, val_fraction)
        files = list_image_files(path)
        train = select("train", len(files), fraction, None, str(path))
        if len(train) <= COUNT_READABLE_UP_TO:  # where the count picks a preset: unreadable files are not images
            modes = [header_mode(file) for file in files]  # each header read once, for the count and the colour
            n = sum(modes[i] is not None for i in train)  # as read_image_folder will skip them
            channels = 3 if any(map(is_colour_mode, modes)) else 1
        else:
            n, channels = len(train), folder_channels(path, files)
    else:
        images = load_dataset(path, "train", val_fraction=val_fraction).images
        n, channels = len(images), int(images.shape[1])
    return (min(n, limit) if limit is not None else n), channels


def _part_and_role(path: Path, split: str, named: bool, fraction: float) -> tuple[str, str]:
    """Which stored part of an input to read for a split, and which of its images ("train", "held", "all")."""
    if not named:
        return "train", {"train": "train", "val": "held", "test": "held", "all": "all"}[split]
    if split == "test":
        return "test", "all"
    if split == "val":
        if path.suffix.lower() == ".npz" and "val" in npz_splits(path):
            return "val", "all"
        return ("train", "held") if fraction > 0 else ("test", "all")
    return "train", "train"


def _concat(parts: list[ImageDataset], limit: int | None) -> ImageDataset:
    """Datasets of one input joined in order (labels only when every part has them), first `limit` kept."""
    x = torch.cat([p.images for p in parts])[:limit]
    labelled = all(p.labels is not None for p in parts)
    y = torch.cat([p.labels for p in parts])[:limit] if labelled else None
    first = parts[0]
    return dataclasses.replace(first, images=x, labels=y, skipped=sum((p.skipped for p in parts), ()),
                               num_classes=first.num_classes if labelled else None)


def _read_idx_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Images and (if present) labels of one split of an MNIST-style IDX folder."""
    images_file = _idx_file(folder, split, "images")
    if images_file is None:
        expected = f"{_IDX_PREFIX[split]}-images-idx3-ubyte[.gz]"
        raise GanvqError(f"{folder}: no {split} split ({expected} not found)")
    images = to_uint8_nchw(read_idx(images_file), str(images_file))
    labels_file = _idx_file(folder, split, "labels")
    if labels_file is None:
        return images, None
    raw = read_idx(labels_file)
    if raw.ndim == 1 and len(raw) != len(images):
        raise GanvqError(
            f"{images_file} holds {len(images)} images but {labels_file} holds {len(raw)} labels"
        )
    return images, to_labels(raw, len(images), str(labels_file))


def _idx_file(folder: Path, split: str, kind: str) -> Path | None:
    """The IDX file of a split ('images' or 'labels'), uncompressed or .gz, if the folder has it."""
    base = f"{_IDX_PREFIX[split]}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
    for candidate in (folder / base, folder / f"{base}.gz"):
        if candidate.is_file():
            return candidate
    return None


def is_image_folder(path: str | Path) -> bool:
    """Whether `path` is a folder of image files (read file by file), not a folder of MNIST-style IDX files: the
    one test load_dataset and the commands that name their outputs after input files share."""
    path = Path(path)
    return path.is_dir() and not _is_idx_folder(path)


def _is_idx_folder(folder: Path) -> bool:
    """Whether a folder holds the images of any MNIST-style split."""
    return any(_idx_file(folder, split, "images") for split in _IDX_PREFIX)


def _canonical_name(text: str) -> str | None:
    """The known dataset a name refers to ('Fashion_MNIST' → 'fashion-mnist'), else None."""
    name = text.strip().lower().replace("_", "-")
    return name if name in KNOWN_DATASETS else None


def _search_dirs(name: str) -> list[Path]:
    """Folders that may hold a named dataset, in lookup order."""
    dirs = []
    if os.environ.get("GANVQ_DATA"):
        dirs.append(Path(os.environ["GANVQ_DATA"]).expanduser() / name)
    dirs.append(Path.home() / ".cache" / "ganvq" / name)
    dirs.append(SYSTEM_DATA_DIR / name)
    return dirs


def _stem(path: Path) -> str:
    """A display name for a path: its name without .gz/.npz/.npy and similar suffixes."""
    name = path.name
    for suffix in (".gz", ".npz", ".npy"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name
