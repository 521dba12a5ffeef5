"""Image database bar: all 70,000 Fashion-MNIST images in one .gvqdb archive, against a PNG folder, WebP at
equal PSNR and per-image .gvq files; fetch and search speed, search recall, build speed, and crash safety
(`ganvq db add` killed at random moments). Writes benchmarks/results/db.json. Usage:

    # the model: the codec's fastest preset (fmnist-14x14-k64 VQ-VAE + local prior), trained here when missing
    python benchmarks/bench_db.py --prior runs/bench-db/prior-k64-local
    python benchmarks/bench_db.py --vqvae-minutes 8 --prior-minutes 5   # trains both into --workdir first
    # keep the archive, then re-measure fetch alone later (e.g. once the machine is idle)
    python benchmarks/bench_db.py --prior runs/bench-db/prior-k64-local --archive runs/bench-db/fmnist.gvqdb
    python benchmarks/bench_db.py --archive runs/bench-db/fmnist.gvqdb --only fetch
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from bench_codec import bench_pillow, interpolate_bpp, quality, training_record
from machine import describe

from ganvq.codec.format import MIN_FILE
from ganvq.data import load_dataset
from ganvq.db import ImageDB, check, info
from ganvq.db import archive as archive_module
from ganvq.db.index import HNSW_EF_SEARCH, HNSW_M, SearchIndex
from ganvq.images import encode_png
from ganvq.io import write_json

RESULTS = Path(__file__).parent / "results"
BAR = {"overhead_percent": 5.0, "fetch_ms": 5.0, "search_median_ms": 10.0, "recall_at_10": 0.95}
K = 10


def log(message: str) -> None:
    print(f"[bench_db {time.strftime('%H:%M:%S')}] {message}", flush=True)


def ensure_model(args) -> str:
    """The prior run to use, training the codec's fastest preset (VQ-VAE fmnist-14x14-k64 + local prior) if missing."""
    if args.prior:
        return args.prior
    from ganvq.prior import PriorConfig
    from ganvq.runs import PriorRunConfig, TrainConfig, VQVAERunConfig, preset
    from ganvq.train.prior import train_prior
    from ganvq.train.vqvae import train_vqvae

    work = Path(args.workdir)
    vq, prior = work / "vqvae-k64", work / "prior-k64-local"
    if not (vq / "checkpoint.safetensors").exists():
        log(f"training the VQ-VAE for {args.vqvae_minutes} minutes")
        train_vqvae(VQVAERunConfig(model=preset("fmnist-14x14-k64"),
                                   train=TrainConfig(steps=None, minutes=args.vqvae_minutes, threads=1)), vq, quiet=True)
    if not (prior / "checkpoint.safetensors").exists():
        log(f"training the local prior for {args.prior_minutes} minutes")
        cfg = PriorRunConfig(vqvae=str(vq), model=PriorConfig(arch="local", dim=96, layers=2),
                             train=TrainConfig(steps=None, minutes=args.prior_minutes, batch_size=256, lr=3e-3,
                                               precision="fp32", threads=1))
        train_prior(cfg, prior, quiet=True)
    return str(prior)


def percentiles(ms: list[float]) -> dict:
    a = np.array(ms)
    return {"median_ms": round(float(np.median(a)), 3), "p99_ms": round(float(np.percentile(a, 99)), 3),
            "mean_ms": round(float(a.mean()), 3)}


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean over queries of |found ∩ truth| / k (recall@k against the true k nearest)."""
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def bench_sizes(db: ImageDB, images: torch.Tensor, sample: np.ndarray, qualities: list[int]) -> dict:
    """Bytes per image of the archive and its parts, a PNG folder, per-image .gvq files, and WebP at equal PSNR
    (on a random sample: PSNR of the archive's decoded images there, WebP's curve over the same images)."""
    report = info(db)
    n = len(db)
    png = sum(len(encode_png(x)) for x in images.permute(0, 2, 3, 1).numpy())
    decoded = db.get(sample)
    psnr, ssim = quality(images[sample], decoded)
    webp = [bench_pillow(images[sample], "WEBP", q) for q in qualities]
    webp_bpp = interpolate_bpp(webp, psnr)
    pixels = images.shape[2] * images.shape[3]
    archive = report["bytes"] / n
    index = report["embedding_bytes"] / n
    return {
        "archive_bytes_per_image": round(archive, 3),
        "archive_without_index_bytes_per_image": round(archive - index, 3),
        "payload_bytes_per_image": round(report["payload_bytes"] / n, 3),
        "overhead_bytes_per_image": round(report["overhead_bytes"] / n, 3),
        "overhead_percent_of_payloads": report["overhead_percent"],
        "index_bytes_per_image": round(index, 3),
        "index_to_payload_ratio": round(report["embedding_bytes"] / report["payload_bytes"], 3),
        "png_folder_bytes_per_image": round(png / n, 3),
        "gvq_files_bytes_per_image": round(report["payload_bytes"] / n + MIN_FILE, 3),
        "webp_bytes_per_image_at_equal_psnr": None if webp_bpp is None else round(webp_bpp * pixels / 8, 3),
        "psnr_db": round(psnr, 3), "ssim": round(ssim, 4), "psnr_images": len(sample),
        "webp_curve": [{k: r[k] for k in ("quality", "bpp", "psnr_db")} for r in webp],
        "file_bytes_note": "file contents only: a folder's per-file filesystem blocks (often 4 KiB each) are not counted",
    }


def bench_fetch(db: ImageDB, rng: np.random.Generator, n: int = 1000) -> dict:
    """One random image at a time (decoded), over n random IDs; then one batch of n; the codec on the same n."""
    ids = rng.integers(0, len(db), n)
    for i in ids[:20]:
        db.get([int(i)])  # warm-up
    times = []
    for i in ids:
        t0 = time.perf_counter()
        db.get([int(i)])
        times.append(1000 * (time.perf_counter() - t0))
    codes_only = []
    for i in ids[:200]:
        t0 = time.perf_counter()
        db.codes([int(i)])
        codes_only.append(1000 * (time.perf_counter() - t0))
    files = db.gvq(ids)
    codec = db.codec
    db.get(ids[:100])
    codec.decompress_each(files[:100])
    batch = codec_rate = 0.0
    for k in range(5):  # best of 5 each, in alternating order: other jobs on a shared machine only ever add time
        for which in ("db", "codec") if k % 2 == 0 else ("codec", "db"):
            t0 = time.perf_counter()
            db.get(ids) if which == "db" else codec.decompress_each(files)
            rate = n / (time.perf_counter() - t0)
            if which == "db":
                batch = max(batch, rate)
            else:
                codec_rate = max(codec_rate, rate)
    from ganvq.prior import local_kernel

    return {"single": {**percentiles(times), "ids": n, "torch_threads": torch.get_num_threads(),
                       "code_map_decode": "numba kernel (prior/local_kernel.py)" if local_kernel.available()
                       else "numpy (numba not installed)"},
            "single_codes_only": {**percentiles(codes_only), "ids": len(codes_only),
                                  "what": "read, check and range-decode the code map, without the VQ-VAE decoder"},
            "batch_images_per_second": round(batch, 1),
            "codec_decode_images_per_second_same_ids": round(codec_rate, 1), "batch_ids": n,
            "batch_timing": "best of 5 passes each, in alternating order; the codec decodes the same entries as .gvq files"}


def bench_search(db: ImageDB, feats: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
                 n: int = 1000) -> dict:
    """Query times of exact and HNSW search for k=10 over the whole archive, HNSW's recall@10 against exact search
    on the same stored embeddings, the recall the 8-bit PCA embeddings keep against the float features, and
    class precision@10 (the query itself left out)."""
    queries = rng.choice(len(db), n, replace=False)
    index = db.index
    out = {"entries": len(index), "queries": n, "k": K}
    for method in ("exact", "hnsw"):
        db.search(ids=queries[:5], k=K, method=method)  # warm-up (builds the HNSW graph)
        if method == "hnsw":
            t0 = time.perf_counter()
            SearchIndex(index.vectors, index.ids).search(index.vectors[:1], K, "hnsw")
            out["hnsw_build_seconds"] = round(time.perf_counter() - t0, 2)
        times, found = [], []
        for q in queries:
            t0 = time.perf_counter()
            ids, _ = db.search(ids=[int(q)], k=K + 1, method=method)
            times.append(1000 * (time.perf_counter() - t0))
            found.append(ids[0])
        out[method] = percentiles(times)
        out[f"{method}_found"] = found
    exact = np.array([f[:K] for f in out.pop("exact_found")])
    hnsw = np.array([f[:K] for f in out.pop("hnsw_found")])
    out["hnsw"]["recall_at_10_vs_exact"] = round(recall(hnsw, exact), 4)
    out["hnsw"]["params"] = {"M": HNSW_M, "efSearch": HNSW_EF_SEARCH}
    out["default_method"] = "exact" if len(index) <= 250_000 else "hnsw"
    full, _ = db.search(ids=queries, k=K + 1, method="exact")
    others = np.array([[i for i in row if i != q][:K] for row, q in zip(full, queries)])
    out["class_precision_at_10"] = round(float((labels[others] == labels[queries][:, None]).mean()), 4)
    float_index = SearchIndex(feats, np.arange(len(feats)))
    truth, _ = float_index.search(feats[queries], K + 1, "exact")
    truth = np.array([[i for i in row if i != q][:K] for row, q in zip(truth, queries)])
    out["embedding_recall_at_10_vs_float_features"] = round(recall(others, truth), 4)
    out["float_class_precision_at_10"] = round(float((labels[truth] == labels[queries][:, None]).mean()), 4)
    return out


def kill_while_adding(cmd: list[str], path: Path, delay: float, env: dict, poll: float = 0.002) -> float:
    """Start `cmd` (a `ganvq db add` to `path`), wait until it first writes to the archive, then SIGKILL it `delay`
    seconds later (or let it finish first); returns the seconds from its first write to its end."""
    size = path.stat().st_size
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while child.poll() is None and path.stat().st_size == size:  # imports and model loading: no write yet
        time.sleep(poll)
    t0 = time.perf_counter()
    try:
        child.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGKILL)
        child.wait()
    return time.perf_counter() - t0


def bench_crash(prior: str, images_source: str, kills: int, rng: np.random.Generator) -> dict:
    """`ganvq db add` in a child process killed with SIGKILL at random moments while it adds (from its first write
    to the archive to its end); after each, every entry committed before stays readable with the same codes, and
    `check` passes."""
    work = Path(tempfile.mkdtemp(prefix="bench-db-crash-"))
    path = work / "crash.gvqdb"
    with ImageDB.create(path, prior) as db:
        db.add(load_dataset(images_source, "test", limit=200).images)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "ganvq", "--quiet", "db", "add", str(path), images_source, "--split", "train",
           "--limit", "1000", "--batch", "50"]
    full = kill_while_adding(cmd, path, 600.0, env)  # one whole add: how long its writing phase lasts
    with ImageDB(path) as db:
        codes = db.codes(range(len(db)))
    trials = []
    for k in range(kills):
        before = len(codes)
        delay = float(rng.uniform(0.0, full))
        kill_while_adding(cmd, path, delay, env)
        with ImageDB(path) as db:
            report = check(db)
            kept = len(db) >= before and torch.equal(db.codes(range(before)), codes)
            codes = db.codes(range(len(db)))
            left = db.size - db.slot.end
        trials.append({"kill_after_first_write_s": round(delay, 3), "entries_before": before,
                       "entries_after": len(codes), "earlier_entries_intact": bool(kept), "check_ok": report["ok"],
                       "uncommitted_bytes": left})
        log(f"crash {k + 1}/{kills}: killed {delay:.2f} s after its first write, {before} -> {len(codes)} entries, "
            f"{left} uncommitted bytes, intact {kept}, check {report['ok']}")
    path.unlink()
    work.rmdir()
    return {"kills": kills, "add_writing_seconds": round(full, 2), "images_per_add": 1000, "commit_every": 50,
            "all_intact": all(t["earlier_entries_intact"] for t in trials),
            "all_checks_pass": all(t["check_ok"] for t in trials),
            "kills_mid_commit": sum(t["uncommitted_bytes"] > 0 for t in trials), "trials": trials}


PARTS = ("fetch", "search")


def measured_now(load_start: float) -> dict:
    return {"measured": time.strftime("%Y-%m-%d %H:%M"),
            "load_1min_at_start_and_end": [round(load_start, 2), round(os.getloadavg()[0], 2)]}


def remeasure(args) -> None:
    """Re-measure some parts (e.g. fetch, on an idle machine) on a kept archive; the rest of --out stays as it was."""
    load_start = os.getloadavg()[0]
    out = Path(args.out)
    if not out.exists() or not args.archive or not Path(args.archive).exists():
        raise SystemExit("--only needs an existing --out from a full run and its kept --archive")
    result = json.loads(out.read_text())
    rng = np.random.default_rng(args.seed + 1)
    db = ImageDB(args.archive)
    if "fetch" in args.only:
        result["fetch"] = {**bench_fetch(db, rng), **measured_now(load_start)}
        log(f"fetch: {json.dumps(result['fetch'])}")
    if "search" in args.only:
        data = load_dataset("fashion-mnist", "all", limit=args.images)
        if len(data.images) != len(db):
            raise SystemExit(f"{args.archive} holds {len(db)} entries, the dataset {len(data.images)}: use its --images")
        # the float features the archive quantized, computed again (the recall of its 8-bit embeddings against them)
        feats = np.concatenate([archive_module.raw_features(
            db.kind, data.images[i : i + 5000], None if db.kind == "features" else db.codes(range(i, i + 5000)),
            db.codec.vqvae) for i in range(0, len(data.images), 5000)])
        result["search"] = {**bench_search(db, feats, data.labels.numpy(), rng), **measured_now(load_start)}
        log(f"search: {json.dumps(result['search'])}")
    db.close()
    result["bars"] = bars_of(result["sizes"], result["fetch"], result["search"], result["crash"])
    result["meets_bar"] = all(result["bars"].values())
    write_json(args.out, result)
    log(f"wrote {args.out}: meets_bar {result['meets_bar']} {json.dumps(result['bars'])}")


def bars_of(sizes: dict, fetch: dict, search: dict, crash: dict) -> dict:
    return {
        "overhead_within_5_percent": sizes["overhead_percent_of_payloads"] <= BAR["overhead_percent"],
        "index_not_larger_than_images": sizes["index_bytes_per_image"] <= sizes["payload_bytes_per_image"],
        "fetch_median_within_5_ms": fetch["single"]["median_ms"] <= BAR["fetch_ms"],
        "fetch_p99_within_5_ms": fetch["single"]["p99_ms"] <= BAR["fetch_ms"],
        "batch_at_least_codec_rate": fetch["batch_images_per_second"]
        >= fetch["codec_decode_images_per_second_same_ids"],
        "search_median_within_10_ms": search[search["default_method"]]["median_ms"] <= BAR["search_median_ms"],
        "hnsw_recall_at_least_0_95": search["hnsw"]["recall_at_10_vs_exact"] >= BAR["recall_at_10"],
        "crash_safe": crash["all_intact"] and crash["all_checks_pass"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prior", help="prior run (with its VQ-VAE); default: train into --workdir")
    parser.add_argument("--workdir", default="runs/bench-db")
    parser.add_argument("--vqvae-minutes", type=float, default=8.0)
    parser.add_argument("--prior-minutes", type=float, default=5.0)
    parser.add_argument("--images", type=int, help="first N of the 70,000 only (a quick trial)")
    parser.add_argument("--psnr-images", type=int, default=3000, help="random images for PSNR and WebP")
    parser.add_argument("--qualities", type=int, nargs="+", default=[5, 10, 20, 30, 50, 70, 90])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS / "db.json"))
    parser.add_argument("--archive", help="keep the built archive here, or reuse it when it exists (its images must "
                                          "be the same: --images); default: a temporary file")
    parser.add_argument("--only", nargs="+", choices=PARTS, help="re-measure these parts only, on --archive, and "
                                                                 "replace them in the existing --out (each part "
                                                                 "records when and under what load it was measured)")
    args = parser.parse_args()
    if args.only:
        return remeasure(args)

    torch.manual_seed(args.seed)
    load_start = os.getloadavg()[0]
    rng = np.random.default_rng(args.seed)
    prior = ensure_model(args)
    data = load_dataset("fashion-mnist", "all", limit=args.images)
    images, labels = data.images, data.labels.numpy()
    log(f"{len(images)} images; building the archive")
    work = Path(tempfile.mkdtemp(prefix="bench-db-"))
    path = Path(args.archive) if args.archive else work / "fmnist.gvqdb"
    if path.exists():
        raise SystemExit(f"{path} exists: a full run builds its archive afresh (remove it, or re-measure with --only)")
    t0 = time.perf_counter()
    db = ImageDB.create(path, prior)
    load = time.perf_counter() - t0
    captured = []  # the float features the archive quantizes, kept for the quantization recall
    real = archive_module.raw_features
    archive_module.raw_features = lambda *a: captured.append(real(*a)) or captured[-1]
    t0 = time.perf_counter()
    db.add(images, labels, names=[f"fashion-mnist/all/{i:05d}" for i in range(len(images))],
           class_names=list(data.class_names or []),
           progress=lambda n, done=[0]: (done.__setitem__(0, done[0] + n), done[0] % 10000 == 0
                                         and log(f"added {done[0]}")))
    build = time.perf_counter() - t0
    archive_module.raw_features = real
    feats = np.concatenate(captured)
    db.close()
    db = ImageDB(path)
    log(f"built in {build:.1f} s; sizes")
    sample = rng.choice(len(images), min(args.psnr_images, len(images)), replace=False)
    sizes = bench_sizes(db, images, sample, args.qualities)
    log(f"sizes: {json.dumps({k: v for k, v in sizes.items() if k != 'webp_curve'})}")
    t0 = time.perf_counter()
    report = check(db)
    check_seconds = time.perf_counter() - t0
    fetch = bench_fetch(db, rng)
    log(f"fetch: {json.dumps(fetch)}")
    search = bench_search(db, feats, labels, rng)
    log(f"search: {json.dumps(search)}")
    db.close()
    if not args.archive:
        path.unlink()
    work.rmdir()
    crash = bench_crash(prior, "fashion-mnist", args.kills, rng)
    codec_ref = json.loads((RESULTS / "codec.json").read_text())
    ref = next((r for r in codec_ref["results"] if r.get("name") == "fmnist-14x14-k64-local"), None)
    bars = bars_of(sizes, fetch, search, crash)
    from ganvq.runs import load_prior

    vq_run = load_prior(prior)[2].vqvae
    result = {
        "dataset": f"fashion-mnist train + test, {len(images)} images", "model": {
            "prior": training_record(prior, 1), "vqvae": training_record(vq_run, 1),
            "preset": "fmnist-14x14-k64 + local prior (the codec's fast model)"},
        "bar": BAR, "bars": bars, "meets_bar": all(bars.values()),
        "build": {"images_per_second": round(len(images) / build, 1), "seconds": round(build, 1),
                  "model_load_seconds": round(load, 2)},
        "sizes": sizes, "check": {"ok": report["ok"], "seconds": round(check_seconds, 2)},
        "fetch": fetch, "search": search, "crash": crash,
        "codec_json_reference": None if ref is None else {
            "name": ref["name"], "decode_images_per_second": ref["decode_images_per_second"],
            "note": "codec.json's own model and machine state: not the same model as here"},
        "machine": {**describe(), "python": sys.version.split()[0],
                    "load_1min_at_start_and_end": [round(load_start, 2), round(os.getloadavg()[0], 2)],
                    "note": "a 2-core machine shared with other sessions' tests and benchmarks, run at low priority: "
                            "times are upper bounds"},
    }
    write_json(args.out, result)
    log(f"wrote {args.out}: meets_bar {result['meets_bar']} {json.dumps(bars)}")


if __name__ == "__main__":
    main()
