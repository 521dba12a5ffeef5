"""What a run folder already says about itself: its scores (`eval-*.json`), its training log (`metrics.jsonl`),
and the charts and facts a report draws from them. Nothing here measures anything again."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ganvq.config import to_dict
from ganvq.report.charts import Series, line_chart
from ganvq.report.html import chart, code, details, facts_table
from ganvq.report.names import metric
from ganvq.runs import Run, read_metrics

EVAL_FILES = {"vqvae": "eval-vqvae.json", "gan": "eval-gan.json", "prior": "eval-gan.json"}
EVAL_COMMANDS = {"vqvae": "ganvq eval vqvae --ckpt {run}", "gan": "ganvq eval gan --ckpt {run}",
                 "prior": "ganvq eval gan --ckpt {run}"}
KIND_TITLES = {"vqvae": "VQ-VAE", "gan": "GAN", "prior": "Prior"}


def kind_title(run) -> str:
    """What a run is, for a page: its kind's title, and a VQGAN (a VQ-VAE run with a vqgan section) named as one."""
    if run.kind == "vqvae" and getattr(run.config, "vqgan", None) is not None:
        return "VQGAN (a VQ-VAE trained with a discriminator)"
    return KIND_TITLES[run.kind]

# (chart title, keys drawn together, y-axis label); keys under val/ are held-out checks, drawn as points
CHARTS: dict[str, list[tuple[str, tuple[str, ...], str]]] = {
    "vqvae": [("Reconstruction loss", ("train/rec_loss",), "mean squared error (pixels in [-1, 1])"),
              ("Reconstruction quality", ("train/psnr", "val/psnr"), "PSNR (dB)"),
              ("Codebook use", ("train/codes_used", "val/codes_used"), "codes used"),
              ("Code perplexity", ("train/perplexity", "val/perplexity"), "perplexity (codes)"),
              ("Learning rate", ("lr",), "learning rate")],
    "gan": [("Losses", ("train/d_loss", "train/g_loss"), "loss"),
            ("Discriminator outputs", ("train/logits_real", "train/logits_fake"), "mean logit"),
            ("Adaptive augmentation", ("train/aug_p",), "ADA probability p"),
            ("Learning rate", ("lr",), "learning rate")],
    "prior": [("Prior cross-entropy", ("train/bits_per_code", "val/bits_per_code"), "bits per code"),
              ("Learning rate", ("lr",), "learning rate")],
}
# the headline comparison curve of each kind
MAIN_CURVE = {"vqvae": ("train/psnr", "PSNR (dB)"), "gan": ("train/d_loss", "discriminator loss"),
              "prior": ("train/bits_per_code", "bits per code")}


@dataclass
class Evidence:
    """A run and what its folder holds: metric records, its eval JSON (or None) and notes about them."""

    run: Run
    records: list[dict]
    scores: dict | None
    scores_path: Path
    notes: list[str]

    @property
    def name(self) -> str:
        return self.run.folder.name or str(self.run.folder)

    def eval_command(self) -> str:
        return EVAL_COMMANDS[self.run.kind].format(run=self.run.folder)


def gather(run: Run) -> Evidence:
    """Read a run folder's metrics log (a torn last line is skipped) and its eval JSON, if any."""
    path = run.folder / EVAL_FILES[run.kind]
    notes: list[str] = []
    scores = None
    if path.is_file():
        try:
            scores = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            notes.append(f"{path} could not be read ({type(e).__name__}); run the eval again")
        if scores is not None and not isinstance(scores, dict):
            notes.append(f"{path} does not hold a JSON object; run the eval again")
            scores = None
        if scores is not None and not _holds_scores(run.kind, scores):
            notes.append(f"{path} does not hold the scores `{EVAL_COMMANDS[run.kind].split(' --')[0]}` writes; run "
                         "the eval again")
            scores = None
        step, scored = run.meta.get("step"), (scores or {}).get("checkpoint_step")
        if isinstance(scored, int) and scored != step:
            notes.append(f"{path.name} was scored at step {scored:,}; the checkpoint is now at step {step:,}, so its "
                         "scores are those of the earlier model: run the eval again")
    return Evidence(run, read_metrics(run.folder), scores, path, notes)


def _holds_scores(kind: str, scores: dict) -> bool:
    """Whether an eval JSON holds what its eval writes: a numeric FID and a sample count for a generator, a numeric
    PSNR for a VQ-VAE (a hand-edited or foreign file otherwise renders as None and text)."""
    def number(value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    if kind == "vqvae":
        return any(key.endswith("/psnr") and number(value) for key, value in scores.items())
    return number(scores.get("fid")) and isinstance(scores.get("samples"), int)


def last_held_out(records: list[dict]) -> dict:
    """The last record holding held-out (`val/`) metrics, e.g. the run's final check: {} when none."""
    for record in reversed(records):
        if any(k.startswith("val/") for k in record):
            return record
    return {}


def _series(records: list[dict], key: str, label: str | None = None) -> Series | None:
    pts = [(r["step"], r[key]) for r in records
           if isinstance(r.get(key), (int, float)) and isinstance(r.get("step"), (int, float))
           and math.isfinite(r[key])]
    if not pts:
        return None
    held_out = key.startswith("val/")
    return Series(label or metric(key).name, [p[0] for p in pts], [p[1] for p in pts], smooth=not held_out,
                  points=held_out)


def training_charts(ev: Evidence) -> str:
    """The run's training curves, smoothed, with axes in units; a sentence when it has no log."""
    if not ev.records:
        return f"<p>No training log ({code('metrics.jsonl')}) in this run folder.</p>"
    out = []
    for title, keys, y_label in CHARTS[ev.run.kind]:
        series = [s for s in (_series(ev.records, k) for k in keys) if s]
        if series:
            out.append(chart(line_chart(series, title, y_label), f"{title} over training steps"))
    return "".join(out) or "<p>The training log holds no curves yet.</p>"


def comparison_charts(evidence: list[Evidence]) -> str:
    """One chart per run kind with each run's main training curve (smoothed), for runs logged side by side."""
    out = []
    for kind in ("vqvae", "gan", "prior"):
        runs = [e for e in evidence if e.run.kind == kind]
        key, y_label = MAIN_CURVE[kind]
        series = [s for s in (_series(e.records, key, e.name) for e in runs) if s]
        if len(series) > 1:
            title = f"{KIND_TITLES[kind]} runs: {metric(key).name.lower()}"
            out.append(chart(line_chart(series, title, y_label, width=640, height=280), title))
    return "".join(out)


def _flatten(prefix: str, value, rows: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else k, v, rows)
    else:
        rows.append((prefix, json.dumps(value) if not isinstance(value, str) else value))


def config_block(run: Run) -> str:
    """The run's configuration as a small table of dotted names, collapsed at the end of its section."""
    rows: list[tuple[str, str]] = []
    _flatten("", to_dict(run.config), rows)
    return details(f"Configuration ({len(rows)} settings, as stored in the checkpoint)", facts_table(rows))


def run_facts(run: Run) -> list[tuple[str, str]]:
    """How far the run got and how long it took, from the checkpoint's counters."""
    meta = run.meta
    step, total = meta.get("step"), meta.get("total_steps")
    steps = f"{step:,}" if isinstance(step, int) else "?"
    if meta.get("finished"):
        state = f"{steps} steps, finished"
    else:
        of = f" of {total:,}" if isinstance(total, int) else ""
        state = (f"{steps}{of} steps, not finished (continue with "
                 f"`ganvq train {run.command} --resume --out {run.folder}`)")
    rows = [("Training", state)]
    seconds = meta.get("elapsed_seconds")
    if isinstance(seconds, (int, float)):
        rows.append(("Training time", f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"))
    return rows
