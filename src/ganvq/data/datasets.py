"""Datasets in memory: name → path resolution, and one loader for IDX, .npz and image folders."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganvq.data.arrays import convert_channels, num_classes_of, resize_center_crop, to_labels, to_uint8_nchw
from ganvq.data.folder import IMAGE_EXTENSIONS, read_image_file, read_image_folder
from ganvq.data.idx import read_idx
from ganvq.data.npz import read_npz
from ganvq.errors import GanvqError

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
KNOWN_DATASETS: dict[str, tuple[str, ...] | None] = {  # name -> class names
    "fashion-mnist": FASHION_MNIST_CLASSES,
    "mnist": tuple(str(d) for d in range(10)),
}
SYSTEM_DATA_DIR = Path("/usr/share/datasets")  # where `apt-get install dataset-<name>` puts files
SPLITS = ("train", "test")
_IDX_PREFIX = {"train": "train", "test": "t10k"}  # file name prefixes of the MNIST family
DEFAULT_FOLDER_SIZE = 32


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


def describe_skipped(dataset: ImageDataset, shown: int = 5) -> str | None:
    """One line naming the unreadable files a folder load skipped, or None when there were none."""
    if not dataset.skipped:
        return None
    names = ", ".join(f"{f} ({why})" for f, why in dataset.skipped[:shown])
    more = f", and {len(dataset.skipped) - shown} more" if len(dataset.skipped) > shown else ""
    return (f"skipped {len(dataset.skipped)} unreadable file(s) of {len(dataset) + len(dataset.skipped)} "
            f"in {dataset.source}: {names}{more}")


def has_named_splits(name_or_path: str | os.PathLike) -> bool:
    """Whether an input names a dataset with train and test splits (a known name, or a folder of IDX files);
    a folder of images, a single file or an .npz is read whole as "train"."""
    p = Path(name_or_path)
    return not p.exists() or (p.is_dir() and any(p.glob("t10k-images-idx3-ubyte*")))


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
) -> ImageDataset:
    """Load a split of a named dataset, IDX folder or file, .npz, or image folder into memory."""
    if split not in SPLITS:
        raise GanvqError(f"split must be 'train' or 'test', got {split!r}")
    if channels not in (None, 1, 3):
        raise GanvqError(f"channels must be 1, 3 or None, got {channels!r}")
    if size is not None and size < 1:
        raise GanvqError(f"image size must be positive, got {size}")
    if limit is not None and limit < 1:
        raise GanvqError(f"limit must be positive, got {limit}")
    path = resolve_dataset(name_or_path)
    name = dataset_name(name_or_path)
    class_names, skipped = None, ()

    if path.is_dir() and _is_idx_folder(path):
        images, labels = _read_idx_split(path, split)
        class_names = KNOWN_DATASETS.get(name) if labels is not None else None
    elif path.is_dir():
        folder = read_image_folder(path, size or DEFAULT_FOLDER_SIZE, channels, on_bad, limit)
        images, labels = folder.images, folder.labels
        class_names, skipped = folder.classes, tuple(folder.skipped)
    elif path.suffix.lower() == ".npz":
        images, labels = read_npz(path, split)
    elif path.suffix.lower() in IMAGE_EXTENSIONS:
        images, labels = read_image_file(path, size or DEFAULT_FOLDER_SIZE, channels), None
    else:
        if split != "train":
            raise GanvqError(f"{path}: a single IDX file has only one split; use split 'train'")
        images, labels = to_uint8_nchw(read_idx(path), str(path)), None

    y = None if labels is None else torch.from_numpy(labels)
    # Counted before `limit`, so a quick run on a subset still builds a model for every class.
    num_classes = len(class_names) if class_names else num_classes_of(y)
    if limit is not None and limit < len(images):
        # Copies, so the full array is freed rather than kept alive behind a view.
        images = images[:limit].copy()
        y = None if y is None else y[:limit].clone()
    x = torch.from_numpy(images)
    if size is not None:
        x = resize_center_crop(x, size)
    x = convert_channels(x, channels)
    return ImageDataset(x, y, name, str(path), num_classes, class_names, skipped)


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


def _is_idx_folder(folder: Path) -> bool:
    """Whether a folder holds the images of any MNIST-style split."""
    return any(_idx_file(folder, split, "images") for split in SPLITS)


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
    """A display name for a path: its name without .gz/.npz and similar suffixes."""
    name = path.name
    for suffix in (".gz", ".npz"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name
