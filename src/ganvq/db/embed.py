"""One small embedding per image for similarity search, and its 8-bit quantization.

Two sources, neither needing a download:
- "features": the shipped Fashion-MNIST CNN's 128-d penultimate layer (metrics/features.py), the
  features the evaluation suite scores with; meant for 28x28 grayscale images like Fashion-MNIST's.
- "codes": the VQ-VAE's codebook vectors at each position of the code map, average-pooled to a 2x2
  grid: works for any data the model codes, from the codes alone.

Either is projected by PCA (fitted on the first images added) to `dim` dimensions and stored as one
byte per dimension (a uniform scalar quantizer over each dimension's range on those images), so the
index costs `dim` bytes per image: 32 by default, about half of a Fashion-MNIST image's payload.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ganvq.errors import GanvqError

KINDS = ("auto", "features", "codes")
DEFAULT_DIM = 32
POOL = 2  # the codes embedding's grid


def resolve_kind(kind: str, shape: tuple[int, int, int]) -> str:
    """"auto" -> "features" for 28x28 grayscale images (the shipped CNN's), else "codes"."""
    if kind not in KINDS:
        raise GanvqError(f"unknown embedding {kind!r}; choose from {', '.join(KINDS)}")
    if kind == "auto":
        return "features" if tuple(shape) == (1, 28, 28) else "codes"
    return kind


@torch.no_grad()
def raw_features(kind: str, images: torch.Tensor, indices: torch.Tensor, vqvae) -> np.ndarray:
    """float32 (N, F) features of uint8 images (N, C, H, W) and their code maps (N, h, w), before PCA."""
    if kind == "features":
        from ganvq.metrics.features import get_extractor

        return get_extractor("ganvq")(images)[0].numpy()
    z_q = vqvae.quantizer.indices_to_codes(indices.to(next(vqvae.parameters()).device))  # (N, D, h, w)
    return F.adaptive_avg_pool2d(z_q.float(), POOL).flatten(1).cpu().numpy()


@dataclass
class Projection:
    """PCA to `dim` dimensions, then one byte per dimension (see the module docstring)."""

    mean: np.ndarray  # float32 (F,)
    basis: np.ndarray  # float32 (F, dim)
    low: np.ndarray  # float32 (dim,): the value byte 0 stands for
    step: np.ndarray  # float32 (dim,): the value of one byte step

    @property
    def dim(self) -> int:
        return self.basis.shape[1]

    @classmethod
    def fit(cls, features: np.ndarray, dim: int) -> Projection:
        """Principal axes and per-axis ranges of `features` (N, F) (Pearson 1901)."""
        x = features.astype(np.float64)
        mean = x.mean(0)
        _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
        basis = np.zeros((x.shape[1], dim))
        k = min(dim, vt.shape[0])
        basis[:, :k] = vt[:k].T
        y = (x - mean) @ basis
        lo, hi = y.min(0), y.max(0)
        pad = 0.05 * (hi - lo) + 1e-6  # room for later images a little outside the first ones' range
        lo, hi = lo - pad, hi + pad
        return cls(mean.astype(np.float32), basis.astype(np.float32), lo.astype(np.float32),
                   ((hi - lo) / 255).astype(np.float32))

    def project(self, features: np.ndarray) -> np.ndarray:
        return (features.astype(np.float32) - self.mean) @ self.basis

    def quantize(self, features: np.ndarray) -> np.ndarray:
        """float (N, F) -> uint8 (N, dim)."""
        q = np.rint((self.project(features) - self.low) / self.step)
        return np.clip(q, 0, 255).astype(np.uint8)

    def dequantize(self, codes: np.ndarray) -> np.ndarray:
        """uint8 (N, dim) -> float32 (N, dim), the vectors search compares."""
        return codes.astype(np.float32) * self.step + self.low

    def to_bytes(self) -> bytes:
        f, d = self.basis.shape
        parts = [self.mean, self.basis, self.low, self.step]
        return struct.pack("<II", f, d) + b"".join(np.ascontiguousarray(p, "<f4").tobytes() for p in parts)

    @classmethod
    def from_bytes(cls, data: bytes, dim: int) -> Projection:
        """The projection stored in an archive; a GanvqError when its size does not fit `dim`."""
        if len(data) < 8:
            raise GanvqError("the embedding model is truncated")
        f, d = struct.unpack("<II", data[:8])
        if d != dim or f > 1 << 16 or len(data) != 8 + 4 * (f + f * d + 2 * d):
            raise GanvqError("the embedding model is damaged (its sizes do not fit)")
        v = np.frombuffer(data[8:], "<f4").astype(np.float32)
        mean, basis, low, step = np.split(v, np.cumsum([f, f * d, d]))
        if not (np.isfinite(v).all() and (step > 0).all()):
            raise GanvqError("the embedding model is damaged (non-finite or zero steps)")
        return cls(mean, basis.reshape(f, d), low, step)
