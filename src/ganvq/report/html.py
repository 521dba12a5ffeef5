"""A self-contained HTML page for a trained VQ-VAE: metrics, training curves, reconstructions, codebook."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganvq.data import load_dataset
from ganvq.io import atomic_write_text
from ganvq.metrics.evaluate import evaluate_reconstruction
from ganvq.report.grids import make_grid, side_by_side, to_uint8_image
from ganvq.train import loop
from ganvq.train.vqvae import load_vqvae


def _png_data_uri(image: np.ndarray, upscale: int = 3) -> str:
    if image.shape[-1] == 1:
        image = image[..., 0]
    img = Image.fromarray(image).resize((image.shape[1] * upscale, image.shape[0] * upscale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _svg_curve(steps: list[float], values: list[float], title: str, width: int = 420, height: int = 160) -> str:
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


@torch.no_grad()
def codebook_atlas(model) -> np.ndarray:
    """Each code decoded as a constant code map: what every codebook entry draws on its own."""
    h, w = model.config.code_shape  # with residual levels: code k at every level
    k = model.codebook_size
    maps = torch.arange(k).view(k, 1, 1).expand(k, h, w)
    images = torch.cat([model.decode(maps[i:i + 256]) for i in range(0, k, 256)])
    return make_grid(to_uint8_image(images), nrow=32)


def _curves(run: Path, keys: tuple[str, ...]) -> list[str]:
    """SVG curves of the given metrics.jsonl keys of a run, where logged."""
    log = run / loop.METRICS
    if not log.exists():
        return []
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    curves = []
    for key in keys:
        pts = [(r["step"], r[key]) for r in records if key in r]
        if pts:
            curves.append(_svg_curve([p[0] for p in pts], [p[1] for p in pts], key))
    return curves


def gan_section(gan: str, n: int = 100, seed: int = 0) -> str:
    """HTML for a GAN run: a seeded sample grid, a latent interpolation, curves, and its `eval-gan.json` scores."""
    from ganvq.sample import interpolate, sample

    run = Path(gan) if Path(gan).is_dir() else Path(gan).parent
    images, _ = sample(gan, n, seed)
    walk = run / "interpolation.png"
    interpolate(gan, walk, rows=4, steps=10, seed=seed)
    scores = run / "eval-gan.json"
    table = ""
    if scores.exists():
        from ganvq.evaluate import format_scores

        table = f"<h3>Scores (<code>ganvq eval gan</code>)</h3><pre>{html.escape(format_scores(json.loads(scores.read_text())))}</pre>"
    walk_uri = "data:image/png;base64," + base64.b64encode(walk.read_bytes()).decode()
    return f"""<h1>GAN run <code>{html.escape(str(run))}</code></h1>
<h2>Samples</h2><p>{n} samples of the EMA generator (seed {seed}; conditional models: classes in turn).</p>
<img src="{_png_data_uri(make_grid(images, nrow=10))}">
<h2>Latent interpolation</h2><p>Each row walks (slerp) between two random latents.</p><img src="{walk_uri}">
{table}<h2>Training</h2>{''.join(_curves(run, ("train/d_loss", "train/g_loss"))) or '<p>no metrics log</p>'}"""


def vqvae_report(ckpt: str, out: str, images: int = 2000, gan: str | None = None) -> dict:
    """Write one HTML page about a VQ-VAE run (and optionally a GAN run); returns its path and the metrics shown."""
    model, config = load_vqvae(ckpt)
    run = Path(ckpt) if Path(ckpt).is_dir() else Path(ckpt).parent
    test = load_dataset(config.data, "test", size=config.model.image_size, channels=config.model.channels)
    metrics = evaluate_reconstruction(model, test.images[:images])
    x = test.images[:32].float().div(127.5).sub(1)
    recon = model.reconstruct(x)
    curves = _curves(run, ("train/rec_loss", "train/psnr", "train/codes_used", "train/perplexity"))
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v:.4g}</td></tr>" if isinstance(v, float)
        else f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>"
        for k, v in metrics.items()
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>ganvq: {html.escape(str(run))}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
td{{padding:2px 12px;border-bottom:1px solid #eee}} img{{image-rendering:pixelated}}</style></head><body>
<h1>VQ-VAE run <code>{html.escape(str(run))}</code></h1>
<p>Data <code>{html.escape(config.data)}</code>; latent grid {config.model.latent_size}&times;{config.model.latent_size},
{model.codebook_size} codes ({html.escape(config.model.quantizer)}); scored on the first {metrics['test/images']} test images.
PSNR and SSIM are per image with pixels in [0, 1], then averaged.</p>
<h2>Metrics</h2><table>{rows}</table>
<h2>Training</h2>{''.join(curves) or '<p>no metrics log</p>'}
<h2>Reconstructions</h2><p>Each pair of rows: test images above, their reconstructions below.</p>
<img src="{_png_data_uri(side_by_side(x, recon, nrow=16))}">
<h2>Codebook atlas</h2><p>Code <i>k</i> at row <i>k</i> / 32, column <i>k</i> mod 32, each decoded from a code map filled with it.</p>
<img src="{_png_data_uri(codebook_atlas(model), upscale=2)}">
<h2>Configuration</h2><pre>{html.escape(json.dumps(json.loads(json.dumps(config, default=lambda o: o.__dict__)), indent=2))}</pre>
{gan_section(gan) if gan else ''}
</body></html>"""
    atomic_write_text(out, page)
    return {"report": str(out), **metrics}
