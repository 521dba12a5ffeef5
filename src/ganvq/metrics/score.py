"""Score a set of generated images against real data: FID, KID, precision/recall, density/coverage,
class coverage, label entropy and the memorization audit, in one call and one JSON-ready dict.

Reference statistics of real data (features, mean, covariance, k-NN radii, test-to-train
distances) are computed once and cached under `$GANVQ_CACHE` (default `~/.cache/ganvq`), keyed by
the dataset's path and file sizes, split, image shape, sample count and extractor name.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ganvq.data import (
    dataset_name,
    describe_split,
    has_named_splits,
    held_out_fraction,
    load_dataset,
    resolve_dataset,
)
from ganvq.errors import GanvqError
from ganvq.images import save_grid
from ganvq.io import atomic_write_bytes
from ganvq.metrics.audit import RELATIVE_NEIGHBOURS, audit_reference, memorization_audit
from ganvq.metrics.features import CNN_NAME, CNN_SIZE, get_extractor
from ganvq.metrics.fid import feature_stats, fid_from_features, frechet_distance, kid
from ganvq.metrics.prdc import knn_radii, prdc

CACHE_VERSION = 1  # bump when what is cached, or how, changes
NEAREST_K = 5  # k of the k-NN balls (Naeem et al. 2020 recommend 5)
MIN_CLASS_SHARE = 0.01  # a class counts as present when at least 1% of samples are predicted as it
FEW_SAMPLES = 1000  # below this a note says FID is biased upward, every score noisy (Chong & Forsyth 2020)


def cache_dir() -> Path:
    """Where reference statistics are kept: $GANVQ_CACHE, else ~/.cache/ganvq."""
    return Path(os.environ.get("GANVQ_CACHE") or Path.home() / ".cache" / "ganvq")


def _fingerprint(path: Path) -> str:
    """Path plus sizes and mtimes of the files under it: a changed dataset gets new statistics."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    h = hashlib.sha256(str(path.resolve()).encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _cached(key: str, compute) -> dict[str, torch.Tensor]:
    """Tensors stored under `key` in the cache, computed and written (atomically) the first time."""
    from safetensors.torch import load_file, save

    path = cache_dir() / "refstats" / f"{key}.safetensors"
    if path.is_file():
        try:
            return load_file(path)
        except Exception:  # a damaged cache file is recomputed, never trusted
            pass
    tensors = {k: v.contiguous() for k, v in compute().items()}
    try:
        atomic_write_bytes(path, save(tensors))
    except OSError:  # a read-only home still gets correct numbers, just without a cache
        pass
    return tensors


@dataclass
class Reference:
    """Real-data statistics one set of samples is scored against."""

    data: str
    split: str
    features: torch.Tensor  # (N, D)
    mu: torch.Tensor
    sigma: torch.Tensor
    radii: torch.Tensor  # k-NN radius of each real feature
    dataset_name: str
    split_note: str = ""  # which images the split is (ganvq.data.describe_split)


def choose_features(features: str, shape: tuple[int, int, int]) -> str:
    """The extractor for "auto": ganvq's CNN for 28×28 grayscale images (what it was made for), else Inception."""
    if features != "auto":
        return features
    return "ganvq" if tuple(shape) == (1, CNN_SIZE, CNN_SIZE) else "inception"


def domain_note(extractor: str, real_name: str, shape: tuple[int, int, int]) -> str | None:
    """A warning, for the output itself, when the extractor is used outside the data it was made for."""
    if extractor != CNN_NAME:
        return None
    c, h, w = shape
    if (c, h, w) != (1, CNN_SIZE, CNN_SIZE):
        return (f"out of domain: {CNN_NAME} was trained on 28x28 grayscale Fashion-MNIST, and these {c}x{h}x{w} "
                "images were converted to that; its scores do not measure colour or detail: use --features inception")
    if real_name != "fashion-mnist":
        return (f"{CNN_NAME} was trained on Fashion-MNIST, not {real_name}: compare these scores only with others "
                "on the same reference and extractor, never with papers")
    return None


def reference(real: str, split: str, shape: tuple[int, int, int], features: str = "ganvq",
              n: int | None = None, bf16: bool = False, val_fraction: float | None = None) -> Reference:
    """Cached features and statistics of (the first n images of) a real split, at the samples' shape."""
    c, h, w = shape
    if h != w:
        raise GanvqError(f"samples must be square to compare with a dataset, got {h}×{w}")
    extractor = get_extractor(choose_features(features, shape), bf16)
    path = resolve_dataset(real)
    named = has_named_splits(path)
    fraction = held_out_fraction(path, val_fraction)
    # a named test split keeps the key it always had; held-out roles name their fraction
    tag = split if named and split == "test" else f"{split}-vf{fraction:g}"
    key = f"{path.name}-{_fingerprint(path)}-{tag}-{c}x{h}-{n or 'all'}-{extractor.name}-v{CACHE_VERSION}"

    def compute() -> dict[str, torch.Tensor]:
        data = load_dataset(real, split, size=h, channels=c, limit=n, val_fraction=fraction)
        if len(data) <= NEAREST_K:  # precision/recall's k-NN balls need k others per image
            raise GanvqError(f"{real}: scoring needs more than {NEAREST_K} reference images, and the reference, "
                             f"{describe_split(split, named, fraction)}, holds {len(data)}: give --real more "
                             "images, or --real-split train to score against the training images")
        f, _ = extractor(data.images)
        mu, sigma = feature_stats(f)
        return {"features": f, "mu": mu, "sigma": sigma, "radii": knn_radii(f, NEAREST_K)}

    t = _cached(key, compute)
    return Reference(str(real), split, t["features"], t["mu"], t["sigma"], t["radii"], dataset_name(real),
                     describe_split(split, named, fraction))


def _class_stats(labels: torch.Tensor, num_classes: int) -> dict:
    """How evenly the samples spread over classes, as the extractor's classifier sees them."""
    counts = torch.bincount(labels, minlength=num_classes).double()
    p = counts / counts.sum()
    nz = p[p > 0]
    return {
        "class_coverage": int((p >= MIN_CLASS_SHARE).sum()),
        "num_classes": num_classes,
        "label_entropy": float(-(nz * nz.log()).sum()),
        "label_entropy_max": math.log(num_classes),
        "class_histogram": [int(v) for v in counts],
    }


def score_samples(
    fake: torch.Tensor,
    real: str = "fashion-mnist",
    ref_split: str = "test",
    features: str = "auto",
    seed: int = 0,
    n_ref: int | None = None,
    audit: bool = True,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    bf16: bool = False,
    pairs_png: str | Path | None = None,
    val_fraction: float | None = None,
    trained_on: tuple[str, float | None] | None = None,
    notes: list[str] | None = None,
    stage: Callable[[str], None] | None = None,
    advance: Callable[[int], None] | None = None,
    train_subset: torch.Tensor | None = None,
) -> dict:
    """All sample-quality metrics of uint8 (N, C, H, W) samples against a real dataset split.

    `val_fraction` is the held-out fraction of `real` (ganvq.data.splits). The memorization audit compares
    the samples with the training images of `trained_on` (data, held-out fraction), by default `real`'s;
    it needs held-out images of that data as its yardstick and is skipped, with a note, without them.
    For a progress display, `stage(name)` is told as each stage of the work begins and `advance(k)` of every
    k samples whose features are done. `train_subset` (uint8, a run trained on a subset of that data) makes the
    audit compare with those images alone, and the held-out images' distances to them its yardstick."""
    stage = stage or (lambda name: None)
    if fake.dtype != torch.uint8 or fake.dim() != 4:
        raise GanvqError(f"samples must be uint8 (N, C, H, W), got {fake.dtype} {tuple(fake.shape)}")
    if len(fake) <= NEAREST_K:
        raise GanvqError(f"need more than {NEAREST_K} samples to score, got {len(fake)}")
    shape = tuple(fake.shape[1:])
    features = choose_features(features, shape)
    notes = list(notes or [])
    timings = {}
    t0 = time.perf_counter()
    stage("reference features")
    ref = reference(real, ref_split, shape, features, n_ref, bf16, val_fraction)
    timings["reference"] = time.perf_counter() - t0
    extractor = get_extractor(features, bf16)
    note = domain_note(extractor.name, ref.dataset_name, shape)
    if note:
        notes.append(note)
    if len(fake) < FEW_SAMPLES:
        notes.append(f"only {len(fake):,} samples: FID is biased upward at this count (it falls as samples are added) "
                     "and every score here is noisy; compare only with scores of the same count (papers use 10,000 "
                     "or 50,000)")
    if len(ref.features) < 1000:
        notes.append(f"the reference holds only {len(ref.features)} images: FID and KID are biased and noisy at "
                     "this size; compare only runs scored on the same reference")

    t0 = time.perf_counter()
    stage(f"features of {len(fake):,} samples")
    f, labels = _features(extractor, fake, advance)
    timings["features"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    stage("FID, KID, precision/recall")
    mu, sigma = feature_stats(f)
    result = {
        "extractor": extractor.name,
        "reference": {"data": ref.data, "split": ref_split, "split_note": ref.split_note,
                      "images": len(ref.features)},
        "samples": len(fake),
        "fid": frechet_distance(mu, sigma, ref.mu, ref.sigma),
    }
    km, ks = kid(ref.features, f, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed)
    result.update({"kid_mean": km, "kid_std": ks, "kid_subsets": kid_subsets,
                   "kid_subset_size": min(kid_subset_size, len(f), len(ref.features))})
    result.update(prdc(ref.features, f, NEAREST_K, real_radii=ref.radii))
    result["nearest_k"] = NEAREST_K
    timings["fid_kid_prdc"] = time.perf_counter() - t0

    if labels is not None and ref.dataset_name == "fashion-mnist":
        result.update(_class_stats(labels, 10))
    if audit:
        t0 = time.perf_counter()
        stage("memorization audit")
        data, fraction = trained_on or (real, val_fraction)
        try:
            result["memorization"], train_images = _audit(fake, data, fraction, pairs_png, train_subset=train_subset)
        except GanvqError as e:
            notes.append(f"memorization audit skipped: {e}")
            train_images = e.train_images if isinstance(e, AuditSkipped) else None  # the copy yardstick still holds
        else:
            mem = result["memorization"]
            averaged = mem["closer_than_test_q0.01_fraction"] - mem["likely_copy_fraction"]
            if averaged > 0.05:
                notes.append(f"{100 * averaged:.0f}% of samples are closer to a training image than 1% of held-out "
                             "images are, yet about as near their other nearest training images (relative "
                             "distance): images near many training images at once, such as averages, not copies "
                             "of one; likely copies "
                             f"{100 * mem['likely_copy_fraction']:.1f}%")
        if train_images is not None and len(train_images) <= len(fake):
            value = copy_fid(extractor, train_images, len(fake), ref)
            (result["memorization"] if "memorization" in result else result)["copy_fid"] = value
            notes.append(f"the {len(train_images):,} training images, repeated to {len(fake):,}, score FID "
                         f"{value:.2f}: a FID near or below that can come from copying them"
                         + (" (the audit says whether these samples do)" if "memorization" in result else ""))
        timings["memorization"] = time.perf_counter() - t0
    result["notes"] = notes
    result["seconds"] = {k: round(v, 2) for k, v in timings.items()}
    result["samples_per_second"] = round(len(fake) / max(timings["features"] + timings["fid_kid_prdc"], 1e-9), 1)
    return result


def repeat_to(x: torch.Tensor, n: int) -> torch.Tensor:
    """`x` repeated along its first axis until there are `n` rows (every row equally often, then cut to n): what a
    generator that copies its training images draws."""
    return x.repeat(-(-n // len(x)), *[1] * (x.dim() - 1))[:n]


def copy_fid(extractor, train_images: torch.Tensor, n: int, ref) -> float:
    """The FID of a generator that repeats its training images (repeat_to(train_images, n)), on `extractor`
    against the reference `ref`. A yardstick for small training sets, where it can lie below a GAN's FID: there a
    lower FID may mean more copying, not a better model."""
    f, _ = extractor(train_images)
    mu, sigma = feature_stats(repeat_to(f, n))
    return frechet_distance(mu, sigma, ref.mu, ref.sigma)


def _features(extractor, images: torch.Tensor, advance: Callable[[int], None] | None):
    """extractor(images), one of its batches at a time when `advance` is to be told of each (the same numbers:
    the extractor splits into these batches itself)."""
    if advance is None:
        return extractor(images)
    feats, labels = [], []
    for batch in images.split(extractor.batch_size):
        f, y = extractor(batch)
        feats.append(f)
        labels.append(y)
        advance(len(batch))
    return torch.cat(feats), None if labels[0] is None else torch.cat(labels)


AUDIT_MIN_HELD_OUT = 100  # the audit's threshold is the 1% quantile of held-out distances: below 100, their minimum


class AuditSkipped(GanvqError):
    """The audit cannot run for want of held-out images; `train_images` are still what the copy-FID yardstick needs."""

    def __init__(self, message: str, train_images: torch.Tensor):
        super().__init__(message)
        self.train_images = train_images


def _audit(fake: torch.Tensor, real: str, val_fraction: float | None, pairs_png: str | Path | None,
           shown: int = 32, train_subset: torch.Tensor | None = None) -> tuple[dict, torch.Tensor]:
    """The memorization audit against the train split (or the subset of it a run was trained on), and those
    training images; the test-to-train distances of a whole split come from the cache, a subset's are computed."""
    c, h, _ = fake.shape[1:]
    path = resolve_dataset(real)
    named = has_named_splits(path)
    fraction = held_out_fraction(path, val_fraction)
    note = describe_split("train", named, fraction)
    if train_subset is not None:
        train_images = train_subset
        test = load_dataset(real, "test", size=h, channels=c, val_fraction=fraction)
        reference = audit_reference(test.images, train_images)
        note = f"a subset of {len(train_images)} images of {note} (those the run trained on: --limit, --subset)"
    else:
        train_images = load_dataset(real, "train", size=h, channels=c, val_fraction=fraction).images
        tag = "" if named and fraction == 0 else f"-vf{fraction:g}"
        k = RELATIVE_NEIGHBOURS
        key = f"{path.name}-{_fingerprint(path)}-audit-relative-k{k}{tag}-{c}x{h}-v{CACHE_VERSION}"

        def compute() -> dict[str, torch.Tensor]:
            test = load_dataset(real, "test", size=h, channels=c, val_fraction=fraction)
            return audit_reference(test.images, train_images)

        reference = _cached(key, compute)
    held_out = len(reference["test_nn_distance"])
    if held_out < AUDIT_MIN_HELD_OUT:
        raise AuditSkipped(f"only {held_out} held-out images; its yardstick, the closest 1% of held-out images, "
                           f"needs at least {AUDIT_MIN_HELD_OUT}", train_images)
    summary, d, idx = memorization_audit(fake, train_images, reference)
    summary["training_data"] = {"data": str(real), "split_note": note, "images": len(train_images)}
    if pairs_png is not None:
        order = d.argsort()[:shown]
        pairs = torch.stack([fake[order], train_images[idx[order]]], 1).flatten(0, 1)  # sample, its nearest
        save_grid(pairs_png, pairs, nrow=16, upscale=2)
        summary["closest_pairs_png"] = str(pairs_png)
    return summary, train_images


def fid_between(a: torch.Tensor, b: torch.Tensor, features: str = "auto") -> float:
    """FID between two uint8 image sets on the named extractor (no cache): for sanity tables and tests."""
    extractor = get_extractor(choose_features(features, tuple(a.shape[1:])))
    return fid_from_features(extractor(a)[0], extractor(b)[0])


def format_scores(result: dict) -> str:
    """The headline sample-quality numbers as a small aligned table."""
    rows = [("FID", result.get("fid"), ".2f"), ("KID", result.get("kid_mean"), ".5f"),
            ("precision", result.get("precision"), ".3f"), ("recall", result.get("recall"), ".3f"),
            ("density", result.get("density"), ".3f"), ("coverage", result.get("coverage"), ".3f")]
    if "class_coverage" in result:
        rows += [("classes present", result["class_coverage"], "d"),
                 ("label entropy", result["label_entropy"], ".3f")]
    mem = result.get("memorization")
    if mem:
        rows += [("likely copies", mem.get("likely_copy_fraction"), ".4f"),
                 ("closer than 1% of test", mem["closer_than_test_q0.01_fraction"], ".4f"),
                 ("NN distance ratio", mem["median_ratio"], ".3f"),
                 ("FID, training set copied", mem.get("copy_fid"), ".2f")]
    elif "copy_fid" in result:  # the audit was skipped, its copy yardstick was not
        rows.append(("FID, training set copied", result["copy_fid"], ".2f"))
    ref = result["reference"]
    lines = [f"{result['samples']} samples vs {ref['data']} {ref['split']} ({ref.get('split_note') or ref['split']}, "
             f"{ref['images']} images), features {result['extractor']}"]
    lines += [f"  {name:<24} {value:{fmt}}" for name, value, fmt in rows if value is not None]
    lines += [f"  note: {note}" for note in result.get("notes", ())]
    return "\n".join(lines)
