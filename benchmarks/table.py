"""Print the results tables of docs/results.md as Markdown, from benchmarks/results/*.json only."""

from __future__ import annotations

import json
import re
from collections import Counter
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
        f"sets whose quality order is known in advance, {speed['samples']:,} images each (the one-class set: "
        "all 6,000 training images of that class):",
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


def _policy(policy: str, gan: dict) -> str:
    """A DiffAugment policy with its settings where they differ from the defaults, e.g. "translation (1/16, edge)"."""
    if not policy:
        return "—"
    notes = []
    if gan.get("diffaugment_target"):
        notes.append(f"adaptive p, target {gan['diffaugment_target']:g}")
    elif gan.get("diffaugment_p", 1.0) < 1:
        notes.append(f"p = {gan['diffaugment_p']:g}")
    if "translation" in policy and gan.get("diffaugment_shift", 0.125) != 0.125:
        notes.append(f"shift 1/{round(1 / gan['diffaugment_shift'])}" if gan["diffaugment_shift"] else "shift 0")
    if "translation" in policy and gan.get("diffaugment_fill", "zeros") != "zeros":
        notes.append(f"{gan['diffaugment_fill']} fill")
    return policy + (f" ({', '.join(notes)})" if notes else "")


def _seeds(check: dict) -> str:
    """"seed 0" or "mean of seeds 0, 1, 2" for a bar check (checks from before seeds were recorded: seed 0)."""
    seeds = check.get("seeds", [0])
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"mean of seeds {', '.join(map(str, seeds))}"


def gan_table(path: Path = RESULTS / "gan.json") -> str:
    data = json.loads(path.read_text())
    lines = [
        f"GANs on Fashion-MNIST (`benchmarks/bench_gan.py` → `benchmarks/results/gan.json`), trained one after "
        f"another on 2 CPU threads for equal wall-clock budgets "
        f"({data['minutes_per_full_run']:g} minutes on all 60,000 images, {data['minutes_per_limited_run']:g} minutes "
        f"on 1,000), each scored on {data['samples_per_run']:,} samples of the EMA generator against the 10,000 test "
        "images with features `ganvq-fmnist-cnn-v1` (sample grids: `benchmarks/results/gan_*.png`). "
        "Rows compared by the bar were trained in the same invocation on the same machine; the column "
        "*machine* says which (speeds differ between machines, so compare speeds within a machine only):",
        "",
        "| run | seed | preset | train images | DiffAugment | machine | G steps | real img/s | FID | KID | precision "
        "| recall | density | coverage | classes | label entropy | closer than 1% of test |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    machines: list[dict] = []  # distinct machines in order of appearance: A, B, ...
    for r in data["results"]:
        m = {k: v for k, v in r.get("machine", data["machine"]).items() if k != "threads"}
        if m not in machines:
            machines.append(m)
        where = f"{chr(ord('A') + machines.index(m))}, {r.get('precision_used', r['config']['train']['precision'])}"
        mem = r["memorization"]["closer_than_test_q0.01_fraction"]
        lines.append(
            f"| {r['name']} | {r.get('seed', 0)} | `{r['preset']}` | {r['train_images']:,} | {_policy(r['diffaugment'], r['config']['gan'])} "
            f"| {where} | "
            f"{r['generator_steps']:,} | {r['train_images_per_second']:,.0f} | {r['fid']:.2f} | {r['kid_mean']:.4f} "
            f"| {r['precision']:.3f} | {r['recall']:.3f} | {r['density']:.3f} | {r['coverage']:.3f} "
            f"| {r.get('class_coverage', '—')} | {r.get('label_entropy', float('nan')):.3f} | {mem:.4f} |"
        )
    legend = []
    for i, m in enumerate(machines):
        bf16 = {True: "yes", False: "no"}.get(m.get("native_bf16"), "not recorded")
        legend.append(f"{chr(ord('A') + i)}: CPU {m.get('cpu') or 'not recorded'}, native bf16 {bf16}")
    lines += ["", "Machines: " + "; ".join(legend) + "."]
    bar = data["bar"]
    texts = {
        "fid_at_most_half_of_textbook": lambda b: f"FID {b['best']:.2f} ≤ 0.5 × textbook {b['textbook']:.2f}",
        "recall_at_least_textbook": lambda b: f"recall {b['best']:.3f} ≥ textbook {b['textbook']:.3f}",
        "all_10_classes": lambda b: f"classes present {b['class_coverage']} = 10",
        "label_entropy": lambda b: f"label entropy {b['value']:.3f} ≥ {b['need']:.3f}",
        "diffaugment_lowers_limited_data_fid": lambda b: f"1,000 images, `{b['preset']}`, {_seeds(b)}: FID with "
        f"DiffAugment {b['with']:.2f} < {b['without']:.2f} without it",
        "diffaugment_beats_best_preset_without": lambda b: f"and < `{b['preset']}` without it, {b['without']:.2f} "
        f"({_seeds(b)})",
    }
    checks = [f"{texts[k](v)}: {'met' if v['ok'] else '**not met**'}" for k, v in bar.items() if k in texts]
    lines += ["", "Bar: " + "; ".join(checks) + "."]
    return "\n".join(lines)


def gan_limited_table(results: Path = RESULTS) -> str:
    """The 1,000-image runs of gan.json and of every gan-limited-*.json, by budget: does DiffAugment pay off later?"""
    rows = []
    for path in [results / "gan.json", *sorted(results.glob("gan-limited-*.json"))]:
        data = json.loads(path.read_text())
        rows += [(data["minutes_per_limited_run"], path.name, r) for r in data["results"] if r["train_images"] == 1000]
    lines = [
        "The 1,000-image comparison by training budget (each file from `bench_gan.py --runs … "
        "--limited-minutes M --out …`, rows of one date from one invocation on one machine):",
        "",
        "| budget | file | measured | preset | DiffAugment | seed | CPU, threads, precision | G steps | FID | KID "
        "| precision | recall | closer than 1% of test |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for minutes, name, r in sorted(rows, key=lambda x: (x[0], x[1], x[2].get("measured", ""), x[2]["preset"],
                                                        x[2]["diffaugment"], x[2].get("seed", 0))):
        policy = _policy(r["diffaugment"], r["config"]["gan"])
        cpu = r.get("machine", {}).get("cpu") or "not recorded"
        lines.append(
            f"| {minutes:g} min | `{name}` | {r.get('measured', '—')} | `{r['preset']}` | {policy} | {r.get('seed', 0)} | {cpu}, {r.get('threads', '?')}, {r.get('precision_used', '?')} | {r['generator_steps']:,} "
            f"| {r['fid']:.2f} | {r['kid_mean']:.4f} | {r['precision']:.3f} | {r['recall']:.3f} "
            f"| {r['memorization']['closer_than_test_q0.01_fraction']:.4f} |"
        )
    return "\n".join(lines)


def gan_da_variants_table(path: Path = RESULTS / "gan-da-variants.json") -> str:
    """Step-matched pairs with and without DiffAugment on 1,000 images: does it pay at this budget?"""
    data = json.loads(path.read_text())
    lines = [
        f"Does DiffAugment pay at these budgets? (`benchmarks/bench_gan_da_variants.py` → "
        f"`benchmarks/results/{path.name}`): `fmnist-best` on 1,000 images, one change per variant, "
        f"with and without DiffAugment for the same G steps ({data['steps']:,}; 2,400 are about a 5-minute budget "
        f"here; n_D = 2 runs get 2/3 of them, width-16 runs 4.125 times as many, what their cheaper steps reach in the "
        f"same minutes), one thread each. D logits: the last logged step's means (on augmented images), then "
        f"unaugmented on the 1,000 training images, the next 1,000 (held out) and 1,000 fakes (— where not measured):",
        "",
        "| variant | seed | DiffAugment | G steps | FID | KID | precision | recall | D logit real / fake | D loss "
        "| D logit train / held-out / fake |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in data["results"]:
        changes = {k: v for k, v in r["changes"].items() if not k.startswith("diffaugment_")}
        change = ", ".join(f"{k} = {v:g}" for k, v in changes.items()) or "none"
        policy = _policy(r["diffaugment"], {**r["changes"], "diffaugment_p": r["diffaugment_p"]})
        if "aug_p" in r:
            policy += f"; p at most {r['aug_p']['max']:.3f}, last {r['aug_p']['last']:.3f}"
        d = r["last_logits"]
        probe = " / ".join(f"{r['d_logits'][k]:.2f}" for k in ("train", "held_out", "fake")) if "d_logits" in r else "—"
        lines.append(f"| {change} | {r.get('seed', 0)} | {policy} | {r['generator_steps']:,} | {r['fid']:.2f} "
                     f"| {r['kid_mean']:.4f} | {r['precision']:.3f} | {r['recall']:.3f} "
                     f"| {d['real']:.2f} / {d['fake']:.2f} | {d['d_loss']:.2f} | {probe} |")
    return "\n".join(lines)


def codec_table(path: Path = RESULTS / "codec.json") -> str:
    data = json.loads(path.read_text())
    rows = data["results"]
    bar = data["bar_check"]
    lines = [
        f"Codec on {data['dataset']} (`benchmarks/bench_codec.py` → `benchmarks/results/codec.json`, RD plot "
        f"`benchmarks/results/{data['plot']['file']}`"
        + (f", FID per bpp `benchmarks/results/{data['plot']['fid_file']}`" if "fid_file" in data["plot"] else "")
        + f"), {data['machine']['threads']} CPU threads. bpp counts whole files, header included; PSNR and SSIM per "
        "image, pixels in [0, 1]"
        + (f"; reconstruction FID of the decoded test images against the originals ({data['fid_definition']})"
           if "fid_definition" in data else "") + ":",
        "",
        "| codec | setting | bpp | PSNR (dB) | SSIM | recon FID | encode img/s | decode img/s | prior bits/code (raw) "
        "| payload over ideal |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        if r["codec"] == "ganvq":
            levels = r["vqvae"].get("levels", 1)
            setting = (f"`{r['name']}` ({'VQGAN' if r['vqvae'].get('vqgan') else 'VQ-VAE'} "
                       f"{r['vqvae']['latent']}, {r['vqvae']['codebook_size']} codes"
                       + (f" × {levels} residual levels" if levels > 1 else ""))
            if "training" in r:
                t = r["training"]
                setting += "; trained " + ", ".join(
                    f"{what} {t[what]['step']:,} steps in {t[what]['train_seconds'] / 60:.0f} min"
                    + (f" on {t[what]['threads']} thread{'s' * (t[what]['threads'] != 1)}" if t[what]["threads"] else "")
                    for what in ("vqvae", "prior"))
            setting += ")"
            extra = (f"{r['prior_bits_per_code_exact']:.3f} ({r['raw_bits_per_code']:.0f}) "
                     f"| {r['payload_gap_percent']:+.2f}% (one stream {r['one_stream_gap_percent']:+.2f}%)")
        else:
            setting, extra = f"quality {r['quality']}", "— | —"
        fid = "—" if r.get("recon_fid") is None else f"{r['recon_fid']:.2f}"
        lines.append(f"| {r['codec']} | {setting} | {r['bpp']:.3f} | {r['psnr_db']:.2f} | {r['ssim']:.3f} | {fid} "
                     f"| {r['encode_images_per_second']:,.0f} | {r['decode_images_per_second']:,.0f} | {extra} |")
    fast, speed = bar["fast_curve"], f"{bar['bar']['images_per_second']:,.0f} images/s"
    fast_names = ", ".join(f"`{n}`" for n in bar["fast_models"]) or "none"
    checks = [("at most half of WebP's size at equal PSNR (all models)", bar["half_of_webp"]),
              (f"a point ≥ {bar['bar']['point_psnr_db']} dB at ≤ {bar['bar']['point_bpp']} bpp", bar["point_27_6_db_at_0_8_bpp"]),
              (f"≥ {speed} encode and decode ({fast_names}), those models alone at half of WebP's size",
               bool(bar["fast_models"]) and fast["half_of_webp"]),
              ("and with the low-rate point", fast["point_27_6_db_at_0_8_bpp"]),
              (f"payload within {bar['bar']['payload_gap_percent']:g}% of the ideal code length", bar["payload_within_2_percent"]),
              ("all models at that speed", bar["all_models_fast"])]
    ratios = ", ".join(
        (f"`{p['name']}` {p['ratio_to_webp']:.2f}×" if p["ratio_to_webp"] is not None
         else f"`{p['name']}` {p['ratio_to_smallest_webp']:.2f}× WebP's smallest file (below WebP's PSNR range)")
        + (f" (off ganvq's curve: `{p['dominated_by']}` beats it on both size and PSNR)" if p.get("dominated_by") else "")
        for p in bar["points"])
    for r in rows:
        paths = r.get("exact_prior_product_paths")
        if paths:
            lines += ["", f"`{r['name']}`: the exact prior computes code frequencies for {paths['images']} code maps at "
                      f"{paths['int32_images_per_second']:,.0f} images/s with int8 products in int32 (`torch._int_mm`) "
                      f"and {paths['float32_images_per_second']:,.0f} images/s with them in float32 BLAS, "
                      f"{'bit-identical' if paths['identical'] else 'DIFFERENT'}; this CPU uses {paths['path_used']}."]
    lines += ["", f"Size relative to WebP at equal PSNR: {ratios}. Bar: "
              + "; ".join(f"{text}: {'met' if ok else '**not met**'}" for text, ok in checks)
              + f". Overall: {'met' if bar['meets_bar'] else '**not met**'}."]
    vqgan = bar.get("vqgan_at_fast_rate")
    if vqgan and vqgan["pairs"]:
        pairs = "; ".join(
            f"`{p['vqgan']}` against `{p['vqvae']}`: {p['bpp'][0]:.3f} against {p['bpp'][1]:.3f} bpp "
            f"({p['bpp_ratio']:.3f}×), recon FID {p['recon_fid'][0]:.2f} against {p['recon_fid'][1]:.2f} "
            f"({p['fid_ratio']:.2f}×), PSNR {p['psnr_db'][0]:.2f} against {p['psnr_db'][1]:.2f} dB"
            + (f" (under {bar['bar']['images_per_second']:,.0f} images/s in this run: "
               + " and ".join(f"`{p[who]}`" for who in ("vqgan", "vqvae") if not p[f"{who}_fast"]) + ")"
               if not (p["vqgan_fast"] and p["vqvae_fast"]) else "") for p in vqgan["pairs"])
        lines += ["", f"VQGAN at the fast point's rate (issue 19: at most {100 * vqgan['rate_tolerance']:g}% more bpp "
                  f"than a VQ-VAE point with the fast codec's local prior, and a lower reconstruction FID): {pairs}. "
                  f"{'Met' if vqgan['met'] else '**Not met**'}."]
    return "\n".join(lines)


def precision_table(path: Path = RESULTS / "precision.json") -> str:
    data = json.loads(path.read_text())
    m = data["machine"]
    lines = [
        f"Training speed by precision (`benchmarks/bench_precision.py` → `benchmarks/results/precision.json`; "
        f"{data['method']}) on CPU {m['cpu'] or 'not recorded'}, {m['threads']} threads, native bf16 "
        f"{'yes' if m['native_bf16'] else 'no'}, so `--precision auto` picks {data['auto_picks']}:",
        "",
        "| model | fp32 img/s | bf16 autocast img/s | bf16 / fp32 |",
        "| --- | --- | --- | --- |",
    ]
    for r in data["results"]:
        lines.append(f"| {r['model']} | {r['fp32_images_per_second']:,.0f} | {r['bf16_images_per_second']:,.1f} "
                     f"| {r['bf16_speedup']:.3g}× |")
    return "\n".join(lines)


def presets_table(path: Path = RESULTS / "presets.json") -> str:
    """Seconds per step and images per second of every preset on the machine that measured them."""
    data = json.loads(path.read_text())
    m = data["machine"]
    lines = [
        f"Time per training step of each preset (`benchmarks/bench_presets.py` → `benchmarks/results/{path.name}`; "
        f"{data['statistic']}, {data['repeats']} × {data['timed_steps']} steps after {data['warmup_steps']}) on CPU "
        f"{m['cpu']}, {data['threads'] or m['threads']} threads, precision auto (native bf16 "
        f"{'yes' if m['native_bf16'] else 'no'}). A GAN step is one G update with its n_D D updates. "
        "\"needs\": the steps a recipe needs to learn anything; `train` warns when a budget gives fewer:",
        "",
        "| model | preset | image | batch | s / step | images / s | steps / minute | needs (minutes here) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in data["presets"]:
        needs = f"{r['learn_steps']} ({r['minutes_to_learn_steps']:g})" if r["learn_steps"] else "—"
        lines.append(f"| {r['kind']} | `{r['preset']}` | {r['image_size']}×{r['image_size']}×{r['channels']} "
                     f"| {r['batch_size']} | {r['seconds_per_step']:.3f} | {r['images_per_second']:,.0f} "
                     f"| {r['steps_per_minute']:,.0f} | {needs} |")
    return "\n".join(lines)


def _gan_seed(r: dict) -> str:
    """One seed of bench_own_data's GAN part: FIDs (held-out photos, then training photos) and steps."""
    train = (f", training photos {r['ganvq_training_photos_fid']:.1f} vs {r['textbook_training_photos_fid']:.1f}"
             if "ganvq_training_photos_fid" in r else "")
    return (f"seed {r['seed']}: held-out photos {r['ganvq_fid']:.1f} vs {r['textbook_fid']:.1f}{train} "
            f"({r['ganvq_generator_steps']:,} vs {r['textbook_generator_steps']:,} G steps)")


def own_data_table(path: Path = RESULTS / "own_data.json") -> str:
    """Colour photo crops: ganvq's RGB VQ-VAE against a vector-quantize-pytorch peer, WebP/JPEG at ganvq's rates,
    and ganvq's 32-pixel GAN against the textbook DCGAN."""
    data = json.loads(path.read_text())
    m = data["machine"]
    threads = "/".join(sorted({str(r["threads"]) for r in [*data.get("vqvae", {}).values(), data.get("gan", {})]
                               if "threads" in r})) or m["threads"]
    sets = ", ".join(f"{s} px: {d['train_images']:,} train / {d['test_images']:,} test crops"
                     for s, d in sorted(data["dataset"].items(), key=lambda kv: int(kv[0])))
    lines = [
        f"Colour photos (`benchmarks/bench_own_data.py` → `benchmarks/results/own_data.json`): crops of the 10 photos "
        f"bundled with scikit-image and scikit-learn, split by photo (chelsea and china held out; {sets}). Each "
        f"model trained for the same minutes on {threads} thread{'' if str(threads) == '1' else 's'} of CPU {m['cpu']}; "
        "PSNR/SSIM per held-out crop, pixels in [0, 1]; colour error = mean (reconstruction − original) per R, G, B "
        "in 0..255:",
        "",
        "| size | model | minutes | steps | s / step | latents | PSNR (dB) | SSIM | codes used | colour error R, G, B "
        "| bar |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for size, r in sorted(data.get("vqvae", {}).items(), key=lambda kv: int(kv[0])):
        grid = "×".join(str(v) for v in r["latent_grid"])
        for name in ("ganvq", "peer"):
            row = r[name]
            label = f"ganvq `{row['preset']}`" if name == "ganvq" else row["library"]
            err = ", ".join(f"{v:+.1f}" for v in row["colour_error"]["mean_error"])
            seeds = f", mean of {len(r['seeds'])} seeds" if r.get("seeds") else ""
            bar = "—" if name == "peer" else (f"≥ peer + 0.5 dB ({r['bar']['margin_db']:+.2f}{seeds}): "
                                               + ("met" if r["bar"]["met"] else "**not met**"))
            lines.append(f"| {size} | {label} | {r['minutes']:g} | {row['steps']} | {row['seconds_per_step']:.3f} "
                         f"| {grid} × {r['codebook_size']} | {row['test_psnr_db']:.2f} | {row['test_ssim']:.3f} "
                         f"| {row['codes_used']} / {r['codebook_size']} | {err} | {bar} |")
    for size, r in sorted(data.get("vqvae", {}).items(), key=lambda kv: int(kv[0])):
        if r.get("seeds"):  # the rows above are the first seed's
            each = "; ".join(f"seed {row['seed']}: {row['ganvq_psnr_db']:.2f} vs {row['peer_psnr_db']:.2f} dB "
                             f"({row['ganvq_steps']} vs {row['peer_steps']} steps)" for row in r["seeds"])
            lines += ["", f"{size} px over {len(r['seeds'])} seeds (the rows above are seed {r['seeds'][0]['seed']}'s), "
                      f"ganvq vs peer: {each}; mean {r['bar']['ganvq_psnr_db']:.2f} vs {r['bar']['peer_psnr_db']:.2f} dB, "
                      f"margin {r['bar']['margin_db']:+.2f} dB (spread over seeds: ganvq "
                      f"{r['bar']['psnr_spread_over_seeds_db']['ganvq']:.2f}, peer "
                      f"{r['bar']['psnr_spread_over_seeds_db']['peer']:.2f} dB)."]
    if data.get("codec"):
        lines += ["", "The same held-out crops through WebP and JPEG (Pillow) at the quality closest to ganvq's rate "
                  "(bits per pixel position, whole files):", "",
                  "| size | ganvq rate | ganvq bpp | ganvq PSNR | codec | quality | bpp | PSNR (dB) | SSIM | note |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for size, r in sorted(data["codec"].items(), key=lambda kv: int(kv[0])):
            points = {p["rate"]: p for p in r["ganvq"] if "bpp" in p}
            for row in r["pillow"]:
                p = points[row["target"]]
                lines.append(f"| {size} | {row['target']} | {p['bpp']:.3f} | {p['psnr_db']:.2f} | {row['codec']} "
                             f"| {row['quality']} | {row['bpp']:.3f} | {row['psnr_db']:.2f} | {row['ssim']:.3f} "
                             f"| {row.get('note', '')} |")
    if data.get("gan"):
        g = data["gan"]
        ref = g["ganvq"]["reference"]
        pairs = (f" on {g['threads']} thread{'' if g['threads'] == 1 else 's'} each, ganvq's and the textbook's run of "
                 "a seed side by side" if g.get("jobs", 1) > 1 else "")
        lines += ["", f"GANs at 32 px, {g['minutes']:g} minutes each{pairs}, {g['n']:,} samples scored on "
                  f"`{g['ganvq']['extractor']}` features against the {ref['images']:,} held-out test crops:", "",
                  "| model | preset | G steps | s / step | FID | KID | precision | recall | bar |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        seeds = f", mean of {len(g['seeds'])} seeds" if g.get("seeds") else ""
        for name in ("ganvq", "textbook"):
            row = g[name]
            bar = "—" if name == "textbook" else (f"≤ 0.7 × textbook ({g['bar']['ratio']:.2f}×{seeds}): "
                                                   + ("met" if g["bar"]["met"] else "**not met**"))
            lines.append(f"| {name} | `{row['preset']}` | {row['generator_steps']} | {row['seconds_per_step']:.3f} "
                         f"| {row['fid']:.1f} | {row['kid_mean']:.4f} | {row['precision']:.3f} | {row['recall']:.3f} "
                         f"| {bar} |")
        if data.get("gan_floor"):
            f = data["gan_floor"]
            target = 0.7 * g["bar"]["textbook_fid"]
            lines.append(f"| {f['images']:,} real training crops | — | — | — | {f['fid']:.1f} | {f['kid_mean']:.4f} "
                         f"| {f['precision']:.3f} | {f['recall']:.3f} | the floor: the bar's {target:.1f} is "
                         f"{target / f['fid']:.2f}× what the training photos themselves score |")
        if g.get("bar_training_photos"):
            b, ref = g["bar_training_photos"], g["ganvq"]["training_photos"]["reference"]
            lines += ["", f"The same samples against {ref['images']:,} random crops of the training photos (the "
                      "reference GAN papers score against; the floor's crops are not among them):", "",
                      "| model | FID | KID | precision | recall | bar |", "| --- | --- | --- | --- | --- | --- |"]
            for name in ("ganvq", "textbook"):
                row = g[name]["training_photos"]
                bar = "—" if name == "textbook" else (f"≤ 0.7 × textbook ({b['ratio']:.2f}×{seeds}): "
                                                       + ("met" if b["met"] else "**not met**"))
                lines.append(f"| {name} `{g[name]['preset']}` | {row['fid']:.1f} | {row['kid_mean']:.4f} "
                             f"| {row['precision']:.3f} | {row['recall']:.3f} | {bar} |")
            f = data.get("gan_floor", {}).get("training_photos")
            if f:
                lines.append(f"| {data['gan_floor']['images']:,} real training crops | {f['fid']:.1f} "
                             f"| {f['kid_mean']:.4f} | {f['precision']:.3f} | {f['recall']:.3f} | the floor |")
        if g.get("seeds"):  # the rows above are the first seed's
            lines += ["", f"Over {len(g['seeds'])} seeds (the rows above are seed {g['seeds'][0]['seed']}'s), FID of "
                      "ganvq vs the textbook: " + "; ".join(_gan_seed(r) for r in g["seeds"]) + "."]
            for key, b in (("held-out photos", g["bar"]), ("training photos", g.get("bar_training_photos"))):
                if b:
                    margin = 0.7 * b["textbook_fid"] - b["ganvq_fid"]
                    lines.append(f"- {key}: mean {b['ganvq_fid']:.1f} vs {b['textbook_fid']:.1f} ({b['ratio']:.3f}×, "
                                 f"{abs(margin):.1f} FID {'under' if margin >= 0 else 'over'} the bar), "
                                 f"spread over seeds {b['fid_spread']['ganvq']:.1f} vs "
                                 f"{b['fid_spread']['textbook']:.1f}; ganvq's worst seed over the textbook's best "
                                 f"{b['worst_case_ratio']:.3f}× — bar " + ("met" if b["met"] else "**not met**"))
    return "\n".join(lines)


def _row_cpus(data: dict) -> str:
    """The CPU the runs of a combined file ran on: the file's, or the most common one and the runs on others."""
    cpu_of = [(r, r.get("machine", data["machine"])["cpu"]) for r in data["results"]]
    cpus = Counter(cpu for _, cpu in cpu_of)
    main = cpus.most_common(1)[0][0] if cpus else data["machine"]["cpu"]
    others = {}
    for r, cpu in cpu_of:
        if cpu != main:
            others.setdefault((cpu, r["config"]), []).append(f"{r['train_images']}/{r['seed']}")
    return f"CPU {main}" + "".join(f" (`{config}` at images/seed {', '.join(runs)}: CPU {cpu})"
                                   for (cpu, config), runs in others.items())


def few_table(path: Path = RESULTS / "few.json") -> str:
    """Small training sets: FID, precision/recall, audit and downstream utility per configuration, over seeds."""
    data = json.loads(path.read_text())
    b = data["budget"]
    lines = [f"Little data (`benchmarks/bench_few.py` → `benchmarks/results/{path.name}`): {data['dataset']}; "
             f"{data['samples_per_run']:,} samples per run, {_row_cpus(data)}, one thread per run, precision "
             f"{', '.join(sorted({r.get('precision_used', '?') for r in data['results']}))}. Budget: "
             f"{b.get('user_note') or b['note']}. Utility: the fixed classifier on (a) the real subset with classic "
             "augmentation, (b) those plus the samples, (c) the samples alone, accuracy on the 10,000 test images:",
             "", "| images | config | seeds | G steps | FID (mean, each) | precision | recall | audit median ratio "
             "| (a) | (b) | (c) |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def pct(row, key):
        return f"{100 * row[key]['mean']:.2f}%" if key in row else "—"

    for r in data["summary"]:
        fid = r["fid"]
        lines.append(f"| {r['train_images']} | `{r['config']}` | {', '.join(map(str, r['seeds']))} "
                     f"| {', '.join(map(str, r['generator_steps']))} | {fid['mean']:.2f} "
                     f"({', '.join(f'{v:.2f}' for v in fid['each'])}) | {r['precision']['mean']:.3f} "
                     f"| {r['recall']['mean']:.3f} | {r['memorization_median_ratio']['mean']:.3f} "
                     f"| {pct(r, 'utility_real')} | {pct(r, 'utility_real_plus_synthetic')} "
                     f"| {pct(r, 'utility_synthetic')} |")
    bar = data["bar"]
    f, g, u = (bar["fid_at_most_0.7_of_no_augmentation"], bar["fid_gap_larger_than_seed_spread"],
               bar["utility_real_plus_synthetic_beats_real_by_1_point"])
    subject = f.get("config", "few-100")  # few-100 in files measured before it stopped being the preset
    who = "" if subject == "few-100" else f" (for `{subject}`, the preset, against `{f['against']}`)"
    lines += ["", f"Bars{who}: FID ≤ 0.7 × no augmentation at {f['train_images']} images ({f['ratio']:.2f}×): "
              f"{_verdict(f['ratio'] <= 0.7, f['ok'])}; the gap ({g['gap']:.2f}) larger than the seeds' spread "
              f"({g['spread']:.2f}): {_verdict(g['gap'] > g['spread'], g['ok'])}; (b) − (a) ≥ 1 point "
              f"(mean {u['mean']:.2f}): {_verdict(u['mean'] >= 1, u['ok'])}."]
    if others := bar.get("other_configs_fid_against_no_augmentation"):
        def compared(name, c):
            plain = f"{c['no_augmentation']:.2f}"
            plain = f"`{c['against']}`'s {plain}" if "against" in c else plain
            seeds = (f"spread {c['spread']:.2f}; seeds {', '.join(map(str, c['seeds']))}" if len(c["seeds"]) > 1
                     else f"seed {c['seeds'][0]} only")
            return f"`{name}` {c['mean']:.2f} against {plain} ({c['ratio']:.2f}×; gap {c['gap']:.2f}, {seeds})"

        lines += ["", "The same FID comparison for the other configurations (not the preset, so not the bar): "
                  + "; ".join(compared(name, c) for name, c in others.items()) + "."]
    if refs := data.get("references"):
        copies = "; ".join(f"the {r['train_images']:,} training images, each repeated {r['repeats']} times, "
                           f"FID {r['fid']:.2f} (precision {r['precision']:.3f}, coverage {r['coverage']:.3f})"
                           for r in refs["subsets"])
        other = refs["other_training_images"]
        moved = "; ".join(f"the {r['train_images']:,} images' copies moved by up to "
                          + ", ".join(f"{c['pixels']} pixel{'s' * (c['pixels'] > 1)} FID {c['fid']:.2f} (precision "
                                      f"{c['precision']:.3f})" for c in r["shifted_copies"])
                          for r in refs["subsets"] if r.get("shifted_copies"))
        moved = f" The same copies, each moved at random (edge pixels fill): {moved}." if moved else ""
        lines += ["", f"Yardsticks (`--references`, {refs['samples']:,} images each, scored alike on CPU "
                      f"{refs['machine']['cpu']}): a generator that copies its training set exactly, {copies}; its "
                      "recall is 0 by construction (each image's k-th nearest neighbour is one of its own copies, so "
                      f"the k-NN radius is 0).{moved} {other['images']:,} training images outside every subset, a "
                      f"generator as varied as the data: FID {other['fid']:.2f}, precision {other['precision']:.3f}, "
                      f"recall {other['recall']:.3f}."]
    return "\n".join(lines)


def few_truncation_table(path: Path = RESULTS / "few_truncation.json") -> str:
    """FID, precision, recall and the audit of two runs at each truncation, and their FID ratio (first over second)."""
    data = json.loads(path.read_text())
    first, second = data["results"][:2]
    names = (first.get("config", first["run"]), second.get("config", second["run"]))
    lines = [f"| t | `{names[0]}` FID | precision | recall | audit median ratio | `{names[1]}` FID | precision | "
             "recall | FID ratio |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for a, b in zip(first["by_truncation"], second["by_truncation"]):
        t = "none" if a["truncation"] is None else f"{a['truncation']:g}"
        lines.append(f"| {t} | {a['fid']:.2f} | {a['precision']:.3f} | {a['recall']:.3f} | "
                     f"{a['audit_median_ratio']:.3f} | {b['fid']:.2f} | {b['precision']:.3f} | {b['recall']:.3f} | "
                     f"{a['fid'] / b['fid']:.2f} |")
    return "\n".join(lines)


def audit_table(path: Path = RESULTS / "audit.json") -> str:
    """The memorization audit's three flags on known cases and kept runs: share flagged by each, median ratios."""
    data = json.loads(path.read_text())
    lines = ["| training images | queries | flagged: closer | relatively closer | both (likely copies) | "
             "median ratio | relative distance, median (held-out) |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in data["results"]:
        what = r["case"] + (f" ({r['generator_steps']:,} G steps)" if "generator_steps" in r else "")
        lines.append(f"| {r['training']} | {what} | {100 * r['closer_than_test_q0.01_fraction']:.2f}% | "
                     f"{100 * r['relative_closer_than_test_q0.01_fraction']:.2f}% | "
                     f"{100 * r['likely_copy_fraction']:.2f}% | {r['median_ratio']:.3f} | "
                     f"{r['sample_relative_median']:.3f} ({r['test_relative_median']:.3f}) |")
    return "\n".join(lines)


def audit_neighbours_table(path: Path = RESULTS / "audit_neighbours.json") -> str:
    """The audit's likely copies on a 100-image training set for each k of its relative distance."""
    data = json.loads(path.read_text())
    ks = sorted({r["neighbours"] for r in data["results"]})
    cases = list(dict.fromkeys((r["training"], r["case"]) for r in data["results"]))
    got = {(r["training"], r["case"], r["neighbours"]): r["likely_copy_fraction"] for r in data["results"]}
    lines = ["| training images | queries | " + " | ".join(f"likely copies, k = {k}" for k in ks) + " |",
             "| --- | --- |" + " --- |" * len(ks)]
    for training, case in cases:
        lines.append(f"| {training} | {case} | " + " | ".join(f"{100 * got[training, case, k]:.2f}%" for k in ks)
                     + " |")
    return "\n".join(lines)


def db_fit_table(path: Path = RESULTS / "db_fit.json") -> str:
    """Search quality of archives filled by several plans, with the search projection fitted the old way and now."""
    data = json.loads(path.read_text())
    k = data["k"]
    lines = [f"| how the images were added | projection fitted on | entries | class precision@{k} | finds itself "
             "first | distinct embeddings | add (s) |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in data["results"]:
        lines.append(f"| {r['plan']} | {r['fit']} | {r['entries']:,} | {r[f'class_precision_at_{k}']:.3f} | "
                     f"{100 * r['itself_first']:.1f}% | {r['distinct_embeddings']:,} | {r['add_seconds']:.1f} |")
    return "\n".join(lines)


def few_filter_table(path: Path = RESULTS / "few_filter.json") -> str:
    """Filtered synthetic libraries: (b) - (a) per filter, and how much each run's discriminator memorised."""
    data = json.loads(path.read_text())
    m = data["machine"]
    lines = [f"Filtering the library (`benchmarks/bench_few_filter.py` → `benchmarks/results/{path.name}`): each "
             f"run of few.json draws {data['pool_images_per_run']:,} samples and keeps {data['library_images']:,} "
             "(equal per class, in draw order) that pass the filter; the cell is (b) − (a) in points, as few.json's "
             "utility, with the filter's agreement rate (and the library's size when the pool ran short). "
             f"Membership AUCs: the run's own training images against as many test images. CPU {m['cpu']}, "
             f"{data['threads']} thread:", "",
             "| images | config | seed | G steps | no filter | D's class head | real-only classifier "
             "| LOGAN AUC | GAN-Leaks AUC |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def cell(f: dict) -> str:
        short = f", {f['library']:,} kept" if f["library"] < data["library_images"] else ""
        return f"{f['gain_points']:+.2f} ({100 * f['agreement']:.0f}%{short})"

    for r in data["results"]:
        f, a = r["filters"], r["d_membership_auc"]
        lines.append(f"| {r['size']} | `{r['config']}` | {r['seed']} | {r['generator_steps']} | "
                     f"{f['none']['gain_points']:+.2f} | {cell(f['d-class-head'])} | {cell(f['real-classifier'])} "
                     f"| {a['logan']:.3f} | {a['gan_leaks']:.3f} |")
    for config, by in data["summary"].items():
        lines.append(f"| mean | `{config}` | | | {by['none']['mean_gain_points']:+.2f} "
                     f"| {by['d-class-head']['mean_gain_points']:+.2f} | {by['real-classifier']['mean_gain_points']:+.2f} "
                     "| | |")
    return "\n".join(lines)


def rgb_recipe_table(path: Path = RESULTS / "rgb_recipe.json") -> str:
    """The RGB VQ-VAE recipe's settings, one at a time, at equal steps."""
    data = json.loads(path.read_text())
    m = data["machine"]
    key = next(k for k in next(iter(data["summary"].values())) if k.startswith("minus_"))  # minus_BASE_db
    base = key[len("minus_"):-len("_db")]
    lines = [f"Quantizer and optimiser settings of `{data['preset']}` at {data['size']} px "
             f"(`benchmarks/bench_rgb_recipe.py` → `benchmarks/results/{path.name}`): each variant trained "
             f"{data['steps']:,} steps on {data['threads_per_run']} thread of CPU {m['cpu']} (native bf16 "
             f"{'yes' if m['native_bf16'] else 'no'}), scored on the held-out "
             "photos' crops (PSNR per crop, pixels in [0, 1]); the difference is against "
             f"`{base}` on the same seeds:", "",
             "| variant | options | seeds | PSNR (dB) | seed spread | difference |", "| --- | --- | --- | --- | --- | --- |"]
    options = {r["variant"]: r["overrides"] for r in data["runs"]}
    for name, s in data["summary"].items():
        o = options[name]
        text = ", ".join(f"{k} {v}" for section in (o.get("model", {}).get("vq", {}), o.get("train", {}))
                         for k, v in section.items())
        diff = "—" if name == base else f"{s[key]:+.2f} dB"
        lines.append(f"| {name} | {text} | {', '.join(map(str, s['seeds']))} | {s['mean_psnr_db']:.2f} "
                     f"| {s['spread_db']:.2f} | {diff} |")
    return "\n".join(lines)


def rgb_gan_table(path: Path = RESULTS / "rgb_gan.json") -> str:
    """Variants of the RGB GAN preset (32 px, or 64 where the file says) at equal minutes, FID against the training
    photos."""
    data = json.loads(path.read_text())
    m = data["machine"]
    key = next(k for k in next(iter(data["summary"].values())) if k.startswith("fid_over_"))
    base = key[len("fid_over_"):]
    ref = data["runs"][0]["reference"]
    subset = (f" on the same {data['subset']:,} training crops (`--subset {data['subset']}`, subset seed 0; the "
              "reference draws from every training crop)") if data.get("subset") else ""
    lines = [f"Settings of the {data['size']} px RGB GAN preset (`benchmarks/bench_rgb_gan.py` → "
             f"`benchmarks/results/{path.name}`): each run trained {data['minutes']:g} minutes{subset} on "
             f"{data['threads_per_run']} thread of CPU {m['cpu']} "
             f"(native bf16 {'yes' if m['native_bf16'] else 'no'}; {data['jobs']} runs at a time), then "
             f"{data['samples']:,} samples scored with {data['runs'][0]['extractor']} against "
             f"{ref['images']:,} random crops of the training photos (`{ref['data']}`); the ratio is to `{base}`:", "",
             "| variant | options | seeds | generator steps | FID | seed spread | KID | FID ratio |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    options = {r["variant"]: (r["options"], r.get("model_options", {})) for r in data["runs"]}
    for name, s in data["summary"].items():
        flags, model = options[name]
        text = " ".join(flags + [f"model.{k}: {v}" for k, v in model.items()])
        spread = f"{s['fid_spread']:.1f}" if len(s["seeds"]) > 1 else "—"
        lines.append(f"| {name} | `{text}` | {', '.join(map(str, s['seeds']))} | {s['mean_steps']:,} "
                     f"| {s['mean_fid']:.1f} | {spread} | {s['mean_kid']:.4f} | {s[key]:.2f} |")
    return "\n".join(lines)


def inception_table(path: Path = RESULTS / "inception.json") -> str:
    """Images per second and FID error against fp32 of each way to run the FID Inception-v3 on a CPU."""
    data = json.loads(path.read_text())
    m = data["machine"]
    lines = [
        f"FID Inception-v3 on CPU {m['cpu']} ({m['threads']} threads, native bf16 "
        f"{'yes' if m['native_bf16'] else 'no'}, AMX {'yes' if m['amx'] else 'no'}; "
        f"`benchmarks/bench_inception.py` → `benchmarks/results/{path.name}`): images/s is the median of "
        f"{len(data['results'][0]['images_per_second_each_repeat'])} timings of 28×28 images resized to 299×299 "
        "(resize included); FID error is the largest relative difference from fp32's FID over four pairs "
        "(Fashion-MNIST test 1,000 vs 1,000 and vs a blurred, noisy copy; 250 vs 250 RGB photo tiles and vs a "
        f"degraded copy). {(m.get('note') or '').rstrip('.') + '. ' if m.get('note') else ''}ganvq uses "
        "`folded + oneDNN fusion, fp32, channels-last, batch 50` by default and, with `--bf16`, `folded + oneDNN "
        "fusion, fp32 stem + bf16 weights after, channels-last, batch 50` (rows named so when measured):",
        "",
        "| way to run the network | images / s | best | × as loaded | largest FID error | bar ≥ 15 img/s, ≤ 0.5% |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in data["results"]:
        met = r["images_per_second"] >= 15 and r["max_fid_relative_error"] <= 0.005
        lines.append(f"| {r['option']} | {r['images_per_second']:.1f} | {r['images_per_second_best']:.1f} "
                     f"| {r['speedup_vs_reference']:.2f} | {100 * r['max_fid_relative_error']:.3f}% "
                     f"| {'met' if met else 'not met'} |")
    return "\n".join(lines)


def fetch_when(f: dict) -> str:
    """When a re-measured part (bench_db.py --only fetch search) ran, and under what load."""
    if "measured" not in f:
        return ""
    load = f["load_1min_at_start_and_end"]
    return f"; re-measured {f['measured']} on the kept archive, 1-minute load {load[0]} → {load[1]}"


def db_table(path: Path = RESULTS / "db.json") -> str:
    """The image database on all of Fashion-MNIST: sizes against PNG, WebP and .gvq files; fetch, search, crash safety."""
    data = json.loads(path.read_text())
    s, f, q, c, b = data["sizes"], data["fetch"], data["search"], data["crash"], data["bars"]
    m, model = data["machine"], data["model"]

    def ok(key: str) -> str:
        return "met" if b[key] else "**not met**"

    webp = s["webp_bytes_per_image_at_equal_psnr"]
    lines = [
        f"Image database on {data['dataset']} (`benchmarks/bench_db.py` → `benchmarks/results/{path.name}`), "
        f"model {model['preset']} (VQ-VAE {model['vqvae']['step']:,} steps, prior {model['prior']['step']:,} steps), "
        f"CPU {m['cpu']}, {m['threads']} thread; {m['note']} (1-minute load {m['load_1min_at_start_and_end'][0]} "
        f"at the start, {m['load_1min_at_start_and_end'][1]} at the end). Decoded images: "
        f"{s['psnr_db']:.2f} dB PSNR, SSIM {s['ssim']:.3f} ({s['psnr_images']:,} random images).",
        "",
        "| storage | bytes / image |",
        "| --- | --- |",
        f"| PNG folder (file contents) | {s['png_folder_bytes_per_image']:.1f} |",
        f"| WebP at equal PSNR (file contents) | {'—' if webp is None else f'{webp:.1f}'} |",
        f"| one `.gvq` file per image | {s['gvq_files_bytes_per_image']:.1f} |",
        f"| `.gvqdb` archive without its search index | {s['archive_without_index_bytes_per_image']:.1f} |",
        f"| of which payloads (range-coded code maps) | {s['payload_bytes_per_image']:.1f} |",
        f"| of which everything else: offsets, checks, labels, names, headers | {s['overhead_bytes_per_image']:.2f} "
        f"({s['overhead_percent_of_payloads']:.2f}% of the payloads; bar ≤ 5%: {ok('overhead_within_5_percent')}) |",
        f"| search index (8-bit PCA embeddings and their PCA) | {s['index_bytes_per_image']:.1f} "
        f"({s['index_to_payload_ratio']:.2f}× the payloads; not larger than the images: "
        f"{ok('index_not_larger_than_images')}) |",
        "",
        "| operation | measured | bar |",
        "| --- | --- | --- |",
        f"| fetch one random image, decoded ({f['single']['ids']:,} IDs{fetch_when(f)}) | median "
        f"{f['single']['median_ms']:.1f} ms, p99 {f['single']['p99_ms']:.1f} ms (code map alone: median "
        f"{f['single_codes_only']['median_ms']:.1f} ms{', ' + f['single']['code_map_decode'] if 'code_map_decode' in f['single'] else ''}) "
        f"| ≤ 5 ms: median {ok('fetch_median_within_5_ms')}, p99 {ok('fetch_p99_within_5_ms')} |",
        f"| fetch a batch of {f['batch_ids']:,} random images | {f['batch_images_per_second']:,.0f} images/s "
        f"(the codec on the same entries: {f['codec_decode_images_per_second_same_ids']:,.0f}) "
        f"| ≥ the codec's: {ok('batch_at_least_codec_rate')} |",
        f"| search k = {q['k']} over {q['entries']:,} images, exact (the default up to 250,000){fetch_when(q)} "
        f"| median {q['exact']['median_ms']:.2f} ms, p99 {q['exact']['p99_ms']:.2f} ms "
        f"| median ≤ 10 ms: {ok('search_median_within_10_ms')} |",
        f"| search, HNSW (faiss, M {q['hnsw']['params']['M']}, efSearch {q['hnsw']['params']['efSearch']}) "
        f"| median {q['hnsw']['median_ms']:.2f} ms, recall@10 {q['hnsw']['recall_at_10_vs_exact']:.3f} against exact "
        f"| recall ≥ 0.95: {ok('hnsw_recall_at_least_0_95')} |",
        f"| class precision@10 (the query left out) | {q['class_precision_at_10']:.3f} "
        f"(float features: {q['float_class_precision_at_10']:.3f}) | reported |",
        f"| recall@10 the 8-bit {data['sizes']['index_bytes_per_image']:.0f}-byte embeddings keep against the float "
        f"features | {q['embedding_recall_at_10_vs_float_features']:.3f} | reported |",
        f"| build (`db add`, features included) | {data['build']['images_per_second']:,.0f} images/s | reported |",
        f"| `db add` of {c['images_per_add']:,} images (a commit every {c['commit_every']}) killed (SIGKILL) at "
        f"{c['kills']} random moments after its first write | earlier entries intact: "
        f"{'all' if c['all_intact'] else 'NOT all'}, `db check` passes: {'all' if c['all_checks_pass'] else 'NOT all'}"
        f" ({c['kills_mid_commit']} kills left an unfinished commit behind) | {ok('crash_safe')} |",
        "",
        f"Overall: {'met' if data['meets_bar'] else '**not met**'}.",
    ]
    return "\n".join(lines)

def reliability_table(path: Path = RESULTS / "reliability.json") -> str:
    """Hostile inputs through the CLI, and kills and signals during a training run (bench_reliability.py)."""
    data = json.loads(path.read_text())
    lines = [
        f"Reliability (`benchmarks/bench_reliability.py` → `benchmarks/results/{path.name}`, CPU "
        f"{data['machine']['cpu']}): {data['inputs_tried']:,} hostile inputs through the command line, "
        f"{data['tracebacks']} tracebacks, {data['failures']} failures (a refusal is one `ganvq: error:` line and "
        "exit 2):",
        "",
        "| input kind | tried | refused | accepted | slowest (s) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for kind, r in sorted(data["by_kind"].items()):
        lines.append(f"| {kind} | {r['tried']} | {r.get('refused', 0)} | {r.get('accepted', 0)} "
                     f"| {r['slowest_seconds']:.2f} |")
    k = data.get("kill_and_signals")
    if k:
        kill, sig = k["kill9"], k["signals"]
        lines += ["", f"A small VQ-VAE run killed with `kill -9` at {kill['trials']} random moments, each followed by "
                  f"`--resume`: {kill['continued']}/{kill['trials']} continued, and "
                  f"{kill['chains_identical_to_uninterrupted']}/{kill['chains']} finished chains equal an "
                  f"uninterrupted run bit for bit. SIGINT/SIGTERM at {sig['trials']} moments "
                  f"({sig['in_final_phase']} during the final scoring and saving): {sig['loadable']}/{sig['delivered']} "
                  f"left a loadable checkpoint, {sig['one_line']}/{sig['delivered']} printed one line with the right "
                  f"exit code, {sig['resumed_identical']}/{sig['delivered']} resumed to the uninterrupted result. "
                  f"Ctrl-C while starting: exit {k['early_ctrl_c']['rc']}, "
                  f"{len(k['early_ctrl_c']['lines'])} line."]
    return "\n".join(lines)


def _verdict(ok: bool, recorded=None) -> str:
    """"met" / "**not met**" from a check computed here; notes a verdict stored in the JSON that disagrees."""
    text = "met" if ok else "**not met**"
    if recorded is not None and bool(recorded) != ok:
        text += f" (the JSON records {'met' if recorded else 'not met'})"
    return text


def _rate(v) -> str:
    return "—" if v is None else f"{v:,.1f}"


_RESTORE_NAMES = {
    "damaged_input": "damaged input", "noisy_input": "noisy input", "mean_fill": "mean fill",
    "opencv_telea": "OpenCV Telea", "opencv_navier_stokes": "OpenCV Navier–Stokes",
    "ganvq_prior_best_of_1": "ganvq prior, 1 draw", "ganvq_prior_best_of_4": "ganvq prior, best of 4 draws",
    "ganvq_mask_trained_vqvae": "ganvq mask-trained VQ-VAE", "ganvq_mask_trained_vqgan": "ganvq mask-trained VQGAN",
    "bm3d": "BM3D (true σ)",
    "nl_means": "non-local means (scikit-image)", "richardson_lucy_30": "Richardson–Lucy, 30 iterations",
    "nl_means_estimated_sigma": "non-local means, estimated σ", "ganvq_trained_vqvae": "ganvq damage-trained VQ-VAE",
}


def _restore_name(key: str, row: dict | None = None) -> str:
    if key.startswith("ganvq_noise_model_"):
        m = (row or {}).get("model") or {}
        sigma = (m.get("corrupt") or "").removeprefix("noise:") or key.removeprefix("ganvq_noise_model_")[:3]
        codes = f", {m['preset_model']}" if m.get("preset_model") else ""
        return f"ganvq VQ-VAE trained on σ = {sigma.replace('-', '.')}{codes}"
    if key.startswith("ganvq_maskgit_best_of_"):
        return f"ganvq MaskGIT prior, best of {key.removeprefix('ganvq_maskgit_best_of_')}"
    return _RESTORE_NAMES.get(key, key)


def _restore_model(r: dict) -> str:
    m = r.get("model")
    return "—" if not m else f"{m['steps']:,} steps, {m['train_minutes']:g} min"


def _part_cpus(data: dict) -> str:
    """The CPU the parts of restore.json ran on: one name, or each part's where they differ."""
    cpus = {part: data[part].get("machine", data["machine"])["cpu"] for part in ("holes", "noise", "blur", "jpeg")
            if part in data}
    if len(set(cpus.values())) <= 1:
        return f"CPU {data['machine']['cpu']}"
    return ", ".join(f"{part} on CPU {cpu}" for part, cpu in cpus.items())


def restore_table(path: Path = RESULTS / "restore.json") -> str:
    """Restoration of damaged Fashion-MNIST test images: holes, noise, blur, JPEG; ganvq against classical tools."""
    data = json.loads(path.read_text())
    m = data["machine"]
    models = "; ".join(
        f"`{name}` {r['steps']:,} steps in {r['train_minutes']:g} min on {r['threads']} thread"
        f"{'s' * (r['threads'] != 1)}" + (f" (`{'train vqgan ' * bool(r.get('vqgan'))}--corrupt {r['corrupt']}`"
                                          + (", from scratch" if r.get("init") == "" else "") + ")"
                                          if r.get("corrupt") else "")
        for name, r in sorted(data["models"].items()))
    lines = [
        f"Restoration (`benchmarks/bench_restore.py` → `benchmarks/results/{path.name}`, pictures "
        f"`benchmarks/results/restore-*.png`): {data['dataset']}. FID on {data['fid_features']} "
        f"(the clean subset itself scores {data['fid_floor_clean_subset']:g}); PSNR: {data['psnr_definition']}. "
        f"Every method on {data['threads']} thread, {_part_cpus(data)}; the 1-minute load was not recorded (the "
        f"machine was shared with other benchmarks). Models ({m['torch']}): {models}. The {data['models']['prior-k64-local']['steps']:,}-step "
        "prior completes holes by redrawing the codes under them; the VQ-VAEs trained with `--corrupt` were "
        "fine-tuned from `vqvae-k64` unless marked from scratch.",
        "",
        f"Holes ({data['holes']['diversity']}):",
        "",
        "| mask | method | FID | PSNR (dB) | PSNR over the hole (dB) | diversity | images / s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    bars = []
    for mask, res in data["holes"]["results"].items():
        for key, r in res.items():
            if not isinstance(r, dict) or "fid" not in r:
                continue
            div = r.get("diversity")
            lines.append(f"| {data['holes']['masks'].get(mask, mask)} | {_restore_name(key)}"
                         f"{' (earlier run)' * bool(r.get('measured_earlier'))} | {r['fid']:.2f} "
                         f"| {r['psnr_db']:.2f} | {r['psnr_hole_db']:.2f} | {'—' if div is None else f'{div:.3f}'} "
                         f"| {_rate(r['images_per_second'])} |")
        classical = {k: r["fid"] for k, r in res.items() if k in ("mean_fill", "opencv_telea", "opencv_navier_stokes")}
        ours = {k: r["fid"] for k, r in res.items() if k.startswith("ganvq_")}
        best_c, best_g = min(classical, key=classical.get), min(ours, key=ours.get)
        ok = ours[best_g] <= 0.5 * classical[best_c]
        bars.append(f"{data['holes']['masks'].get(mask, mask)} mask: {_restore_name(best_g)} FID {ours[best_g]:.2f} "
                    f"≤ 0.5 × {_restore_name(best_c)}'s {classical[best_c]:.2f} (= {0.5 * classical[best_c]:.2f}): "
                    + _verdict(ok, res.get("bar", {}).get("met")))
    lines += ["", "Noise (Gaussian, σ in [0, 1] pixel units; every noise model scored at every σ; steps and minutes "
              "are the model's when that row was measured):", "",
              "| σ | method | model | FID | PSNR (dB) | images / s |",
              "| --- | --- | --- | --- | --- | --- |"]
    for sigma, res in data["noise"]["results"].items():
        s = sigma.removeprefix("sigma_")
        for key, r in res.items():
            if isinstance(r, dict) and "fid" in r:
                lines.append(f"| {s} | {_restore_name(key, r)}{' (earlier run)' * bool(r.get('measured_earlier'))} "
                             f"| {_restore_model(r)} | {r['fid']:.2f} | {r['psnr_db']:.2f} "
                             f"| {_rate(r['images_per_second'])} |")
        own_key = res["vs_bm3d"].get("model", f"ganvq_noise_model_{s.replace('.', '-')}")  # the model the bar uses
        own = res.get(own_key)
        if own and s in ("0.2", "0.4"):
            margin = own["psnr_db"] - res["bm3d"]["psnr_db"]
            bars.append(f"σ = {s}: {_restore_name(own_key, own)}, PSNR {own['psnr_db']:.2f} dB ≥ BM3D's "
                        f"{res['bm3d']['psnr_db']:.2f} + 1 dB (margin {margin:+.2f} dB): "
                        + _verdict(margin >= 1, res["vs_bm3d"].get("met")))
        elif own:
            bars.append(f"σ = {s} (reported, no bar): the σ-{s} model {own['psnr_db'] - res['bm3d']['psnr_db']:+.2f} dB "
                        "against BM3D")
    lines += ["", "Blur and JPEG:", "", "| damage | method | model | FID | PSNR (dB) | images / s |",
              "| --- | --- | --- | --- | --- | --- |"]
    for part in ("blur", "jpeg"):
        if part not in data:
            continue
        for key, r in data[part]["results"].items():
            if isinstance(r, dict) and "fid" in r:
                lines.append(f"| {data[part]['damage']} | {_restore_name(key)} | {_restore_model(r)} | {r['fid']:.2f} "
                             f"| {r['psnr_db']:.2f} | {_rate(r['images_per_second'])} |")
    lines += ["", "Bars: " + "; ".join(bars) + "."]
    return "\n".join(lines)


def _load(r: dict) -> str:
    if "load_average_1min_start" in r:
        return f"{r['load_average_1min_start']:g} → {r['load_average_1min_end']:g}"
    return "—"


def _vqgan_pairs(data: dict):
    """(latent, VQ-VAE row, VQGAN row, FID ratio, PSNR drop, bar met) for each latent size a bench_vqgan.py file
    has both models of."""
    bar = data["bar"]
    by = {(r["latent"], r["model"]): r for r in data["results"]}
    for latent in dict.fromkeys(r["latent"] for r in data["results"]):
        vae, gan = by.get((latent, "vqvae")), by.get((latent, "vqgan"))
        if vae and gan:
            ratio, drop = gan["recon_fid"] / vae["recon_fid"], vae["test_psnr_db"] - gan["test_psnr_db"]
            yield latent, vae, gan, ratio, drop, ratio <= bar["fid_ratio_max"] and drop <= bar["psnr_drop_max_db"]


def vqgan_table(path: Path = RESULTS / "vqgan.json") -> str:
    """VQ-VAE against VQGAN at equal minutes: reconstruction FID, PSNR, SSIM, codes; PSNR around the D's start."""
    data = json.loads(path.read_text())
    m, bar = data["machine"], data["bar"]
    end = data.get("load_average_1min_5min_15min_at_end")
    lines = [
        f"VQGAN against VQ-VAE on {data['dataset']} (`benchmarks/bench_vqgan.py` → `benchmarks/results/{path.name}`; "
        f"`{'`, `'.join(data['commands'])}`): {data['minutes_per_model']:g} minutes of training per model, "
        + ("both at once, one on each core" if data.get("run_together")
           else data.get("run_apart", "one after another"))
        + f", on {m['threads']} thread of CPU {m['cpu']} (precision as listed), all 10,000 test images scored. "
        f"Reconstruction FID: {data['recon_fid_definition']}; PSNR: {data['psnr_definition']}. Caveat: "
        f"{data['caveat']}. 1-minute load per row at the start and end of its training"
        + (f"; load average at the end of the invocation (1/5/15 min) {', '.join(f'{v:g}' for v in end)}" if end else "")
        + f", {data['wall_minutes']:g} minutes in all:",
        "",
        "| latents | model | preset | steps | s / step | load | precision | recon FID | PSNR (dB) | SSIM | codes used "
        "| perplexity |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in data["results"]:
        lines.append(f"| {r['latent']} | {r['model']} | `{r['preset']}` | {r['steps']:,} | {r['seconds_per_step']:.3f} "
                     f"| {_load(r)} | {r['precision_used']} | {r['recon_fid']:.2f} | {r['test_psnr_db']:.2f} "
                     f"| {r['test_ssim']:.3f} | {r['codes_used']} / {r['codebook_size']} | {r['perplexity']:.0f} |")
    settings = []
    for r in data["results"]:
        if "vqgan" in r:
            v = r["vqgan"]
            settings.append(f"{r['latent']}: {v['loss']} loss, disc weight {v['disc_weight']:g}"
                            f"{' × adaptive λ' if v['adaptive'] else ''}, discriminator from step {v['disc_start']}, "
                            f"perceptual `{v['perceptual']}` × {v['perceptual_weight']:g}"
                            + (f" from step {v['perceptual_start']}" if v.get("perceptual_start") else "")
                            + f", D width {v['d_width']} "
                            f"({v['d_norm']})")
    lines += ["", "VQGAN settings: " + "; ".join(settings) + "."]
    checks = []
    for latent, vae, gan, ratio, drop, ok in _vqgan_pairs(data):
        recorded = next((c["meets_bar"] for c in data.get("comparisons", []) if c["latent"] == latent), None)
        checks.append(f"{latent}: recon FID {gan['recon_fid']:.2f} / {vae['recon_fid']:.2f} = {ratio:.3f} "
                      f"(≤ {bar['fid_ratio_max']:g}), PSNR {drop:.2f} dB lower (≤ {bar['psnr_drop_max_db']:g}): "
                      + _verdict(ok, recorded)
                      + (f" (on Inception-v3, which no loss sees, first {gan['inception_images']:,} test images: "
                         f"{gan['recon_fid_inception']:.2f} / {vae['recon_fid_inception']:.2f} = "
                         f"{gan['recon_fid_inception'] / vae['recon_fid_inception']:.3f})"
                         if "recon_fid_inception" in gan and "recon_fid_inception" in vae else ""))
    lines += ["", ("Bar (VQGAN against the VQ-VAE of the same latents, same minutes): " + "; ".join(checks) + ".")
              if checks else "No VQ-VAE row in this file: no bar comparison."]
    logged = [r for r in data["results"] if r.get("around_disc_start")]
    if not logged:
        starts = ", ".join(dict.fromkeys(f"{r['vqgan']['disc_start']:,}" for r in data["results"] if "vqgan" in r))
        lines += ["", f"The discriminator (from step {starts}) never switched on within these runs: nothing is "
                  "logged around its start."] if starts else []
        return "\n".join(lines)
    lines += ["", "Around the discriminator's start (training batches, as logged):", "",
              "| latents | model | step | PSNR (dB) | codes used | adaptive GAN weight | D loss |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in logged:
        who = (f"{r['model']} (D from step {r['vqgan']['disc_start']:,}; logged around step {r['around_step']:,})"
               if "around_step" in r else f"{r['model']} (D from step {r['vqgan']['disc_start']})")
        for p in r["around_disc_start"]:
            lines.append(f"| {r['latent']} | {who} | {p['step']} | {p['psnr']:.2f} | {p['codes_used']} "
                         f"| {p['gan_weight']:.3f} | {p['d_loss']:.3f} |")
    return "\n".join(lines)


def _seed_files(path: Path) -> tuple[str, list[Path]]:
    """The prefix of a PREFIX-seedS.json file and all of that prefix's seed files beside it, by seed."""
    prefix = path.name.rsplit("-seed", 1)[0]
    return prefix, sorted(path.parent.glob(f"{prefix}-seed*.json"), key=lambda f: int(f.stem.rsplit("seed", 1)[1]))


def vqgan_seeds_table(path: Path) -> str:
    """One recipe's bench_vqgan.py files over seeds (PREFIX-seedS.json, `path` one of them): each seed's pair and
    verdict, then per latent size the seeds that meet the bar and the mean ratio and PSNR drop."""
    prefix, files = _seed_files(path)
    combined = any(k in json.loads(files[0].read_text()) for k in ("run_together", "run_apart"))
    against = ("the VQ-VAE it was paired with by `--combine`" if combined
               else "the VQ-VAE trained before it in the same invocation")
    lines = [f"The `{prefix}-seed*.json` pairs above, seed by seed (VQGAN against {against}):", "",
             "| latents | seed | VQ-VAE steps | VQ-VAE FID / PSNR | VQGAN steps | VQGAN FID / PSNR | FID ratio "
             "| PSNR drop (dB) | bar |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    pairs: dict[str, list[tuple[float, float, bool]]] = {}
    on_inception: dict[str, list[tuple[str, float]]] = {}  # (seed, ratio) where both models were scored on it
    for f in files:
        seed = f.stem.rsplit("seed", 1)[1]
        for latent, vae, gan, ratio, drop, ok in _vqgan_pairs(json.loads(f.read_text())):
            pairs.setdefault(latent, []).append((ratio, drop, ok))
            if "recon_fid_inception" in vae and "recon_fid_inception" in gan:
                on_inception.setdefault(latent, []).append(
                    (seed, gan["recon_fid_inception"] / vae["recon_fid_inception"]))
            lines.append(f"| {latent} | {seed} | {vae['steps']:,} | {vae['recon_fid']:.2f} / {vae['test_psnr_db']:.2f} "
                         f"| {gan['steps']:,} | {gan['recon_fid']:.2f} / {gan['test_psnr_db']:.2f} | {ratio:.3f} "
                         f"| {drop:.2f} | {_verdict(ok)} |")
    lines.append("")
    for latent, rows in pairs.items():
        met = sum(ok for _, _, ok in rows)
        inception = on_inception.get(latent)
        lines.append(f"{latent}: the bar is met on {met} of {len(rows)} seeds; mean FID ratio "
                     f"{sum(r for r, _, _ in rows) / len(rows):.3f}, mean PSNR drop "
                     f"{sum(d for _, d, _ in rows) / len(rows):.2f} dB."
                     + (f" On Inception-v3 (seed{'s' * (len(inception) > 1)} {', '.join(s for s, _ in inception)}): "
                        "FID ratio "
                        + ", ".join(f"{r:.3f}" for _, r in inception) + "." if inception else ""))
    return "\n".join(lines)


def _fmt_opt(value: float | None) -> str:
    """A FID to two decimals, or a dash where the run was not scored on that network."""
    return "—" if value is None else f"{value:.2f}"


def _ratio_opt(a: dict, b: dict, key: str) -> float | None:
    """a[key] / b[key], or None where either run lacks the score."""
    return a[key] / b[key] if key in a and key in b else None


def vqgan_long_table(path: Path) -> str:
    """The discriminator in long runs: each seed's PREFIX-seedS.json (a VQGAN whose D joins during the run, after
    the VQ-VAE of its invocation if any) beside PREFIXnod-seedS.json (the same VQGAN without D, its training PSNR
    logged around the step D joins in the other); `path`: one of the first."""
    prefix, files = _seed_files(path)
    lines, notes, pairs = [], [], []
    for f in files:
        seed = f.stem.rsplit("seed", 1)[1]
        data = json.loads(f.read_text())
        by = {r["model"]: r for r in data["results"]}
        bare = path.parent / f"{prefix}nod-seed{seed}.json"
        nod = json.loads(bare.read_text())["results"][0] if bare.is_file() else None
        if not lines:
            m, gan = data["machine"], by["vqgan"]
            budget = (f"{data['steps_per_model']:,} steps" if data.get("steps_per_model")
                      else f"{data['minutes_per_model']:g} minutes")
            lines = [f"The discriminator in runs long enough for it to join (`benchmarks/bench_vqgan.py` → "
                     f"`benchmarks/results/{prefix}-seed*.json`, `{data['commands'][0]}`; without D: "
                     f"`{prefix}nod-seed*.json`, the same with `"
                     + "--only vqgan " * ("--only" not in data["commands"][0])
                     + f"--set disc_start=100000 --around "
                     f"{gan['vqgan']['disc_start']}`): {budget} per model on {m['threads']} thread of CPU {m['cpu']}, "
                     f"two invocations at once. CNN FID: {data['recon_fid_definition']}, all 10,000 test images; "
                     f"Inception FID: the same on Inception-v3 (which no ganvq loss sees), "
                     + (f"first {gan['inception_images']:,} test images." if gan.get("inception_images")
                        else "not scored in these runs (—)."), "",
                     "| seed | model | steps | D steps | s / step | CNN FID | Inception FID | PSNR (dB) | SSIM "
                     "| codes used |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for name, r in (("VQ-VAE", by.get("vqvae")), ("VQGAN, D joins", by["vqgan"]), ("VQGAN, no D", nod)):
            if r is None:
                continue
            start = r["vqgan"]["disc_start"] if "vqgan" in r else None
            d_steps = f"{r['steps'] - start:,}" if start is not None and start < r["steps"] else "—"
            lines.append(f"| {seed} | {name} | {r['steps']:,} | {d_steps} | {r['seconds_per_step']:.3f} "
                         f"| {r['recon_fid']:.2f} "
                         f"| {_fmt_opt(r.get('recon_fid_inception'))} | {r['test_psnr_db']:.2f} | {r['test_ssim']:.3f} "
                         f"| {r['codes_used']} / {r['codebook_size']} |")
        vae, gan = by.get("vqvae"), by["vqgan"]
        if vae:
            pairs.append((gan["recon_fid"] / vae["recon_fid"], _ratio_opt(gan, vae, "recon_fid_inception"),
                          vae["test_psnr_db"] - gan["test_psnr_db"]))
        if nod is not None:
            notes.append((seed, gan, nod))
    lines.append("")
    if pairs:
        n = len(pairs)
        lines.append(f"VQGAN (D joins) over the VQ-VAE, mean of {n} seed{'s' * (n > 1)}: CNN FID ratio "
                     f"{sum(p[0] for p in pairs) / n:.3f}, "
                     + (f"Inception FID ratio {sum(p[1] for p in pairs) / n:.3f}, "
                        if all(p[1] is not None for p in pairs) else "")
                     + f"PSNR {sum(p[2] for p in pairs) / n:.2f} dB lower; the bar (CNN ratio ≤ 0.5, ≤ 1 dB lower) "
                     f"is met on {sum(p[0] <= 0.5 and p[2] <= 1 for p in pairs)} of {n}.")
    for seed, gan, nod in notes:
        at = {q["step"]: q["psnr"] for q in nod["around_disc_start"]}
        start = gan["vqgan"]["disc_start"]
        logged = [q for q in gan["around_disc_start"] if q["step"] in at]

        def gap(lo: int, hi: int) -> str:
            diffs = [q["psnr"] - at[q["step"]] for q in logged if lo <= q["step"] <= hi]
            return f"{sum(diffs) / len(diffs):+.2f} dB" if diffs else "—"

        end = logged[-1]["step"] if logged else start
        lines.append(f"Seed {seed}, with D over without: CNN FID ratio {gan['recon_fid'] / nod['recon_fid']:.3f}, "
                     + (f"Inception FID ratio {inc:.3f}, " if (inc := _ratio_opt(gan, nod, "recon_fid_inception"))
                        is not None else "")
                     + f"test PSNR {gan['test_psnr_db'] - nod['test_psnr_db']:+.2f} dB; training PSNR with D minus "
                     f"without (logged every 25 steps), mean over steps {start - 100:,}–{start:,}, before D joins: "
                     f"{gap(start - 100, start)}; over steps {start + 1:,}–{start + 200:,}: "
                     f"{gap(start + 1, start + 200)}; over steps {end - 199:,}–{end:,}: {gap(end - 199, end)}.")
    return "\n".join(lines)


def vqgan_sweep_table(path: Path = RESULTS / "vqgan-sweep.json") -> str:
    """Many short bench_vqgan.py runs, one setting each, as one table (collect_vqgan_sweep.py)."""
    data = json.loads(path.read_text())
    rows = data["rows"]
    cpus = ", ".join(dict.fromkeys(r["cpu"] for r in rows))
    budget = ", ".join(dict.fromkeys(f"{r['minutes']:g}" for r in rows if r["minutes"] is not None))
    budget += " minutes of training per model"
    if any(r["minutes"] is None for r in rows):  # bench_vqgan.py --steps: a step count instead of a time budget
        budget += " (where a command says `--steps N`: N steps)"
    inception = ", ".join(dict.fromkeys(f"{r['inception_images']:,}" for r in rows if "inception_images" in r)) or "N"
    lines = [
        f"VQGAN settings swept on {data['dataset']} (`benchmarks/collect_vqgan_sweep.py` → "
        f"`benchmarks/results/{path.name}`, gathering the `benchmarks/bench_vqgan.py` runs in "
        f"`benchmarks/results/vqgan-sweep/`): {budget} on "
        f"{', '.join(dict.fromkeys(str(r['threads']) for r in rows))} thread of CPU {cpus}, all 10,000 test images "
        f"scored. Each row's settings are its command's `--set` options over the preset's (a VQ-VAE row: the plain "
        f"VQ-VAE that trained in the same invocation). Reconstruction FID: {data['recon_fid_definition']}; PSNR: "
        f"{data['psnr_definition']}. Caveat: {data['caveat']}. Inception FID: the same on Inception-v3, which no "
        f"ganvq loss sees, over the first {inception} test images (— where not scored).",
        "",
        "| file | latents | model | seed | settings | steps | s / step | load | precision | recon FID "
        "| Inception FID | PSNR (dB) | SSIM |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        options = r["command"].split(" --")[1:]
        sets = " ".join(part.split(" ", 1)[1] for part in options if part.startswith("set "))
        seed = next((part.split(" ", 1)[1] for part in options if part.startswith("seed ")), "0")
        settings = f"`{sets}`" if r["model"] == "vqgan" and sets else ("preset" if r["model"] == "vqgan" else "—")
        # the spike guard joined the 14x14 preset later: say it where a row's `--set` options ran over it
        clip = r.get("vqgan", {}).get("clip_spikes", 0)
        if sets and clip and "clip_spikes=" not in sets:
            settings += f", with the preset's `clip_spikes={clip:g}`"
        inception_fid = f"{r['recon_fid_inception']:.2f}" if "recon_fid_inception" in r else "—"
        lines.append(f"| `{r['file']}` | {r['latent']} | {r['model']} | {seed} | {settings} | {r['steps']:,} "
                     f"| {r['seconds_per_step']:.3f} | {_load(r)} | {r['precision_used']} | {r['recon_fid']:.2f} "
                     f"| {inception_fid} | {r['test_psnr_db']:.2f} | {r['test_ssim']:.3f} |")
    return "\n".join(lines)


def vqgan_extractors_table(path: Path = RESULTS / "vqgan-extractors.json") -> str:
    """bench_vqgan pairs scored again on Inception-v3 beside the CNN their perceptual term matches."""
    data = json.loads(path.read_text())
    m = data["machine"]
    lines = [f"The VQGAN's reconstruction FID on a network its loss never saw "
             f"(`benchmarks/bench_vqgan_extractors.py` → `benchmarks/results/{path.name}`; `{data['command']}`), on "
             f"CPU {m['cpu']}, {data['measured']}: {data['method']}. Ratios are VQGAN over VQ-VAE; the bar asks for "
             f"at most {data['bar']['fid_ratio_max']:g}.",
             "", "| file | latents | seed | minutes | steps (VQ-VAE / VQGAN) | PSNR drop (dB) | FID ratio, CNN, 10,000 "
             "| FID ratio, CNN | Inception FID (VQ-VAE / VQGAN) | FID ratio, Inception |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    by_latent: dict[str, list[dict]] = {}
    for p in data["pairs"]:
        by_latent.setdefault(p["latent"], []).append(p)
        a, b = p["vqvae"], p["vqgan"]
        lines.append(f"| `{p['source']}` | {p['latent']} | {p['seed']} | {p['minutes_per_model']:g} "
                     f"| {a['steps']:,} / {b['steps']:,} | {p['psnr_drop_db_10k']:.2f} | {p['fid_ratio_cnn_10k']:.3f} "
                     f"| {p['fid_ratio_cnn']:.3f} | {a['fid_inception']:.2f} / {b['fid_inception']:.2f} "
                     f"| {p['fid_ratio_inception']:.3f} |")
    lines.append("")
    for latent, pairs in by_latent.items():
        mean = {k: sum(p[k] for p in pairs) / len(pairs) for k in ("fid_ratio_cnn", "fid_ratio_inception")}
        lines.append(f"{latent}: {len(pairs)} pair{'s' * (len(pairs) > 1)}; mean FID ratio "
                     f"{mean['fid_ratio_cnn']:.3f} on the CNN, "
                     f"{mean['fid_ratio_inception']:.3f} on Inception-v3; the VQGAN's Inception FID is the lower on "
                     f"{sum(p['fid_ratio_inception'] < 1 for p in pairs)} of {len(pairs)}.")
    lines += [f"Skipped: {s}." for s in data["skipped"]]
    return "\n".join(lines)


def vqgan_generation_table(path: Path = RESULTS / "vqgan-generation.json") -> str:
    """Generation through VQGAN codes (VQGAN + prior) against ganvq's best GAN preset at the same total minutes."""
    data = json.loads(path.read_text())
    m, res = data["machine"], data["results"]
    end = data.get("load_average_1min_5min_15min_at_end")
    lines = [
        f"Generation through codes (`benchmarks/bench_vqgan_generation.py` → `benchmarks/results/{path.name}`, "
        f"measured {data.get('measured', 'date not recorded')}; `{'`, `'.join(data['commands'])}`): "
        f"{data['samples']:,} samples per route scored on {data['features']} against the 10,000 Fashion-MNIST "
        f"test images; {data['threads']} thread of CPU {m['cpu']}"
        + (f", load average at the end (1/5/15 min) {', '.join(f'{v:g}' for v in end)}" if end else "")
        + ". Memorization: median distance of a sample to its nearest training image over the test images' median "
        "(RMS pixels), and the fraction of samples closer than 1% of test images are:",
        "",
        "| route | training | minutes in all | FID | KID | precision | recall | density | coverage | classes "
        "| label entropy | NN median ratio | closer than 1% of test |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in res.items():
        if "prior_steps" in r:
            vqgan_steps = f"{r['vqgan_steps']:,} steps" if "vqgan_steps" in r else "steps not recorded"
            codes_model = "VQ-VAE" if name.startswith("vqvae") else "VQGAN"  # an ablation's plain VQ-VAE
            training = (f"{codes_model} {r['vqgan_minutes']:g} min ({vqgan_steps}), then prior "
                        f"{r['prior_steps']:,} steps in {r['prior_train_seconds'] / 60:.1f} min"
                        + (f", sampled at temperature {r['temperature']:g}" if "temperature" in r else ""))
        else:
            training = f"{r['steps']:,} G steps in {r['train_seconds'] / 60:.1f} min"
        mem = r["memorization"]
        lines.append(f"| {name} | {training} | {r['total_minutes']:g} | {r['fid']:.2f} | {r['kid_mean']:.4f} "
                     f"| {r['precision']:.3f} | {r['recall']:.3f} | {r['density']:.3f} | {r['coverage']:.3f} "
                     f"| {r['class_coverage']} | {r['label_entropy']:.3f} | {mem['median_ratio']:.2f} "
                     f"| {mem['closer_than_test_q0.01_fraction']:.4f} |")
    on_inception = [(name, r) for name, r in res.items() if "fid_inception" in r]
    if on_inception:
        first = on_inception[0][1]["inception_images"]
        lines += ["", f"FID on Inception-v3, which no ganvq loss sees (the first {first:,} samples, classes in turn, "
                  "against the first as many test images; biased upward at this count, so compare routes, not "
                  "papers): " + "; ".join(f"{name} {r['fid_inception']:.2f}" for name, r in on_inception) + "."]
    if data.get("prior_config_changes"):
        changes = ", ".join(f"`{c}`" for c in data["prior_config_changes"])
        lines += ["", f"The prior is the library's default with {changes}."]
    if data.get("temperature_note") and any(r.get("temperature", 1) < 1 for r in res.values()):
        lines += ["", f"Temperature: {data['temperature_note']}."]
    gan = next((r for k, r in res.items() if "prior_steps" not in r), None)
    if gan is None:
        return "\n".join(lines + ["", "No GAN in this run (an ablation of the route through codes): no bar."])
    verdicts = []
    for name, codes in res.items():
        if "prior_steps" not in codes:
            continue
        ratio = codes["fid"] / gan["fid"]
        fid_ok, recall_ok = ratio <= data["bar"]["fid_ratio_max"], codes["recall"] >= gan["recall"]
        stored = data["judged"][name]["meets_bar"] if "judged" in data else data.get("meets_bar")
        verdicts.append(f"{name}: FID {codes['fid']:.2f} within {data['bar']['fid_ratio_max']:g} × the GAN's "
                        f"{gan['fid']:.2f} (×{ratio:.2f}): {_verdict(fid_ok)}; recall {codes['recall']:.3f} ≥ the "
                        f"GAN's {gan['recall']:.3f}: {_verdict(recall_ok)}. Overall: "
                        f"{_verdict(fid_ok and recall_ok, stored)}.")
    lines += ["", "Bar — " + " ".join(verdicts) if len(verdicts) > 1 else "Bar: " + verdicts[0].split(": ", 1)[1]]
    return "\n".join(lines)


def _utility_by_samples(row: dict) -> dict[str, float]:
    """A privacy row's downstream accuracy per number of samples the classifier trained on (older rows: one)."""
    if "utility_accuracy_by_samples" in row:
        return row["utility_accuracy_by_samples"]
    u = row.get("utility")
    return {str(u.get("train_images", 10_000)): u["accuracy"]} if u else {}


def _before_layout_fix(row: dict) -> bool:
    """Whether a private run was trained before ganvq fed opacus NCHW inputs (those rows have no "clipping": the
    fix and the option came in one commit)."""
    return bool(row.get("privacy")) and "clipping" not in row


def privacy_table(path: Path = RESULTS / "privacy.json") -> str:
    """DP-SGD GANs and membership-inference attacks (LOGAN, GAN-Leaks) against private and non-private runs."""
    data = json.loads(path.read_text())
    m, runs = data["machine"], data["results"]
    lines = [
        f"Private generation (`benchmarks/bench_privacy.py` → `benchmarks/results/{path.name}`, measured "
        f"{data.get('measured', 'date not recorded')}, pictures `benchmarks/results/privacy_*.png`): preset "
        f"`{data['preset']}`, Fashion-MNIST, {data['samples_per_run']:,} samples per run, each run on "
        f"{m['threads']} thread of CPU {m['cpu']}. Runs are set by G steps, not minutes; load average (1 min) "
        "before → after each run as listed. FID on the shipped Fashion-MNIST CNN against the test images; "
        "downstream accuracy: a small CNN trained on the run's labelled samples, tested on the real test set"
        + (f". Note: {data['note'].rstrip('.')}." if data.get("note") else ".") + " Runs:",
        "",
        "| run | train images | ε spent (target), δ | noise multiplier | sample rate | G / D steps (n_D, batch) "
        "| minutes | s / G step | load | FID | classes | downstream accuracy (classifier's samples) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    elsewhere = sorted({r["cpu"] for r in runs if r.get("cpu", m["cpu"]) != m["cpu"]})  # rows of other machines
    for r in runs:
        p = r.get("privacy")
        name = r["name"] + ("†" if _before_layout_fix(r) else "") + ("‡" if r.get("cpu") in elsewhere else "")
        eps = "not private" if not p else f"{p['epsilon']:.2f} ({p['target_epsilon']:g}), {p['delta']:g}"
        noise = "—" if not p else f"{p['noise_multiplier']:.3f}"
        rate = "—" if not p else f"{p['sample_rate']:.4g}"
        fid = f"{r['fid']:.1f}" if "fid" in r else "—"
        acc = ", ".join(f"{a:.1%} ({int(n):,})" for n, a in _utility_by_samples(r).items()) or "—"
        n_d = r.get("n_d", r["discriminator_steps"] // max(r["generator_steps"], 1))
        batch = r.get("batch_size", r.get("config", {}).get("train", {}).get("batch_size", "?"))
        lines.append(f"| {name} | {r['train_images']:,} | {eps} | {noise} | {rate} "
                     f"| {r['generator_steps']:,} / {r['discriminator_steps']:,} ({n_d}, {batch}) | {r['minutes']:.2f} "
                     f"| {r['seconds_per_generator_step']:.3f} | {r['load_average_before'][0]:g} → "
                     f"{r['load_average_after'][0]:g} | {fid} | {r.get('class_coverage', '—')} | {acc} |")
    if any(map(_before_layout_fix, runs)):
        lines += ["", "† Trained before the fix of D's per-sample gradients: opacus 1.6 computes a convolution's "
                  "per-sample gradients right only for NCHW-contiguous inputs, and ganvq fed it channels_last ones, "
                  "so D's middle convolution got zero gradients (it learned from the noise alone) and its last one "
                  "wrong ones. Each row still read only its own image, so the ε listed holds."]
    if elsewhere:
        lines += ["", f"‡ Trained and scored on CPU {' and '.join(elsewhere)} instead (runs are set by G "
                  "steps; its minutes and load are that machine's)."]
    reference = data.get("real_reference")
    if reference:
        lines += ["", "The same classifier trained on real training images instead of samples (what a perfect "
                  "generator would score): " + ", ".join(f"{a:.1%} on {int(n):,}" for n, a in
                                               reference["accuracy_by_images"].items()) + "."]
    lines += ["", "Membership inference (members: the run's training images; non-members: held-out images, as many as "
              "listed; 95% bootstrap intervals in brackets, where recorded) and the memorization audit (nearest "
              "training image per sample, RMS pixels):", "",
              "| run | attack | members / non-members | generated images searched | AUC | TPR at 1% FPR "
              "| TPR at 0.1% FPR | NN median ratio | closer than 1% of test |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in runs:
        if "membership" not in r:
            continue
        mem = r["memorization"]
        for name, a in r["membership"]["attacks"].items():
            auc, tpr = f"{a['auc']:.3f}", f"{a['tpr_at_1pct_fpr']:.1%}"
            if "auc_95" in a:
                (lo, hi), (tlo, thi) = a["auc_95"], a["tpr_at_1pct_fpr_95"]
                auc, tpr = f"{auc} [{lo:.3f}, {hi:.3f}]", f"{tpr} [{tlo:.1%}, {thi:.1%}]"
            searched = f"{r['membership']['samples']:,}" if name.startswith("gan_leaks") else "—"
            lines.append(f"| {r['name']} | {name} | {a['members']:,} / {a['non_members']:,} | {searched} | {auc} "
                         f"| {tpr} | {a['tpr_at_0.1pct_fpr']:.1%} | {mem['median_ratio']:.2f} "
                         f"| {mem['closer_than_test_q0.01_fraction']:.4f} |")
    recorded = data.get("bar", {})
    by = {r["name"]: r for r in runs}
    checks = []
    open_run = next((r for r in runs if "membership" in r and not r.get("privacy")), None)
    if open_run:
        a = open_run["membership"]["attacks"]
        best = {"logan": a["logan"]["auc"], "gan_leaks": max(v["auc"] for k, v in a.items() if "gan_leaks" in k)}
        ok = all(v >= 0.6 for v in best.values())
        checks.append(f"attacks work on `{open_run['name']}` (AUC ≥ 0.6, both LOGAN and GAN-Leaks' best variant: "
                      + ", ".join(f"{k} {v['auc']:.3f}" for k, v in a.items()) + "): "
                      + _verdict(ok, recorded.get("attacks_work_on_overfit_run", {}).get("ok")))
    dp_run = next((r for r in runs if "membership" in r and r.get("privacy")), None)
    if dp_run:
        a = dp_run["membership"]["attacks"]
        ok = all(abs(v["auc"] - 0.5) <= 0.05 and abs(v["tpr_at_1pct_fpr"] - 0.01) <= 0.01 for v in a.values())
        checks.append(f"with DP at ε = {dp_run['privacy']['target_epsilon']:g} (`{dp_run['name']}`) AUC within 0.05 "
                      "of 0.5 and TPR at 1% FPR within 1 point of 1%, every attack: "
                      + _verdict(ok, recorded.get("dp_attacks_near_chance", {}).get("ok")))
    for eps in (10.0, 1.0):
        full = [r for r in runs if r.get("privacy") and r["train_images"] >= 60000
                and r["privacy"]["target_epsilon"] == eps and "utility" in r]
        if full:
            r = max(full, key=lambda r: r["utility"]["accuracy"])  # the best run decides, as bench_privacy's bar
            said = (f"ε = {eps:g} on all {r['train_images']:,} images (best: `{r['name']}`): downstream "
                    f"accuracy {r['utility']['accuracy']:.1%} (classifier on "
                    f"{r['utility'].get('train_images', 10_000):,} samples)")
            if eps == 10:
                rec = recorded.get("downstream_accuracy_eps10", {}).get("ok")
                checks.append(f"{said} ≥ 75%: " + _verdict(r["utility"]["accuracy"] >= 0.75, rec))
            else:
                checks.append(f"{said}, reported (the issue sets no bar at ε = {eps:g})")
        else:
            checks.append(f"ε = {eps:g} on all 60,000 images: no run in this file")
    lines += ["", "Bars: " + "; ".join(checks) + "."]
    return "\n".join(lines)


def privacy_labels_table(path: Path = RESULTS / "privacy-labels.json") -> str:
    """Per run: do the samples show their class (GAN-test), the data's variety (precision/recall per class), and what
    the downstream classifier trained on them gets right (GAN-train)?"""
    data = json.loads(path.read_text())
    m, rows, names = data["machine"], data["results"], data["class_names"]
    lines = [
        f"Samples against the test set, class by class (`benchmarks/bench_privacy_labels.py` → "
        f"`benchmarks/results/{path.name}`, measured {data['measured']}, CPU {m['cpu']}, {m['threads']} thread): "
        f"each run's {rows[-1]['samples']:,} samples (sample seed {data['sample_seed']}, classes in turn) on the "
        f"shipped Fashion-MNIST CNN, against {data['reference']}. Agreement: the share the CNN puts in the class "
        "asked for (GAN-test). Precision, recall and coverage (k = 5) of all samples against all test images, "
        "then the mean over the classes of class k's samples against class k's test images. Downstream: the utility "
        "classifier (seed 0) trained on these samples, accuracy on the real test set, and its weakest class; "
        "augmented: the same classifier trained with classic augmentation (random shifts up to 2 pixels, "
        "horizontal flips). The real row is as many real training images: the CNN was trained on them, so its "
        "agreement is an upper bound, not a comparison:",
        "",
        "| run | G weights | agreement | precision | recall | coverage | recall per class (mean) "
        "| coverage per class (mean) | downstream accuracy | weakest class downstream | downstream, augmented |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        per, down = r["per_class_prdc"], r["downstream_per_class"]
        weakest = min(range(len(down)), key=down.__getitem__)
        weights = "—" if r["run"] is None else ("EMA" if r.get("ema", True) else "last")
        name = r["name"].split(" (")[0] if r["run"] else r["name"]
        augmented = r.get("downstream_accuracy_augmented")
        lines.append(f"| {name} | {weights} | {r['agreement']:.1%} | {r['prdc']['precision']:.3f} "
                     f"| {r['prdc']['recall']:.3f} | {r['prdc']['coverage']:.3f} "
                     f"| {sum(per['recall']) / len(per['recall']):.3f} "
                     f"| {sum(per['coverage']) / len(per['coverage']):.3f} | {r['downstream_accuracy']:.1%} "
                     f"| {names[weakest]} {down[weakest]:.1%} | {'—' if augmented is None else f'{augmented:.1%}'} |")
    return "\n".join(lines)


def privacy_ema_table(path: Path = RESULTS / "privacy-ema-s1.json") -> str:
    """bench_privacy_ema.py over seeds (PREFIX-sS.json beside `path`, one of them): each private run read out through
    G's averages, and per readout the mean change in downstream accuracy against the run's own EMA."""
    prefix = path.stem.rsplit("-s", 1)[0]
    files = sorted((f for f in path.parent.glob(f"{prefix}-s*.json") if re.fullmatch(rf"{prefix}-s\d+", f.stem)),
                   key=lambda f: int(f.stem.rsplit("-s", 1)[1]))
    parts = [json.loads(f.read_text()) for f in files]
    first = parts[0]
    runs = "; ".join(
        f"seed {d['seed']}: {d['run']['generator_steps']:,} G steps in {d['run']['minutes']} minutes on "
        f"{d['run']['threads']} thread of CPU {d['machine']['cpu']}, load {d['run']['load_average_before'][0]:g} → "
        f"{d['run']['load_average_after'][0]:g}, ε {d['run']['privacy']['epsilon']:.2f} (δ {d['run']['delta']:g}), "
        f"noise multiplier {d['run']['privacy']['noise_multiplier']:.3f}" for d in parts)
    described = [d[0].upper() + d[1:] for d in (first["what"], first.get("labels_what")) if d]
    lines = [f"One private run per seed read out through several averages of G's weights "
             f"(`benchmarks/bench_privacy_ema.py` → `benchmarks/results/{prefix}-s*.json`; preset `dp-fmnist` on "
             f"all 60,000 training images): {runs}. {'. '.join(described)}:", "",
             "| seed | G weights | FID | precision | recall | agreement | recall per class (mean) "
             "| downstream (10,000 samples) | downstream (60,000 samples) | against the run's EMA (60,000) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    change: dict[str, list[float]] = {}
    for d in parts:
        base = next(r for r in d["results"] if r["readout"] == "ema (preset)")["utility_accuracy_by_samples"]
        for r in d["results"]:
            u = r["utility_accuracy_by_samples"]
            delta = 100 * (u["60000"] - base["60000"])
            change.setdefault(r["readout"], []).append(delta)
            agreement, per_class, small = r.get("agreement"), r.get("recall_per_class_mean"), u.get("10000")
            lines.append(f"| {d['seed']} | {r['readout']} | {r['fid']:.1f} | {r['precision']:.3f} "
                         f"| {r['recall']:.3f} | {'—' if agreement is None else f'{agreement:.1%}'} "
                         f"| {'—' if per_class is None else f'{per_class:.3f}'} "
                         f"| {'—' if small is None else f'{small:.1%}'} | {u['60000']:.1%} "
                         f"| {'—' if r['readout'] == 'ema (preset)' else f'{delta:+.1f} points'} |")
    lines += ["", "Mean change in downstream accuracy (60,000 samples) against the run's own EMA, over "
              f"{len(parts)} seed{'s' * (len(parts) > 1)}: " + "; ".join(
                  f"{k} {sum(v) / len(v):+.1f} points ({', '.join(f'{x:+.1f}' for x in v)})"
                  for k, v in change.items() if k != "ema (preset)") + "."]
    return "\n".join(lines)


def privacy_latent_table(path: Path = RESULTS / "privacy-latent.json") -> str:
    """bench_privacy_latent.py: private runs sampled with their latents spread wider, per run and scale."""
    data = json.loads(path.read_text())
    lines = [f"Private samples from wider latents (`benchmarks/bench_privacy_latent.py` → "
             f"`benchmarks/results/{path.name}`, CPU {data['machine']['cpu']}): {data['what']}:", "",
             "| run (training seed) | G steps | z scale s | FID | precision | recall | downstream (60,000 samples) "
             "| against s = 1 |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    base = {r["folder"]: r["downstream_accuracy"] for r in data["results"] if r["scale"] == 1}
    changes: dict[float, list[float]] = {}
    for r in data["results"]:
        change = "—"
        if r["scale"] != 1 and r["folder"] in base:
            changes.setdefault(r["scale"], []).append(100 * (r["downstream_accuracy"] - base[r["folder"]]))
            change = f"{changes[r['scale']][-1]:+.1f} points"
        lines.append(f"| `{r['run']}` ({r['train_seed']}) | {r['generator_steps']:,} | {r['scale']:g} "
                     f"| {r['fid']:.1f} | {r['precision']:.3f} | {r['recall']:.3f} "
                     f"| {r['downstream_accuracy']:.1%} | {change} |")
    if changes:
        lines += ["", "Mean change in downstream accuracy against the same run at s = 1: " + "; ".join(
            f"s = {k:g} {sum(v) / len(v):+.1f} points over {len(v)} run{'s' * (len(v) > 1)} "
            f"({', '.join(f'{x:+.1f}' for x in v)})" for k, v in sorted(changes.items())) + "."]
    return "\n".join(lines)


TABLES = {"vqvae.json": vqvae_table, "metrics.json": metrics_table, "gan.json": gan_table,
          "gan-da-variants.json": gan_da_variants_table, "gan-da-variants-long.json": gan_da_variants_table,
          "codec.json": codec_table,
          "db.json": db_table, "precision.json": precision_table, "presets.json": presets_table,
          "presets-avx2.json": presets_table,
          "own_data.json": own_data_table, "rgb_recipe.json": rgb_recipe_table,
          "rgb_recipe_32.json": rgb_recipe_table, "rgb_gan.json": rgb_gan_table, "rgb_gan_few.json": rgb_gan_table,
          "rgb_gan_few_64.json": rgb_gan_table,
          "rgb_recipe_600.json": rgb_recipe_table, "inception.json": inception_table,
          "inception-mixed.json": inception_table, "inception-speed.json": inception_table,
          "reliability.json": reliability_table, "restore.json": restore_table, "vqgan.json": vqgan_table,
          "vqgan-7x7-rerun.json": vqgan_table, "vqgan-ablation-no-gan.json": vqgan_table,
          "vqgan-7x7-pw005.json": vqgan_table, "vqgan-7x7-pw010.json": vqgan_table, "vqgan-7x7-late.json": vqgan_table,
          "vqgan-perceptual.json": vqgan_table, "vqgan-perceptual-seed1.json": vqgan_table,
          "vqgan-perceptual-seed2.json": vqgan_table, "vqgan-perceptual-seed3.json": vqgan_table,
          "vqgan-14x14-amx.json": vqgan_table,
          **{f"vqgan-p0-seed{s}.json": vqgan_table for s in range(7)},
          "vqgan-p0-seed7.json": lambda path: vqgan_table(path) + "\n\n" + vqgan_seeds_table(path),  # the last seed
          **{f"vqgan-p14-seed{s}.json": vqgan_table for s in range(4)},
          "vqgan-p14-seed4.json": lambda path: vqgan_table(path) + "\n\n" + vqgan_seeds_table(path),  # the last seed
          "vqgan-p14-10min-seed0.json": vqgan_table,
          "vqgan-p14-10min-seed1.json": lambda path: vqgan_table(path) + "\n\n" + vqgan_seeds_table(path),
          "vqgan-p14-40min-seed0.json": vqgan_table,
          "vqgan-p14-40min-seed1.json": lambda path: vqgan_table(path) + "\n\n" + vqgan_seeds_table(path),
          "vqgan-p14-40min-parallel-seed0.json": vqgan_table, "vqgan-p14-40min-dw08-seed0.json": vqgan_table,
          "vqgan-p14-40min-pw003-seed1.json": vqgan_table, "vqgan-p14-40min-pw002-seed0.json": vqgan_table,
          "vqgan-p14-40min-pw002-seed1.json": vqgan_table,
          "vqgan-p14-40min-pw002-seed2.json": lambda path: vqgan_table(path) + "\n\n" + vqgan_seeds_table(path),
          "vqgan-p14-40min-clip3-seed1.json": vqgan_table,
          "vqgan-p14-40min-clip3-seed2.json": lambda path: vqgan_table(path) + "\n\n" + vqgan_seeds_table(path),
          "vqgan-extractors-40min.json": vqgan_extractors_table,
          "vqgan-extractors-40min-spikes.json": vqgan_extractors_table,
          "vqgan-p14-40min-pw003-clip3-seed1.json": vqgan_table,
          "vqgan-p14-40min-pw003-clip3-seed2.json": lambda path: vqgan_table(path) + "\n\n" + vqgan_seeds_table(path),
          "vqgan-extractors-40min-pw003.json": vqgan_extractors_table,
          "vqgan-p14-40min-preset-seed1.json": vqgan_table,
          "vqgan-p14-40min-preset-seed2.json": lambda path: vqgan_table(path) + "\n\n" + vqgan_long_table(path),
          "vqgan-extractors-40min-preset.json": vqgan_extractors_table,
          "vqgan-p14-40min-presettog-seed3.json": vqgan_table,
          "vqgan-p14-40min-presettog-seed4.json": vqgan_table,
          "vqgan-extractors-40min-preset-seed4.json": vqgan_extractors_table,
          "vqgan-p14-40min-d1000-lrd4e3-seed1.json": vqgan_table,
          "vqgan-p14-40min-d1000-lrd4e3-seed3.json": lambda path: vqgan_table(path) + "\n\n" + vqgan_seeds_table(path),
          "vqgan-p14-60min-presettog-seed2.json": vqgan_table,
          "vqgan-extractors-60min-preset-seed2.json": vqgan_extractors_table,
          "vqgan-sweep.json": vqgan_sweep_table, "vqgan-extractors.json": vqgan_extractors_table,
          "vqgan-d15-seed0.json": vqgan_table, "vqgan-d15-seed3.json": vqgan_long_table,
          "vqgan-s4400-seed1.json": vqgan_long_table,
          "vqgan-generation.json": vqgan_generation_table, "vqgan-generation-seed1.json": vqgan_generation_table,
          "vqgan-generation-vqvae-ablation.json": vqgan_generation_table,
          "vqgan-generation-inception.json": vqgan_generation_table,
          "vqgan-generation-inception-seed5.json": vqgan_generation_table,
          "vqgan-generation-inception-vqvae-ablation.json": vqgan_generation_table,
          "vqgan-generation-inception-vqvae-ablation-seed5.json": vqgan_generation_table,
          "privacy.json": privacy_table, "few.json": few_table, "few-bf16.json": few_table,
          "few_filter.json": few_filter_table, "few_truncation.json": few_truncation_table,
          "audit.json": audit_table, "audit_neighbours.json": audit_neighbours_table, "db_fit.json": db_fit_table,
          "privacy-labels.json": privacy_labels_table,
          "privacy-ema-s1.json": privacy_ema_table,  # both seeds' files
          "privacy-ema-short-s0.json": privacy_ema_table, "privacy-latent.json": privacy_latent_table}

if __name__ == "__main__":
    tables = [fn(RESULTS / name) for name, fn in TABLES.items() if (RESULTS / name).is_file()]
    if (RESULTS / "gan.json").is_file():
        tables.insert(list(TABLES).index("gan.json") + 1, gan_limited_table())
    print("\n\n".join(tables))
