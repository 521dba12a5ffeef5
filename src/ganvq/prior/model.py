"""An autoregressive prior over VQ-VAE code maps: a small causal transformer in raster order.

p(indices) = prod_t p(i_t | i_<t, y): the code map (B, h, w) is read row by row as a sequence
of T = h * w tokens, preceded by a start token (one per class when class-conditional), as in the
PixelCNN prior of van den Oord et al. 2017 (sec. 4.1) with the transformer of Esser et al. 2021
(taming-transformers) in place of the PixelCNN. Pre-norm blocks (RMSNorm, Zhang & Sennrich 2019),
ReLU MLPs: every operation has an exact integer counterpart (see prior/exact.py), so the codec can
compute bit-identical probabilities in any process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganvq.errors import GanvqError


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
        if self.arch == "local" and self.dim > 512:  # 255 * 127 * 512 < 2^24: see prior/exact_local.py
            raise GanvqError(f"a local prior is at most 512 wide (its exact integer form needs it), got {self.dim}")
        if self.arch == "transformer" and self.dim % self.heads:
            raise GanvqError(f"prior dim {self.dim} is not divisible by heads {self.heads}")
        if self.codebook_size < 2 or self.height < 1 or self.width < 1 or self.layers < 1:
            raise GanvqError("prior needs codebook_size >= 2, a non-empty code map and at least one layer")
        if not 0 <= self.dropout < 1:
            raise GanvqError(f"prior dropout must lie in [0, 1), got {self.dropout}")

    @property
    def seq_len(self) -> int:
        return self.height * self.width


def class_labels(config: PriorConfig, batch: int, labels: torch.Tensor | None, device) -> torch.Tensor:
    """Each code map's class (B,) int64 (all 0 for an unconditional prior), or a GanvqError when labels are missing or out of range."""
    c = config.num_classes
    if c == 0:
        return torch.zeros(batch, dtype=torch.int64, device=device)
    if labels is None:
        raise GanvqError(f"this prior is class-conditional ({c} classes): give a label per code map")
    labels = labels.to(device=device, dtype=torch.int64).reshape(-1)
    if labels.shape[0] != batch or (labels.numel() and (labels.min() < 0 or labels.max() >= c)):
        raise GanvqError(f"labels must be {batch} values in [0, {c - 1}]")
    return labels


def code_nll(logits: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood per code in nats of code maps (B, h, w) under logits (B, T, K): the training loss."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), indices.reshape(-1))


def check_sampling(temperature: float, top_k: int | None) -> None:
    """A GanvqError unless the temperature is positive and top-k (when given) at least 1."""
    if temperature <= 0:
        raise GanvqError(f"--temperature must be positive, got {temperature}")
    if top_k is not None and not 1 <= top_k:
        raise GanvqError(f"--top-k must be at least 1, got {top_k}")


def draw(logits: torch.Tensor, temperature: float, top_k: int | None, generator: torch.Generator | None) -> torch.Tensor:
    """One code per row of logits (..., K) on the CPU: softmax(logits / temperature), cut to the top k
    codes (Fan et al. 2018) when given, sampled with `generator`."""
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    flat = logits.reshape(-1, logits.shape[-1]).softmax(-1)
    return torch.multinomial(flat, 1, generator=generator).view(logits.shape[:-1])


def build_prior(config: PriorConfig) -> nn.Module:
    """The prior a config describes: CodePrior (transformer) or LocalPrior."""
    if config.arch == "local":
        from ganvq.prior.local import LocalPrior

        return LocalPrior(config)
    return CodePrior(config)


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * g (Zhang & Sennrich 2019)."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, cfg: PriorConfig):
        super().__init__()
        self.heads = cfg.heads
        self.norm1 = RMSNorm(cfg.dim)
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim)
        self.proj = nn.Linear(cfg.dim, cfg.dim)
        self.norm2 = RMSNorm(cfg.dim)
        self.fc1 = nn.Linear(cfg.dim, cfg.mlp_ratio * cfg.dim)
        self.fc2 = nn.Linear(cfg.mlp_ratio * cfg.dim, cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(d, dim=2)
        # (B, T, d) -> (B, nh, T, hd)
        return tuple(z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))

    def _merge(self, y: torch.Tensor) -> torch.Tensor:
        b, nh, t, hd = y.shape
        return y.transpose(1, 2).reshape(b, t, nh * hd)  # (B, T, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self._split(x)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.drop(self.proj(self._merge(y)))
        return x + self.drop(self.fc2(F.relu(self.fc1(self.norm2(x)))))

    def step(self, x: torch.Tensor, cache: dict, t: int) -> torch.Tensor:
        """One position x (B, 1, d) at index t, keys/values of positions < t in `cache` (a KV cache)."""
        q, k, v = self._split(x)
        cache["k"][:, :, t : t + 1] = k
        cache["v"][:, :, t : t + 1] = v
        y = F.scaled_dot_product_attention(q, cache["k"][:, :, : t + 1], cache["v"][:, :, : t + 1])
        x = x + self.proj(self._merge(y))
        return x + self.fc2(F.relu(self.fc1(self.norm2(x))))


class CodePrior(nn.Module):
    """Causal transformer over raster-ordered code maps: forward(indices, labels) -> next-code logits."""

    def __init__(self, config: PriorConfig):
        super().__init__()
        self.config = config
        k, d = config.codebook_size, config.dim
        # Tokens 0..K-1 are codes; K + c is the start token of class c (K alone when unconditional).
        self.tok = nn.Embedding(k + max(config.num_classes, 1), d)
        self.pos = nn.Parameter(torch.zeros(config.seq_len, d))
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.norm = RMSNorm(d)
        self.head = nn.Linear(d, k, bias=False)
        self.apply(self._init)
        nn.init.normal_(self.pos, std=0.02)
        for block in self.blocks:  # GPT-2's scaled init of the residual projections
            for lin in (block.proj, block.fc2):
                nn.init.normal_(lin.weight, std=0.02 / math.sqrt(2 * config.layers))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def start_tokens(self, batch: int, labels: torch.Tensor | None, device) -> torch.Tensor:
        """The start token of each sequence (B,): K + label, or K for an unconditional prior."""
        return self.config.codebook_size + class_labels(self.config, batch, labels, device)

    def inputs(self, indices: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Input tokens (B, T): the start token, then the codes shifted right by one."""
        b = indices.shape[0]
        flat = indices.reshape(b, -1)  # (B, T) raster order
        return torch.cat([self.start_tokens(b, labels, indices.device)[:, None], flat[:, :-1]], 1)

    def forward(self, indices: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Code maps (B, h, w) -> logits (B, T, K) of p(i_t | i_<t, y) at every position t."""
        x = self.tok(self.inputs(indices, labels)) + self.pos  # (B, T, d)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))

    def nll(self, indices: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Mean negative log-likelihood per code in nats (the training loss)."""
        return code_nll(self(indices, labels), indices)

    def new_cache(self, batch: int, device, dtype) -> list[dict]:
        """An empty KV cache for `batch` sequences: per block, keys and values (B, nh, T, hd)."""
        c = self.config
        shape = (batch, c.heads, c.seq_len, c.dim // c.heads)
        return [{"k": torch.zeros(shape, device=device, dtype=dtype),
                 "v": torch.zeros(shape, device=device, dtype=dtype)} for _ in self.blocks]

    def step(self, tokens: torch.Tensor, cache: list[dict], t: int) -> torch.Tensor:
        """Logits (B, K) of position t given its input token (B,) and the cache of positions < t."""
        x = self.tok(tokens)[:, None] + self.pos[t]  # (B, 1, d)
        for block, c in zip(self.blocks, cache):
            x = block.step(x, c, t)
        return self.head(self.norm(x))[:, 0]

    @torch.no_grad()
    def sample(
        self,
        n: int,
        labels: torch.Tensor | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Draw n code maps (n, h, w) int64 one code at a time with a KV cache (ancestral sampling).

        Logits are divided by `temperature` and, with `top_k`, cut to the k most likely codes
        (Fan et al. 2018) before sampling; the draws use `generator` on the CPU, so a seed
        gives the same maps on any device.
        """
        check_sampling(temperature, top_k)
        c = self.config
        device = self.pos.device
        was_training = self.training
        self.eval()
        cache = self.new_cache(n, device, self.pos.dtype)
        tokens = self.start_tokens(n, labels, device)
        out = torch.empty(n, c.seq_len, dtype=torch.int64)
        for t in range(c.seq_len):
            out[:, t] = draw(self.step(tokens, cache, t).float().cpu(), temperature, top_k, generator)
            tokens = out[:, t].to(device)
        self.train(was_training)
        return out.view(n, c.height, c.width)
