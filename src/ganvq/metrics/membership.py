"""Membership inference against a trained GAN: was this image in its training set?

Two attacks, each a score per candidate image where higher means "member":
- LOGAN's white-box attack (Hayes et al. 2019, sec. 4.1): the discriminator's logit; an overfitting D scores
  its training images higher than unseen ones.
- GAN-Leaks' full black-box attack (Chen et al. 2020, sec. 5.1): minus the distance to the nearest of n
  generated samples; a generator that reproduces its training images puts samples right on top of them.
- GAN-Leaks calibrated (Chen et al. 2020, sec. 5.4): the same distance minus a reference's, so that images far
  from everything (hard to generate, member or not) stop looking like non-members. Chen et al. take the reference
  from a GAN trained on other data; here it is the nearest of a set of real images the model never saw, the
  difficulty calibration of Watson et al. (2022), which needs no second GAN.
Reported as ROC AUC and the true-positive rate at a 1% false-positive rate, the figure Carlini et al. (2022)
argue for: an attack that is confident about a few members matters even when its AUC is near 0.5.
"""

from __future__ import annotations

import torch

from ganvq.images import to_float
from ganvq.metrics.audit import nearest_neighbours


def roc_curve(members: torch.Tensor, non_members: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(false-positive rates, true-positive rates) of thresholding the scores, from (0, 0) to (1, 1); tied scores
    move both rates in one step."""
    scores = torch.cat([members, non_members]).double()
    is_member = torch.cat([torch.ones(len(members)), torch.zeros(len(non_members))]).double()
    order = torch.argsort(scores, descending=True, stable=True)
    scores, is_member = scores[order], is_member[order]
    tp, fp = torch.cumsum(is_member, 0), torch.cumsum(1 - is_member, 0)
    last = torch.ones(len(scores), dtype=torch.bool)  # the last of each run of equal scores
    last[:-1] = scores[1:] != scores[:-1]
    zero = torch.zeros(1, dtype=torch.float64)
    return torch.cat([zero, fp[last] / len(non_members)]), torch.cat([zero, tp[last] / len(members)])


def roc_auc(members: torch.Tensor, non_members: torch.Tensor) -> float:
    """Area under the ROC curve: P(member score > non-member score) + P(equal) / 2 (Mann-Whitney U / n m)."""
    fpr, tpr = roc_curve(members, non_members)
    return float(torch.trapezoid(tpr, fpr))


def tpr_at_fpr(members: torch.Tensor, non_members: torch.Tensor, fpr_max: float = 0.01) -> float:
    """The highest true-positive rate of a threshold whose false-positive rate is at most fpr_max."""
    return _tpr_at(*roc_curve(members, non_members), fpr_max)


def _tpr_at(fpr: torch.Tensor, tpr: torch.Tensor, fpr_max: float) -> float:
    return float(tpr[fpr <= fpr_max + 1e-12].max())


def bootstrap_intervals(members: torch.Tensor, non_members: torch.Tensor, rounds: int = 1000, seed: int = 0
                        ) -> dict[str, list[float]]:
    """95% percentile-bootstrap intervals of the AUC and of the TPR at 1% FPR: both sides redrawn with replacement
    `rounds` times, so the interval holds the uncertainty of the threshold (set by the few highest non-member
    scores) as well as of the members caught."""
    g = torch.Generator().manual_seed(seed)
    aucs, tprs = [], []
    for _ in range(rounds):
        m = members[torch.randint(len(members), (len(members),), generator=g)]
        o = non_members[torch.randint(len(non_members), (len(non_members),), generator=g)]
        fpr, tpr = roc_curve(m, o)
        aucs.append(float(torch.trapezoid(tpr, fpr)))
        tprs.append(_tpr_at(fpr, tpr, 0.01))
    q = torch.tensor([0.025, 0.975], dtype=torch.float64)
    return {name: [round(float(v), 6) for v in torch.quantile(torch.tensor(vals, dtype=torch.float64), q)]
            for name, vals in (("auc_95", aucs), ("tpr_at_1pct_fpr_95", tprs))}


def attack_summary(members: torch.Tensor, non_members: torch.Tensor, rounds: int = 1000) -> dict:
    """AUC, TPR at 1% and 0.1% FPR, the counts, and 95% bootstrap intervals of the first two (none when a side
    is empty or rounds is 0), for one attack's scores."""
    summary = {"auc": roc_auc(members, non_members), "tpr_at_1pct_fpr": tpr_at_fpr(members, non_members, 0.01),
               "tpr_at_0.1pct_fpr": tpr_at_fpr(members, non_members, 0.001),
               "members": len(members), "non_members": len(non_members)}
    if rounds and len(members) and len(non_members):
        summary.update(bootstrap_intervals(members, non_members, rounds))
    return summary


@torch.no_grad()
def logan_scores(D: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor | None, batch: int = 500
                 ) -> torch.Tensor:
    """LOGAN's score: D's logit for each uint8 image (with its label for a conditional D), D in eval mode."""
    D.eval()
    device = next(D.parameters()).device
    out = []
    for i in range(0, len(images), batch):
        y = None if labels is None else labels[i : i + batch].to(device)
        x = to_float(images[i : i + batch]).to(device)
        out.append(D(x, y).float().reshape(len(x), -1).mean(1).cpu())  # a patch D's logits averaged per image
    return torch.cat(out) if out else torch.zeros(0)


def gan_leaks_scores(images: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
    """GAN-Leaks' full black-box score: minus the RMS pixel distance from each uint8 image to its nearest sample."""
    return -nearest_neighbours(images, samples)[0]


def calibrated_gan_leaks_scores(images: torch.Tensor, samples: torch.Tensor, reference: torch.Tensor
                                ) -> torch.Tensor:
    """Calibrated GAN-Leaks: the RMS pixel distance from each uint8 image to its nearest reference image (real,
    unseen by the model and not among the candidates) minus that to its nearest sample."""
    return nearest_neighbours(images, reference)[0] - nearest_neighbours(images, samples)[0]
