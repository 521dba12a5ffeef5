"""Private generation (issue 22): membership-inference attacks on an overfit GAN with and without DP-SGD, then
the downstream utility and FID of a private GAN on all of Fashion-MNIST beside its non-private ceiling.

Part 1 (attacks): the `dp-fmnist` preset (at --attack-width) on the first --attack-images Fashion-MNIST images for
--attack-steps generator steps (n_D = 5 D steps each: hundreds of passes over the images), once without
privacy and once with (ε = 10, δ = 1e-5; σ calibrated to the same steps; --attack-runs trains one of the two).
Each run is attacked with `ganvq audit membership` (LOGAN and GAN-Leaks, the members against as many held-out test
images or --non-member-n, 10,000 samples) and audited for memorization (metrics.audit: each sample's nearest
training image vs the test images').
Part 2 (--full-steps > 0): the same preset on all 60,000 training images at ε = 10 (and --epsilons), and without
privacy, for --full-steps generator steps each: FID (ganvq's Fashion-MNIST features, 10,000 samples against the
10,000 test images) and the downstream accuracy of metrics.utility's fixed classifier trained on --utility-n
class-conditional samples (10,000 and 60,000, the DP literature's count; the bar takes the largest) and tested on the
real test set, beside the same classifier trained on as many real images. --n-d trains the private runs at other
numbers of D steps per G step (Bie et al. 2023: more help under DP), each with the same D steps (--full-steps x the
preset's n_D), so each needs the same noise for its ε; --batch-sizes at larger batches and proportionally fewer
steps (the same images through D, about the same time; less noise per image); --seed 1, 2, ... repeat runs for
the seeds' spread (names end in -s<seed>); --noise-multiplier fixes σ instead of calibrating it (with a large
--epsilons and a small σ: DP-SGD's clipping and sampling without its noise, an ablation). Runs are trained one
after another in one invocation, so machine load affects all of them; each row records its seconds per step,
threads and load average. Usage:
    nice -n 10 python benchmarks/bench_privacy.py --threads 1 [--attack-steps 400] [--full-steps 0]
On two cores, the private 60,000-image run in one invocation and the rest in another, then one file of both:
    python benchmarks/bench_privacy.py --threads 1 --attack-steps 0 --full-steps N --no-nonprivate \
        --out benchmarks/results/privacy-part-dp.json --workdir runs/bench-privacy-dp &
    python benchmarks/bench_privacy.py --threads 1 --attack-steps M --full-steps N --epsilons \
        --out benchmarks/results/privacy-part-rest.json --workdir runs/bench-privacy-rest
    python benchmarks/bench_privacy.py --combine benchmarks/results/privacy-part-*.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import time
from pathlib import Path

import torch
from machine import describe

from ganvq.commands.evaluate import privacy_facts, utility
from ganvq.commands.membership import audit_membership, candidates
from ganvq.commands.sample import sample
from ganvq.config import to_dict
from ganvq.data import load_dataset
from ganvq.images import save_grid
from ganvq.io import write_json
from ganvq.metrics.audit import audit_reference, memorization_audit
from ganvq.metrics.score import score_samples
from ganvq.metrics.utility import downstream_accuracy
from ganvq.runs import gan_preset, open_run
from ganvq.runs.privacy import PrivacyOptions
from ganvq.train.gan import train_gan

RESULTS = Path(__file__).parent / "results"
PRESET = "dp-fmnist"
ATTACK_IMAGES = 1000
DELTA = 1e-5
SAMPLES = 10_000


def run_config(limit: int | None, steps: int, epsilon: float | None, seed: int, threads: int | None,
               width: int | None = None, n_d: int | None = None, batch: int | None = None,
               projection: str | None = None, class_loss: float | None = None, d_width: int | None = None,
               clipping: str | None = None, noise: float | None = None):
    """dp-fmnist for `steps` G steps on the first `limit` images (None: all), private at ε when given, at another
    width of G and D (or of D alone), another number of D steps per G step, another batch size, another projection
    of D's class embedding, with a class loss of this weight, DP-SGD's other clipping and a fixed noise multiplier
    instead of the calibrated one, when given."""
    config = gan_preset(PRESET)
    if class_loss:
        config = dataclasses.replace(config, gan=dataclasses.replace(config.gan, class_loss=class_loss))
    if projection:
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, d_projection=projection))
    if n_d:
        config = dataclasses.replace(config, gan=dataclasses.replace(config.gan, n_d=n_d))
    if width:
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, g_width=width, d_width=width))
    if d_width:
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, d_width=d_width))
    # ckpt_every out of reach: a periodic scored checkpoint would spend the budget on disk writes.
    train = dataclasses.replace(config.train, steps=steps, minutes=None, seed=seed, ckpt_every=10**9,
                                threads=threads, log_every=50, batch_size=batch or config.train.batch_size)
    privacy = PrivacyOptions(epsilon=epsilon, delta=DELTA, clipping=clipping or "pair", noise_multiplier=noise)
    return dataclasses.replace(config, train=train, limit=limit, privacy=privacy)


def command(limit: int | None, steps: int, epsilon: float | None, seed: int, threads: int | None, out: Path,
            width: int | None = None, n_d: int | None = None, batch: int | None = None,
            projection: str | None = None, class_loss: float | None = None, d_width: int | None = None,
            clipping: str | None = None, noise: float | None = None) -> str:
    """The CLI command that trains the same run."""
    parts = [f"ganvq train gan --preset {PRESET} --steps {steps} --seed {seed} --out {out.name}"]
    parts += [f"--n-d {n_d}"] if n_d and n_d != gan_preset(PRESET).gan.n_d else []
    parts += [f"--batch-size {batch}"] if batch and batch != gan_preset(PRESET).train.batch_size else []
    parts += [f"--d-projection {projection}"] if projection else []
    parts += [f"--class-loss {class_loss:g}"] if class_loss else []
    parts += [f"--config width{width}.json (model: g_width {width}, d_width {width})"] if width else []
    parts += [f"--config dwidth{d_width}.json (model: d_width {d_width})"] if d_width else []
    parts += [f"--limit {limit}"] if limit else []
    parts += [f"--dp-epsilon {epsilon:g} --dp-delta {DELTA:g}"] if epsilon else []
    parts += [f"--dp-clipping {clipping}"] if clipping else []
    parts += [f"--dp-noise-multiplier {noise:g}"] if noise else []
    parts += [f"--threads {threads}"] if threads else []
    return " ".join(parts)


def train_row(name: str, limit: int | None, steps: int, epsilon: float | None, seed: int, threads: int | None,
              workdir: Path, **variant) -> tuple[dict, Path]:
    """Train one run (`variant`: run_config's width, n_d, batch, projection, class_loss, d_width, clipping, noise); its
    row: steps,
    time per step, threads, load, privacy spent."""
    config = run_config(limit, steps, epsilon, seed, threads, **variant)
    out = workdir / name
    shutil.rmtree(out, ignore_errors=True)  # a rerun trains its runs afresh
    load_before = os.getloadavg()
    summary = train_gan(config, out, quiet=True)
    run = open_run(out, "gan")
    g_steps = summary["step"]
    return {
        "name": name, "train_images": limit or 60000, "epsilon_target": epsilon, "delta": DELTA if epsilon else None,
        "command": command(limit, steps, epsilon, seed, threads, out, **variant),
        "steps_asked": steps, "d_projection": config.model.d_projection, "class_loss": config.gan.class_loss,
        "g_width": config.model.g_width, "d_width": config.model.d_width, "clipping": config.privacy.clipping,
        "n_d": config.gan.n_d, "batch_size": config.train.batch_size, "generator_steps": g_steps,
        "discriminator_steps": g_steps * config.gan.n_d,
        "train_seconds": summary["train_seconds"], "minutes": round(summary["train_seconds"] / 60, 2),
        "seconds_per_generator_step": round(summary["train_seconds"] / max(g_steps, 1), 3),
        "threads": threads or torch.get_num_threads(),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "privacy": privacy_facts(run), "config": to_dict(run.config),
    }, out


def attack_part(args, workdir: Path) -> list[dict]:
    rows = []
    for name, epsilon in (("overfit", None), ("overfit-dp-eps10", 10.0)):
        if ("dp" if epsilon else "overfit") not in args.attack_runs:
            continue
        row, out = train_row(name, args.attack_images, args.attack_steps, epsilon, args.seed, args.threads, workdir,
                             width=args.attack_width)
        rows.append(audit_row(row, out, args))
    return rows


def audit_row(row: dict, out: Path, args) -> dict:
    """The attacked run's row with its membership attacks (all of `ganvq audit membership`'s), its memorization
    audit, its samples and ROC pictures."""
    audit = audit_membership(out, "train", "test", n=row["train_images"], samples=args.attack_samples,
                             seed=args.seed, non_member_n=args.non_member_n)
    row["membership"] = {k: audit[k] for k in ("members", "non_members", "per_side", "member_count",
                                               "non_member_count", "samples", "reference", "attacks") if k in audit}
    run = open_run(out, "gan")
    images = sample(run, SAMPLES, args.seed, device="cpu")[0]
    train, _, _ = candidates(run, "train")
    test, _, _ = candidates(run, "test")
    row["memorization"] = memorization_audit(images, train, audit_reference(test, train))[0]
    save_grid(Path(args.out).with_name(f"privacy_{row['name']}.png"), images[:100], nrow=10, upscale=2)
    Path(audit["roc_png"]).replace(Path(args.out).with_name(f"privacy_{row['name']}_roc.png"))
    print(json.dumps({k: v for k, v in row.items() if k != "config"}), flush=True)
    return row


def full_runs(args) -> list[tuple[str, float | None, int, int, int]]:
    """(name, ε, n_D, batch size, G steps) of each 60,000-image run: every ε at every --n-d and --batch-sizes, then
    the non-private run at the preset's; a --seed other than 0 ends each name in -s<seed>. Each shows D as many
    images as the preset does in --full-steps (--full-steps x the preset's n_D x its batch size), so each costs
    about the same time, and at one batch size the same noise."""
    base, base_batch = gan_preset(PRESET).gan.n_d, gan_preset(PRESET).train.batch_size
    seed = f"-s{args.seed}" if args.seed else ""
    variant = (f"-{args.d_projection}" if args.d_projection else "") + (
        f"-cls{args.class_loss:g}" if args.class_loss else "") + (f"-dw{args.d_width}" if args.d_width else "") + (
        "-sep" if args.dp_clipping == "separate" else "") + (
        f"-sigma{args.noise_multiplier:g}" if args.noise_multiplier else "") + args.suffix
    runs = [(f"full-dp-eps{epsilon:g}" + (f"-nd{n_d}" if n_d != base else "") + (f"-b{b}" if b != base_batch else "")
             + variant + seed, epsilon, n_d, b, args.full_steps * base * base_batch // (n_d * b))
            for epsilon in args.epsilons for n_d in args.n_d or [base] for b in args.batch_sizes or [base_batch]]
    return runs + ([("full-nonprivate" + seed, None, base, base_batch, args.full_steps)] if args.nonprivate else [])


def real_reference(sizes: list[int], seed: int) -> dict:
    """The utility classifier trained on real training images instead of samples (n of them, drawn with the seed):
    what the measurement gives a perfect generator."""
    train, test = load_dataset("fashion-mnist", "train"), load_dataset("fashion-mnist", "test")
    order = torch.randperm(len(train.images), generator=torch.Generator().manual_seed(seed))
    return {"what": "the utility classifier trained on N real training images (drawn with the seed) instead of "
                    "samples, tested on the 10,000 test images: what a perfect generator would score",
            "accuracy_by_images": {str(n): downstream_accuracy(train.images[order[:n]], train.labels[order[:n]],
                                                               test.images, test.labels, train.num_classes,
                                                               seed)["accuracy"] for n in sizes}}


def full_part(args, workdir: Path) -> list[dict]:
    rows = []
    for name, epsilon, n_d, batch, steps in full_runs(args):
        row, out = train_row(name, None, steps, epsilon, args.seed, args.threads, workdir, n_d=n_d, batch=batch,
                             projection=args.d_projection if epsilon else None,
                             class_loss=args.class_loss if epsilon else None,
                             d_width=args.d_width if epsilon else None,
                             clipping=args.dp_clipping if epsilon else None,
                             noise=args.noise_multiplier if epsilon else None)
        run = open_run(out, "gan")
        images = sample(run, SAMPLES, args.seed, device="cpu")[0]
        scores = score_samples(images, "fashion-mnist", seed=args.seed)
        row["fid"], row["class_coverage"] = scores["fid"], scores.get("class_coverage")
        # the literature's convention is a classifier on 60,000 samples (Dockhorn et al. 2023); 10,000 is cheaper
        by_n = {n: utility(run, n, args.seed) for n in sorted(set(args.utility_n))}
        row["utility"] = by_n[max(by_n)]
        row["utility_accuracy_by_samples"] = {str(n): u["accuracy"] for n, u in by_n.items()}
        save_grid(Path(args.out).with_name(f"privacy_{name}.png"), images[:100], nrow=10, upscale=2)
        print(json.dumps({k: v for k, v in row.items() if k != "config"}), flush=True)
        rows.append(row)
    return rows


def combine(paths: list[str]) -> tuple[list[dict], dict, float, list[str]]:
    """The rows of outputs of invocations run side by side (a later file's row replaces an earlier one of the same
    name), their machine (the first file's), wall minutes (the longest) and commands. Each row keeps the CPU it ran
    on ("cpu"), so that rows of parts run on another machine say so."""
    parts = [json.loads(Path(f).read_text()) for f in paths]
    for part in parts:
        for r in part["results"]:
            r.setdefault("cpu", part["machine"]["cpu"])
    named = {r["name"]: r for part in parts for r in part["results"]}
    return (list(named.values()), parts[0]["machine"], max(part["wall_minutes_this_invocation"] for part in parts),
            [c for part in parts for c in part.get("commands", [])])


def family_auc(attacks: dict) -> dict:
    """The issue's two attacks' AUCs: LOGAN's, and GAN-Leaks' best variant's (plain or calibrated)."""
    return {"logan": attacks["logan"]["auc"],
            "gan_leaks": max(v["auc"] for k, v in attacks.items() if k.startswith("gan_leaks"))}


def check_bar(rows: list[dict]) -> dict:
    """The issue's bars, each with the numbers it compared."""
    by = {r["name"]: r for r in rows}
    bar = {}
    if "overfit" in by:
        a = by["overfit"]["membership"]["attacks"]
        bar["attacks_work_on_overfit_run"] = {
            "need": "AUC clearly above 0.5 (here: >= 0.6) for both attacks, LOGAN and GAN-Leaks (its best variant)",
            **{k: v["auc"] for k, v in a.items()}, "ok": all(v >= 0.6 for v in family_auc(a).values())}
    if "overfit-dp-eps10" in by:
        a = by["overfit-dp-eps10"]["membership"]["attacks"]
        bar["dp_attacks_near_chance"] = {
            "need": "|AUC - 0.5| <= 0.05 and |TPR@1%FPR - 1%| <= 1 point, every attack",
            **{k: {"auc": v["auc"], "tpr_at_1pct_fpr": v["tpr_at_1pct_fpr"]} for k, v in a.items()},
            "ok": all(abs(v["auc"] - 0.5) <= 0.05 and abs(v["tpr_at_1pct_fpr"] - 0.01) <= 0.01 + 1e-9
                      for v in a.values())}
    eps10 = sorted((r for r in rows if r["name"].startswith("full-dp-eps10")), key=lambda r: r["utility"]["accuracy"])
    if eps10:
        best = eps10[-1]
        bar["downstream_accuracy_eps10"] = {
            "need": 0.75, "run": best["name"], "accuracy": best["utility"]["accuracy"],
            "classifier_trained_on": best["utility"].get("train_images"), "fid": best["fid"],
            "each": {r["name"]: r["utility"]["accuracy"] for r in eps10}, "ok": best["utility"]["accuracy"] >= 0.75}
    bar["all_ok"] = all(v["ok"] for v in bar.values())
    return bar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attack-steps", type=int, default=400, help="G steps of each attacked run (0: skip)")
    parser.add_argument("--attack-images", type=int, default=ATTACK_IMAGES,
                        help="training images of the attacked runs (the first N; default 1000), and members audited")
    parser.add_argument("--attack-width", type=int, default=16,
                        help="G and D width of the attacked runs (the preset's is 32; 16 trains ~3x faster)")
    parser.add_argument("--attack-runs", nargs="+", choices=["overfit", "dp"], default=["overfit", "dp"],
                        help="which attacked runs to train: the overfit one, its DP twin (default both; two "
                             "invocations can train one each side by side, then --combine)")
    parser.add_argument("--non-member-n", type=int,
                        help="held-out images each attacked run is audited against (default: as many as its "
                             "members); more pin the 1%% FPR threshold down")
    parser.add_argument("--attack-samples", type=int, default=SAMPLES,
                        help="generated images GAN-Leaks searches for each member's nearest (default 10,000; "
                             "more make the attack stronger, Chen et al. 2020)")
    parser.add_argument("--full-steps", type=int, default=0, help="G steps of each 60,000-image run (0: skip)")
    parser.add_argument("--epsilons", type=float, nargs="*", default=[10.0],
                        help="ε of the 60,000-image runs (none: only the non-private one)")
    parser.add_argument("--n-d", type=int, nargs="+",
                        help="D steps per G step of the private 60,000-image runs (default: the preset's); each "
                             "trains as many D steps as the preset does in --full-steps (Bie et al. 2023's study)")
    parser.add_argument("--batch-sizes", type=int, nargs="+",
                        help="batch sizes of the private 60,000-image runs (default: the preset's 128); each takes "
                             "fewer steps so that D sees as many images (Bie et al. 2023: larger batches help)")
    parser.add_argument("--d-projection", choices=["flat", "pooled"],
                        help="the private 60,000-image runs' projection of D's class embedding (default: the "
                             "preset's); names end in -<projection>")
    parser.add_argument("--class-loss", type=float, metavar="W",
                        help="the private 60,000-image runs' class loss weight (GANOptions.class_loss; default: the "
                             "preset's 0); names end in -cls<W>")
    parser.add_argument("--d-width", type=int,
                        help="the private 60,000-image runs' D width (default: the preset's 32); a narrower D has "
                             "fewer weights for DP-SGD's noise to fall on and takes less time per step; names end "
                             "in -dw<W>")
    parser.add_argument("--dp-clipping", choices=["pair", "separate"],
                        help="the private 60,000-image runs' clipping (PrivacyOptions.clipping; default: pair); "
                             "separate ends names in -sep")
    parser.add_argument("--noise-multiplier", type=float, metavar="SIGMA",
                        help="the private 60,000-image runs' noise multiplier, fixed instead of calibrated to ε: "
                             "with a large --epsilons (e.g. 1e9, so that the budget never stops them) and a small "
                             "SIGMA, an ablation that keeps DP-SGD's clipping and sampling without its noise; names "
                             "end in -sigma<SIGMA>")
    parser.add_argument("--suffix", default="", help="ends the 60,000-image runs' names (e.g. -fixed)")
    parser.add_argument("--utility-n", type=int, nargs="+", default=[10_000, 60_000],
                        help="samples the utility classifier trains on (the largest is the bar's; default 10,000 and "
                             "60,000, the DP literature's convention)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--workdir", help="keep the run folders here (default: runs/bench-privacy)")
    parser.add_argument("--out", default=str(RESULTS / "privacy.json"))
    parser.add_argument("--merge", action="store_true", help="keep the rows of parts not rerun from --out")
    parser.add_argument("--no-nonprivate", dest="nonprivate", action="store_false",
                        help="leave out the full part's non-private run (another invocation trains it)")
    parser.add_argument("--reaudit", action="store_true",
                        help="train nothing: attack the runs of --out's attacked rows again (their folders in "
                             "--workdir), e.g. after `audit membership` gained an attack")
    parser.add_argument("--combine", nargs="+", metavar="FILE",
                        help="train nothing: gather the rows of these outputs of invocations run side by side (a "
                             "later file's row replaces an earlier one of the same name) into --out, with the bars")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    workdir = Path(args.workdir or "runs/bench-privacy")
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    rows = []
    if args.merge and Path(args.out).exists():
        rows = json.loads(Path(args.out).read_text())["results"]
    machine, wall, commands = describe(), None, [" ".join(["python benchmarks/bench_privacy.py", *sys.argv[1:]])]
    if args.combine:
        rows, machine, wall, before = combine(args.combine)
        commands = before + commands
    if args.reaudit:
        data = json.loads(Path(args.out).read_text())
        rows, machine, wall = data["results"], data["machine"], data["wall_minutes_this_invocation"]
        commands = data["commands"] + commands
        rows = [audit_row(r, workdir / r["name"], args) if "membership" in r else r for r in rows]
    elif args.attack_steps and not args.combine:
        rows = [r for r in rows if not r["name"].startswith("overfit")] + attack_part(args, workdir)
    reference = None  # the real-data reference of the utility classifier, measured with the full part
    if (args.merge or args.reaudit) and Path(args.out).exists():
        reference = json.loads(Path(args.out).read_text()).get("real_reference")
    if args.full_steps and not args.combine and not args.reaudit:
        rows = [r for r in rows if not r["name"].startswith("full")] + full_part(args, workdir)
        reference = real_reference(sorted(set(args.utility_n)), args.seed)
    if args.combine:
        reference = next(filter(None, (json.loads(Path(f).read_text()).get("real_reference") for f in args.combine)),
                         None)
    bar = check_bar(rows)
    attacked = next((r["train_images"] for r in rows if r["name"] == "overfit"), args.attack_images)
    write_json(args.out, {
        "benchmark": "privacy",
        "dataset": f"fashion-mnist: the first {attacked:,} training images (attacks) and all 60,000 "
                   "(utility); non-members (as many as members, drawn with the seed) and FID reference: the test images",
        "preset": PRESET, "samples_per_run": SAMPLES, "measured": time.strftime("%Y-%m-%d"),
        "wall_minutes_this_invocation": wall if wall is not None else round((time.time() - t0) / 60, 1),
        "commands": commands, "machine": machine, "bar": bar,
        "real_reference": reference, "results": rows,
    })
    print(json.dumps(bar, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
