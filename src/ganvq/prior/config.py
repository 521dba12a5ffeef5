"""The prior's config, and the limits its bit-exact integer form (the codec's) sets on it."""

from __future__ import annotations

from dataclasses import dataclass

from ganvq.errors import GanvqError

MAX_CODES = 2048  # exact frequency tables keep their integer sums exact up to this many codes (prior/exact.py)
MAX_FAN_IN = 1024  # transformer: (64 * 127 * 128 + 127 * 127) * 1024 < 2^31, exact int8 products (prior/exact.py)
MAX_LOCAL_WIDTH = 512  # local prior: 255 * 127 * 512 < 2^24, exact float32 products (prior/exact_local.py)
ARCHS = ("transformer", "local", "maskgit")
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
    arch: str = "transformer"  # "transformer" | "local": the fast neighbourhood MLP of prior/local.py | "maskgit":
    # the bidirectional masked-code transformer of prior/maskgit.py (inpainting and sampling; no codec)
    neighbors: int = 8  # local only: causal neighbours each code is predicted from (dim: its width, layers: hidden layers)

    # True: within the limits of the bit-exact integer form the codec runs (checked here, before training);
    # False: a prior only for sampling, of any size, which the codec refuses
    exact: bool = True

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise GanvqError(f"unknown prior arch {self.arch!r}; choose {', '.join(ARCHS)}")
        if self.arch == "maskgit":  # not autoregressive: no likelihood to code with, only for sampling
            object.__setattr__(self, "exact", False)
        if self.codebook_size < 2 or self.height < 1 or self.width < 1 or self.layers < 1 or self.dim < 1:
            raise GanvqError("prior needs codebook_size >= 2, a non-empty code map, a width and at least one layer")
        if self.heads < 1 or self.mlp_ratio < 1:
            raise GanvqError("prior needs at least one attention head and mlp_ratio >= 1")
        if self.arch != "local" and self.dim % self.heads:
            raise GanvqError(f"prior dim {self.dim} is not divisible by heads {self.heads}")
        if not 0 <= self.dropout < 1:
            raise GanvqError(f"prior dropout must lie in [0, 1), got {self.dropout}")
        problem = exact_form_problem(self)
        if self.exact and problem:
            raise GanvqError(f"{problem}; a prior only for sampling may be larger: set model.exact: false "
                             "in a --config file (the codec will refuse it)")

    @property
    def seq_len(self) -> int:
        return self.height * self.width


def exact_form_problem(config: PriorConfig) -> str | None:
    """Why the codec's bit-exact integer form of the prior (prior/exact.py, prior/exact_local.py) cannot
    run a prior of this size, or None: beyond these limits its sums would not be exact."""
    if config.codebook_size > MAX_CODES:
        return f"the codec's prior models at most {MAX_CODES} codes; this VQ-VAE has {config.codebook_size}"
    if config.arch == "local" and config.dim > MAX_LOCAL_WIDTH:
        return f"the codec's local prior is at most {MAX_LOCAL_WIDTH} wide, got --dim {config.dim}"
    if config.arch == "transformer" and config.mlp_ratio * config.dim > MAX_FAN_IN:
        return (f"the codec's transformer prior is at most {MAX_FAN_IN // config.mlp_ratio} wide with mlp_ratio "
                f"{config.mlp_ratio} (fan-ins up to {MAX_FAN_IN}), got --dim {config.dim}")
    return None
