"""`ganvq audit membership`: membership inference against a trained GAN (LOGAN and GAN-Leaks; metrics.membership).

Members and non-members default to the run's own training images and its held-out images, so the audit
needs only the run; any labelled dataset can stand in for either. Both sides are drawn by a seeded draw, by
default to the same size; more non-members than members (non_member_n) pin the 1% FPR threshold down better,
since it is set by the highest 1% of their scores. Chance is AUC 0.5 and TPR at 1% FPR 1% either way, and each
attack reports 95% bootstrap intervals of both. The non-members left over from the draw (up to REFERENCE_MAX)
are the calibrated GAN-Leaks attack's reference; with none left over that attack is skipped and the result says
why.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ganvq.commands.evaluate import training_subset
from ganvq.commands.sample import sample
from ganvq.data import changed_data_note, held_out_fraction, load_dataset
from ganvq.errors import GanvqError, warn
from ganvq.io import check_writable, write_json
from ganvq.metrics.membership import (
    attack_summary,
    calibrated_gan_leaks_scores,
    gan_leaks_scores,
    logan_scores,
    roc_curve,
)
from ganvq.report.roc import write_roc_png
from ganvq.runs import open_run

OWN = {"train": "the run's training images", "test": "the run's held-out images"}
REFERENCE_MAX = 10_000  # real images the calibrated attack compares against: enough for a stable nearest one


def candidates(run, spec: str) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """(uint8 images, labels or None, description) of `spec`: "train" (the run's training images, exactly those
    it trained on: its --subset when it has one), "test" (its held-out images), or a dataset name or path (all
    of it)."""
    c = run.config
    size, channels = c.model.image_size, c.model.channels
    if spec == "train":
        # a --subset (or --limit) run's members are the images it trained on, not its data's whole train split
        data = training_subset(run)
        if data is None:
            data = load_dataset(c.data, "train", size=size, channels=channels, limit=c.limit,
                                val_fraction=held_out_fraction(c.data, c.val_fraction))
    elif spec == "test":
        data = load_dataset(c.data, "test", size=size, channels=channels,
                            val_fraction=held_out_fraction(c.data, c.val_fraction))
    else:
        data = load_dataset(spec, "all", size=size, channels=channels)
    return data.images, data.labels, OWN.get(spec, spec)


def _subset(images: torch.Tensor, labels: torch.Tensor | None, n: int, seed: int):
    """n of the images (and labels), drawn without replacement by a seeded permutation, and the images left."""
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    idx = order[:n]
    return images[idx], None if labels is None else labels[idx], images[order[n:]]


def counts(audit: dict) -> str:
    """How many candidates each side had: "500 of each", or "500 members and 5,000 non-members"."""
    m = audit.get("member_count", audit.get("per_side"))
    o = audit.get("non_member_count", audit.get("per_side"))
    return f"{m:,} of each" if m == o and m is not None else f"{m:,} members and {o:,} non-members"


def intervals(attack: dict) -> str:
    """The attack's 95% bootstrap intervals as text ("" when the audit predates them)."""
    if "auc_95" not in attack:
        return ""
    (a, b), (c, d) = attack["auc_95"], attack["tpr_at_1pct_fpr_95"]
    return f" (95% intervals: AUC {a:.3f}–{b:.3f}, TPR {100 * c:.1f}–{100 * d:.1f}%)"


def threshold_note(non_members: int, all_there_are: bool = False, available: int | None = None) -> str | None:
    """A line for an audit whose non-members are too few for the low false-positive rates: the threshold at a rate
    f rests on their highest f x N scores, so under 1,000 of them the 0.1% rate rests on none. `all_there_are`:
    the non-member images ran out, so asking for more cannot help."""
    if non_members >= 1000:
        return None
    top = non_members // 100
    rests = ("on none of their scores" if top == 0 else "on their single highest score" if top == 1
             else f"on their {top:,} highest scores")
    more = ("those are all the non-member images there are; more (another dataset with --non-members, or a larger "
            "held-out part at training) would pin them down" if all_there_are
            else f"more non-members (--non-member-n {min(5000, available):,}, all there are) pin them down"
            if available is not None and available < 5000
            else "more non-members (--non-member-n 5000) pin them down")
    return (f"{non_members:,} non-member{'s' if non_members != 1 else ''}: the 1% FPR threshold rests {rests} and the "
            f"0.1% one on none, so those true-positive rates are coarse; {more}")


SMALL_SIDE = 50  # fewer members or non-members than this: the bootstrap intervals themselves are unreliable


def size_note(members: int, non_members: int) -> str | None:
    """A line for an audit too small for its intervals: with a handful of images a side, every bootstrap redraw
    can separate them alike, giving an interval of zero width that means nothing."""
    if min(members, non_members) >= SMALL_SIDE:
        return None
    return (f"only {members:,} member{'s' if members != 1 else ''} and {non_members:,} non-member"
            f"{'s' if non_members != 1 else ''}: at this size the scores and their 95% intervals are unreliable "
            f"(an interval of zero width is not certainty); audit a few hundred a side (--n)")


def audit_membership(ckpt: str | Path, members: str = "train", non_members: str = "test", n: int = 1000,
                     samples: int = 10_000, seed: int = 0, out: str | Path | None = None, quiet: bool = True,
                     non_member_n: int | None = None) -> dict:
    """Run the attacks on n members and as many non-members (non_member_n of them when given); write
    RUN/audit-membership.json and its ROC picture."""
    if n < 1 or samples < 1:
        raise GanvqError(f"--n and --samples must be at least 1, got {n} and {samples}")
    if non_member_n is not None and non_member_n < 1:
        raise GanvqError(f"--non-member-n must be at least 1, got {non_member_n}")
    run = open_run(ckpt, "gan")
    check_writable(Path(out) if out else run.folder / "audit-membership.json")  # before the attacks, not after
    num_classes = run.config.model.num_classes
    own = {"train", "test"} & {members, non_members}  # the run's own split of its data
    changed = changed_data_note(run.folder, run.config.data) if own else None
    if changed:
        warn(changed)
    sides = []
    for i, spec in enumerate((members, non_members)):
        images, labels, what = candidates(run, spec)
        if len(images) == 0:
            raise GanvqError(f"{spec}: no images to audit")
        if num_classes and labels is None:
            raise GanvqError(f"{spec}: the discriminator is class-conditional, so the candidates need labels; "
                             "give a labelled dataset")
        if num_classes and int(labels.max()) >= num_classes:
            raise GanvqError(f"{spec}: label {int(labels.max())} is outside the model's {num_classes} classes")
        want = n if i == 0 or non_member_n is None else non_member_n
        sides.append((*_subset(images, labels if num_classes else None, want, seed + i), what))
    (m_x, m_y, _, m_what), (o_x, o_y, rest, o_what) = sides
    balanced = non_member_n is None  # then both sides are cut to the smaller one: as many non-members as members
    k = min(len(m_x), len(o_x)) if balanced else len(m_x)
    k_o = k if balanced else len(o_x)
    pool = len(o_x) + len(rest)  # every non-member image there is
    all_there_are = k_o == pool  # every non-member image is a candidate: no more to draw
    # the non-members cut by the balancing are not references: they are kept apart from the candidates entirely
    reference = torch.cat([o_x[k_o:], rest])[:REFERENCE_MAX] if members != non_members else rest[:0]
    m_x, m_y = m_x[:k], None if m_y is None else m_y[:k]
    o_x, o_y = o_x[:k_o], None if o_y is None else o_y[:k_o]
    D = run.discriminator("cpu")
    fake = sample(run, samples, seed, device="cpu", quiet=quiet)[0]
    scores = {"logan": (logan_scores(D, m_x, m_y), logan_scores(D, o_x, o_y)),
              "gan_leaks": (gan_leaks_scores(m_x, fake), gan_leaks_scores(o_x, fake))}
    if len(reference):
        scores["gan_leaks_calibrated"] = (calibrated_gan_leaks_scores(m_x, fake, reference),
                                          calibrated_gan_leaks_scores(o_x, fake, reference))
    target = Path(out) if out else run.folder / "audit-membership.json"
    picture = target.with_suffix(".roc.png")
    result = {
        "checkpoint": str(ckpt), "members": m_what, "non_members": o_what, "per_side": k if k == k_o else None,
        "member_count": k, "non_member_count": k_o, "samples": samples,
        "seed": seed, "private": run.config.privacy.private,
        "attacks": {
            "logan": {"paper": "Hayes et al. 2019, white-box: the discriminator's logit",
                      **attack_summary(*scores["logan"])},
            "gan_leaks": {"paper": "Chen et al. 2020, full black-box: minus the RMS pixel distance to the nearest "
                                   f"of {samples} samples", **attack_summary(*scores["gan_leaks"])},
        },
        "reference": f"{len(reference):,} of the non-member pool's images, none of them a candidate" if len(reference)
                     else "none: the non-member pool had no images beyond those drawn, so gan_leaks_calibrated "
                          "was skipped",
        "chance": {"auc": 0.5, "tpr_at_1pct_fpr": 0.01},
        "roc_png": str(picture),
        "notes": [note for note in [changed, size_note(k, k_o), threshold_note(k_o, all_there_are=all_there_are,
                                                                            available=pool)]
                  if note],
    }
    if len(reference):
        calibrated = attack_summary(*scores["gan_leaks_calibrated"])
        result["attacks"]["gan_leaks_calibrated"] = {
            "paper": "Chen et al. 2020 sec. 5.4, calibrated as Watson et al. 2022: the RMS pixel distance to the "
                     "nearest reference image minus that to the nearest sample", **calibrated}
    curves = {name: (*[t.tolist() for t in roc_curve(*s)], result["attacks"][name]["auc"]) for name, s in scores.items()}
    write_roc_png(picture, curves, f"membership inference: {run.folder.name}")
    write_json(target, result)
    return {**result, "written": str(target)}
