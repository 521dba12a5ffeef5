"""An image database on codes: images kept as range-coded VQ-VAE code maps in one .gvqdb archive,
each fetched on its own, searchable by similarity (see db/format.py for the file, db/archive.py for the API)."""

from ganvq.db.archive import SUFFIX, ImageDB
from ganvq.db.check import check, info
from ganvq.db.format import DbFormatError

__all__ = ["SUFFIX", "DbFormatError", "ImageDB", "check", "info"]
