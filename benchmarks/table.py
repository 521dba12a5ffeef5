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


def metrics_table(path: Path = RESULTS / "metrics.json") -> str:
    data = json.loads(path.read_text())
    speed = data["speed"]
    lines = [
        f"Evaluation suite, features `{data['extractor']}`, reference {data['reference']} "
        "(`benchmarks/bench_metrics.py` → `benchmarks/results/metrics.json`). A model-free sanity table: "
        "sets whose quality order is known in advance, each of "
        f"{speed['samples']:,} images:",
        "",
        "| set | FID | KID | precision | recall | density | coverage | classes | label entropy |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in data["sanity_table"]:
        lines.append(
            f"| {r['set']} | {r['fid']:.2f} | {r['kid_mean']:.4f} | {r['precision']:.3f} | {r['recall']:.3f} "
            f"| {r['density']:.3f} | {r['coverage']:.3f} | {r['class_coverage']} | {r['label_entropy']:.3f} |"
        )
    lines += [
        "",
        f"Scoring {speed['samples']:,} samples (features + FID + KID + precision/recall/density/coverage) takes "
        f"{speed['total_seconds_features_fid_kid_prdc']:.1f} s on {data['threads']} threads "
        f"({speed['samples_per_second']:,.0f} samples/s) once the reference statistics are cached "
        f"(building them: {speed['reference_build_seconds_cold_cache']:.1f} s, once); with the memorization audit "
        f"against all 60,000 training images: {speed['with_memorization_audit_seconds']:.1f} s.",
    ]
    inc = data.get("inception")
    if inc:
        fid = inc["fid_train_vs_test"]
        lines += [
            "",
            f"Inception-v3 (`--features inception`): {inc['fp32_images_per_second']:.1f} images/s in fp32, "
            f"{inc['bf16_images_per_second']:.1f} in bf16 (mean feature deviation "
            f"{inc['bf16_relative_feature_deviation_mean']:.2%}); FID of {fid['n']:,} train vs {fid['n']:,} test "
            f"images: {fid['fid']:.2f}.",
        ]
    return "\n".join(lines)


TABLES = {"vqvae.json": vqvae_table, "metrics.json": metrics_table}

if __name__ == "__main__":
    print("\n\n".join(fn(RESULTS / name) for name, fn in TABLES.items() if (RESULTS / name).is_file()))
