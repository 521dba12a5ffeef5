"""The image database's search embedding against how the first images arrive: one image first, one image per commit.

The projection (PCA to --dim, 8-bit ranges) behind `ganvq db search` is fitted once, when an archive's first
images are added. It used to be fitted on the first commit alone, so an archive begun with one image, or added to
with `--batch 1`, indexed every later image with a projection fitted on one: the embeddings collapsed and search
returned near-random neighbours, silently and for good. Now it is fitted on up to FIT_IMAGES images of the first
add, joined by the model's own samples when they are fewer than FIT_MIN (db/archive.py). This builds archives of
Fashion-MNIST test images by several plans, the old way (emulated: fitted on the first commit, no samples) and the
new, and measures class precision@5 of search by entry (the query left out), how often an entry finds itself
first, and how many distinct embeddings there are. The model is bench_db.py's (the codec's fastest preset, VQ-VAE
fmnist-14x14-k64 + local prior), trained into --workdir when missing. Writes benchmarks/results/db_fit.json. Usage:

    python benchmarks/bench_db_fit.py --prior runs/bench-db/prior-k64-local
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from bench_db import ensure_model
from machine import describe

from ganvq.data import load_dataset
from ganvq.db import ImageDB
from ganvq.db import archive as archive_module
from ganvq.io import write_json

RESULTS = Path(__file__).parent / "results"
K = 5
# name: [(first image, end, commit size), ...] in the order added
PLANS = {
    "one image, then 5,000": [(0, 1, 1000), (1, 5001, 1000)],
    "10 images, then 5,000": [(0, 10, 1000), (10, 5010, 1000)],
    "1,000 images at --batch 1": [(0, 1000, 1)],
    "5,000 at once": [(0, 5000, 1000)],
}


def build(path: Path, prior: str, images: torch.Tensor, labels: np.ndarray, plan, old: bool) -> float:
    """Add the plan's images to a new archive, fitting the old way (first commit, no samples) or the new."""
    saved = archive_module.FIT_IMAGES, archive_module.FIT_MIN
    if old:
        archive_module.FIT_IMAGES, archive_module.FIT_MIN = plan[0][2], 0
    try:
        t0 = time.perf_counter()
        with ImageDB.create(path, prior) as db:
            for a, b, batch in plan:
                db.add(images[a:b], labels[a:b], batch=batch)
        return time.perf_counter() - t0
    finally:
        archive_module.FIT_IMAGES, archive_module.FIT_MIN = saved


def measure(path: Path, queries: int, rng: np.random.Generator) -> dict:
    with ImageDB(path) as db:
        ids = np.sort(rng.choice(len(db), queries, replace=False))
        found, _ = db.search(ids=ids, k=K + 1, method="exact")
        others = np.array([[i for i in row if i != q][:K] for row, q in zip(found, ids)])
        return {"entries": len(db), "queries": queries,
                f"class_precision_at_{K}": round(float((db.labels[others] == db.labels[ids][:, None]).mean()), 4),
                "itself_first": round(float((found[:, 0] == ids).mean()), 4),
                "distinct_embeddings": len({bytes(e) for e in db.embeddings})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prior", help="prior run (with its VQ-VAE); default: bench_db.py's, trained into --workdir")
    parser.add_argument("--workdir", default="runs/bench-db")
    parser.add_argument("--vqvae-minutes", type=float, default=8.0)
    parser.add_argument("--prior-minutes", type=float, default=5.0)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "db_fit.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    prior = ensure_model(SimpleNamespace(prior=args.prior, workdir=args.workdir, vqvae_minutes=args.vqvae_minutes,
                                         prior_minutes=args.prior_minutes))
    data = load_dataset("fashion-mnist", "test")
    images, labels = data.images, data.labels.numpy()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, plan in PLANS.items():
            for old in (True, False):
                path = Path(tmp) / f"{len(rows)}.gvqdb"
                seconds = build(path, prior, images, labels, plan, old)
                fit = "first commit (before)" if old else "first add, with samples under FIT_MIN (now)"
                row = {"plan": name, "fit": fit,
                       "add_seconds": round(seconds, 1),
                       **measure(path, args.queries, np.random.default_rng(0))}
                print(row, flush=True)
                rows.append(row)
    write_json(args.out, {"benchmark": "db_fit", "what": __doc__.split("\n\n")[0], "model": prior,
                          "model_recipe": "bench_db.py's ensure_model: VQ-VAE fmnist-14x14-k64 "
                                          f"({args.vqvae_minutes:g} min) + local prior ({args.prior_minutes:g} min)",
                          "data": "Fashion-MNIST test images, in order", "k": K,
                          "fit_images": archive_module.FIT_IMAGES, "fit_min": archive_module.FIT_MIN,
                          "machine": describe(), "threads": args.threads,
                          "measured": time.strftime("%Y-%m-%d %H:%M"), "results": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
