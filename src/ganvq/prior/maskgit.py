"""A bidirectional masked-code prior (MaskGIT, Chang et al. 2022): fills masked code positions from all sides.

A transformer without a causal mask reads the code map with some positions replaced by a [MASK]
token and predicts the codes there. Training masks a random share of each map, cos(pi/2 u) of it
for u ~ U(0, 1) (the paper's cosine schedule), at random positions or, for half the maps, as one
random box (the shape of a hole, as ICT and PUT train their inpainting transformers). Decoding
starts from the masked map and fixes codes over `steps` rounds: each round draws every still-masked
code, keeps the most confident draws (log p plus Gumbel noise that anneals to zero) and re-masks
the rest, cos(pi/2 (s + 1) / steps) of the initial mask after round s. Visible codes are never
redrawn, so a hole's completion sees the codes on every side of it, which a raster prior
(prior/model.py, prior/local.py) cannot.

It is no autoregressive model, so it gives no likelihood of a whole map and the codec cannot code
with it (its config is always exact: false); its held-out loss is the cross-entropy over masked
positions of fixed (seed 0) masks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganvq.errors import GanvqError
from ganvq.prior.base import check_sampling, class_labels, draw
from ganvq.prior.config import PriorConfig
from ganvq.prior.model import Block, CodePrior, RMSNorm

STEPS = 8  # decoding rounds (the paper uses 8 to 12 for 16x16 maps)
CHOICE_TEMPERATURE = 4.5  # Gumbel noise on the confidences in round 0, annealed linearly to 0 (the paper's 4.5)
EVAL_SEED = 0  # held-out loss: the same masks at every evaluation


def mask_schedule(fraction: torch.Tensor) -> torch.Tensor:
    """Share of the masked positions still masked after `fraction` (0..1) of the rounds: cos(pi/2 fraction)."""
    return torch.cos(math.pi / 2 * fraction)


def training_mask(batch: int, height: int, width: int, generator: torch.Generator | None = None,
                  device=None) -> torch.Tensor:
    """Masks (B, h, w) bool for training, each with at least one masked position: a share cos(pi/2 u),
    u ~ U(0, 1), of the map masked, at random positions for even rows of the batch, as one random box
    of about that area (a hole) for odd rows."""
    t = height * width
    share = mask_schedule(torch.rand(batch, generator=generator))
    count = (share * t).ceil().clamp(1, t)  # (B,)
    noise = torch.rand(batch, t, generator=generator)
    scattered = noise.argsort(1).argsort(1) < count[:, None]  # `count` random positions of each map
    # boxes: a random aspect ratio and a random corner, area about count
    aspect = torch.exp((torch.rand(batch, generator=generator) - 0.5) * math.log(4))  # w/h in [1/2, 2]
    bh = (count / aspect).sqrt().round().clamp(1, height)
    bw = (count / bh).round().clamp(1, width)
    y0 = (torch.rand(batch, generator=generator) * (height - bh + 1)).floor()
    x0 = (torch.rand(batch, generator=generator) * (width - bw + 1)).floor()
    rows = torch.arange(height).view(1, height, 1)
    cols = torch.arange(width).view(1, 1, width)
    box = ((rows >= y0.view(-1, 1, 1)) & (rows < (y0 + bh).view(-1, 1, 1))
           & (cols >= x0.view(-1, 1, 1)) & (cols < (x0 + bw).view(-1, 1, 1)))
    odd = (torch.arange(batch) % 2 == 1).view(-1, 1, 1)
    return torch.where(odd, box, scattered.view(batch, height, width)).to(device)


class MaskGITPrior(nn.Module):
    """Bidirectional transformer over code maps: forward(indices, masked, labels) -> logits (B, T, K) of the
    code at every position given the unmasked ones."""

    def __init__(self, config: PriorConfig):
        super().__init__()
        self.config = config
        k, d = config.codebook_size, config.dim
        self.tok = nn.Embedding(k + 1, d)  # codes 0..K-1, then [MASK]
        self.pos = nn.Parameter(torch.zeros(config.seq_len, d))
        self.cls = nn.Parameter(torch.zeros(max(config.num_classes, 1), d))
        self.blocks = nn.ModuleList(Block(config, causal=False) for _ in range(config.layers))
        self.norm = RMSNorm(d)
        self.head = nn.Linear(d, k, bias=False)
        self.apply(CodePrior._init)
        nn.init.normal_(self.pos, std=0.02)
        for block in self.blocks:  # GPT-2's scaled init of the residual projections, as CodePrior
            for lin in (block.proj, block.fc2):
                nn.init.normal_(lin.weight, std=0.02 / math.sqrt(2 * config.layers))

    @property
    def mask_token(self) -> int:
        return self.config.codebook_size

    def forward(self, indices: torch.Tensor, masked: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Code maps (B, h, w) with positions `masked` (B, h, w) bool hidden -> logits (B, T, K) in raster order."""
        b = indices.shape[0]
        tokens = torch.where(masked.reshape(b, -1), self.mask_token, indices.reshape(b, -1))
        x = self.tok(tokens) + self.pos + self.cls[class_labels(self.config, b, labels, indices.device)][:, None]
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))

    def nll(self, indices: torch.Tensor, labels: torch.Tensor | None = None,
            generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean cross-entropy in nats of the masked codes under training masks (the training loss). Training
        draws the masks from torch's global RNG (saved in checkpoints); in eval mode they come from a fixed seed."""
        if generator is None and not self.training:
            generator = torch.Generator().manual_seed(EVAL_SEED)
        b, h, w = indices.shape
        masked = training_mask(b, h, w, generator, indices.device)
        logits = self(indices, masked, labels).float()
        sel = masked.reshape(b, -1)
        return F.cross_entropy(logits[sel], indices.reshape(b, -1)[sel])

    @torch.no_grad()
    def complete(self, indices: torch.Tensor, masked: torch.Tensor, labels: torch.Tensor | None = None,
                 steps: int = STEPS, temperature: float = 1.0, top_k: int | None = None,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The codes at positions `masked` (B, h, w) of code maps (B, h, w) drawn by iterative decoding, the rest
        kept: (completed maps (B, h, w) on the CPU, log p of the drawn codes when fixed (B,), a score for
        ranking completions)."""
        check_sampling(temperature, top_k)
        if steps < 1:
            raise GanvqError(f"MaskGIT decoding needs at least one round, got {steps}")
        c = self.config
        if indices.dim() != 3 or tuple(indices.shape[1:]) != (c.height, c.width) or masked.shape != indices.shape:
            raise GanvqError(f"MaskGIT completes {c.height}x{c.width} code maps with a mask of their shape; got maps "
                             f"{tuple(indices.shape)} and a mask {tuple(masked.shape)}")
        b, h, w = indices.shape
        device = self.pos.device
        was_training = self.training
        self.eval()
        out = indices.reshape(b, -1).cpu().clone()
        still = masked.reshape(b, -1).cpu().bool().clone()
        initial = still.sum(1)  # (B,)
        score = torch.zeros(b)
        for s in range(steps):
            if not still.any():
                break
            logits = self(out.view(b, h, w).to(device), still.view(b, h, w).to(device), labels).float().cpu()
            drawn = draw(logits, temperature, top_k, generator)  # (B, T)
            logp = (logits / temperature).log_softmax(-1).gather(-1, drawn[..., None])[..., 0]
            keep_masked = (mask_schedule(torch.tensor((s + 1) / steps)) * initial).floor().long()  # (B,)
            keep_masked = torch.minimum(keep_masked, still.sum(1) - 1).clamp_min(0)  # fix one at least
            u = torch.rand(b, out.shape[1], generator=generator).clamp(1e-20, 1 - 1e-7)
            noise = CHOICE_TEMPERATURE * (1 - (s + 1) / steps) * -torch.log(-torch.log(u))
            confidence = torch.where(still, logp + noise, torch.tensor(float("inf")))
            rank = confidence.argsort(1).argsort(1)  # masked positions first, least confident first
            fix = still & (rank >= keep_masked[:, None])
            out = torch.where(fix, drawn, out)
            score += (logp * fix).sum(1)
            still &= ~fix
        self.train(was_training)
        return out.view(b, h, w), score

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, temperature: float = 1.0,
               top_k: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw n code maps (n, h, w) int64 from fully masked maps by iterative decoding; see complete()."""
        c = self.config
        blank = torch.zeros(n, c.height, c.width, dtype=torch.int64)
        labels = class_labels(c, n, labels, self.pos.device)
        return self.complete(blank, torch.ones_like(blank, dtype=torch.bool), labels, temperature=temperature,
                             top_k=top_k, generator=generator)[0]
