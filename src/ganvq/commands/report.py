"""`ganvq report RUN [RUN ...]`: one self-contained HTML page about a run of any kind, or several side by side.

Scores come from the files the run already has (`eval-vqvae.json`, `eval-gan.json`, `metrics.jsonl`), never
measured again, so the page and `ganvq eval` agree to the digit. Pictures (reconstructions, samples, code maps,
the codebook atlas) are drawn fresh from the checkpoint, seeded.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import numpy as np
import torch

from ganvq.commands.evaluate import privacy_facts, reference_split
from ganvq.commands.membership import counts, intervals
from ganvq.commands.sample import interpolation_grid, sample, sample_prior
from ganvq.data import describe_split, has_named_splits, held_out_fraction, load_dataset
from ganvq.errors import GanvqError, warn
from ganvq.images import to_float, to_uint8_image
from ganvq.io import atomic_write_text, check_writable
from ganvq.progress import progress
from ganvq.report.charts import bar_chart
from ganvq.report.evidence import (
    KIND_TITLES,
    Evidence,
    comparison_charts,
    config_block,
    gather,
    kind_title,
    last_held_out,
    run_facts,
    training_charts,
)
from ganvq.report.html import (
    chart,
    code,
    comparison_table,
    facts_table,
    img,
    note,
    page,
    png_data_uri,
    png_file_uri,
    scores_table,
)
from ganvq.report.pictures import atlas_with_counts, code_map_picture, gallery, grid_image, labelled_rows, stacked
from ganvq.runs import open_run

USAGE_IMAGES = 20_000  # at most this many images are encoded to count code use
SHOWN = 32  # reconstructions shown
CODE_MAPS = 4  # images whose code maps are drawn
GAN_SCORES = ["fid", "kid_mean", "precision", "recall", "density", "coverage", "class_coverage", "label_entropy",
              "samples", "copy_fid"]  # copy_fid here when the audit (which holds it otherwise) was skipped
AUDIT_SCORES = ["likely_copy_fraction", "median_ratio", "closer_than_test_q0.01_fraction",
                "relative_closer_than_test_q0.01_fraction", "closer_than_every_test_fraction", "sample_nn_median",
                "test_nn_median", "sample_relative_median", "test_relative_median", "copy_fid"]


def _vqvae_keys(split: str) -> list[str]:
    return [f"{split}/psnr", f"{split}/ssim", f"{split}/codes_used", "codebook_size", f"{split}/perplexity",
            "bits_per_pixel_raw", f"{split}/images"]


def _class_name(names, labels, i: int) -> str:
    if labels is None:
        return f"image {i + 1}"
    y = int(labels[i])
    return names[y] if names and y < len(names) else f"class {y}"


def _missing_scores(ev: Evidence, what: str) -> str:
    if ev.scores_path.is_file():  # there, but broken: the notes say why
        return _notes(ev) + note(f"So no {what} scores here. Run {code(ev.eval_command())} again, then this "
                                 "report.", "warn")
    also = (" (it samples a prior as it does a GAN, and scores the samples alike)" if ev.run.kind == "prior"
            else "")
    return note(f"No {code(ev.scores_path.name)} in this run folder yet, so no {what} scores here. Run "
                f"{code(ev.eval_command())}{also}, then this report again.", "warn")


def _notes(ev: Evidence, extra: list[str] = ()) -> str:
    return "".join(note(html.escape(n), "warn") for n in [*ev.notes, *extra])


# --- VQ-VAE --------------------------------------------------------------------------------------------------

def _scored_images(ev: Evidence):
    """The images `eval vqvae` scored (same data, role and count), or the run's held-out images when it has no
    eval JSON; and a sentence saying which."""
    config, s = ev.run.config, ev.scores
    if s and isinstance(s.get("data"), str) and isinstance(s.get("split"), str):
        data, split = s["data"], s["split"]
        _, fraction, _ = reference_split(data, (config.data, config.val_fraction), split)
        n = s.get(f"{split}/images")
    else:
        data, split, fraction, n = config.data, "test", config.val_fraction, 2000
    fraction = held_out_fraction(data, fraction)
    n = min(int(n), USAGE_IMAGES) if isinstance(n, (int, float)) else 2000
    dataset = load_dataset(data, split, size=config.model.image_size, channels=config.model.channels,
                           limit=n, val_fraction=fraction)
    where = f"{len(dataset):,} images of {_short_path(data)}, {describe_split(split, has_named_splits(data), fraction)}"
    return dataset, where


@torch.no_grad()
def _encode(model, images: torch.Tensor) -> torch.Tensor:
    return torch.cat([model.encode(to_float(images[i:i + 500])) for i in range(0, len(images), 500)])


@torch.no_grad()
def _codebook_tiles(model) -> np.ndarray:
    """Each code decoded from a code map filled with it: uint8 (K, H, W, C), what every entry draws alone."""
    h, w = model.config.code_shape
    k = model.codebook_size
    maps = torch.arange(k).view(k, 1, 1).expand(k, h, w)
    return np.concatenate([to_uint8_image(model.decode(maps[i:i + 256])) for i in range(0, k, 256)])


def vqvae_section(ev: Evidence, h: int) -> str:
    """Scores, curves, reconstructions, the codebook atlas by use and code maps of a VQ-VAE run."""
    run, s = ev.run, ev.scores
    model = run.vqvae()
    parts = [f"<h{h}>Scores</h{h}>"]
    if s:
        split = s.get("split", "test")
        where = s.get("split_note") or split
        parts.append(scores_table(s, _vqvae_keys(split), f"From {code(ev.scores_path.name)} "
                                  f"({code('ganvq eval vqvae')}): {html.escape(_short_path(str(s.get('data'))))}, "
                                  f"{html.escape(where)}."))
        parts.append(_notes(ev, [n for n in s.get("notes", []) if isinstance(n, str)]))
    else:
        parts.append(_missing_scores(ev, "held-out reconstruction"))
        final = last_held_out(ev.records)
        if final:
            parts.append(scores_table(final, _vqvae_keys("val"), "The run's last held-out check during training "
                                      f"({code('metrics.jsonl')}, step {final.get('step')}):"))
    dataset, where = _scored_images(ev)
    x = dataset.images
    indices = _encode(model, x)  # (N, h, w)
    shown = x[:SHOWN]
    recon = to_uint8_image(model.decode(indices[:SHOWN]))
    originals = to_uint8_image(to_float(shown))
    names, labels = dataset.class_names, dataset.labels
    cells = [(stacked(originals[i], recon[i]), _class_name(names, labels, i)) for i in range(len(shown))]
    parts.append(f"<h{h}>Reconstructions</h{h}><p>Each held-out image above its reconstruction: the first "
                 f"{len(shown)} of {html.escape(where)}.</p>{gallery(cells, 'original over reconstruction')}")

    parts.append(f"<h{h}>Training</h{h}>{training_charts(ev)}")

    k = model.codebook_size
    counts = torch.bincount(indices.flatten(), minlength=k).numpy()
    used = int((counts > 0).sum())
    agree = ""
    if s:
        stated = s.get(f"{s.get('split', 'test')}/codes_used")
        agree = (f"; {code(ev.scores_path.name)} says {stated}: the same" if stated == used
                 else f"; {code(ev.scores_path.name)} says {stated}: it scored other images" if stated else "")
    atlas, order = atlas_with_counts(_codebook_tiles(model), counts)
    parts.append(
        f"<h{h}>Codebook atlas</h{h}><p>{k:,} codes; {used:,} used by the {html.escape(where)}{agree}. "
        f"Each code below is decoded from a code map filled with it, most used first; under each tile: the code's "
        f"number and how many code-map positions chose it (red: never).</p>"
        + chart(bar_chart([int(c) for c in counts[order]], "Code use, most used first",
                          "positions", "code rank"), "code use by rank")
        + img(png_data_uri(atlas), "codebook atlas sorted by use", atlas.shape[1]))
    maps = [(code_map_picture(originals[i], indices[i].numpy()), _class_name(names, labels, i))
            for i in range(min(CODE_MAPS, len(shown)))]
    hh, ww = indices.shape[1:]
    parts.append(f"<h{h}>Code maps</h{h}><p>Each image beside its {hh}&times;{ww} code map: one cell per code, "
                 f"coloured (and numbered where it fits) by code.</p>{gallery(maps, 'code map')}")
    return "".join(parts)


# --- GAN and prior -------------------------------------------------------------------------------------------

def _sample_quality(ev: Evidence, h: int) -> str:
    s = ev.scores
    if not s:
        return _missing_scores(ev, "sample-quality")
    ref = s.get("reference") if isinstance(s.get("reference"), dict) else {}
    caption = (f"From {code(ev.scores_path.name)} ({code('ganvq eval gan')}): {s.get('samples')} samples against "
               f"{html.escape(_short_path(str(ref.get('data'))))} ({html.escape(str(ref.get('split_note') or ref.get('split')))}, "
               f"{ref.get('images')} images), features {html.escape(str(s.get('extractor')))}.")
    parts = [scores_table(s, GAN_SCORES, caption), _notes(ev, [n for n in s.get("notes", []) if isinstance(n, str)])]
    mem = s.get("memorization")
    if isinstance(mem, dict):
        parts.append(f"<h{h}>Memorization audit</h{h}>")
        parts.append(scores_table(mem, AUDIT_SCORES, "Distances from each sample to its nearest training image "
                                  f"({html.escape(str(mem.get('distance', 'RMS pixel distance')))}), against the "
                                  "same distances of held-out images."))
        pairs = ev.scores_path.with_suffix(".closest-pairs.png")
        if pairs.is_file():
            parts.append(f"<p>The closest pairs, closest first: each sample followed by its nearest training "
                         f"image.</p>{img(png_file_uri(pairs.read_bytes()), 'closest sample and training pairs')}")
    parts.append(_utility(s.get("utility"), h))
    return "".join(parts)


def _utility(u, h: int) -> str:
    """The downstream accuracy of `eval gan --utility`, where eval-gan.json holds it: (a), (b), (c) and the gain, or
    the one classifier trained on samples alone."""
    if not isinstance(u, dict):
        return ""
    try:
        if "real" in u:
            rows = [(f"({k}) {what}", f"{100 * u[key]['accuracy']:.2f}%") for k, key, what in (
                ("a", "real", f"{u['real_images']:,} real images"),
                ("b", "real_plus_synthetic", f"those plus {u['synthetic_images']:,} samples"),
                ("c", "synthetic", f"{u['synthetic_images']:,} samples alone"))]
            rows.append(("(b) − (a)", f"{u['gain_points']:+.2f} points"))
        else:
            rows = [(f"trained on {u['trained_on']}", f"{100 * u['accuracy']:.2f}%")]
        tested = f"{u['test_images']:,} images, {u['tested_on']}" if "test_images" in u else str(u["tested_on"])
    except (KeyError, TypeError, ValueError):
        return ""
    return (f"<h{h}>Utility: what the samples teach a classifier</h{h}><p>From {code('ganvq eval gan --utility')}: "
            f"test accuracy of the fixed classifier recipe, tested on {html.escape(tested)}.</p>{facts_table(rows)}")


def _membership(ev: Evidence, h: int) -> str:
    """The membership-inference audit (RUN/audit-membership.json and its ROC picture), where it has been run."""
    path = ev.run.folder / "audit-membership.json"
    try:
        audit = json.loads(path.read_text(encoding="utf-8"))
        rows = [(f"{name}: AUC, TPR at 1% / 0.1% FPR",
                 f"{a['auc']:.3f}, {100 * a['tpr_at_1pct_fpr']:.1f}% / {100 * a['tpr_at_0.1pct_fpr']:.1f}%"
                 f"{intervals(a)}") for name, a in audit["attacks"].items()]
        sizes = counts(audit)
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    roc = path.with_suffix(".roc.png")
    alt = "ROC curves of the membership attacks, on linear and on log-log axes"
    picture = f'<figure class="chart">{img(png_file_uri(roc.read_bytes()), alt)}</figure>' if roc.is_file() else ""
    return (f"<h{h}>Membership inference</h{h}><p>From {code(path.name)} ({code('ganvq audit membership')}): "
            f"{html.escape(str(audit.get('members')))} against {html.escape(str(audit.get('non_members')))}, "
            f"{sizes}; chance is AUC 0.5 and TPR 1% at 1% FPR.</p>{facts_table(rows)}{picture}")


def _by_class(images: torch.Tensor, labels: torch.Tensor | None, names) -> str:
    if labels is None:
        return grid_image(images, "samples")
    rows = []
    for y in sorted(set(labels.tolist())):
        label = names[y] if names and y < len(names) else f"class {y}"
        rows.append((label, images[labels == y]))
    return labelled_rows(rows, "samples of class")


def gan_section(ev: Evidence, h: int, seed: int = 0) -> str:
    """Sample quality and memorization (from eval-gan.json), seeded samples by class, an interpolation, curves."""
    run = ev.run
    k = run.config.model.num_classes
    images, labels = sample(run, 10 * k if k else 64, seed, device="cpu")
    walk = interpolation_grid(run, rows=4, steps=10, seed=seed, device="cpu")
    return (f"<h{h}>Sample quality</h{h}>{_sample_quality(ev, h)}{_membership(ev, h)}"
            f"<h{h}>Samples</h{h}><p>Seed {seed}, EMA generator"
            f"{'; one row per class' if labels is not None else ''}.</p>"
            f"{_by_class(images, labels, run.config.class_names)}"
            f"<h{h}>Latent interpolation</h{h}><p>Each row walks (slerp) from one random latent to another.</p>"
            f"{img(png_data_uri(walk, 2), 'latent interpolation', walk.shape[1] * 2)}"
            f"<h{h}>Training</h{h}>{training_charts(ev)}")


def _prior_class_names(run) -> tuple[str, ...] | None:
    if not run.config.data:  # older priors do not name their data
        return None
    try:
        return load_dataset(run.config.data, "all", limit=1).class_names
    except GanvqError:
        return None


def prior_section(ev: Evidence, h: int, seed: int = 0) -> str:
    """Held-out bits per code (the run's final check), sample quality if scored, seeded samples and their codes."""
    run = ev.run
    final = last_held_out(ev.records)
    parts = [f"<h{h}>Scores</h{h}>"]
    if final:
        parts.append(scores_table(final, ["val/bits_per_code", "val/bits_per_image", "val/bits_per_pixel",
                                          "val/code_maps"],
                                  f"The run's held-out check at step {final.get('step')} ({code('metrics.jsonl')}); "
                                  f"{code('ganvq compress')} reaches about this rate on such images."))
    else:
        parts.append(note("The training log holds no held-out check (the run had no held-out images or "
                          "eval_images 0).", "warn"))
    parts.append(f"<h{h}>Sample quality</h{h}>{_sample_quality(ev, h)}")
    k = run.config.model.num_classes
    images, codes, labels = sample_prior(run, 10 * k if k else 40, seed)
    names = _prior_class_names(run) if labels is not None else None
    parts.append(f"<h{h}>Samples</h{h}><p>Seed {seed}, temperature 1: codes drawn by the prior, decoded by its "
                 f"VQ-VAE.</p>{_by_class(images, labels, names)}")
    pics = to_uint8_image(to_float(images[:CODE_MAPS]))
    maps = [(code_map_picture(pics[i], codes[i].numpy()), f"sample {i + 1}") for i in range(len(pics))]
    parts.append(f"<h{h}>Sampled code maps</h{h}>{gallery(maps, 'sampled code map')}")
    parts.append(f"<h{h}>Training</h{h}>{training_charts(ev)}")
    return "".join(parts)


# --- the page ------------------------------------------------------------------------------------------------

def _summary(run) -> list[tuple[str, str]]:
    c = run.config
    if run.kind == "vqvae":
        m = c.model
        k = m.vq.codebook_size if m.quantizer == "vq" else "FSQ"
        h, w = m.code_shape
        model = f"{m.image_size}px × {m.channels} ch → {h}×{w} codes of {k} ({m.quantizer}), hidden {m.hidden}"
        data = c.data
    elif run.kind == "gan":
        m = c.model
        cond = f"conditional on {m.num_classes} classes" if m.num_classes else "unconditional"
        model = (f"{m.arch} {m.image_size}px × {m.channels} ch, z {m.z_dim}, widths G {m.g_width} / D {m.d_width}, "
                 f"{cond}; loss {c.gan.loss}, n_D {c.gan.n_d}")
        data = c.data
        p = privacy_facts(run)
        if p is not None:
            guarantee = (f"(ε = {p['epsilon']:.3g}, δ = {p['delta']:g})-DP by DP-SGD on D ({p['accountant']} "
                         f"accountant): noise multiplier {p['noise_multiplier']:.4g}, clipping {p['max_grad_norm']:g} "
                         f"({p['clipping']}), "
                         f"{p['d_steps']:,} D steps at sampling rate {p['sample_rate']:.4g}")
            return [("Kind", kind_title(run)), ("Data", _short_path(str(data))), ("Model", model),
                    ("Privacy", guarantee), *run_facts(run)]
    else:
        m = c.model
        model = (f"{m.arch} prior over {m.height}×{m.width} maps of {m.codebook_size} codes, {m.layers} layers × "
                 f"{m.dim}, VQ-VAE {c.vqvae}")
        data = c.data or "the VQ-VAE's training data"
    return [("Kind", kind_title(run)), ("Data", _short_path(str(data))), ("Model", model), *run_facts(run)]


def _short_path(path: str) -> str:
    """A path relative to the working folder when it lies below it (pages are read on other machines)."""
    if not os.path.isabs(path):
        return path
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


SECTIONS = {"vqvae": vqvae_section, "gan": gan_section, "prior": prior_section}


def run_section(ev: Evidence, h: int, anchor: str) -> str:
    """One run: its facts, then its kind's section, then its configuration (collapsed)."""
    title = f"{kind_title(ev.run).split(' (')[0]} run {code(ev.run.folder)}"
    return (f'<section id="{anchor}"><h{h}>{title}</h{h}>{facts_table(_summary(ev.run))}'
            f"{SECTIONS[ev.run.kind](ev, h + 1)}{config_block(ev.run)}</section>")


def _headline(ev: Evidence) -> dict:
    """The scores a comparison puts side by side, from the run's own files."""
    s = ev.scores or {}
    if ev.run.kind == "vqvae":
        split = s.get("split", "test")
        return {k.replace(f"{split}/", "test/"): v for k, v in s.items() if k in _vqvae_keys(split)}
    out = {k: s[k] for k in GAN_SCORES if k in s}
    if ev.run.kind == "prior":
        out.update({k: v for k, v in last_held_out(ev.records).items() if k.startswith("val/bits")})
    return out


def _scored_apart(scored: list[Evidence]) -> str | None:
    """A warning when runs set side by side were scored on different extractors, references or sample counts:
    their FIDs (and the rest) are then not comparable."""
    def ref(s: dict) -> str:
        r = s.get("reference") if isinstance(s.get("reference"), dict) else {}
        return f"{_short_path(str(r.get('data')))} {r.get('split')} ({r.get('images')} images)"

    facts = [("extractors", lambda s: str(s.get("extractor"))), ("references", ref),
             ("sample counts", lambda s: str(s.get("samples")))]
    differ = []
    for what, of in facts:
        values = {e.name: of(e.scores) for e in scored}
        if len(set(values.values())) > 1:
            differ.append(f"{what} (" + "; ".join(f"{code(n)}: {html.escape(v)}" for n, v in values.items()) + ")")
    if not differ:
        return None
    return ("These runs were scored on different " + ", ".join(differ) + ": their scores are not comparable; "
            "score them alike (the same " + code("--features") + ", " + code("--real") + " and " + code("--n") + ").")


def comparison(evidence: list[Evidence]) -> str:
    """The runs side by side: a table per kind of their scores, and their main curves overlaid."""
    parts = ["<h2>Side by side</h2>"]
    for kind in ("vqvae", "gan", "prior"):
        runs = [e for e in evidence if e.run.kind == kind]
        if not runs:
            continue
        heads = [_headline(e) for e in runs]
        keys = list(dict.fromkeys(k for hd in heads for k in hd))
        parts.append(f"<h3>{KIND_TITLES[kind]} runs</h3>")
        parts.append(comparison_table([e.name for e in runs], heads, keys)
                     or "<p>None of these runs has been scored yet.</p>")
        if kind != "vqvae":
            mismatch = _scored_apart([e for e in runs if e.scores])
            if mismatch:
                parts.append(note(mismatch, "warn"))
        for e in runs:
            if e.scores is None:
                parts.append(note(f"{code(e.name)}: no {code(e.scores_path.name)}; run {code(e.eval_command())}.",
                                  "warn"))
    parts.append(comparison_charts(evidence))
    return "".join(parts)


def report(runs: list[str], out: str, seed: int = 0, quiet: bool = False) -> dict:
    """Write one HTML page about one run or several (any kinds) to `out`; returns its path and each run's scores."""
    if not runs:
        raise GanvqError("name at least one run folder (or checkpoint) to report on")
    check_writable(out)  # before the runs are read and drawn, not after
    opened = []
    for name in runs:
        run = open_run(name)
        if any(run.folder.resolve() == o.folder.resolve() for o in opened):
            warn(f"{name} is named twice; it is shown once")
            continue
        opened.append(run)
    for run in opened:
        if run.kind not in SECTIONS:  # a new kind of run needs its section here before it can be reported
            raise GanvqError(f"{run.checkpoint}: report does not cover {run.kind} runs yet")
    evidence, sections = [], []
    level = 1 if len(opened) == 1 else 2
    with progress(len(opened), "report", unit="run", quiet=quiet) as bar:
        for i, run in enumerate(opened):  # each run's evidence and section: reading, sampling, drawing
            bar.set_postfix({"run": run.folder.name})
            evidence.append(gather(run))
            sections.append(run_section(evidence[-1], level, f"run-{i + 1}"))
            bar.update(1)
    if len(evidence) == 1:
        ev = evidence[0]
        body = sections[0]
        title = f"{kind_title(ev.run).split(' (')[0]} run {ev.name}"
    else:
        nav = "".join(f'<a href="#run-{i + 1}">{html.escape(e.name)}</a>' for i, e in enumerate(evidence))
        body = f"<h1>{len(evidence)} runs compared</h1><nav>{nav}</nav>{comparison(evidence)}" + "".join(sections)
        title = ", ".join(e.name for e in evidence)
    atomic_write_text(out, page(title, body))
    return {"report": str(out),
            "runs": [{"run": str(e.run.folder), "kind": e.run.kind,
                      "scores": str(e.scores_path) if e.scores is not None else None} for e in evidence]}


def vqvae_report(ckpt: str, out: str, images: int | None = None, gan: str | None = None) -> dict:
    """The older entry point: a report on a VQ-VAE run (and a GAN run beside it); `images` is no longer used."""
    if images is not None:
        warn("report no longer scores images itself (it reads eval-vqvae.json); --images is ignored")
    return report([ckpt] + ([gan] if gan else []), str(Path(out)))
