"""`ganvq report`: one self-contained HTML page about a VQ-VAE run, and optionally a GAN run beside it."""

from __future__ import annotations

import html
import json

from ganvq.commands.sample import interpolation_grid, sample
from ganvq.config import to_dict
from ganvq.data import describe_split, has_named_splits, load_dataset
from ganvq.images import make_grid, side_by_side, to_float
from ganvq.io import atomic_write_text
from ganvq.metrics.evaluate import evaluate_reconstruction
from ganvq.metrics.score import format_scores
from ganvq.report.html import codebook_atlas, curves, metrics_table, page, png_data_uri
from ganvq.runs import open_run, read_metrics


def gan_section(gan: str, n: int = 100, seed: int = 0) -> str:
    """HTML for a GAN run: a seeded sample grid, a latent interpolation, curves, and its `eval-gan.json` scores."""
    run = open_run(gan, "gan")
    images, _ = sample(run, n, seed)
    walk = interpolation_grid(run, rows=4, steps=10, seed=seed)
    scores = run.folder / "eval-gan.json"
    table = ""
    if scores.exists():
        table = (f"<h3>Scores (<code>ganvq eval gan</code>)</h3>"
                 f"<pre>{html.escape(format_scores(json.loads(scores.read_text())))}</pre>")
    training = "".join(curves(read_metrics(run.folder), ("train/d_loss", "train/g_loss"))) or "<p>no metrics log</p>"
    return f"""<h1>GAN run <code>{html.escape(str(run.folder))}</code></h1>
<h2>Samples</h2><p>{n} samples of the EMA generator (seed {seed}; conditional models: classes in turn).</p>
<img src="{png_data_uri(make_grid(images, nrow=10))}">
<h2>Latent interpolation</h2><p>Each row walks (slerp) between two random latents.</p>
<img src="{png_data_uri(walk, upscale=2)}">
{table}<h2>Training</h2>{training}"""


def vqvae_report(ckpt: str, out: str, images: int = 2000, gan: str | None = None) -> dict:
    """Write one HTML page about a VQ-VAE run (and optionally a GAN run); returns its path and the metrics shown."""
    run = open_run(ckpt, "vqvae")
    model, config = run.vqvae(), run.config
    test = load_dataset(config.data, "test", size=config.model.image_size, channels=config.model.channels,
                        val_fraction=config.val_fraction)
    split_note = describe_split("test", has_named_splits(config.data), config.val_fraction or 0.0)
    metrics = evaluate_reconstruction(model, test.images[:images])
    x = to_float(test.images[:32])
    recon = model.reconstruct(x)
    training = curves(read_metrics(run.folder), ("train/rec_loss", "train/psnr", "train/codes_used", "train/perplexity"))
    body = f"""<h1>VQ-VAE run <code>{html.escape(str(run.folder))}</code></h1>
<p>Data <code>{html.escape(config.data)}</code>; latent grid {config.model.latent_size}&times;{config.model.latent_size},
{model.codebook_size} codes ({html.escape(config.model.quantizer)}); scored on the first {metrics['test/images']} test images ({html.escape(split_note)}).
PSNR and SSIM are per image with pixels in [0, 1], then averaged.</p>
<h2>Metrics</h2>{metrics_table(metrics)}
<h2>Training</h2>{''.join(training) or '<p>no metrics log</p>'}
<h2>Reconstructions</h2><p>Each pair of rows: test images above, their reconstructions below.</p>
<img src="{png_data_uri(side_by_side(x, recon, nrow=16))}">
<h2>Codebook atlas</h2><p>Code <i>k</i> at row <i>k</i> / 32, column <i>k</i> mod 32, each decoded from a code map filled with it.</p>
<img src="{png_data_uri(codebook_atlas(model), upscale=2)}">
<h2>Configuration</h2><pre>{html.escape(json.dumps(to_dict(config), indent=2))}</pre>
{gan_section(gan) if gan else ''}"""
    atomic_write_text(out, page(str(run.folder), body))
    return {"report": str(out), **metrics}
