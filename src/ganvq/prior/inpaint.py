"""Inpainting in code space: the codes under a hole redrawn from a raster prior, the visible codes kept.

A raster prior gives p(i_t | i_<t), so a completion is drawn code by code in the prior's order
(raster for the transformer, anti-diagonal waves for the local prior), each hole position sampled
and each visible position teacher-forced, as in the image completion of PixelCNN (van den Oord et
al. 2016) and of VQGAN's transformer (Esser et al. 2021, sec. 4.2). Drawn that way a completion
never sees the visible codes after the hole; so `candidates` completions are drawn for each sample
and the one with the highest likelihood of the whole map, the codes after the hole included, is
kept (a best-of-n reranking, as in Razavi et al. 2019's classifier-based rejection, here by the
prior itself). A bidirectional MaskGIT prior (prior/maskgit.py) sees the codes on every side of the
hole as it draws; its candidates are ranked by the log-probability of their draws.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganvq.errors import GanvqError
from ganvq.prior.base import check_sampling, draw
from ganvq.prior.local import LocalPrior, table_rows
from ganvq.prior.maskgit import MaskGITPrior

CHUNK = 256  # code maps completed at a time: bounds memory (a transformer's KV cache)
SELECT = ("full", "after")  # rank candidates by the whole map's likelihood, or by the codes after the hole alone


def code_hole(hole: torch.Tensor, factor: int, margin: int = 1) -> torch.Tensor:
    """Code positions (N, h, w) bool to redraw: those whose factor x factor patch holds a hole pixel of
    `hole` (N, 1, H, W), grown by `margin` codes, since the encoder sees a few pixels beyond its patch."""
    m = F.max_pool2d(hole.float(), factor)  # any hidden pixel in the code's patch
    if margin > 0:
        m = F.max_pool2d(m, 2 * margin + 1, stride=1, padding=margin)
    return m[:, 0] > 0


@torch.no_grad()
def _complete(prior, indices: torch.Tensor, where: torch.Tensor, generator: torch.Generator | None,
              temperature: float, top_k: int | None, sweeps: int = 0) -> torch.Tensor:
    """One completion per code map (B, h, w): positions in `where` drawn in the prior's order, the rest kept,
    then `sweeps` Gibbs sweeps over them (local prior)."""
    b = indices.shape[0]
    device = next(prior.parameters()).device
    out = indices.reshape(b, -1).clone()  # (B, T) raster order, on the CPU
    redraw = where.reshape(b, -1).cpu()
    if isinstance(prior, LocalPrior):
        shape = indices.shape
        for wave in prior._waves:
            if not redraw[:, wave].any():
                continue
            logits = prior.logits_at(out.view(shape).to(device), None, wave.to(device))  # (B, len(wave), K)
            drawn = draw(logits.float().cpu(), temperature, top_k, generator)
            out[:, wave] = torch.where(redraw[:, wave], drawn, out[:, wave])
        dep = dependents(prior)
        for _ in range(sweeps):
            _gibbs_sweep(prior, out, redraw, dep, generator, temperature)
        return out.view(shape)
    if sweeps:
        raise GanvqError("Gibbs sweeps need a local prior (train prior --arch local)")
    cache = prior.new_cache(b, device, prior.pos.dtype)
    tokens = prior.start_tokens(b, None, device)
    last = int(redraw.any(0).nonzero().max()) if redraw.any() else -1
    for t in range(last + 1):  # past the last hole position every code is known
        logits = prior.step(tokens, cache, t)
        if redraw[:, t].any():
            drawn = draw(logits.float().cpu(), temperature, top_k, generator)
            out[:, t] = torch.where(redraw[:, t], drawn, out[:, t])
        tokens = out[:, t].to(device)
    return out.view(indices.shape)


def dependents(prior: LocalPrior) -> torch.Tensor:
    """(T, n) raster index of the position that has position t as its neighbour j, or -1: the codes whose
    probabilities a change at t alters."""
    index, t = prior._index, prior.config.seq_len
    dep = torch.full((t, index.shape[1]), -1, dtype=torch.int64)
    s, j = (index < t).nonzero(as_tuple=True)
    dep[index[s, j], j] = s
    return dep


@torch.no_grad()
def full_conditional(prior: LocalPrior, codes: torch.Tensor, pos: torch.Tensor, dep: torch.Tensor) -> torch.Tensor:
    """log p(i_t = v | all other codes) + const (B, len(pos), K) at positions `pos` of one wave of flat code maps
    (B, T): log p(i_t | its neighbours) plus the log-probabilities of the codes that have t as a neighbour."""
    k, device = prior.config.codebook_size, prior.pos.device
    cur = codes.to(device)
    total = prior.logits_at(cur.view(len(cur), prior.config.height, -1), None, pos.to(device)).float().log_softmax(-1)
    t_q, j_q = (dep[pos] >= 0).nonzero(as_tuple=True)  # pairs (position in pos, offset) that have a dependent
    if len(t_q) == 0:
        return total
    s_q, t_q, j_q = dep[pos][t_q, j_q].to(device), t_q.to(device), j_q.to(device)
    rows = table_rows(cur, prior._index.to(device)[s_q], k)  # (B, Q, n)
    b, q, n = rows.shape
    h = F.embedding_bag(rows.reshape(b * q, n), prior.tables, mode="sum").view(b, q, 1, -1)
    cur_row = prior.tables[rows.gather(2, j_q.view(1, q, 1).expand(b, q, 1))[..., 0]]  # (B, Q, d): t's row now
    alt = prior.tables[(j_q * (k + 1))[:, None] + torch.arange(k, device=device)]  # (Q, K, d): t's row as v
    h = h - cur_row[:, :, None] + alt[None] + prior.pos[s_q][None, :, None] + prior.cls[0]  # (B, Q, K, d)
    h = F.relu(h)
    for lin in prior.mid:
        h = F.relu(lin(h))
    lp = prior.head(h).float().log_softmax(-1)  # (B, Q, K values of t, K codes of s)
    lp = lp.gather(3, cur[:, s_q].view(b, q, 1, 1).expand(b, q, k, 1))[..., 0]  # (B, Q, K)
    return total.index_add(1, t_q, lp)


def _gibbs_sweep(prior: LocalPrior, codes: torch.Tensor, redraw: torch.Tensor, dep: torch.Tensor,
                 generator: torch.Generator | None, temperature: float) -> None:
    """One Gibbs sweep (Geman & Geman 1984) over the positions in `redraw` of flat code maps (B, T), in place,
    wave by wave: the codes of one wave are never each other's neighbours."""
    for wave in prior._waves:
        pos = wave[redraw[:, wave].any(0)]
        if len(pos):
            drawn = draw(full_conditional(prior, codes, pos, dep).cpu(), temperature, None, generator)
            codes[:, pos] = torch.where(redraw[:, pos], drawn, codes[:, pos])


@torch.no_grad()
def log_likelihood(prior, indices: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
    """log p of each code map (B, h, w) under the prior in nats (B,); with `positions` (B, h, w) bool, the sum
    over those positions only."""
    device = next(prior.parameters()).device
    idx = indices.to(device)
    logits = prior(idx).float()  # (B, T, K)
    lp = logits.log_softmax(-1).gather(-1, idx.reshape(len(idx), -1, 1))[..., 0]  # (B, T)
    if positions is not None:
        lp = lp * positions.reshape(len(idx), -1).to(device)
    return lp.sum(1).cpu()


def inpaint_codes(prior, indices: torch.Tensor, where: torch.Tensor, samples: int = 1, candidates: int = 4,
                  select: str = "full", generator: torch.Generator | None = None, temperature: float = 1.0,
                  top_k: int | None = None, sweeps: int = 0) -> torch.Tensor:
    """`samples` completions (N, samples, h, w) of code maps (N, h, w): the codes where `where` is True redrawn
    from the prior, each the most likely (see SELECT; a MaskGIT prior: by its draws' log-probability) of
    `candidates` draws, each draw refined by `sweeps` Gibbs sweeps (local prior only), which condition every
    hole code on the codes on all sides."""
    check_sampling(temperature, top_k)
    if samples < 1 or candidates < 1:
        raise GanvqError(f"need at least one sample and one candidate, got {samples} and {candidates}")
    if select not in SELECT:
        raise GanvqError(f"unknown candidate ranking {select!r}; choose from {', '.join(SELECT)}")
    if prior.config.num_classes:
        raise GanvqError("inpainting needs an unconditional prior; this one is class-conditional")
    n, h, w = indices.shape
    if (h, w) != (prior.config.height, prior.config.width):
        raise GanvqError(f"code maps are {h}x{w}; the prior models {prior.config.height}x{prior.config.width}")
    m = samples * candidates
    rep = indices.repeat_interleave(m, 0)  # (N * m, h, w): image-major, then sample, then candidate
    rep_where = where.repeat_interleave(m, 0)
    if sweeps and isinstance(prior, MaskGITPrior):
        raise GanvqError("Gibbs sweeps need a local prior (train prior --arch local)")
    done = []
    for i in range(0, len(rep), CHUNK):
        if isinstance(prior, MaskGITPrior):  # draws from both sides; ranked by its draws' own log-probability
            done.append(prior.complete(rep[i : i + CHUNK], rep_where[i : i + CHUNK], temperature=temperature,
                                       top_k=top_k, generator=generator))
            continue
        filled = _complete(prior, rep[i : i + CHUNK], rep_where[i : i + CHUNK], generator, temperature, top_k,
                           sweeps)
        if candidates > 1:
            after = None if select == "full" else _after_hole(rep_where[i : i + CHUNK])
            done.append((filled, log_likelihood(prior, filled, after)))
        else:
            done.append((filled, torch.zeros(len(filled))))
    filled = torch.cat([d[0] for d in done]).view(n, samples, candidates, h, w)
    score = torch.cat([d[1] for d in done]).view(n, samples, candidates)
    best = score.argmax(-1)  # (N, samples)
    return filled.gather(2, best[..., None, None, None].expand(n, samples, 1, h, w))[:, :, 0]


def _after_hole(where: torch.Tensor) -> torch.Tensor:
    """Visible positions (B, h, w) after a map's first hole position in raster order: the codes a draw never saw."""
    flat = where.reshape(len(where), -1)
    seen = flat.cumsum(1) > 0
    return (seen & ~flat).view(where.shape)
