"""Colour photo crops for the own-data benchmark, built offline from the photos bundled with scikit-image and
scikit-learn: a fixed, deterministic set that anyone can rebuild without a download.

Ten natural RGB photos (scikit-image's astronaut, chelsea, coffee, rocket, motorcycle_left,
hubble_deep_field, retina, immunohistochemistry; scikit-learn's china and flower). Each photo is
downscaled (Lanczos, never upscaled) so its short side has a few set lengths, and square crops are cut
on a grid: dense (stride size/4) from the training photos, half-overlapping (stride size/2) from the test
photos. The split is by photo: the TEST_PHOTOS are never seen in training, so the test crops measure
how a model does on photos it has not seen. Nearly flat crops (pixel standard deviation under
FLAT_STD, e.g. the black sky of the Hubble field or the black surround of the retina) are dropped.

Writes OUT/crops-SIZE.npz per size (x_train, x_test: uint8 N×S×S×3; photo_train, photo_test: index
into `photos`; photos: the names) and OUT/crops.json (counts per photo and split, and the rules).
ganvq's .npz reader takes x_train / x_test and ignores the other keys; no y_* key, so no labels.

    python benchmarks/photo_crops.py [--out benchmarks/data/photo-crops] [--sizes 32 64]
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

DEFAULT_OUT = Path(__file__).parent / "data" / "photo-crops"
# (name, loader) in a fixed order; the loaders read files shipped inside the packages (no network).
SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "hubble_deep_field", "retina",
                  "immunohistochemistry")
SKLEARN_PHOTOS = ("china", "flower")
PHOTOS = SKIMAGE_PHOTOS + SKLEARN_PHOTOS
TEST_PHOTOS = ("chelsea", "china")  # a close-up of an animal and an outdoor scene with sky and a building
# short sides (pixels) each photo is downscaled to, per crop size: crops of 1/4 and 1/8 of the short side
SCALES = {32: (128, 256), 64: (256, 384)}
FLAT_STD = 4.0  # crops whose pixels (0..255) vary less than this are dropped: no content to learn or score


def load_photo(name: str) -> np.ndarray:
    """One bundled photo as uint8 (H, W, 3), read from the package's own files."""
    if name in SKLEARN_PHOTOS:
        from sklearn.datasets import load_sample_image

        return np.asarray(load_sample_image(f"{name}.jpg"), dtype=np.uint8)
    import skimage.data

    if name == "motorcycle_left":  # one view of the stereo pair; the other would leak the same scene
        image = skimage.data.stereo_motorcycle()[0]
    else:
        image = getattr(skimage.data, name)()
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise SystemExit(f"{name}: expected a uint8 RGB photo, got {image.dtype} {image.shape}")
    return image


def rescale(image: np.ndarray, short_side: int) -> np.ndarray:
    """The photo with its short side at `short_side` pixels (Lanczos); never upscaled."""
    h, w = image.shape[:2]
    if min(h, w) <= short_side:
        return image
    f = short_side / min(h, w)
    size = (max(short_side, round(w * f)), max(short_side, round(h * f)))  # PIL: (width, height)
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def grid_crops(image: np.ndarray, size: int, stride: int) -> np.ndarray:
    """All size×size crops on a stride grid, row by row, centred so the margins left over are equal: (N, S, S, 3)."""
    h, w = image.shape[:2]
    if h < size or w < size:
        return np.zeros((0, size, size, 3), np.uint8)
    ny, nx = (h - size) // stride + 1, (w - size) // stride + 1
    y0, x0 = (h - size - (ny - 1) * stride) // 2, (w - size - (nx - 1) * stride) // 2
    return np.stack([image[y0 + i * stride : y0 + i * stride + size, x0 + j * stride : x0 + j * stride + size]
                     for i in range(ny) for j in range(nx)])


def photo_crops(image: np.ndarray, size: int, test: bool, scales: tuple[int, ...] | None = None) -> np.ndarray:
    """One photo's crops of one size at every scale, nearly flat ones dropped."""
    stride = size // 2 if test else size // 4
    parts = [grid_crops(rescale(image, s), size, stride) for s in (scales or SCALES[size])]
    crops = np.concatenate(parts)
    keep = crops.reshape(len(crops), -1).std(1) >= FLAT_STD
    return crops[keep]


def build(out: Path, sizes: tuple[int, ...] = (32, 64), photos: tuple[str, ...] = PHOTOS,
          test_photos: tuple[str, ...] = TEST_PHOTOS, limit: int | None = None) -> dict:
    """Write OUT/crops-SIZE.npz for each size and OUT/crops.json; returns what crops.json holds.

    limit: keep every k-th crop of each split so that at most `limit` remain per split (for quick tests).
    """
    missing = [p for p in test_photos if p not in photos]
    if missing or len(test_photos) >= len(photos):
        raise SystemExit(f"test photos must be some (not all) of {photos}; got {test_photos}")
    images = {name: load_photo(name) for name in photos}
    out.mkdir(parents=True, exist_ok=True)
    summary = {"photos": {n: "{1}x{0}".format(*images[n].shape) for n in photos}, "test_photos": list(test_photos),
               "scales_short_side": {}, "stride": "size/4 in training photos, size/2 in test photos",
               "flat_std_dropped_below": FLAT_STD, "resample": "Lanczos (Pillow), never upscaled",
               "files": {}}
    for size in sizes:
        if size not in SCALES:
            raise SystemExit(f"no scales set for {size}-pixel crops; choose from {sorted(SCALES)}")
        summary["scales_short_side"][str(size)] = list(SCALES[size])
        arrays, counts = {}, {}
        for split in ("train", "test"):
            names = [n for n in photos if (n in test_photos) == (split == "test")]
            crops = [photo_crops(images[n], size, split == "test") for n in names]
            x = np.concatenate(crops)
            ids = np.concatenate([np.full(len(c), photos.index(n), np.int16) for n, c in zip(names, crops)])
            if limit and len(x) > limit:
                step = -(-len(x) // limit)  # ceil: evenly spaced over all photos
                x, ids = x[::step][:limit], ids[::step][:limit]
            arrays[f"x_{split}"], arrays[f"photo_{split}"] = np.ascontiguousarray(x), ids
            counts[split] = {"total": len(x), **{n: int((ids == photos.index(n)).sum()) for n in names}}
        path = out / f"crops-{size}.npz"
        buf = io.BytesIO()
        np.savez(buf, **arrays, photos=np.array(photos))
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(buf.getvalue())
        tmp.replace(path)  # whole or absent: a reader never sees half a file
        summary["files"][path.name] = counts
        print(f"{path}: train {counts['train']['total']} crops from {len(photos) - len(test_photos)} photos, "
              f"test {counts['test']['total']} crops from {len(test_photos)} photos ({', '.join(test_photos)})")
    manifest = out / "crops.json"
    tmp = manifest.with_name(".crops.json.tmp")
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    tmp.replace(manifest)
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="folder for crops-SIZE.npz and crops.json")
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64], choices=sorted(SCALES))
    parser.add_argument("--test-photos", nargs="+", default=list(TEST_PHOTOS), choices=PHOTOS,
                        help="photos held out for testing (default: %(default)s)")
    parser.add_argument("--limit", type=int, help="at most N crops per split, evenly spaced (quick tests)")
    args = parser.parse_args(argv)
    build(Path(args.out), tuple(args.sizes), PHOTOS, tuple(args.test_photos), args.limit)


if __name__ == "__main__":
    main()
