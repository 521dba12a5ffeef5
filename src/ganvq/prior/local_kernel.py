"""One decoding wave of the exact local prior as one compiled function (numba), for one-image decodes.

A 14x14 map is decoded in 40 waves of at most 7 positions; in numpy each wave is ~40 calls on tiny
arrays, so per-call overhead, not arithmetic, set the time. Compiled, a wave is one
call. The integers are those of ExactLocalPrior.step_logits + exact.frequencies by the same rules:
every sum is of integers below 2^24 (exact in float32 in any order, so the matrix products may use
BLAS), every other step is one correctly rounded float32 or float64 operation in the same order, and
no fast-math (no reassociation, no fused multiply-add). The tests check it against the torch path.

numba is optional (the `db` extra installs it, with scipy for np.dot); without it `available()` is False and the caller
uses the numpy path. It is imported on first use only: importing numba takes ~0.3 s.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=1)
def _kernel():
    """The compiled kernel, or None without numba (or scipy, which numba's np.dot calls BLAS through)."""
    try:
        import numba
        import scipy.linalg.cython_blas  # noqa: F401
    except ImportError:
        return None
    return numba.njit(cache=True, fastmath=False, nogil=True)(_wave)


def available() -> bool:
    """Whether the compiled kernel can be used (numba is installed)."""
    return _kernel() is not None


def wave_probabilities(codes, index, base, tables, pos, mid_w, mid_col, mid_bias, head_w, head_col, head_bias,
                       exp_table, freq_bits: int, table_fine: float, levels: float, logit_clip: float,
                       gap_max: float) -> np.ndarray:
    """Probabilities (P, K) float64 = frequencies / 2^freq_bits of one wave's P positions (see module doc)."""
    return _kernel()(codes, index, base, tables, pos, mid_w, mid_col, mid_bias, head_w, head_col, head_bias,
                     exp_table, freq_bits, table_fine, levels, logit_clip, gap_max)


def _wave(codes, index, base, tables, pos, mid_w, mid_col, mid_bias, head_w, head_col, head_bias, exp_table,
          freq_bits, table_fine, levels, logit_clip, gap_max):
    n_pos, n_nb = index.shape
    d, k = tables.shape[1], head_w.shape[1]
    inv_fine, zero, top_level = np.float32(1.0 / table_fine), np.float32(0.0), np.float32(levels)
    h = np.empty((n_pos, d), dtype=np.float32)
    for p in range(n_pos):
        for j in range(d):
            h[p, j] = pos[p, j]
        for i in range(n_nb):
            row = codes[index[p, i]] + base[i]
            for j in range(d):
                h[p, j] += tables[row, j]  # integers below 2^24: exact in any order
        for j in range(d):
            h[p, j] = min(max(np.rint(h[p, j] * inv_fine), zero), top_level)  # round, clamp
    for layer in range(mid_w.shape[0]):
        g = np.dot(h, mid_w[layer])  # integer products and sums below 2^24: exact
        for p in range(n_pos):
            for j in range(d):
                v = g[p, j] * mid_col[layer, j]
                h[p, j] = min(max(np.rint(v + mid_bias[layer, j]), zero), top_level)
    logits = np.dot(h, head_w)
    clip = np.float32(logit_clip)
    out = np.empty((n_pos, k), dtype=np.float64)
    weights = np.empty(k, dtype=np.float32)
    total = 2.0**freq_bits
    for p in range(n_pos):
        top, best = 0, -np.inf
        for c in range(k):
            v = logits[p, c] * head_col[c]
            v = min(max(np.rint(v + head_bias[c]), -clip), clip)
            logits[p, c] = v
            if v > best:  # the first maximum, as argmax
                top, best = c, v
        s = 0.0
        for c in range(k):
            gap = min(np.float32(best - logits[p, c]), np.float32(gap_max))
            weights[c] = exp_table[int(gap)]
            s += weights[c]  # float64: integers, exact
        scale = np.float32(np.float32(1.0) / np.float32(s)) * np.float32(total - k)
        f_sum = 0.0
        for c in range(k):
            f = np.floor(np.float32(weights[c] * scale)) + 1.0
            out[p, c] = f
            f_sum += f
        out[p, top] += total - f_sum
        for c in range(k):
            out[p, c] /= total
    return out
