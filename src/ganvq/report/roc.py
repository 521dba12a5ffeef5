"""A ROC curve picture (PNG, drawn with Pillow): one curve per attack and the chance diagonal, on linear axes
and on log-log axes from 0.1% up, where an attack that is sure of a few members shows (Carlini et al. 2022);
AUC in the legend."""

from __future__ import annotations

import io
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ganvq.io import atomic_write_bytes

SIZE, MARGIN = 360, 48  # plot side and margin, pixels
COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189)]
LOG_FLOOR = 1e-3  # the log-log panel's lowest rate; lower ones are drawn on its edge


def _linear(v: float) -> float:
    return v


def _log(v: float) -> float:
    return (math.log10(max(v, LOG_FLOOR)) - math.log10(LOG_FLOOR)) / -math.log10(LOG_FLOOR)


def roc_picture(curves: dict[str, tuple[list[float], list[float], float]], title: str) -> Image.Image:
    """The picture of {name: (false-positive rates, true-positive rates, AUC)}: on the left linear axes from 0 to
    1, on the right log-log axes from LOG_FLOOR to 1."""
    w, h = 2 * (SIZE + 2 * MARGIN), SIZE + 2 * MARGIN
    im = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=12)
    panels = [(0, _linear, 0.0, (0.0, 0.25, 0.5, 0.75, 1.0), "{:g}", ""),
              (SIZE + 2 * MARGIN, _log, LOG_FLOOR, (1e-3, 1e-2, 1e-1, 1.0), "{:.1%}", " (log)")]
    for left, scale, low, ticks, label, axis in panels:
        def xy(fpr: float, tpr: float, left=left, scale=scale) -> tuple[float, float]:
            return left + MARGIN + scale(fpr) * SIZE, MARGIN + (1 - scale(tpr)) * SIZE

        for t in ticks:  # grid and tick labels
            d.line([xy(t, low), xy(t, 1)], fill=(230, 230, 230))
            d.line([xy(low, t), xy(1, t)], fill=(230, 230, 230))
            text = label.format(t).replace(".0%", "%")
            d.text((xy(t, low)[0] - 8, MARGIN + SIZE + 4), text, fill="black", font=font)
            d.text((left + MARGIN - 6 - 6 * len(text), xy(low, t)[1] - 6), text, fill="black", font=font)
        d.rectangle([xy(low, 1), xy(1, low)], outline="black")
        d.line([xy(low, low), xy(1, 1)], fill=(150, 150, 150), width=1)  # chance
        for i, (name, (fpr, tpr, auc)) in enumerate(curves.items()):
            color = COLORS[i % len(COLORS)]
            d.line([xy(f, t) for f, t in zip(fpr, tpr)], fill=color, width=2)
            if left == 0:  # the legend, once
                d.text((MARGIN + SIZE * 0.45, MARGIN + SIZE * 0.75 + 16 * i), f"{name}: AUC {auc:.3f}", fill=color,
                       font=font)
        d.text((left + MARGIN + SIZE / 2 - 60, MARGIN + SIZE + 22), "false-positive rate" + axis, fill="black",
               font=font)
        d.text((left + 6, MARGIN - 20), "true-positive rate" + axis, fill="black", font=font)
    d.text((MARGIN, 10), title, fill="black", font=font)
    return im


def write_roc_png(path: str | Path, curves: dict[str, tuple[list[float], list[float], float]], title: str) -> None:
    """Write roc_picture(curves, title) as a PNG, atomically."""
    buf = io.BytesIO()
    roc_picture(curves, title).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
