"""Bit-exact inference of a trained prior: integer code frequencies any process reproduces exactly.

An entropy decoder must rebuild the encoder's probability tables bit for bit, or it decodes
garbage. Float inference does not promise that: a matrix product's rounding depends on how the
BLAS library blocks the sum, which changes with batch size, thread count, CPU and with full-sequence
versus KV-cache evaluation. So the codec runs the prior in fixed point (cf. Ballé et al. 2019,
"Integer networks for data compression with latent-variable models"), by three rules:

1. Every sum is a sum of integers that fits its type exactly (float32 below 2^24, float64 below
   2^53, int32 below 2^31), so it has one result whatever the summation order, BLAS or thread count.
2. Between sums, only IEEE-754 operations that are correctly rounded element by element (+, -, *,
   /, sqrt, round, floor, max) are used; their results do not depend on vectorisation either.
3. exp (attention and output softmax) is a table of integers built with Python's `decimal`.

The pieces: activations are integers at 2^-12 resolution (|a| <= 256) held in float32. A linear
layer rescales each input row to 14-bit integers (its maximum to 8191), splits them into two int8
limbs and multiplies them with int8 weights (one scale per output row), exactly: in int32 with
`torch._int_mm` where the CPU has int8 dot-product instructions (VNNI/AMX; ~15x faster than a
float64 product there), else in float32, where every product and partial sum of int8 values over a
fan-in <= 1024 is an integer below 2^24, so BLAS sums it exactly in any order (on an AVX2-only CPU
`_int_mm` was 19x slower than that float32 product). Both give the same integers. Attention scores come from queries and keys rescaled per row to
10-bit integers (float32 products, exact), weights from the exp table, and the weighted sum of
values in float64 (exact). The integer model tracks the float one to ~0.01 nat in the logits, and
the full-sequence pass (encoder) equals the KV-cache pass (decoder) exactly, whatever the batch.
The codec runs it on the CPU: GPUs may route float32 products through TF32.
"""

from __future__ import annotations

import functools
import math
from decimal import ROUND_HALF_EVEN, Context, Decimal

import numpy as np
import torch

from ganvq.device import cpu_supports
from ganvq.prior.config import MAX_CODES, MAX_FAN_IN
from ganvq.prior.model import CodePrior

ACT_BITS = 12  # activations are integers times 2^-12
ACT_CLIP = 2.0**20  # |activation| <= 2^20 units = 256.0; exact in float32
LIMB = 128  # an input row is rescaled to |x| <= 8191 = 64 * 128 - 1, then split x = hi * 128 + lo
ROW_MAX = 8191.0
WEIGHT_MAX = 127  # int8 weights, one scale per output row
LOGIT_BITS = 8  # attention scores and output logits are rounded to 1/256 nat
LOGIT_CLIP = 2.0**23  # exact in float32
EXP_BITS = 20  # exp table entries are integers times 2^-20
EXP_TABLE_SIZE = 4096  # exp(-i / 256) for i < 4096; beyond 16 nats below the maximum the weight is 0
FREQ_BITS = 24  # code frequencies are integers summing to 2^24, each at least 1


@functools.lru_cache(maxsize=1)
def _exp_ints() -> tuple[int, ...]:
    ctx = Context(prec=40)
    scale = Decimal(2**EXP_BITS)
    step = Decimal(2**LOGIT_BITS)
    return tuple(int((ctx.exp(Decimal(-i) / step) * scale).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
                 for i in range(EXP_TABLE_SIZE))


@functools.lru_cache(maxsize=4)
def exp_table(dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """round(2^20 * exp(-i / 256)) for i = 0..4095, identical on every platform (Decimal, not libm)."""
    return torch.tensor(_exp_ints(), dtype=dtype)


def _lut_weights(scores: torch.Tensor, dtype: torch.dtype, masked: bool = False) -> torch.Tensor:
    """Integer softmax numerators 2^20 exp(s - max s) for rounded scores (..., n); -inf (masked) weighs 0."""
    gap = torch.sub(scores.amax(-1, keepdim=True), scores).clamp_(max=EXP_TABLE_SIZE - 1)
    w = exp_table(dtype)[gap.long()]
    return w.masked_fill_(scores == float("-inf"), 0) if masked else w  # -inf landed on the last entry


def _rows_to_ints(x: torch.Tensor, top: float) -> tuple[torch.Tensor, torch.Tensor]:
    """x (..., n) -> (integers with each row's largest |value| at `top`, the row maxima (..., 1))."""
    m = x.abs().amax(-1, keepdim=True).clamp_(min=1.0)
    return x.mul(top / m).round_(), m  # top / m and the product: each one correctly rounded


@functools.lru_cache(maxsize=1)
def _native_int8() -> bool:
    """Whether this CPU multiplies int8 matrices in hardware (AVX-512 VNNI or AMX), where `_int_mm` is fast."""
    return cpu_supports("_is_vnni_supported", "_is_amx_tile_supported")


def int8_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A weight (out, in) as int8 (in, out) times one float64 scale per output row (out,)."""
    w = weight.detach().double().cpu()
    scale = w.abs().amax(1).clamp_min(1e-30) / WEIGHT_MAX
    return torch.round(w / scale[:, None]).to(torch.int8).T.contiguous(), scale


class _Linear:
    """y = W x + b on integer activations: 14-bit input rows as two int8 limbs times int8 weights, in int32.

    x = xh * 128 + xl (xh in [-64, 63], xl in [0, 127]) and W with one scale per output row, so
    W x = (W xh) 128 + W xl: two int8 products, exact in int32 for fan-in <= 1024.
    """

    def __init__(self, lin: torch.nn.Linear, out_bits: int = ACT_BITS, clip: float = ACT_CLIP):
        if lin.weight.shape[1] > MAX_FAN_IN:
            raise ValueError(f"exact inference supports fan-in up to {MAX_FAN_IN}, got {lin.weight.shape[1]}")
        self.w, scale = int8_rows(lin.weight)
        self.wf = self.w.float()
        # real y = acc * (m / 8191) * scale * 2^-12 + b; in output units acc * (m / 8191) * col + b * 2^out
        self.col = (scale * 2.0 ** (out_bits - ACT_BITS)).float()
        b = lin.bias.detach().double().cpu() if lin.bias is not None else torch.zeros(len(scale), dtype=torch.float64)
        self.b = (b * 2.0**out_bits).float()
        self.clip = clip

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        xq, m = _rows_to_ints(x.reshape(-1, shape[-1]), ROW_MAX)
        xh = torch.floor(xq / LIMB)
        xl = xq.sub_(xh * LIMB)  # integers in [0, 127], held in float32
        if _native_int8():
            hi, lo = xh.to(torch.int8), xl.to(torch.int8)
            acc = torch._int_mm(hi, self.w).mul_(LIMB).add_(torch._int_mm(lo, self.w)).float()
        else:  # each limb's sum is an integer below 2^24, exact; scaling by 128 is exact; the one
            # addition then rounds the exact int32 sum once, as .float() does above: the same float32
            acc = (xh @ self.wf).mul_(LIMB).add_(xl @ self.wf)
        y = acc.mul_(m / ROW_MAX).mul_(self.col).add_(self.b).round_().clamp_(-self.clip, self.clip)
        return y.view(*shape[:-1], -1)


class _RMSNorm:
    def __init__(self, norm):
        self.g = norm.weight.detach().double().cpu()
        self.eps = norm.eps

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        xd = x.double()
        sq = (xd * xd).sum(-1, keepdim=True)  # exact: |x| <= 2^20, so sum < 2^50 for d <= 1024
        r = sq.div_(x.shape[-1] * 2.0 ** (2 * ACT_BITS)).add_(self.eps).sqrt_()
        return xd.mul_(self.g).div_(r).round_().clamp_(-ACT_CLIP, ACT_CLIP).float()


class ExactPrior:
    """Integer inference of a CodePrior: `logits` for the encoder, `start`/`step_logits`/`advance` for the decoder."""

    def __init__(self, model: CodePrior):
        cfg = model.config
        self.config = cfg
        act = 2.0**ACT_BITS
        self.tok = (model.tok.weight.detach().double().cpu() * act).round_().clamp_(-ACT_CLIP, ACT_CLIP).float()
        self.pos = (model.pos.detach().double().cpu() * act).round_().clamp_(-ACT_CLIP, ACT_CLIP).float()
        self.blocks = [{"norm1": _RMSNorm(b.norm1), "qkv": _Linear(b.qkv), "proj": _Linear(b.proj),
                        "norm2": _RMSNorm(b.norm2), "fc1": _Linear(b.fc1), "fc2": _Linear(b.fc2)}
                       for b in model.blocks]
        self.norm = _RMSNorm(model.norm)
        self.head = _Linear(model.head, out_bits=LOGIT_BITS, clip=LOGIT_CLIP)
        self.heads = cfg.heads
        hd = cfg.dim // cfg.heads
        # queries and keys as integers with |.| <= qk_top: their hd-term dot products stay below 2^24
        self.qk_top = float(math.floor(math.sqrt((2**24 - 1) / hd)))
        # score in 1/256 nat = dot * (m_q / top) * (m_k / top) * 2^-24 / sqrt(hd) * 2^8
        self.score_c = 2.0**LOGIT_BITS / (2.0 ** (2 * ACT_BITS) * math.sqrt(hd) * self.qk_top**2)
        self._start_tokens = model.start_tokens
        self.waves = [torch.tensor([t]) for t in range(cfg.seq_len)]  # the decoder's steps: one position each
        self.state_bytes = 12 * cfg.layers * cfg.seq_len * cfg.dim  # KV cache per sequence: float32 keys, float64 values

    # -- shared pieces -----------------------------------------------------------------------------
    def _qkv(self, blk: dict, x: torch.Tensor):
        b, t, d = x.shape
        q, k, v = blk["qkv"](blk["norm1"](x)).split(d, dim=2)
        q, k, v = (z.reshape(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))  # (B, nh, T, hd)
        qq, mq = _rows_to_ints(q, self.qk_top)
        kq, mk = _rows_to_ints(k, self.qk_top)
        return qq, mq, kq, mk, v.double().contiguous()

    def _attend(self, qq, mq, kq, mk, v, masked: bool, mask: torch.Tensor | None = None) -> torch.Tensor:
        dots = qq @ kq.transpose(-1, -2)  # (B, nh, Tq, Tk): exact, |dot| < 2^24
        scores = dots.mul_(mq).mul_(mk.transpose(-1, -2)).mul_(self.score_c).round_().clamp_(-LOGIT_CLIP, LOGIT_CLIP)
        if mask is not None:
            scores.masked_fill_(mask, float("-inf"))
        w = _lut_weights(scores, torch.float64, masked)
        out = (w @ v).div_(w.sum(-1, keepdim=True))  # exact sums below 2^53, then one rounded division
        return out.round_().clamp_(-ACT_CLIP, ACT_CLIP).float()

    def _attend_cached(self, qq, mq, cache: dict, t: int) -> torch.Tensor:
        """_attend for one new position (B, nh, 1, hd) against the cache of positions 0..t."""
        s = slice(0, t + 1)
        dots = qq @ cache["k"][:, :, s].transpose(-1, -2)  # (B, nh, 1, t + 1): exact
        scores = dots.mul_(mq).mul_(cache["mk"][:, :, s].transpose(-1, -2)).mul_(self.score_c)
        w = _lut_weights(scores.round_().clamp_(-LOGIT_CLIP, LOGIT_CLIP), torch.float64)
        wt = w[:, :, 0].permute(2, 0, 1).unsqueeze(-1).contiguous()  # (t + 1, B, nh, 1)
        v = cache["v"]
        out = v[0] * wt[0]
        for j in range(1, t + 1):  # every product and partial sum is an integer below 2^53: exact in any order
            out.addcmul_(v[j], wt[j])
        out = out.div_(w[:, :, 0].sum(-1, keepdim=True))  # (B, nh, hd) / (B, nh, 1)
        return out.round_().clamp_(-ACT_CLIP, ACT_CLIP).float()[:, :, None]  # (B, nh, 1, hd)

    def _finish_block(self, blk: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        b, nh, t, hd = y.shape
        x = x.add(blk["proj"](y.transpose(1, 2).reshape(b, t, nh * hd))).clamp_(-ACT_CLIP, ACT_CLIP)
        h = blk["fc1"](blk["norm2"](x)).clamp_(min=0)  # ReLU
        return x.add_(blk["fc2"](h)).clamp_(-ACT_CLIP, ACT_CLIP)

    def _embed(self, tokens: torch.Tensor, positions: slice | int) -> torch.Tensor:
        return (self.tok[tokens] + self.pos[positions]).clamp_(-ACT_CLIP, ACT_CLIP)

    # -- encoder side: all positions at once -----------------------------------------------------
    @torch.no_grad()
    def logits(self, indices: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Integer logits (B, T, K) in units of 1/256 nat (float32), from one teacher-forced pass."""
        b = indices.shape[0]
        flat = indices.reshape(b, -1).cpu()
        tokens = torch.cat([self._start_tokens(b, labels, "cpu")[:, None], flat[:, :-1]], 1)
        t = tokens.shape[1]
        x = self._embed(tokens, slice(0, t))  # (B, T, d)
        mask = torch.ones(t, t, dtype=torch.bool).triu_(1)  # True: a later position
        for blk in self.blocks:
            qq, mq, kq, mk, v = self._qkv(blk, x)
            x = self._finish_block(blk, x, self._attend(qq, mq, kq, mk, v, True, mask))
        return self.head(self.norm(x))

    # -- decoder side: one position at a time -----------------------------------------------------
    def start(self, batch: int, labels: torch.Tensor | None = None) -> dict:
        """A decoding state for `batch` sequences: an empty KV cache at position 0 and the start tokens."""
        c = self.config
        hd = c.dim // c.heads
        # values position-major (T, B, nh, hd): the weighted sum below reads one contiguous slab per position
        cache = [{"k": torch.zeros(batch, c.heads, c.seq_len, hd), "mk": torch.ones(batch, c.heads, c.seq_len, 1),
                  "v": torch.zeros(c.seq_len, batch, c.heads, hd, dtype=torch.float64)} for _ in self.blocks]
        return {"cache": cache, "t": 0, "tokens": self._start_tokens(batch, labels, "cpu")}

    @torch.no_grad()
    def step_logits(self, state: dict) -> torch.Tensor:
        """Integer logits (B, 1, K) at the state's position; then pass the decoded codes to `advance`."""
        t = state["t"]
        x = self._embed(state["tokens"], t)[:, None]  # (B, 1, d)
        for blk, cache in zip(self.blocks, state["cache"]):
            qq, mq, kq, mk, v = self._qkv(blk, x)
            cache["k"][:, :, t : t + 1] = kq
            cache["mk"][:, :, t : t + 1] = mk
            cache["v"][t] = v[:, :, 0]
            x = self._finish_block(blk, x, self._attend_cached(qq, mq, cache, t))
        return self.head(self.norm(x))

    @staticmethod
    def advance(state: dict, codes: torch.Tensor) -> None:
        """Move the state to the next position, the codes (B, 1) just decoded being its input tokens."""
        state["tokens"] = codes.cpu().long().reshape(-1)
        state["t"] += 1


def frequencies(logits: torch.Tensor) -> torch.Tensor:
    """Integer logits (..., K) -> int32 frequencies (..., K), each >= 1, summing to exactly 2^24.

    f_i = 1 + floor(w_i * ((2^24 - K) / sum_j w_j)) with w = the exp table at (max - logit); the
    remainder (of either sign, a few counts) goes to the most likely code. The sum is over
    integers and every other step is correctly rounded: the same table in every process.
    """
    k = logits.shape[-1]
    if k > MAX_CODES:
        raise ValueError(f"exact frequencies support up to {MAX_CODES} codes")  # keeps the int32 sums exact
    total = 2**FREQ_BITS
    w = _lut_weights(logits, torch.int32)  # <= 2^20 each
    scale = float(total - k) / w.sum(-1, keepdim=True, dtype=torch.int64).float()  # (..., 1), one rounding
    f = torch.floor(w.float().mul_(scale)).int().add_(1)
    top = logits.argmax(-1, keepdim=True)  # the first maximum: deterministic
    return f.scatter_add_(-1, top, total - f.sum(-1, keepdim=True, dtype=torch.int32))


def frequencies_np(logits: np.ndarray) -> np.ndarray:
    """`frequencies` in numpy for the few rows of one decoding step: float32 integer logits (P, K) -> float64 (P, K).

    The same integers (held exactly in float64): the same sums, and the same correctly rounded float32
    steps in the same order (torch computes `c / s` as `reciprocal(s) * c`), checked against
    `frequencies` in the tests. On arrays this small numpy's per-call overhead is a fraction of torch's.
    """
    k = logits.shape[-1]
    if k > MAX_CODES:
        raise ValueError(f"exact frequencies support up to {MAX_CODES} codes")
    gap = np.maximum.reduce(logits, axis=-1, keepdims=True) - logits
    np.minimum(gap, _GAP_MAX, out=gap)
    w = exp_table_float32().take(gap.astype(np.intp))  # integers <= 2^20, exact in float32
    scale = np.add.reduce(w, axis=-1, keepdims=True, dtype=np.float64).astype(np.float32)
    np.divide(_ONE, scale, out=scale)
    scale *= np.float32(2**FREQ_BITS - k)
    w *= scale
    f = np.floor(w, out=w).astype(np.float64).reshape(-1)
    f += 1.0
    top = logits.argmax(-1) + np.arange(0, len(f), k)
    f[top] += 2**FREQ_BITS - np.add.reduce(f.reshape(-1, k), axis=-1)
    return f.reshape(-1, k)


_GAP_MAX, _ONE = np.float32(EXP_TABLE_SIZE - 1), np.float32(1.0)


@functools.lru_cache(maxsize=1)
def exp_table_float32() -> np.ndarray:
    return np.array(_exp_ints(), dtype=np.float32)
