"""`ganvq eval`: score a trained model or a folder of samples and write the numbers as JSON.

Every score names its reference: by default the held-out images of the data the model was trained on
(ganvq.data.splits), never another dataset unless the user names one, and then the output says so.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ganvq.commands.export import SOURCE_FILE
from ganvq.commands.reconstruct import GRID_NAMES, files_read
from ganvq.commands.sample import generate, sample
from ganvq.data import (
    ImageDataset,
    changed_data_note,
    describe_skipped,
    describe_split,
    has_named_splits,
    held_out_fraction,
    load_dataset,
    resolve_dataset,
)
from ganvq.data.folder import list_image_files, misfits
from ganvq.data.limits import open_image
from ganvq.errors import GanvqError, warn
from ganvq.io import check_writable, read_json, write_json
from ganvq.metrics.evaluate import evaluate_reconstruction
from ganvq.metrics.score import score_samples
from ganvq.metrics.utility import FEW_SHOT_STEPS, downstream_accuracy, few_shot_utility
from ganvq.progress import Progress, progress
from ganvq.runs import checkpoint_path, open_run


def _same_data(a: str, b: str) -> bool:
    """Whether two dataset names or paths mean the same data."""
    try:
        return resolve_dataset(a).resolve() == resolve_dataset(b).resolve()
    except GanvqError:
        return a == b


def reference_split(data: str, trained: tuple[str, float | None] | None, split: str | None = None
                    ) -> tuple[str, float | None, list[str]]:
    """(split, held-out fraction, notes) to score against `data`: the held-out images of the training data, or
    for other data its test split where it has one, else all of it (none of it was trained on); `split` names
    another (e.g. the training images, the reference many GAN papers score against), and the notes say so."""
    if trained is not None and _same_data(data, trained[0]):
        notes = []
        if split in ("train", "all"):
            notes.append(f"scored against the {'training' if split == 'train' else 'training and held-out'} images "
                         "the model learned from (the convention of many GAN papers), not held-out ones: compare only "
                         "with scores on the same reference")
        return split or "test", trained[1], notes
    notes = []
    if trained is not None:
        notes.append(f"the model was trained on {trained[0]}, not on {data}: this scores it against other data")
    return split or ("test" if has_named_splits(data) else "all"), None, notes


def _stage(bar: Progress):
    """A score_samples `stage` callback: each stage is one line as it begins (above the bar on a terminal)."""

    def stage(name: str) -> None:
        bar.set_postfix({"stage": name})
        bar.note(name)

    return stage


def _scoring(n: int, desc: str, quiet: bool) -> Progress:
    """The progress of scoring n samples: a line per stage (reference, features, FID/KID/PRDC, memorization
    audit) and the samples' feature extraction, the long part, counted image by image."""
    return progress(n, f"{desc}: scoring", unit="image", quiet=quiet)


def eval_vqvae(ckpt: str, data: str | None = None, split: str | None = None, limit: int | None = None,
               out: str | None = None, device: str = "cpu", quiet: bool = False) -> dict:
    """Held-out PSNR/SSIM (per image, pixels in [0, 1], then averaged), codes used, perplexity, raw bpp."""
    run = open_run(ckpt, "vqvae")
    model, config = run.vqvae(device), run.config
    data = data or config.data
    split, fraction, notes = reference_split(data, (config.data, config.val_fraction), split)
    if _same_data(data, config.data) and (changed := changed_data_note(run.folder, data)):
        warn(changed)
        notes.append(changed)
    fraction = held_out_fraction(data, fraction)
    dataset = load_dataset(data, split, size=config.model.image_size, channels=config.model.channels,
                           val_fraction=fraction)
    images = dataset.images[:limit] if limit else dataset.images
    result = {
        "checkpoint": str(ckpt),
        "checkpoint_step": run.meta["step"],
        "data": data,
        "split": split,
        "split_note": describe_split(split, has_named_splits(data), fraction),
        "notes": notes,
        "psnr_definition": "mean over images of 10*log10(1/MSE), pixels scaled to [0, 1]",
        "ssim_definition": "mean over images of SSIM (Gaussian window 11, sigma 1.5), pixels in [0, 1]",
    }
    with progress(len(images), "eval vqvae", unit="image", quiet=quiet) as bar:
        result.update(evaluate_reconstruction(model, images, split=split, progress=bar.update))
    target = Path(out) if out else run.folder / "eval-vqvae.json"
    write_json(target, result)
    return {**result, "written": str(target)}


def folder_source(folder: str) -> dict | None:
    """The source.json `ganvq sample --out-dir` writes into a sample folder, if it is there and readable."""
    path = Path(folder) / SOURCE_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("data"), str) else None


def load_sample_folder(folder: str, real: str, limit: int | None = None) -> torch.Tensor:
    """A folder of generated images as uint8, at the real dataset's size and channel count."""
    reference = load_dataset(real, "all", limit=1)
    c, h, _ = reference.shape
    grid = overview_picture(folder)
    fake = load_dataset(folder, "all", size=h, channels=c, limit=limit, exclude=[grid.name] if grid else ())
    note = describe_skipped(fake)
    if note:
        warn(note)
    bad = misfits(files_read(folder, fake, exclude=[grid] if grid else ()) or [], (c, h, h))
    if bad:  # images of another size or colour are scored as resized: say so
        warn(f"{len(bad)} of {len(fake)} images are not {h}x{h} {'grayscale' if c == 1 else 'colour'} as the "
             f"reference images are (e.g. {bad[0][0].name}, {bad[0][1]}): they are scored resized, centre-cropped "
             "and converted to that")
    return fake.images


def overview_picture(folder: str) -> Path | None:
    """The overview grid that reconstruct, decode or restore wrote beside its images, if the folder has one: a
    grid.png (ganvq-grid.png when an input was itself called grid) of another size than the folder's other
    images. It is said on stderr; a grid file of the images' own size is taken for a sample."""
    root = Path(folder)
    grid = next((root / n for n in reversed(GRID_NAMES) if (root / n).is_file()), None) if root.is_dir() else None
    other = next((f for f in list_image_files(root) if f != grid), None) if grid else None
    if other is None:
        return None
    try:
        with open_image(grid) as a, open_image(other) as b:
            sizes = a.size, b.size
    except (OSError, GanvqError):  # unreadable: the loader skips it and says so
        return None
    if sizes[0] == sizes[1]:
        return None
    warn(f"{grid} is left out: it looks like the overview picture reconstruct, decode or restore writes beside "
         f"its images ({sizes[0][0]}x{sizes[0][1]} pixels, where {other.name} is {sizes[1][0]}x{sizes[1][1]})")
    return grid


def eval_folder(real: str | None, fake: str, features: str = "auto", limit: int | None = None, seed: int = 0,
                out: str | None = None, bf16: bool = False, quiet: bool = False, real_split: str | None = None) -> dict:
    """Score a folder of images from any generator against real data: `real`, else the training data named by
    the folder's source.json (written by `ganvq sample --out-dir`); `real_split` overrides reference_split's
    choice of its split."""
    source = folder_source(fake)
    trained = (source["data"], source.get("val_fraction")) if source else None
    if real is None:
        if trained is None:
            raise GanvqError(f"{fake}: give --real DATA, the images to compare with (the folder has no "
                             f"{SOURCE_FILE} naming the data its model was trained on)")
        real = trained[0]
    split, fraction, notes = reference_split(real, trained, real_split)
    drawn = {k: source[k] for k in ("class", "truncation", "temperature", "top_k") if source and k in source}
    if drawn:
        notes.append("the samples were drawn with " + ", ".join(f"{k.replace('_', '-')} {v}" for k, v in drawn.items())
                     + f" ({SOURCE_FILE}): they are scored against all of the reference images, not a matching part")
    images = load_sample_folder(fake, real, limit)
    target = Path(out) if out else Path(fake).with_name(Path(fake).name + "-eval.json")
    pairs = target.with_suffix(".closest-pairs.png")
    audit = trained is not None or has_named_splits(real)
    part = source.get("train_part") if source else None  # the model saw only these of its training data
    if part is not None and not (isinstance(part, dict) and all(
            part.get(k) is None or type(part.get(k)) is int for k in ("limit", "subset", "subset_seed"))):
        raise GanvqError(f"{Path(fake) / SOURCE_FILE}: train_part must hold whole numbers limit, subset, subset_seed")
    few = None if trained is None or part is None else part_of_train(
        trained[0], held_out_fraction(trained[0], trained[1]), images.shape[-1], images.shape[1], part)
    with _scoring(len(images), "eval folder", quiet) as bar:
        scores = score_samples(images, real, split, features=features, seed=seed, bf16=bf16, pairs_png=pairs,
                               val_fraction=fraction, trained_on=trained, notes=notes, audit=audit,
                               stage=_stage(bar), advance=bar.update, train_subset=None if few is None else few.images)
    result = {"fake": str(fake), "source": source, **scores}
    write_json(target, result)
    return {**result, "written": str(target)}


def privacy_facts(run) -> dict | None:
    """A private GAN run's guarantee as trained: ε spent at δ, the noise, clipping, sampling and accountant (None for
    other runs). Read from the accountant history its checkpoint keeps."""
    from ganvq.io import unflatten_state
    from ganvq.metrics.privacy import epsilon_of

    privacy = getattr(run.config, "privacy", None)
    if privacy is None or not privacy.private:
        return None
    history = unflatten_state(run.meta["extra"], run.tensors)["privacy"]["history"]
    return {"epsilon": epsilon_of(privacy.accountant, history, privacy.delta), "delta": privacy.delta,
            "target_epsilon": privacy.epsilon, "noise_multiplier": privacy.noise_multiplier,
            "max_grad_norm": privacy.max_grad_norm, "clipping": privacy.clipping, "accountant": privacy.accountant,
            "sample_rate": history[0][1] if history else None, "d_steps": sum(int(h[2]) for h in history),
            "covers": "the discriminator's updates, hence G, its EMA and every sample; not the training losses logged "
                      "in metrics.jsonl"}


def training_subset(run, real_subset: int | None = None, subset_seed: int | None = None) -> ImageDataset | None:
    """The real images a GAN run trained on when they are a part of its data's train split (--limit, --subset),
    or `real_subset` images of them drawn as `train gan --subset` draws (subset_seed: the run's, else 0); None for
    a run trained on the whole split with no real_subset asked for."""
    c = run.config
    subset = real_subset or getattr(c, "subset", None)
    if run.kind != "gan" or (subset is None and c.limit is None):
        return None
    seed = c.subset_seed if subset_seed is None else subset_seed
    return part_of_train(c.data, held_out_fraction(c.data, c.val_fraction), c.model.image_size, c.model.channels,
                         {"limit": c.limit, "subset": subset, "subset_seed": seed, "on_bad": c.on_bad})


def part_of_train(data: str, fraction: float, size: int, channels: int, part: dict) -> ImageDataset:
    """The training images a run took from its data's train split: the first `limit` (train gan --limit), then
    `subset` of them balanced over the classes with `subset_seed` (--subset), as sample.source_record writes
    them into an exported folder's source.json."""
    train = load_dataset(data, "train", size=size, channels=channels, on_bad=part.get("on_bad", "skip"),
                         limit=part.get("limit"), val_fraction=fraction)
    return train if part.get("subset") is None else train.balanced(part["subset"], part.get("subset_seed") or 0)


def check_utility(run, n: int) -> None:
    """A GanvqError when --utility cannot run for this run: checked before any sample is drawn or scored."""
    if n < 1:
        raise GanvqError(f"--utility takes a positive number of synthetic images, got {n}")
    if not getattr(getattr(run.config, "model", None), "num_classes", None):
        raise GanvqError(f"{run.folder}: --utility needs a class-conditional GAN (its samples need labels)")


def utility(run, n: int, seed: int = 0, quiet: bool = True, test_limit: int | None = None,
            real: ImageDataset | None = None) -> dict:
    """Downstream accuracy: the fixed classifier of metrics.utility trained on n class-conditional samples (classes
    in turn), tested on the real held-out images of the run's training data (the first test_limit only, if given).
    With `real` (a few real training images, e.g. the run's --subset), metrics.utility.few_shot_utility instead:
    (a) real, (b) real plus the samples, (c) the samples alone."""
    check_utility(run, n)
    c = run.config
    images, labels = sample(run, n, seed, device="cpu", quiet=quiet)
    fraction = held_out_fraction(c.data, c.val_fraction)
    test = load_dataset(c.data, "test", size=c.model.image_size, channels=c.model.channels, val_fraction=fraction,
                        limit=test_limit)
    if test.labels is None or len(test.images) == 0:
        raise GanvqError(f"{c.data}: --utility needs labelled held-out images")
    tested_on = describe_split("test", has_named_splits(c.data), fraction)
    if real is None:
        with progress(None, "eval gan: training the utility classifier", unit="step", quiet=quiet) as bar:
            result = downstream_accuracy(images, labels, test.images, test.labels, c.model.num_classes,
                                         step_done=bar.update)
        return {**result, "trained_on": f"{n} samples of the GAN (seed {seed})", "tested_on": tested_on}
    if real.labels is None:
        raise GanvqError(f"{c.data}: --utility with real images needs labelled training images")
    with progress(3 * FEW_SHOT_STEPS, "eval gan: training the utility classifiers (a), (b), (c)", unit="step",
                  quiet=quiet) as bar:
        result = few_shot_utility((real.images, real.labels), (images, labels), (test.images, test.labels),
                                  c.model.num_classes, step_done=bar.update)
    return {**result, "trained_on": {"real": f"{len(real)} real training images of {c.data}",
                                     "synthetic": f"{n} samples of the GAN (seed {seed}), classes in turn"},
            "tested_on": tested_on}


def earlier_utility(target: Path, run) -> dict | None:
    """The `utility` block of an earlier eval-gan.json at `target` when it was measured on this very checkpoint
    state (same file, same step), so that a plain `eval gan` after an `eval gan --utility` keeps those minutes of
    work; when the checkpoint has moved on since, a warning says the block is dropped."""
    try:
        earlier = read_json(target) if target.is_file() else None
    except (GanvqError, OSError, ValueError):
        return None
    if not isinstance(earlier, dict) or not isinstance(earlier.get("utility"), dict):
        return None
    step = run.meta["step"]
    recorded = earlier.get("checkpoint_file") or earlier.get("checkpoint")  # the absolute path, where recorded
    same_file = recorded is not None and _same_file(recorded, run.checkpoint)
    if same_file and earlier.get("checkpoint_step") == step:
        return {**earlier["utility"], "kept_from": "an earlier eval gan --utility of this checkpoint at the same step"}
    was = earlier.get("checkpoint_step")
    when = f"step {was}" if was is not None else "an earlier state"
    warn(f"{target}'s --utility results were measured on {when} of {'this' if same_file else 'another'} checkpoint, "
         f"not on this one at step {step}: they are dropped; add --utility N to measure them again")
    return None


def _same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return checkpoint_path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def eval_gan(ckpt: str, n: int = 10_000, real: str | None = None, features: str = "auto", seed: int = 0,
             out: str | None = None, bf16: bool = False, quiet: bool = False, utility_n: int = 0,
             real_subset: int | None = None, subset_seed: int | None = None, real_split: str | None = None) -> dict:
    """Sample n images (seeded) from a generator checkpoint and score them against the held-out images of its
    training data (or `real`; `real_split` chooses another split of it); the memorization audit always uses its
    training data, the very images of a --limit or --subset run. utility_n > 0 also trains the downstream
    classifier on that many samples, beside the run's --subset images (or `real_subset` training images drawn
    alike) when there are some; a private run's guarantee is reported beside the scores."""
    if real_subset is not None and not utility_n:
        raise GanvqError("--real-subset chooses the real images of --utility: give --utility too")
    run = open_run(ckpt)  # read once: the samples and the dataset it was trained on
    target = Path(out) if out else run.folder / "eval-gan.json"
    check_writable(target)  # before minutes of sampling and scoring, not after them
    if utility_n:
        check_utility(run, utility_n)  # before minutes of sampling and scoring, not after them
    few = training_subset(run, real_subset, subset_seed)
    seen = training_subset(run) if real_subset is not None else few  # the audit's: the images the run trained on
    images, trained = generate(run, n, seed, quiet=quiet)
    real = real or (trained[0] if trained else None)
    if not real:
        raise GanvqError(f"{ckpt}: the checkpoint does not name its dataset; pass --real DATASET")
    split, fraction, notes = reference_split(real, trained, real_split)
    if trained and _same_data(real, trained[0]) and (changed := changed_data_note(run.folder, real)):
        warn(changed)
        notes.append(changed)
    pairs = target.with_suffix(".closest-pairs.png")
    with _scoring(len(images), "eval gan", quiet) as bar:
        scores = score_samples(images, real, split, features=features, seed=seed, bf16=bf16, pairs_png=pairs,
                               val_fraction=fraction, trained_on=trained, notes=notes, stage=_stage(bar),
                               advance=bar.update, train_subset=None if seen is None else seen.images)
    result = {"checkpoint": str(ckpt), "checkpoint_file": str(run.checkpoint.resolve()),
              "checkpoint_step": run.meta["step"], "sample_seed": seed, **scores}
    if run.kind == "gan" and privacy_facts(run) is not None:
        result["privacy"] = privacy_facts(run)
    if utility_n:
        with_real = real_subset is not None or getattr(run.config, "subset", None) is not None
        result["utility"] = utility(run, utility_n, seed, quiet, real=few if with_real else None)
    else:
        earlier = earlier_utility(target, run)
        if earlier is not None:
            result["utility"] = earlier
    write_json(target, result)
    return {**result, "written": str(target)}
