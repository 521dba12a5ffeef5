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

import torch
import torch.nn.functional as F
from torch import nn

from ganvq.prior.base import check_sampling, class_labels, code_nll, draw
from ganvq.prior.config import PriorConfig


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * g (Zhang & Sennrich 2019)."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x)); causal attention unless
    causal=False (the bidirectional MaskGIT prior, prior/maskgit.py)."""

    def __init__(self, cfg: PriorConfig, causal: bool = True):
        super().__init__()
        self.heads, self.causal = cfg.heads, causal
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
        y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
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
