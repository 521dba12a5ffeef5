"""A ROC curve picture (PNG, drawn with Pillow): one curve per attack, the chance diagonal, AUC in the legend."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ganvq.io import atomic_write_bytes

SIZE, MARGIN = 360, 48  # plot side and margin, pixels
COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189)]


def roc_picture(curves: dict[str, tuple[list[float], list[float], float]], title: str) -> Image.Image:
    """The picture of {name: (false-positive rates, true-positive rates, AUC)}: linear axes from 0 to 1."""
    w = h = SIZE + 2 * MARGIN
    im = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=12)

    def xy(fpr: float, tpr: float) -> tuple[float, float]:
        return MARGIN + fpr * SIZE, MARGIN + (1 - tpr) * SIZE

    for t in (0.0, 0.25, 0.5, 0.75, 1.0):  # grid and tick labels
        d.line([xy(t, 0), xy(t, 1)], fill=(230, 230, 230))
        d.line([xy(0, t), xy(1, t)], fill=(230, 230, 230))
        d.text((xy(t, 0)[0] - 8, MARGIN + SIZE + 4), f"{t:g}", fill="black", font=font)
        d.text((MARGIN - 26, xy(0, t)[1] - 6), f"{t:g}", fill="black", font=font)
    d.rectangle([xy(0, 1), xy(1, 0)], outline="black")
    d.line([xy(0, 0), xy(1, 1)], fill=(150, 150, 150), width=1)  # chance
    for i, (name, (fpr, tpr, auc)) in enumerate(curves.items()):
        color = COLORS[i % len(COLORS)]
        d.line([xy(f, t) for f, t in zip(fpr, tpr)], fill=color, width=2)
        d.text((MARGIN + SIZE * 0.45, MARGIN + SIZE * 0.75 + 16 * i), f"{name}: AUC {auc:.3f}", fill=color, font=font)
    d.text((MARGIN, 14), title, fill="black", font=font)
    d.text((MARGIN + SIZE / 2 - 60, MARGIN + SIZE + 22), "false-positive rate", fill="black", font=font)
    d.text((6, MARGIN - 20), "true-positive rate", fill="black", font=font)
    return im


def write_roc_png(path: str | Path, curves: dict[str, tuple[list[float], list[float], float]], title: str) -> None:
    """Write roc_picture(curves, title) as a PNG, atomically."""
    buf = io.BytesIO()
    roc_picture(curves, title).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
