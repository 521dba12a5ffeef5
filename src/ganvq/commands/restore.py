"""Restoration of damaged images: holes completed through a prior over codes, or a restoration-trained VQ-VAE.

Two kinds of run restore: a prior run (its VQ-VAE encodes the visible part, the prior redraws the codes
under the hole, prior/inpaint.py), and a VQ-VAE trained with `--corrupt` (data/corrupt.py) on damaged
inputs with clean targets, whose quantizer bottleneck keeps the output on the codebook's images.
Wherever a mask says a pixel is visible, the output keeps the input's pixel.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ganvq.commands.reconstruct import BATCH, _grid_name, check_inputs_kept, files_read, input_names, load_inputs
from ganvq.data.corrupt import MASK_FORMS, apply_mask, make_mask, parse_corruption, parse_mask
from ganvq.data.folder import central_square, read_upright, upright_size
from ganvq.data.limits import open_image
from ganvq.errors import GanvqError
from ganvq.io import check_folder_writable
from ganvq.images import make_grid, save_image, side_by_side, to_float, to_uint8_image
from ganvq.metrics.recon import psnr_per_image, ssim_per_image
from ganvq.models.vqvae import VQVAE
from ganvq.prior.inpaint import code_hole, inpaint_codes
from ganvq.progress import progress
from ganvq.runs import open_run

GRID_IMAGES = 64  # damaged/restored pairs in grid.png (8 images a row with --samples K > 1)


def check_hole(hole: torch.Tensor, n: int, height: int, width: int) -> torch.Tensor:
    """`hole` as (n, 1, H, W) bool, or a GanvqError when it does not fit the images, hides nothing or hides all."""
    if hole.dim() == 2:
        hole = hole[None, None]
    if hole.dim() != 4 or hole.shape[1] != 1 or tuple(hole.shape[2:]) != (height, width) or hole.shape[0] not in (1, n):
        raise GanvqError(f"the mask is {'x'.join(map(str, hole.shape[-2:][::-1]))} pixels; the images are "
                         f"{width}x{height}")
    hole = hole.bool().expand(n, 1, height, width)
    counts = hole.flatten(1).sum(1)
    if int(counts.min()) == 0:
        raise GanvqError(f"the mask hides no pixel of image {int(counts.argmin())}: nothing to restore (in a mask "
                         "image, missing pixels are white: at least 128 of 255, or 1 in a mask of 0s and 1s)")
    if int(counts.max()) == height * width:
        raise GanvqError(f"the mask hides every pixel of image {int(counts.argmax())}: nothing to restore from")
    return hole


def restore_images(model: VQVAE, x: torch.Tensor, hole: torch.Tensor | None = None, prior=None, samples: int = 1,
                   candidates: int = 4, seed: int = 0, margin: int = 1, select: str = "full",
                   sweeps: int = 0, temperature: float = 1.0) -> torch.Tensor:
    """Restorations (N, samples, C, H, W) in [-1, 1] of damaged images x (N, C, H, W) in [-1, 1]; `hole`
    (N or 1, 1, H, W) bool marks missing pixels, which a `prior` (over `model`'s codes) completes, else the
    restoration-trained `model` alone; visible pixels are returned unchanged."""
    n, _, height, width = x.shape
    if hole is not None:
        hole = check_hole(hole.cpu(), n, height, width)
    if prior is None:
        if samples != 1:
            raise GanvqError("a restoration-trained VQ-VAE gives one restoration per image; --samples K > 1 needs "
                             "a prior run (ganvq train prior)")
        out = _batched(model.reconstruct, apply_mask(x, hole) if hole is not None else x)[:, None]
    else:
        if hole is None:
            raise GanvqError("completing holes with a prior needs a mask: --mask FILE|center|box:x,y,w,h|random:p")
        g = torch.Generator().manual_seed(seed)
        indices = _batched(model.encode, apply_mask(x, hole))  # (N, h, w): the visible part's codes
        where = code_hole(hole, height // indices.shape[1], margin)
        codes = inpaint_codes(prior, indices, where, samples, candidates, select, generator=g, sweeps=sweeps,
                              temperature=temperature)  # (N, K, h, w)
        out = _batched(model.decode, codes.flatten(0, 1)).view(n, samples, *x.shape[1:])
    if hole is not None:
        out = torch.where(hole[:, None], out, x.cpu()[:, None])
    return out


def _batched(fn, x: torch.Tensor) -> torch.Tensor:
    """fn over x BATCH at a time on the model's device, the results back on the CPU."""
    device = next(fn.__self__.parameters()).device
    return torch.cat([fn(x[i : i + BATCH].to(device)).cpu() for i in range(0, len(x), BATCH)])


def read_mask(spec: str, n: int, height: int, width: int, generator: torch.Generator,
              source_sizes: Callable[[], list[tuple[int, int]] | None] = lambda: None) -> torch.Tensor:
    """Holes (n, 1, H, W) bool from a shape (center, box:x,y,w,h, random:p: one draw per image) or a mask image
    file (white, >= 128: missing; in a mask of only 0s and 1s, 1), checked: the right size, something hidden,
    something visible. A mask file of the size the input files had before they were resized to H x W
    (`source_sizes()`, (width, height) each, asked only for a mask file of another size; when they all share it) is
    resized and centre-cropped as they were: a pixel is missing there when any pixel under it was."""
    form = spec.split(":", 1)[0]
    if form in ("center", "box", "random") and not Path(spec).is_file():
        return check_hole(make_mask(parse_mask(spec), n, height, width, generator), n, height, width)
    mask = mask_file(spec)
    mask_size = (mask.shape[1], mask.shape[0])
    if mask_size != (width, height) and (stored := source_sizes()):
        if set(stored) == {mask_size}:
            return check_hole(torch.from_numpy(_as_resized(mask, width, height)), n, height, width)
        sizes = sorted(set(stored))
        raise GanvqError(f"the mask is {mask_size[0]}x{mask_size[1]} pixels; the images are coded at {width}x{height}, "
                         f"resized and centre-cropped from {', '.join(f'{w}x{h}' for w, h in sizes[:3])}"
                         f"{' and others' if len(sizes) > 3 else ''}: give a {width}x{height} mask, or one of the "
                         "images' own size where they all share one")
    return check_hole(torch.from_numpy(mask), n, height, width)


def mask_file(spec: str) -> np.ndarray:
    """The missing pixels (H, W) bool of a mask image file: white (>= 128), or 1 in a mask of only 0s and 1s."""
    path = Path(spec)
    if not path.is_file():
        raise GanvqError(f"--mask {spec}: no such file, and not a shape ({MASK_FORMS})")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            gray = np.asarray(img.convert("L"))
    except (OSError, UnidentifiedImageError) as e:
        raise GanvqError(f"--mask {spec}: not a readable image ({e})") from None
    return gray == 1 if gray.max() == 1 else gray >= 128  # a 0/1 mask, as numpy or OpenCV write them


def _as_resized(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """A full-size bool mask taken to width x height as images are read (the central square, resized): a pixel is
    missing when any pixel it covers is."""
    from PIL import Image

    box = central_square(mask.shape[1], mask.shape[0])
    small = Image.fromarray(mask.astype(np.uint8) * 255).resize((width, height), Image.Resampling.BOX, box=box)
    return np.asarray(small) > 0


def _seen(width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) in whole pixels of the central square that images are read from: a pixel its edge
    halves (where the sides differ by an odd number) counts as in it."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side + (width - side) % 2, top + side + (height - side) % 2


def outside_square(full_hole: np.ndarray) -> int:
    """How many missing pixels of a hole drawn at an image's own size lie wholly outside the central square the
    model sees (they cannot be restored at that size)."""
    left, top, right, bottom = _seen(full_hole.shape[1], full_hole.shape[0])
    return int(full_hole.sum() - full_hole[top:bottom, left:right].sum())


def at_own_size(file: Path, restored: np.ndarray, hole: np.ndarray, full_hole: np.ndarray | None) -> list[np.ndarray]:
    """The restorations (K, H, W, C) uint8 of one image file, made at a model's H x W, taken back to the file's
    own size: each is upsampled over the central square the model saw, and only the hole is pasted into the image,
    every other pixel of which is kept (upright, in the model's gray or RGB, 8 bits, as images are read for it).
    `hole` (H, W) bool is the model-size hole, taken to the file's size where no `full_hole` was drawn there. The
    paste is placed to the whole pixel: where the image's sides differ by an odd number it covers the pixels the
    square's edges halve too."""
    from PIL import Image

    channels = restored.shape[-1]
    photo = read_upright(file, channels)
    left, top, right, bottom = _seen(photo.shape[1], photo.shape[0])
    size = (right - left, bottom - top)
    if full_hole is None:  # a pixel of the photo is missing when any model pixel under it is
        fill = Image.Resampling.NEAREST if size[0] >= hole.shape[1] else Image.Resampling.BOX
        where = np.asarray(Image.fromarray(hole.astype(np.uint8) * 255).resize(size, fill)) > 0
    else:
        where = full_hole[top:bottom, left:right]
    out = []
    for image in restored:
        big = Image.fromarray(image[..., 0] if channels == 1 else image).resize(size, Image.Resampling.LANCZOS)
        canvas = photo.copy()
        canvas[top:bottom, left:right][where] = np.asarray(big)[where]
        out.append(canvas[..., None] if channels == 1 else canvas)
    return out


def _source_sizes(files: list[Path] | None) -> list[tuple[int, int]] | None:
    """(width, height) of each input image file as stored, upright (EXIF), headers only; None for arrays."""
    if not files:
        return None
    sizes = []
    for f in files:
        with open_image(f, f.name) as img:
            sizes.append(upright_size(img))
    return sizes


def _own_size_files(files: list[Path] | None, n: int, size: tuple[int, int], stored: list[tuple[int, int]] | None,
                    mask: str) -> tuple[list[Path | None], np.ndarray | None]:
    """For writing holes at the images' own size: the file of each image whose stored size differs from the model's
    `size` (None for the others, and for arrays), and the hole drawn at the files' size by a mask file of that
    size (None for a shape or a model-size mask), checked to lie inside the square the model sees."""
    if not files or not stored:
        return [None] * n, None
    own = [f if s != size else None for f, s in zip(files, stored)]
    if not Path(mask).is_file():
        return own, None
    full = mask_file(mask)
    if (full.shape[1], full.shape[0]) == size:
        return own, None
    if outside := outside_square(full):  # read_mask has checked that the files all share the mask's size
        h, w = full.shape
        raise GanvqError(f"the mask marks {outside} missing pixels outside the central {min(w, h)}x{min(w, h)} "
                         f"square of the {w}x{h} images, the part the model sees: crop the images and the mask "
                         "square, or pass --out-size model to restore the square alone at the model's size")
    return own, full


def _restorer(ckpt: str, mask: str | None, device: str):
    """(VQ-VAE, prior or None, what the run restores, its training mask or None) of a prior or restoration run."""
    run = open_run(ckpt, "vqvae", "prior")
    if run.kind == "prior":
        return run.vqvae(device), run.prior(device), "holes (prior)", None
    corrupt = run.config.corrupt
    if not corrupt:
        raise GanvqError(f"{run.checkpoint} is a plain VQ-VAE: restore needs a prior run (ganvq train prior) for "
                         "holes, or a VQ-VAE trained with --corrupt (noise:S, blur:S, jpeg:Q, mask:...)")
    c = parse_corruption(corrupt)
    if mask is not None and c.kind != "mask":
        raise GanvqError(f"{run.checkpoint} restores {corrupt}, not holes: --mask needs a prior run or a VQ-VAE "
                         "trained with --corrupt mask:...")
    return run.vqvae(device), None, corrupt, (str(c.mask) if c.kind == "mask" else None)


OUT_SIZES = ("input", "model")


def restore(ckpt: str, input: str, out: str, mask: str | None = None, samples: int = 1, seed: int = 0,
            damage: str | None = None, candidates: int = 4, limit: int | None = None, device: str = "auto",
            quiet: bool = False, out_size: str | None = None) -> dict:
    """Write a restoration PNG per input image (NAME.png; NAME-k.png for k < K with --samples K) and grid.png
    (damaged images above their restorations), as `reconstruct` does. Holes in image files of another size than
    the model's are written into those files at their own size (`out_size` "input", the default for holes);
    everything else at the model's size."""
    if samples < 1:
        raise GanvqError(f"--samples must be at least 1, got {samples}")
    if out_size not in (None, *OUT_SIZES):
        raise GanvqError(f"--out-size must be one of {', '.join(OUT_SIZES)}, got {out_size!r}")
    check_folder_writable(out)  # before the restoring, not after it
    model, prior, restores, own_mask = _restorer(ckpt, mask, device)
    if prior is None and samples != 1:
        raise GanvqError(f"{ckpt} restores {restores} with one output per image; --samples K > 1 needs a prior run")
    corruption = parse_corruption(damage) if damage else None
    if corruption is not None and corruption.kind == "mask":
        raise GanvqError("--damage makes noise, blur or JPEG damage; give holes with --mask")
    mask = mask or own_mask
    if out_size == "input" and (mask is None or corruption is not None):
        raise GanvqError("--out-size input writes restored holes into the images at their own size: it needs holes "
                         "(--mask, or a VQ-VAE trained with --corrupt mask:...) and no --damage")
    own_size = mask is not None and corruption is None and out_size != "model"
    data = load_inputs(input, model, limit, written="each restored hole is written into the image at its own size"
                       if own_size else "written at that size")
    names, n = input_names(input, data), len(data)
    _, height, width = data.shape
    g = torch.Generator().manual_seed(seed)
    input_files = files_read(input, data)

    @functools.cache
    def source_sizes() -> list[tuple[int, int]] | None:  # the input files' stored sizes, read once if asked for
        return _source_sizes(input_files)

    hole = read_mask(mask, n, height, width, g, source_sizes) if mask else None
    files, full_hole = _own_size_files(input_files, n, (width, height), source_sizes(), mask) if own_size else \
        ([None] * n, None)
    out_dir = Path(out)
    outputs = [_output_name(name, k, samples) for name in names for k in range(samples)]
    check_inputs_kept(out_dir, [*outputs, _grid_name(names)], input_files)
    first_in, first_out = [], []
    sums = {"damaged": [0.0, 0.0], "restored": [0.0, 0.0]}  # --damage: PSNR and SSIM sums against the clean inputs
    with progress(n, "restore", unit="image", quiet=quiet) as bar:
        for i in range(0, n, BATCH):
            x = clean = to_float(data.images[i : i + BATCH])
            if corruption is not None:
                x = corruption(clean, g)
            h = hole[i : i + BATCH] if hole is not None else None
            y = restore_images(model, x, h, prior, samples, candidates, seed=seed + i)  # (b, K, C, H, W)
            if corruption is not None:
                seen = apply_mask(x, h) if h is not None else x  # the damaged image as the model is given it
                for key, images in (("damaged", seen), ("restored", y[:, 0])):
                    a, b = _unit(clean), _unit(images)
                    sums[key][0] += float(psnr_per_image(a, b).sum())
                    sums[key][1] += float(ssim_per_image(a, b).sum())
            for j, name in enumerate(names[i : i + BATCH]):
                written = to_uint8_image(y[j])
                if files[i + j] is not None:
                    written = at_own_size(files[i + j], written, h[j, 0].numpy(), full_hole)
                for k, img in enumerate(written):
                    save_image(out_dir / _output_name(name, k, samples), img)
            if len(first_in) * BATCH < GRID_IMAGES:
                first_in.append(apply_mask(x, h) if h is not None else x)
                first_out.append(y)
            bar.update(len(y))
    grid = out_dir / _grid_name(names)
    damaged, restored = torch.cat(first_in)[:GRID_IMAGES], torch.cat(first_out)[:GRID_IMAGES]
    if samples == 1:
        save_image(grid, side_by_side(damaged, restored[:, 0]), upscale=2)
    else:  # one column per image: the damaged one, then its K completions
        cols = min(8, len(damaged))
        rows = [damaged[:cols]] + [restored[:cols, k] for k in range(samples)]
        save_image(grid, make_grid(torch.cat(rows), nrow=cols), upscale=2)
    result = {"images": n, "samples": samples, "restores": restores, "mask": mask, "damage": damage,
              "out": str(out_dir), "grid": str(grid), "out_size": "input" if any(files) else "model",
              "written_at_own_size": sum(f is not None for f in files)}
    if corruption is not None:
        result["scores"] = {key: {"psnr_db": round(p / n, 3), "ssim": round(q / n, 4)} for key, (p, q) in sums.items()}
        result["scores_definition"] = ("mean over images of PSNR and SSIM against the inputs before --damage, pixels "
                                       "in [0, 1]" + (" (the first of the --samples restorations)" if samples > 1
                                                      else ""))
    return result


def _output_name(name: str, k: int, samples: int) -> str:
    """The file restoration k of the input image `name` is written to: NAME.png, or NAME-k.png with --samples K."""
    return f"{name}.png" if samples == 1 else f"{name}-{k}.png"


def _unit(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] as the uint8 values they are written as, scaled to [0, 1] in float64."""
    return ((x.detach().double().clamp(-1, 1) + 1) * 127.5).round() / 255
