"""What both priors share: class labels, the training loss, and drawing codes from logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganvq.errors import GanvqError
from ganvq.prior.config import PriorConfig


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
