"""The pieces of a self-contained HTML report: inline PNGs, SVG curves, a codebook atlas, the page."""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import torch
from PIL import Image

from ganvq.images import make_grid, to_uint8_image


def png_data_uri(image: np.ndarray, upscale: int = 3) -> str:
    """A uint8 (H, W, C) image as an inline `data:` PNG, enlarged (nearest neighbour)."""
    if image.shape[-1] == 1:
        image = image[..., 0]
    img = Image.fromarray(image).resize((image.shape[1] * upscale, image.shape[0] * upscale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def svg_curve(steps: list[float], values: list[float], title: str, width: int = 420, height: int = 160) -> str:
    """A line chart as inline SVG (no plotting dependency)."""
    if len(values) < 2:
        return ""
    x0, x1, y0, y1 = min(steps), max(steps), min(values), max(values)
    span_x, span_y = (x1 - x0) or 1, (y1 - y0) or 1
    pts = " ".join(
        f"{10 + (s - x0) / span_x * (width - 20):.1f},{height - 20 - (v - y0) / span_y * (height - 40):.1f}"
        for s, v in zip(steps, values)
    )
    return (
        f'<figure><svg width="{width}" height="{height}" style="border:1px solid #ddd">'
        f'<polyline fill="none" stroke="#3367d6" stroke-width="1.5" points="{pts}"/>'
        f'<text x="10" y="14" font-size="11">{html.escape(title)}: {values[-1]:.4g} '
        f"(min {y0:.4g}, max {y1:.4g}) over steps {x0:.0f}-{x1:.0f}</text></svg></figure>"
    )


def curves(records: list[dict], keys: tuple[str, ...]) -> list[str]:
    """SVG curves of the given keys of a run's metric records, where logged."""
    out = []
    for key in keys:
        pts = [(r["step"], r[key]) for r in records if key in r and "step" in r]
        if pts:
            out.append(svg_curve([p[0] for p in pts], [p[1] for p in pts], key))
    return out


@torch.no_grad()
def codebook_atlas(model) -> np.ndarray:
    """Each code decoded as a constant code map: what every codebook entry draws on its own."""
    h, w = model.config.code_shape  # with residual levels: code k at every level
    k = model.codebook_size
    maps = torch.arange(k).view(k, 1, 1).expand(k, h, w)
    images = torch.cat([model.decode(maps[i:i + 256]) for i in range(0, k, 256)])
    return make_grid(to_uint8_image(images), nrow=32)


def metrics_table(metrics: dict) -> str:
    """An HTML table of metric names and values (floats to 4 significant digits)."""
    return "<table>" + "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v:.4g}</td></tr>" if isinstance(v, float)
        else f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in metrics.items()
    ) + "</table>"


def page(title: str, body: str) -> str:
    """A whole HTML page around `body`."""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>ganvq: {html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
td{{padding:2px 12px;border-bottom:1px solid #eee}} img{{image-rendering:pixelated}}</style></head><body>
{body}
</body></html>"""
