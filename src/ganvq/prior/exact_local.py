"""Bit-exact inference of a LocalPrior: 8-bit activations, integer tables, exact float32 products.

The same three rules as prior/exact.py (integer sums that fit their type, correctly rounded
element-wise steps between them, the exp table for the softmax), with a cheaper number format:
every hidden activation is an integer in [0, 255] on a fixed per-layer scale (the model's
`act_max`, learned in training), so a layer is one float32 product of those integers with int8
weights (each product and partial sum an integer below 255 * 127 * 512 < 2^24: exact in any order)
followed by one multiply, one add and one round per output. The first layer's tables hold integers
at 1/16 of an activation step; their sum is exact too. One product per layer, where the
transformer's 14-bit activations need two (one per int8 limb).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ganvq.prior import local_kernel
from ganvq.prior.base import class_labels
from ganvq.prior.config import MAX_LOCAL_WIDTH
from ganvq.prior.exact import (
    EXP_TABLE_SIZE,
    FREQ_BITS,
    LOGIT_BITS,
    LOGIT_CLIP,
    exp_table_float32,
    frequencies_np,
    int8_rows,
)
from ganvq.prior.local import LocalPrior, table_rows

LEVELS = 255.0  # hidden activations are integers 0..255 times act_max / 255
TABLE_FINE = 16.0  # first-layer tables hold integers at 1/16 of an activation step
TABLE_CLIP = 2.0**19  # |table entry|: 12 neighbours + position + class stay below 2^24


class ExactLocalPrior:
    """Integer inference of a LocalPrior: `logits` for the encoder, `start`/`step_logits`/`advance` for the decoder."""

    def __init__(self, model: LocalPrior):
        cfg = model.config
        if cfg.dim > MAX_LOCAL_WIDTH:  # 255 * 127 * 512 < 2^24: hidden products are exact float32 sums
            raise ValueError(f"exact inference of a local prior supports width up to {MAX_LOCAL_WIDTH}, got {cfg.dim}")
        self.config = cfg
        a = model.act_max.detach().double().cpu().clamp_min(1e-6)  # (layers,)

        def table(t: torch.Tensor) -> torch.Tensor:
            return (t.detach().double().cpu() * (LEVELS * TABLE_FINE / a[0])).round_().clamp_(-TABLE_CLIP, TABLE_CLIP).float()

        self.tables, self.pos, self.cls = table(model.tables), table(model.pos), table(model.cls)
        self.layers = []  # (int8 weights as float32 (in, out), column scale, bias) in output units
        for i, lin in enumerate(model.mid):
            w, scale = int8_rows(lin.weight)
            self.layers.append((w.float(), (scale * a[i] / a[i + 1]).float(),
                                (lin.bias.detach().double().cpu() * LEVELS / a[i + 1]).float()))
        w, scale = int8_rows(model.head.weight)
        unit = 2.0**LOGIT_BITS
        self.head = (w.float(), (scale * a[-1] / LEVELS * unit).float(), (model.head.bias.detach().double().cpu() * unit).float())
        self.index = model._index
        self.waves = model._waves  # the decoder's steps: raster positions of each wave
        self._np = None  # numpy copies for decode_one, made on first use
        # decoder memory per code map: the map so far, and one wave's activations, logits and probabilities
        self.state_bytes = 8 * cfg.seq_len + 32 * max(len(w) for w in self.waves) * (cfg.dim + cfg.codebook_size)

    def _logits(self, codes: torch.Tensor, labels: torch.Tensor, positions: torch.Tensor | None) -> torch.Tensor:
        """Integer logits (B, T', K) in 1/256 nat (float32) at raster `positions` of flat code maps (B, T)."""
        b = codes.shape[0]
        index = self.index if positions is None else self.index[positions]
        rows = table_rows(codes, index, self.config.codebook_size)  # (B, T', n)
        t = rows.shape[1]
        s = F.embedding_bag(rows.reshape(b * t, -1), self.tables, mode="sum").view(b, t, -1)  # exact integer sums
        s = s.add_(self.pos if positions is None else self.pos[positions]).add_(self.cls[labels][:, None])
        h = s.mul_(1.0 / TABLE_FINE).round_().clamp_(0, LEVELS)  # ReLU and the 8-bit range
        for w, col, bias in self.layers:
            h = (h @ w).mul_(col).add_(bias).round_().clamp_(0, LEVELS)
        w, col, bias = self.head
        return (h @ w).mul_(col).add_(bias).round_().clamp_(-LOGIT_CLIP, LOGIT_CLIP)

    @torch.no_grad()
    def logits(self, indices: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Integer logits (B, T, K) in units of 1/256 nat (float32) at every position."""
        b = indices.shape[0]
        return self._logits(indices.reshape(b, -1).cpu(), class_labels(self.config, b, labels, "cpu"), None)

    def start(self, batch: int, labels: torch.Tensor | None = None) -> dict:
        """A decoding state for `batch` code maps: nothing decoded, at the first wave."""
        return {"codes": torch.zeros(batch, self.config.seq_len, dtype=torch.int64), "wave": 0,
                "labels": class_labels(self.config, batch, labels, "cpu")}

    @torch.no_grad()
    def step_logits(self, state: dict) -> torch.Tensor:
        """Integer logits (B, P, K) of the P positions of the state's wave; then pass their codes to `advance`."""
        return self._logits(state["codes"], state["labels"], self.waves[state["wave"]])

    def advance(self, state: dict, codes: torch.Tensor) -> None:
        """Record the codes (B, P) just decoded on the current wave and move to the next."""
        state["codes"][:, self.waves[state["wave"]]] = codes.cpu().long()
        state["wave"] += 1

    def _numpy(self, label: int) -> dict:
        """numpy copies of the weights, and per wave its neighbour rows and position (+ class) row, for decode_one."""
        if self._np is None:
            k, n = self.config.codebook_size, self.index.shape[1]
            base = np.arange(n) * (k + 1)
            waves = [w.numpy() for w in self.waves]
            d = self.config.dim
            # the mid layers' weights (L, d, d), column scales (L, d) and biases (L, d) stacked, for the kernel
            stack = ([np.stack([layer[i].numpy() for layer in self.layers]) for i in range(3)] if self.layers else
                     [np.zeros((0, d, d), np.float32), np.zeros((0, d), np.float32), np.zeros((0, d), np.float32)])
            self._np = {"tables": self.tables.numpy(), "head": tuple(t.numpy() for t in self.head), "waves": waves,
                        "stack": stack,
                        "index": [self.index.numpy()[w] for w in waves], "base": base}
        a = self._np
        if ("pos", label) not in a:  # integer sums below 2^24: exact in any order
            a["pos", label] = [self.pos.numpy()[w] + self.cls.numpy()[label] for w in a["waves"]]
        return a

    def decode_one(self, decode: Callable[[np.ndarray], np.ndarray], label: int = 0) -> np.ndarray:
        """One code map (T,) int64, wave by wave: decode(probabilities (P, K)) -> the wave's P codes.

        The same integers as `step_logits` + `frequencies` (every sum exact, the same correctly rounded
        float32 steps), one compiled call per wave where numba is installed (prior/local_kernel.py), else
        in numpy: a wave is a few rows, where torch's per-call overhead, not arithmetic, sets the time."""
        a = self._numpy(label)
        codes = np.full(self.config.seq_len + 1, self.config.codebook_size, dtype=np.int64)  # last: "outside"
        steps = zip(a["waves"], a["index"], a["pos", label])
        if local_kernel.available():
            args = (a["base"], a["tables"])
            rest = (*a["stack"], *a["head"], exp_table_float32(), FREQ_BITS, TABLE_FINE, LEVELS, LOGIT_CLIP, EXP_TABLE_SIZE - 1)
            for wave, index, pos in steps:
                codes[wave] = decode(local_kernel.wave_probabilities(codes, index, *args, pos, *rest))
            return codes[:-1]
        tables, base, layers = a["tables"], a["base"], list(zip(*a["stack"]))  # (weights, scales, biases) per layer
        w_head, col_head, bias_head = a["head"]
        for wave, index, pos in steps:
            s = tables[codes[index] + base].sum(1)  # (P, d): exact integer sums
            s += pos
            s *= np.float32(1.0 / TABLE_FINE)
            h = _round_clamp(s, 0, LEVELS)
            for w, col, bias in layers:
                h = h @ w
                h *= col
                h += bias
                h = _round_clamp(h, 0, LEVELS)
            logits = h @ w_head
            logits *= col_head
            logits += bias_head
            probs = frequencies_np(_round_clamp(logits, -LOGIT_CLIP, LOGIT_CLIP))
            probs *= 1.0 / 2**FREQ_BITS
            codes[wave] = decode(probs)
        return codes[:-1]


def _round_clamp(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """round half to even, then clamp to [low, high], in place."""
    np.rint(x, out=x)
    np.maximum(x, np.float32(low), out=x)
    return np.minimum(x, np.float32(high), out=x)
