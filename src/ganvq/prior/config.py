"""The prior's config, and the limits its bit-exact integer form (the codec's) sets on it."""

from __future__ import annotations

from dataclasses import dataclass

from ganvq.errors import GanvqError

MAX_CODES = 2048  # exact frequency tables keep their integer sums exact up to this many codes (prior/exact.py)
MAX_FAN_IN = 1024  # transformer: (64 * 127 * 128 + 127 * 127) * 1024 < 2^31, exact int8 products (prior/exact.py)
MAX_LOCAL_WIDTH = 512  # local prior: 255 * 127 * 512 < 2^24, exact float32 products (prior/exact_local.py)
LOCAL_DEFAULTS = {"dim": 96, "layers": 2}  # a local prior's size unless given (as benchmarked: fmnist-14x14-k64-local)


@dataclass(frozen=True)
class PriorConfig:
    codebook_size: int = 512  # K: the VQ-VAE's codes, the prior's vocabulary (set from the VQ-VAE)
    height: int = 7  # h of the code map (set from the VQ-VAE)
    width: int = 7  # w of the code map
    dim: int = 128  # transformer width d
    layers: int = 4  # transformer blocks
    heads: int = 4  # attention heads; dim must be divisible by it
    mlp_ratio: int = 4  # MLP hidden width = mlp_ratio * dim
    dropout: float = 0.1  # on attention outputs and MLP outputs while training
    num_classes: int = 0  # > 0: class-conditional (one start token per class); 0: unconditional
    arch: str = "transformer"  # "transformer" | "local": the fast neighbourhood MLP of prior/local.py
    neighbors: int = 8  # local only: causal neighbours each code is predicted from (dim: its width, layers: hidden layers)

    def __post_init__(self) -> None:
        if self.arch not in ("transformer", "local"):
            raise GanvqError(f"unknown prior arch {self.arch!r}; choose transformer or local")
        if self.codebook_size < 2 or self.height < 1 or self.width < 1 or self.layers < 1 or self.dim < 1:
            raise GanvqError("prior needs codebook_size >= 2, a non-empty code map, a width and at least one layer")
        # the codec's bit-exact integer form of the prior (prior/exact.py, prior/exact_local.py) has limits
        # that keep its sums exact; a prior beyond them would train and then fail to compress
        if self.codebook_size > MAX_CODES:
            raise GanvqError(f"a prior models at most {MAX_CODES} codes (the codec's exact frequencies need it); "
                             f"this VQ-VAE has {self.codebook_size}")
        if self.arch == "local" and self.dim > MAX_LOCAL_WIDTH:
            raise GanvqError(f"a local prior is at most {MAX_LOCAL_WIDTH} wide (its exact integer form needs it), "
                             f"got --dim {self.dim}")
        if self.arch == "transformer":
            if self.dim % self.heads:
                raise GanvqError(f"prior dim {self.dim} is not divisible by heads {self.heads}")
            if self.mlp_ratio * self.dim > MAX_FAN_IN:
                raise GanvqError(f"a transformer prior is at most {MAX_FAN_IN // self.mlp_ratio} wide with mlp_ratio "
                                 f"{self.mlp_ratio} (its exact integer form takes fan-ins up to {MAX_FAN_IN}), "
                                 f"got --dim {self.dim}")
        if not 0 <= self.dropout < 1:
            raise GanvqError(f"prior dropout must lie in [0, 1), got {self.dropout}")

    @property
    def seq_len(self) -> int:
        return self.height * self.width
