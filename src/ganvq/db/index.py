"""Nearest neighbours over the archive's embeddings: exact below EXACT_LIMIT, faiss HNSW above it.

Exact search is a matrix product over the dequantized 8-bit vectors: 70,000 x 32 takes a few ms,
so it is the default up to EXACT_LIMIT entries. Past that, an HNSW graph (Malkov & Yashunin 2018)
from faiss (`pip install 'ganvq[db]'`) is built in memory on first use over the same vectors; its
recall against exact search is measured by benchmarks/bench_db.py.
"""

from __future__ import annotations

import numpy as np

from ganvq.errors import GanvqError

EXACT_LIMIT = 250_000
METHODS = ("auto", "exact", "hnsw")
HNSW_M = 32  # links per node
HNSW_EF_SEARCH = 128  # candidates kept while searching: recall against speed
HNSW_EF_CONSTRUCTION = 80


class SearchIndex:
    """k nearest stored vectors (squared L2) to query vectors; `ids` maps rows to entry IDs."""

    def __init__(self, vectors: np.ndarray, ids: np.ndarray):
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)  # (N, d)
        self.ids = ids  # int64 (N,)
        self.norms = (self.vectors**2).sum(1)
        self._hnsw = None

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, queries: np.ndarray, k: int, method: str = "auto") -> tuple[np.ndarray, np.ndarray]:
        """(entry IDs (m, k'), squared distances (m, k')), nearest first; k' = min(k, entries)."""
        if method not in METHODS:
            raise GanvqError(f"unknown search method {method!r}; choose from {', '.join(METHODS)}")
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.vectors.shape[1])
        k = min(k, len(self))
        if k == 0:
            return np.zeros((len(queries), 0), np.int64), np.zeros((len(queries), 0), np.float32)
        if method == "hnsw" or (method == "auto" and len(self) > EXACT_LIMIT):
            rows, dist = self._search_hnsw(queries, k)
        else:
            rows, dist = self._search_exact(queries, k)
        return self.ids[rows], dist

    def _search_exact(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        d2 = self.norms[None] - 2 * queries @ self.vectors.T + (queries**2).sum(1, keepdims=True)  # (m, N)
        rows = np.argpartition(d2, k - 1, axis=1)[:, :k] if k < len(self) else np.tile(np.arange(len(self)),
                                                                                         (len(queries), 1))
        part = np.take_along_axis(d2, rows, 1)
        order = np.lexsort((rows, part), axis=1)  # by distance, then by row: ties resolve the same way every time
        return np.take_along_axis(rows, order, 1), np.maximum(np.take_along_axis(part, order, 1), 0)

    def _search_hnsw(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._hnsw is None:
            try:
                import faiss
            except ImportError:
                raise GanvqError("searching more than "
                                 f"{EXACT_LIMIT:,} entries needs faiss: pip install 'ganvq[db]'") from None
            index = faiss.IndexHNSWFlat(self.vectors.shape[1], HNSW_M)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.add(self.vectors)
            index.hnsw.efSearch = max(HNSW_EF_SEARCH, k)
            self._hnsw = index
        dist, rows = self._hnsw.search(queries, k)
        return rows.astype(np.int64), dist
