"""Charts as standalone SVG (no plotting dependency): line charts with axes, ticks, units, a legend and
smoothing, and a bar chart of sorted counts."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

PALETTE = ("#3367d6", "#d6493e", "#2e9e5b", "#e69a17", "#8e44ad", "#16a2b8", "#6d6d6d", "#c2185b")
FONT = "font-family=\"DejaVu Sans, Arial, sans-serif\""


@dataclass(frozen=True)
class Series:
    """One line: its name in the legend, x and y values, and whether to smooth it."""

    name: str
    xs: list[float]
    ys: list[float]
    smooth: bool = True
    points: bool = False  # markers instead of a line (e.g. held-out checks every few thousand steps)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round tick values (1, 2, 2.5 or 5 × 10^k apart) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        lo, hi = lo - (abs(lo) or 1) * 0.5, hi + (abs(hi) or 1) * 0.5
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    ticks, t = [], first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def tick_label(v: float) -> str:
    """A tick's number, short: 12k, 0.25, 1e-04."""
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e4:
        return f"{v / 1e3:g}k" if a < 1e6 else f"{v / 1e6:g}M"
    if a < 1e-3:
        return f"{v:.0e}"
    return f"{v:.4g}"


def ema(values: list[float], weight: float) -> list[float]:
    """Debiased exponential moving average (TensorBoard's smoothing): s_t = w·s_{t-1} + (1-w)·v_t, / (1 - w^t)."""
    out, s, norm = [], 0.0, 0.0
    for v in values:
        s = weight * s + (1 - weight) * v
        norm = weight * norm + (1 - weight)
        out.append(s / norm)
    return out


def smoothing_weight(n: int) -> float:
    """Heavier smoothing for longer logs: none below 10 points, up to 0.9."""
    return 0.0 if n < 10 else min(0.9, 1 - 5 / n)


def line_chart(series: list[Series], title: str, y_label: str, x_label: str = "training step",
               width: int = 520, height: int = 240, log_y: bool = False) -> str:
    """An SVG line chart of one or more series, with ticks on both axes, axis labels and a legend."""
    series = [s for s in series if s.xs]
    xs = [x for s in series for x in s.xs]
    ys = [y for s in series for y in s.ys if math.isfinite(y) and (y > 0 or not log_y)]
    if not xs or not ys:
        return ""
    tf = (lambda v: math.log10(v)) if log_y else (lambda v: v)
    keyed = len(series) > 1 or any(s.smooth and not s.points and smoothing_weight(len(s.xs)) for s in series)
    left, right, top, bottom = 64, 14, 30 + (14 * len(series) if keyed else 0), 44
    height += top - 30  # the legend sits between the title and the plot
    pw, ph = width - left - right, height - top - bottom
    xt = nice_ticks(min(xs), max(xs))
    if log_y:
        lo, hi = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
        yt = [float(e) for e in range(lo, max(hi, lo + 1) + 1)]
    else:
        yt = nice_ticks(min(ys), max(ys))
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]

    def px(x: float) -> float:
        return left + (x - x0) / ((x1 - x0) or 1) * pw

    def py(y: float) -> float:
        return top + ph - (tf(y) - y0) / ((y1 - y0) or 1) * ph

    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
              f'viewBox="0 0 {width} {height}" {FONT} font-size="11">'),
             f'<rect width="{width}" height="{height}" fill="#fff"/>',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{html.escape(title)}</text>']
    for t in xt:
        parts.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{top}" y2="{top + ph}" stroke="#eee"/>'
                     f'<text x="{px(t):.1f}" y="{top + ph + 15}" text-anchor="middle">{tick_label(t)}</text>')
    for t in yt:
        y = top + ph - (t - y0) / ((y1 - y0) or 1) * ph
        label = f"1e{int(t)}" if log_y else tick_label(t)
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    parts.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 6}" text-anchor="middle">{html.escape(x_label)}</text>')
    parts.append(f'<text transform="translate(13,{top + ph / 2}) rotate(-90)" text-anchor="middle">'
                 f'{html.escape(y_label)}</text>')
    legend = []
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        pts = [(x, y) for x, y in zip(s.xs, s.ys) if math.isfinite(y) and (y > 0 or not log_y)]
        if not pts:
            continue
        if s.points:
            parts += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"/>' for x, y in pts]
            legend.append((s.name, color))
            continue
        w = smoothing_weight(len(pts)) if s.smooth else 0.0
        raw = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        if w:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-opacity="0.25" stroke-width="1" points="{raw}"/>')
            smooth = ema([y for _, y in pts], w)
            line = " ".join(f"{px(x):.1f},{py(y):.1f}" for (x, _), y in zip(pts, smooth))
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{line}"/>')
            legend.append((f"{s.name} (smoothed, EMA {w:.2f})", color))
        else:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.8" points="{raw}"/>')
            legend.append((s.name, color))
    if keyed:
        for i, (name, color) in enumerate(legend):
            y = 34 + 14 * i
            parts.append(f'<rect x="{left}" y="{y - 5}" width="12" height="3" fill="{color}"/>'
                         f'<text x="{left + 17}" y="{y}" font-size="10" fill="#333">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(counts: list[int], title: str, y_label: str, x_label: str, width: int = 520, height: int = 220) -> str:
    """An SVG bar chart of counts in the given order (e.g. code uses, most used first), y on a linear axis."""
    if not counts:
        return ""
    left, right, top, bottom = 64, 14, 30, 44
    pw, ph = width - left - right, height - top - bottom
    yt = nice_ticks(0, max(max(counts), 1))
    y1 = yt[-1] or 1
    bw = pw / len(counts)
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
              f'viewBox="0 0 {width} {height}" {FONT} font-size="11">'),
             f'<rect width="{width}" height="{height}" fill="#fff"/>',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{html.escape(title)}</text>']
    for t in yt:
        y = top + ph - t / y1 * ph
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end">{tick_label(t)}</text>')
    for i, c in enumerate(counts):
        h = c / y1 * ph
        parts.append(f'<rect x="{left + i * bw:.2f}" y="{top + ph - h:.1f}" width="{max(bw - 0.3, 0.5):.2f}" '
                     f'height="{h:.1f}" fill="{PALETTE[0]}"/>')
    for t in nice_ticks(1, len(counts)):
        if 1 <= t <= len(counts):
            x = left + (t - 0.5) * bw
            parts.append(f'<text x="{x:.1f}" y="{top + ph + 15}" text-anchor="middle">{tick_label(t)}</text>')
    parts.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 6}" text-anchor="middle">{html.escape(x_label)}</text>')
    parts.append(f'<text transform="translate(13,{top + ph / 2}) rotate(-90)" text-anchor="middle">'
                 f'{html.escape(y_label)}</text></svg>')
    return "".join(parts)
