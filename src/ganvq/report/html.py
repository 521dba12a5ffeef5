"""The HTML of a self-contained report: inline images (PNG and SVG as `data:` URIs), tables, the page."""

from __future__ import annotations

import base64
import html
import io

import numpy as np
from PIL import Image

from ganvq.report.names import format_value, metric

PAGE_WIDTH = 1100  # px of content; every image is shown at most this wide (and shrinks with the window)


def png_data_uri(image: np.ndarray, upscale: int = 1) -> str:
    """A uint8 (H, W, C) or (H, W) image as an inline `data:` PNG, enlarged (nearest neighbour)."""
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    img = Image.fromarray(np.ascontiguousarray(image))
    if upscale != 1:
        img = img.resize((img.width * upscale, img.height * upscale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def png_file_uri(data: bytes) -> str:
    """PNG bytes (e.g. a file an `eval` wrote) as an inline `data:` URI."""
    return "data:image/png;base64," + base64.b64encode(data).decode()


def svg_data_uri(svg: str) -> str:
    """An SVG document as an inline `data:` URI, so each chart is its own image (no id clashes on the page)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def img(uri: str, alt: str, width: int | None = None, css: str = "") -> str:
    """An <img> that never overflows the page: at most `width` px (its natural size by default) and 100%."""
    size = f' width="{width}"' if width else ""
    cls = f' class="{css}"' if css else ""
    return f'<img src="{uri}" alt="{html.escape(alt)}"{size}{cls}>'


def chart(svg: str, alt: str) -> str:
    """A chart (SVG text) as an image on the page; nothing when there was nothing to draw."""
    return f'<figure class="chart">{img(svg_data_uri(svg), alt)}</figure>' if svg else ""


def scores_table(scores: dict, keys: list[str] | None = None, caption: str = "") -> str:
    """A table of metrics in words with units; each value cell keeps the exact stored number in `data-value`."""
    rows = []
    for key in keys or list(scores):
        if key not in scores or isinstance(scores[key], (dict, list)) or scores[key] is None:
            continue
        m = metric(key)
        hint = f' title="{html.escape(m.meaning)}"' if m.meaning else ""
        rows.append(f'<tr><th scope="row"{hint}>{html.escape(m.name)}</th>'
                    f'<td data-key="{html.escape(key)}" data-value="{html.escape(repr(scores[key]))}">'
                    f"{html.escape(format_value(key, scores[key]))}</td>"
                    f'<td class="meaning">{html.escape(m.meaning)}</td></tr>')
    if not rows:
        return ""
    cap = f"<caption>{caption}</caption>" if caption else ""
    return f'<table class="scores">{cap}{"".join(rows)}</table>'


def comparison_table(names: list[str], scores: list[dict], keys: list[str]) -> str:
    """Runs side by side: one column per run, one row per metric present in any of them."""
    keys = [k for k in keys if any(k in s for s in scores)]
    if not keys:
        return ""
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for key in keys:
        cells = "".join(
            f'<td data-key="{html.escape(key)}" data-value="{html.escape(repr(s[key]))}">'
            f"{html.escape(format_value(key, s[key]))}</td>" if key in s else "<td>–</td>" for s in scores)
        rows.append(f'<tr><th scope="row">{html.escape(metric(key).name)}</th>{cells}</tr>')
    return f'<table class="scores compare"><tr><th></th>{head}</tr>{"".join(rows)}</table>'


def facts_table(rows: list[tuple[str, str]]) -> str:
    """A two-column table of plain facts (already formatted text)."""
    return '<table class="facts">' + "".join(
        f'<tr><th scope="row">{html.escape(k)}</th><td>{html.escape(v)}</td></tr>' for k, v in rows) + "</table>"


def details(summary: str, body: str) -> str:
    """A collapsed block: the reader opens it when wanted."""
    return f"<details><summary>{html.escape(summary)}</summary>{body}</details>"


def note(text: str, kind: str = "note") -> str:
    """A boxed remark; `text` is HTML (escape user strings before)."""
    return f'<p class="{kind}">{text}</p>'


def code(text: str) -> str:
    """Inline code, escaped."""
    return f"<code>{html.escape(str(text))}</code>"


CSS = f"""
body{{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:{PAGE_WIDTH}px;margin:1.5em auto;
padding:0 1em;color:#222;line-height:1.45}}
h1{{font-size:1.6em;margin-bottom:.2em}} h2{{border-bottom:1px solid #ddd;padding-bottom:.2em;margin:1.2em 0 .5em}}
img{{max-width:100%;height:auto;image-rendering:pixelated}} figure{{margin:.6em 0}}
figure.chart{{display:inline-block;margin:.3em .6em .3em 0}} figure.chart img{{image-rendering:auto}}
figcaption{{font-size:.85em;color:#555}} caption{{text-align:left;padding-bottom:.3em}}
table{{border-collapse:collapse;margin:.6em 0}} td,th{{padding:2px 12px 2px 0;border-bottom:1px solid #eee;
text-align:left;vertical-align:top}} table.scores td{{font-variant-numeric:tabular-nums;white-space:nowrap}}
td.meaning{{color:#666;font-size:.85em;white-space:normal!important}}
.gallery{{display:grid;gap:6px 4px;grid-template-columns:repeat(auto-fill,minmax(var(--cell),1fr))}}
.gallery figure{{margin:0;text-align:center}} .gallery figcaption{{font-size:.72em;line-height:1.1;
overflow:hidden;text-overflow:ellipsis;white-space:nowrap}}
.rows th{{font-weight:normal;font-size:.85em;white-space:nowrap;padding-right:8px;vertical-align:middle}}
.note{{background:#f6f8fa;border-left:4px solid #3367d6;padding:.5em .8em}}
.warn{{background:#fff8e6;border-left:4px solid #e69a17;padding:.5em .8em}}
code{{background:#f3f3f3;padding:0 3px;border-radius:3px}} details{{margin:1em 0}} summary{{cursor:pointer}}
nav a{{margin-right:1em}}
"""


def page(title: str, body: str) -> str:
    """A whole self-contained HTML page around `body` (no scripts, no external files)."""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ganvq report: {html.escape(title)}</title><style>{CSS}</style></head><body>
{body}
<footer><p style="color:#888;font-size:.8em">Made by <code>ganvq report</code>. Every score on this page is read
from the run's files (<code>metrics.jsonl</code>, <code>eval-*.json</code>), not measured again.</p></footer>
</body></html>"""
