"""Data: read IDX / image folders / .npz / .npy into uint8 (N, C, H, W) tensors, then batch them in [-1, 1]."""

from ganvq.data.batching import BatchStream, iterate_once
from ganvq.data.datasets import (
    DATA_FILE,
    ImageDataset,
    changed_data_note,
    data_fingerprint,
    dataset_name,
    describe_enlarged,
    describe_skipped,
    describe_unreadable,
    has_named_splits,
    held_out_fraction,
    is_image_folder,
    load_dataset,
    no_held_out_note,
    resolve_dataset,
)
from ganvq.data.folder import FolderImages, read_image_file, read_image_folder
from ganvq.data.idx import read_idx
from ganvq.data.npz import read_npy, read_npz
from ganvq.data.splits import SPLITS, check_val_fraction, describe_split

__all__ = [
    "DATA_FILE",
    "SPLITS",
    "BatchStream",
    "FolderImages",
    "ImageDataset",
    "changed_data_note",
    "check_val_fraction",
    "data_fingerprint",
    "dataset_name",
    "describe_enlarged",
    "describe_split",
    "describe_skipped",
    "describe_unreadable",
    "has_named_splits",
    "held_out_fraction",
    "is_image_folder",
    "iterate_once",
    "load_dataset",
    "no_held_out_note",
    "read_idx",
    "read_image_file",
    "read_image_folder",
    "read_npy",
    "read_npz",
    "resolve_dataset",
]
