"""Train / validation / test roles for any input, and the held-out fraction for inputs without named splits.

Roles, for every input:
- "train": what training sees.
- "val": what training scores itself on at checkpoints.
- "test": what `eval` and `report` score.
- "all": every image of the input (reconstructing or compressing a user's own files).

Inputs with a named test split (IDX `t10k-*` files, `.npz` keys `x_test`/`test_images`) keep it as
"test"; "val" is the named validation split (`x_val`) if there is one, else a held-out fraction of
the named train split when `val_fraction` > 0, else the test split. Inputs without named splits (image
folders, single files, `x`/`images`/`arr_0` arrays) hold out `val_fraction` of their images (default
10%), which serves as both "val" and "test": ganvq never selects a model on it, so scoring
checkpoints on it does not bias the final figures.

The held-out images are chosen per class (or among all images when unlabelled) by a fixed hash of
each image's position, so the choice is the same on every machine and with every library version.
"""

from __future__ import annotations

import numpy as np

from ganvq.errors import GanvqError

SPLITS = ("train", "val", "test", "all")
DEFAULT_HOLDOUT = 0.1  # held-out fraction of inputs without named splits


def check_val_fraction(fraction: float | None) -> None:
    """Refuse a held-out fraction outside [0, 1)."""
    if fraction is not None and not 0.0 <= fraction < 1.0:
        raise GanvqError(f"--val-fraction must lie in [0, 1), got {fraction}")


def resolve_val_fraction(fraction: float | None, named_test: bool) -> float:
    """The held-out fraction in force: as given, else 0 for inputs with a named test split, else 10%."""
    check_val_fraction(fraction)
    if fraction is not None:
        return float(fraction)
    return 0.0 if named_test else DEFAULT_HOLDOUT


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fixed, well-spread hash of uint64 positions."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def held_out(n: int, fraction: float, labels: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask (n,) of the held-out images: round(fraction * size) of each class (at least one of any
    class with two or more images when fraction > 0), those with the smallest hash of their position."""
    mask = np.zeros(n, dtype=bool)
    if fraction <= 0 or n < 2:
        return mask
    keys = _mix(np.arange(n, dtype=np.uint64))
    groups = [np.arange(n)] if labels is None else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    for members in groups:
        if len(members) < 2:
            continue
        k = min(len(members) - 1, max(1, round(fraction * len(members))))
        mask[members[np.argsort(keys[members], kind="stable")[:k]]] = True
    return mask


def select(role: str, n: int, fraction: float, labels: np.ndarray | None, source: str) -> np.ndarray:
    """Sorted positions of one role ("train", "held" or "all") among n images of a part without named splits."""
    if role == "all":
        return np.arange(n)
    mask = held_out(n, fraction, labels)
    if role == "held":
        if not mask.any():
            why = ("the run was trained on all of it (--val-fraction 0)" if fraction <= 0
                   else f"it has only {n} image(s)")
            raise GanvqError(f"{source}: no held-out images to score ({why}); give a separate test set "
                             "(--data/--real), or train with --val-fraction")
        return np.flatnonzero(mask)
    return np.flatnonzero(~mask)


def describe_split(split: str, named_test: bool, fraction: float) -> str:
    """One line saying which images a split of an input is, for every score's JSON."""
    if split == "all":
        return "all images"
    if named_test:
        if split == "test":
            return "the named test split"
        if split == "val":
            return (f"{fraction:.0%} held out of the named train split" if fraction > 0
                    else "the named test split (no validation split held out)")
        return (f"the named train split less {fraction:.0%} held out" if fraction > 0
                else "the named train split")
    if split == "train":
        return f"all images less {fraction:.0%} held out (--val-fraction {fraction:g})"
    return f"{fraction:.0%} of the images held out from training (--val-fraction {fraction:g})"


def balanced_subset(labels: np.ndarray | None, n: int, seed: int, n_total: int | None = None,
                    source: str = "the training images") -> np.ndarray:
    """Sorted positions of a reproducible subset of n images: n // K of each of the K classes (the n mod K left
    over go one each to classes picked by the seed), drawn by numpy's PCG64 seeded with `seed`, so the same
    subset on every machine; unlabelled data (labels None, n_total images) gets n images drawn alike."""
    total = n_total if labels is None else len(labels)
    if total is None:
        raise ValueError("give labels or n_total")
    if n < 1:
        raise GanvqError(f"--subset must be at least 1, got {n}")
    if not 0 <= seed < 2**63:
        raise GanvqError(f"--subset-seed must lie in [0, 2^63), got {seed}")
    if n > total:
        raise GanvqError(f"--subset {n}: {source} hold only {total} images")
    rng = np.random.Generator(np.random.PCG64(seed))
    if labels is None:
        return np.sort(rng.permutation(total)[:n])
    classes = np.unique(labels)
    per_class = np.full(len(classes), n // len(classes))
    per_class[rng.permutation(len(classes))[: n % len(classes)]] += 1
    picked = []
    for c, k in zip(classes, per_class):
        members = np.flatnonzero(labels == c)
        if k > len(members):
            raise GanvqError(f"--subset {n}: class {int(c)} of {source} has only {len(members)} images, "
                             f"{int(k)} needed for a balanced subset")
        picked.append(members[rng.permutation(len(members))[:k]])
    return np.sort(np.concatenate(picked))
