"""Print the README's results tables as Markdown, from benchmarks/results/*.json only."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def vqvae_table(path: Path = RESULTS / "vqvae.json") -> str:
    data = json.loads(path.read_text())
    lines = [
        f"VQ-VAE on Fashion-MNIST, {data['minutes_per_config']:g} minutes of training per configuration on "
        f"{data['results'][0]['threads']} CPU threads, scored on all 10,000 test images "
        "(`benchmarks/bench_vqvae.py` → `benchmarks/results/vqvae.json`; PSNR and SSIM per image, pixels in [0, 1]):",
        "",
        "| configuration | latents | raw bpp | steps | train img/s | test PSNR (dB) | test SSIM | codes used | perplexity | bar |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in data["results"]:
        h = r["config"]["model"]["image_size"] // 2 ** r["config"]["model"]["downsamples"]
        bar = r.get("bar")
        bar_text = "—" if not bar else (
            f"≥ {bar['test_psnr_db']} dB" + (f", ≥ {bar['codes_used_fraction']:.0%} codes" if "codes_used_fraction" in bar else "")
            + (": met" if r["meets_bar"] else ": **not met**")
        )
        lines.append(
            f"| `{r['name']}` | {h}×{h} | {r['bits_per_pixel_raw']:.4g} | {r['steps']} | {r['train_images_per_second']:.0f} "
            f"| {r['test_psnr_db']:.2f} | {r['test_ssim']:.3f} | {r['codes_used']} / {r['codebook_size']} "
            f"| {r['perplexity']:.0f} | {bar_text} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(vqvae_table())
