"""Every ganvq command except training: sample, reconstruct, encode/decode, eval, compress, report.
Each parses its options and calls one function of the command layer (ganvq.commands)."""

from __future__ import annotations

import argparse


GRID_MAX = 10_000  # images in one grid file (a 100 x 100 grid); more go to --out-dir


def _sample(args) -> dict:
    from ganvq.commands.sample import write_samples
    from ganvq.errors import GanvqError
    from ganvq.images import check_image_suffix

    if args.out is not None:
        check_image_suffix(args.out)
        if args.n > GRID_MAX:
            raise GanvqError(f"--n {args.n:,} is too many for one grid (at most {GRID_MAX:,}); use --out-dir")
    return write_samples(args.ckpt, n=args.n, seed=args.seed, out=args.out, out_dir=args.out_dir,
                         class_=args.class_, truncation=args.truncation, device=args.device,
                         temperature=args.temperature, top_k=args.top_k)


def _interpolate(args) -> dict:
    from ganvq.commands.sample import interpolate
    from ganvq.errors import GanvqError
    from ganvq.images import check_image_suffix

    check_image_suffix(args.out)
    if args.rows * args.steps > GRID_MAX:
        raise GanvqError(f"--rows x --steps = {args.rows * args.steps:,} images is too many for one grid "
                         f"(at most {GRID_MAX:,})")
    return interpolate(args.ckpt, args.out, rows=args.rows, steps=args.steps, seed=args.seed,
                       class_=args.class_, truncation=args.truncation, device=args.device)


def _add_sample_commands(sub) -> None:
    p = sub.add_parser("sample", help="sample a trained GAN or prior: a grid PNG, or a folder of PNGs (+ labels.csv)")
    p.add_argument("--ckpt", required=True, help="checkpoint file or run folder")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", help="grid PNG to write")
    where.add_argument("--out-dir", help="new folder: one PNG per sample, plus labels.csv for conditional models")
    p.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--class", dest="class_", type=int, metavar="K", help="sample only this class (conditional models)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--truncation", type=float, help="GAN checkpoints: redraw latent entries beyond +-T (fidelity over variety)")
    p.add_argument("--temperature", type=float, default=1.0, help="prior checkpoints: divide the logits by T")
    p.add_argument("--top-k", type=int, help="prior checkpoints: sample among the K most likely codes")
    p.add_argument("--device", default="auto", help="auto (default: CUDA when present), cpu, cuda, cuda:N")
    p.set_defaults(func=_sample)

    p = sub.add_parser("interpolate", help="latent interpolation grid of a trained GAN (one walk per row)")
    p.add_argument("--ckpt", required=True, help="checkpoint file or run folder")
    p.add_argument("--out", required=True, help="grid PNG to write")
    p.add_argument("--rows", type=int, default=8, help="walks, one per row")
    p.add_argument("--steps", type=int, default=10, help="images per walk")
    p.add_argument("--class", dest="class_", type=int, metavar="K", help="keep this class on every row (conditional models)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--truncation", type=float)
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")
    p.set_defaults(func=_interpolate)


def _reconstruct(args) -> dict:
    from ganvq.commands.reconstruct import reconstruct

    return reconstruct(args.ckpt, args.input, args.out, limit=args.limit)


def _encode(args) -> dict:
    from ganvq.commands.reconstruct import encode

    return encode(args.ckpt, args.input, args.out, limit=args.limit)


def _decode(args) -> dict:
    from ganvq.commands.reconstruct import decode

    return decode(args.ckpt, args.codes, args.out)


def _eval_vqvae(args) -> dict:
    from ganvq.commands.evaluate import eval_vqvae

    return eval_vqvae(args.ckpt, data=args.data, split=args.split, limit=args.limit, out=args.out)


def _eval_folder(args) -> None:
    from ganvq.commands.evaluate import eval_folder
    from ganvq.metrics.score import format_scores

    result = eval_folder(args.real, args.fake, features=args.features, limit=args.limit, seed=args.seed,
                         out=args.out, bf16=args.bf16)
    print(format_scores(result))
    print(f"wrote {result['written']}")


def _eval_gan(args) -> None:
    from ganvq.commands.evaluate import eval_gan
    from ganvq.metrics.score import format_scores

    result = eval_gan(args.ckpt, n=args.n, real=args.real, features=args.features, seed=args.seed, out=args.out,
                      bf16=args.bf16)
    print(format_scores(result))
    print(f"wrote {result['written']}")


def _build_extractor(args) -> dict:
    from ganvq.metrics.build_extractor import build_extractor

    return build_extractor(args.out, epochs=args.epochs, seed=args.seed, quiet=args.quiet)


def _report(args) -> dict:
    from ganvq.commands.report import report
    from ganvq.errors import GanvqError, warn

    if args.images is not None:
        warn("report reads the run's eval JSON and scores nothing itself: --images is ignored")
    runs = [*args.runs, *(args.ckpt or []), *([args.gan] if args.gan else [])]
    if not runs:
        raise GanvqError("report: name the run folder(s) to report on, e.g. `ganvq report runs/v7 --out report.html`")
    return report(runs, args.out, seed=args.seed)


def _add_scoring_options(p) -> None:
    p.add_argument("--features", choices=["auto", "ganvq", "inception"], default="auto",
                   help="feature extractor: auto (default) is ganvq's shipped Fashion-MNIST CNN for 28x28 grayscale "
                        "images and the FID Inception-v3 for anything else; inception needs "
                        "pip install 'ganvq[inception]' (make install does it)")
    p.add_argument("--bf16", action="store_true",
                   help="Inception in bfloat16: about twice as fast on CPUs with native bf16, but FIDs move by about "
                        "1%% from fp32's (benchmarks/results/inception.json), so they are not paper-exact")
    p.add_argument("--seed", type=int, default=0, help="seed of KID's random subsets")


def _compress(args) -> dict:
    from ganvq.commands.codec_files import compress_paths

    return compress_paths(args.ckpt, args.inputs, args.out, batch=args.batch, device=args.device,
                          split=args.split, limit=args.limit, quality=args.quality,
                          resize=args.resize)


def _decompress(args) -> dict:
    from ganvq.commands.codec_files import decompress_paths

    return decompress_paths(args.ckpt, args.inputs, args.out, batch=args.batch, device=args.device)


def _add_codec_commands(sub) -> None:
    p = sub.add_parser("compress", help="images -> .gvq files (VQ-VAE codes, entropy-coded with the prior)")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or a dataset (name, IDX, .npz)")
    p.add_argument("-o", "--out", required=True, help="output folder (one .gvq per image), or FILE.gvq for one file holding all")
    p.add_argument("--ckpt", required=True, action="append",
                   help="prior checkpoint or run folder (it holds its VQ-VAE); repeat it to offer several rates, "
                        "and pick one with --quality")
    p.add_argument("--quality", choices=["low", "medium", "high"],
                   help="with several --ckpt: the smallest (low), middle (medium) or largest (high) code rate")
    p.add_argument("--batch", type=int, default=1000, help="images coded at a time (bounds memory)")
    p.add_argument("--resize", action="store_true",
                   help="resize and centre-crop images of another size (and convert their colour) to the model's, "
                        "as training does; without it such images are refused")
    p.add_argument("--split", default="test", help="split of a dataset input (default test)")
    p.add_argument("--limit", type=int, help="first N images only")
    p.add_argument("--device", default="cpu", help="cpu (default), auto, cuda, cuda:N")
    p.set_defaults(func=_compress)

    p = sub.add_parser("decompress", help=".gvq files -> PNG images")
    p.add_argument("inputs", nargs="+", metavar="FILE", help=".gvq files or folders of them")
    p.add_argument("-o", "--out", required=True, help="output folder (mirrors the inputs), or FILE.png for one image")
    p.add_argument("--ckpt", required=True, help="the prior checkpoint the files were compressed with")
    p.add_argument("--batch", type=int, default=1000, help="files decoded at a time (bounds memory)")
    p.add_argument("--device", default="cpu", help="cpu (default), auto, cuda, cuda:N")
    p.set_defaults(func=_decompress)


def add_commands(sub) -> None:
    """Sampling, codec, reconstruction, evaluation and report commands."""
    _add_sample_commands(sub)
    _add_codec_commands(sub)

    p = sub.add_parser("reconstruct", help="reconstruct images through a VQ-VAE")
    p.add_argument("--ckpt", required=True, help="checkpoint file or run folder")
    p.add_argument("--input", required=True, help="image file, folder of images, IDX/.npz file or dataset name")
    p.add_argument("--out", required=True, help="output folder: one PNG per image and grid.png")
    p.add_argument("--limit", type=int, help="first N images only")
    p.set_defaults(func=_reconstruct)

    p = sub.add_parser("encode", help="images -> code maps (.npy)")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--out", required=True, help="output .npy file of shape (N, h, w)")
    p.add_argument("--limit", type=int)
    p.set_defaults(func=_encode)

    p = sub.add_parser("decode", help="code maps (.npy) -> images")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--codes", required=True, help=".npy file of shape (N, h, w) or (h, w)")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=_decode)

    ev = sub.add_parser("eval", help="measure a trained model").add_subparsers(dest="model", required=True, metavar="MODEL")
    p = ev.add_parser("vqvae", help="test PSNR, SSIM, codebook usage, bits per pixel")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--data", help="dataset (default: the one it was trained on)")
    p.add_argument("--split", choices=["train", "val", "test", "all"],
                   help="images to score (default: test, the held-out images of the training data; for other "
                        "data its test split, or all of it when it has none)")
    p.add_argument("--limit", type=int)
    p.add_argument("--out", help="JSON file to write (default: eval-vqvae.json beside the checkpoint)")
    p.set_defaults(func=_eval_vqvae)

    p = ev.add_parser("gan", help="sample a GAN (or a prior) and score it: FID, KID, precision/recall, memorization")
    p.add_argument("--ckpt", required=True, help="GAN or prior checkpoint file or run folder")
    p.add_argument("--n", type=int, default=10_000, help="samples to generate and score")
    p.add_argument("--real", help="real data to compare with (default: the held-out images of the data it was "
                                  "trained on; other data: its test split, or all of it)")
    _add_scoring_options(p)
    p.add_argument("--out", help="JSON file to write (default: eval-gan.json in the run folder)")
    p.set_defaults(func=_eval_gan)

    p = ev.add_parser("folder", help="score a folder of generated images (from any tool) against real data")
    p.add_argument("--real", help="real data to compare with (its test split, or all of it when it has none); "
                                  "default: the held-out images of the data named by the folder's source.json "
                                  "(written by `ganvq sample --out-dir`)")
    p.add_argument("--fake", required=True, help="folder of generated images (PNG/JPEG/BMP)")
    _add_scoring_options(p)
    p.add_argument("--limit", type=int, help="first N images of the folder only")
    p.add_argument("--out", help="JSON file to write (default: FOLDER-eval.json beside the folder)")
    p.set_defaults(func=_eval_folder)

    mt = sub.add_parser("metrics", help="metric tools").add_subparsers(dest="tool", required=True, metavar="TOOL")
    p = mt.add_parser("build-extractor", help="retrain the Fashion-MNIST feature extractor (deterministic recipe)")
    p.add_argument("--out", required=True, help="safetensors file to write (the shipped one is never overwritten)")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_build_extractor)

    p = sub.add_parser("report", help="one self-contained HTML page about a run of any kind (VQ-VAE, GAN, prior), "
                                      "or several runs side by side; scores are read from their eval JSON")
    p.add_argument("runs", nargs="*", metavar="RUN", help="run folders or checkpoints (several: a comparison)")
    p.add_argument("--out", required=True, help="HTML file to write")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples drawn for the page (default 0)")
    p.add_argument("--ckpt", action="append", help=argparse.SUPPRESS)  # older spelling of RUN
    p.add_argument("--gan", help=argparse.SUPPRESS)  # older spelling of a second RUN
    p.add_argument("--images", type=int, help=argparse.SUPPRESS)  # no longer used: nothing is re-scored
    p.set_defaults(func=_report)
