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
                         temperature=args.temperature, top_k=args.top_k, quiet=args.quiet)


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


DEVICE_HELP = "auto: CUDA when present, else the CPU; or cpu, cuda, cuda:N"


def _add_device(p) -> None:
    p.add_argument("--device", default="auto", help=DEVICE_HELP)


def _add_inputs(p, help: str, metavar: str = "INPUT", one: bool = False) -> None:
    """INPUT as a positional argument, or as -i/--input INPUT (the spelling every command accepts)."""
    p.add_argument("inputs", nargs="?" if one else "*", metavar=metavar, help=help)
    p.add_argument("-i", "--input", dest="input_options", action="append", default=[], metavar=metavar,
                   help=f"{metavar} given as an option" + ("" if one else " (repeatable)"))


def _inputs(args, one: bool = False) -> list[str]:
    """The inputs named positionally and with -i/--input, in that order; at least one (exactly one if `one`)."""
    from ganvq.errors import GanvqError

    given = args.inputs if isinstance(args.inputs, list) else [args.inputs] if args.inputs is not None else []
    inputs = [*given, *args.input_options]
    if not inputs:
        raise GanvqError(f"{args.command}: name the input, e.g. `ganvq {args.command} photos/ -o OUT ...` "
                         "(or -i/--input INPUT)")
    if one and len(inputs) > 1:
        raise GanvqError(f"{args.command} takes one input (a file, folder or dataset), got {len(inputs)}: "
                         f"{', '.join(inputs)}")
    return inputs


def _add_sample_commands(sub) -> None:
    p = sub.add_parser("sample", help="sample a trained GAN or prior: a grid PNG, or a folder of PNGs (+ labels.csv)")
    p.add_argument("--ckpt", required=True, help="checkpoint file or run folder")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("-o", "--out", help="grid PNG to write")
    where.add_argument("--out-dir", help="new folder: one PNG per sample, plus labels.csv for conditional models")
    p.add_argument("-n", "--n", type=int, default=64, help="number of samples")
    p.add_argument("--class", dest="class_", metavar="K",
                   help="sample only this class, by number or name (conditional models)")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples (the same seed, the same images)")
    p.add_argument("--truncation", type=float, metavar="T",
                   help="GAN checkpoints: redraw latent entries beyond +-T (fidelity over variety; default: none)")
    p.add_argument("--temperature", type=float, default=1.0, metavar="T",
                   help="prior checkpoints: divide the logits by T")
    p.add_argument("--top-k", type=int, metavar="K",
                   help="prior checkpoints: sample among the K most likely codes (default: all)")
    _add_device(p)
    p.set_defaults(func=_sample)

    p = sub.add_parser("interpolate", help="latent interpolation grid of a trained GAN (one walk per row)")
    p.add_argument("--ckpt", required=True, help="checkpoint file or run folder")
    p.add_argument("-o", "--out", required=True, help="grid PNG to write")
    p.add_argument("--rows", type=int, default=8, help="walks, one per row")
    p.add_argument("--steps", type=int, default=10, help="images per walk")
    p.add_argument("--class", dest="class_", metavar="K",
                   help="keep this class, by number or name, on every row (conditional models)")
    p.add_argument("--seed", type=int, default=0, help="seed of the walks' end points")
    p.add_argument("--truncation", type=float, metavar="T",
                   help="redraw latent entries beyond +-T (fidelity over variety; default: none)")
    _add_device(p)
    p.set_defaults(func=_interpolate)


def _reconstruct(args) -> dict:
    from ganvq.commands.reconstruct import reconstruct

    return reconstruct(args.ckpt, _inputs(args, one=True)[0], args.out, limit=args.limit, device=args.device,
                       quiet=args.quiet)


def _encode(args) -> dict:
    from ganvq.commands.reconstruct import encode

    return encode(args.ckpt, _inputs(args, one=True)[0], args.out, limit=args.limit, device=args.device,
                  quiet=args.quiet)


def _decode(args) -> dict:
    from ganvq.commands.reconstruct import decode

    if args.codes is not None:  # the older spelling, --codes FILE
        args.input_options.append(args.codes)
    return decode(args.ckpt, _inputs(args, one=True)[0], args.out, device=args.device, quiet=args.quiet)


def _eval_vqvae(args) -> dict:
    from ganvq.commands.evaluate import eval_vqvae

    return eval_vqvae(args.ckpt, data=args.data, split=args.split, limit=args.limit, out=args.out,
                      device=args.device, quiet=args.quiet)


def _eval_folder(args) -> None:
    from ganvq.commands.evaluate import eval_folder
    from ganvq.metrics.score import format_scores

    result = eval_folder(args.real, args.fake, features=args.features, limit=args.limit, seed=args.seed,
                         out=args.out, bf16=args.bf16, quiet=args.quiet, real_split=args.real_split)
    print(format_scores(result))
    print(f"wrote {result['written']}")


def _eval_gan(args) -> None:
    from ganvq.commands.evaluate import eval_gan
    from ganvq.metrics.score import format_scores

    result = eval_gan(args.ckpt, n=args.n, real=args.real, features=args.features, seed=args.seed, out=args.out,
                      bf16=args.bf16, quiet=args.quiet, utility_n=args.utility or 0, real_subset=args.real_subset,
                      subset_seed=args.subset_seed, real_split=args.real_split)
    print(format_scores(result))
    if "privacy" in result:
        p = result["privacy"]
        print(f"privacy: (ε = {p['epsilon']:.3g}, δ = {p['delta']:g})-DP ({p['accountant']} accountant), noise "
              f"multiplier {p['noise_multiplier']:.4g}, clipping {p['max_grad_norm']:g} ({p['clipping']}), "
              f"{p['d_steps']} D steps")
    if "utility" in result:
        u = result["utility"]
        if "kept_from" in u:
            print(f"utility: kept from {u['kept_from']} (--utility N measures it again)")
        if "accuracy" in u:
            print(f"utility: {100 * u['accuracy']:.2f}% accuracy on {u['test_images']} real held-out images of a "
                  f"classifier trained on {u['train_images']} samples")
        else:
            print(f"utility ({u['test_images']} real held-out images): {100 * u['real']['accuracy']:.2f}% trained on "
                  f"the {u['real_images']} real images, {100 * u['real_plus_synthetic']['accuracy']:.2f}% on them plus "
                  f"{u['synthetic_images']} samples ({u['gain_points']:+.2f} points), "
                  f"{100 * u['synthetic']['accuracy']:.2f}% on the samples alone")
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
    return report(runs, args.out, seed=args.seed, quiet=args.quiet)


def _add_scoring_options(p) -> None:
    p.add_argument("--features", choices=["auto", "ganvq", "inception"], default="auto",
                   help="feature extractor: auto (default) is ganvq's shipped Fashion-MNIST CNN for 28x28 grayscale "
                        "images and the FID Inception-v3 for anything else; inception needs "
                        "pip install 'ganvq[inception]' (make install does it)")
    p.add_argument("--bf16", action="store_true",
                   help="Inception with its stem in float32 and the rest in bfloat16: about 1.6x the fp32 default "
                        "on CPUs with native bf16 (emulated and slow on others), FIDs within 0.5%% of fp32's "
                        "(benchmarks/results/inception-speed.json)")
    p.add_argument("--seed", type=int, default=0, help="seed of KID's random subsets")
    p.add_argument("--real-split", choices=["test", "val", "train", "all"],
                   help="split of the real data to compare with (default: the held-out images of the data the model "
                        "was trained on, else test where there is one, else all); train scores against the "
                        "training images, as many GAN papers do, and says so in the output")


def _compress(args) -> dict:
    from ganvq.commands.codec_files import compress_paths

    return compress_paths(args.ckpt, _inputs(args), args.out, batch=args.batch, device=args.device,
                          split=args.split, limit=args.limit, quality=args.quality,
                          resize=args.resize, quiet=args.quiet)


def _decompress(args) -> dict:
    from ganvq.commands.codec_files import decompress_paths

    return decompress_paths(args.ckpt, _inputs(args), args.out, batch=args.batch, device=args.device,
                            quiet=args.quiet)


def _add_codec_commands(sub) -> None:
    p = sub.add_parser("compress", help="images -> .gvq files (VQ-VAE codes, entropy-coded with the prior)")
    _add_inputs(p, "image files, folders of images, or a dataset (name, IDX, .npz, .npy)")
    p.add_argument("-o", "--out", required=True, help="output folder (one .gvq per image), or FILE.gvq for one file holding all")
    p.add_argument("--ckpt", required=True, action="append",
                   help="prior checkpoint or run folder (it holds its VQ-VAE); repeat it to offer several rates, "
                        "and pick one with --quality")
    p.add_argument("--quality", choices=["low", "medium", "high"],
                   help="with several --ckpt: the smallest (low), middle (medium) or largest (high) code rate")
    p.add_argument("--batch", type=int, default=1000, help="images coded at a time, which bounds memory")
    p.add_argument("--resize", action="store_true",
                   help="resize and centre-crop images of another size (and convert their colour) to the model's, "
                        "as training does; without it such images are refused")
    p.add_argument("--split", default="test", help="split of a dataset input")
    p.add_argument("--limit", type=int, help="first N images only (default: all)")
    _add_device(p)
    p.set_defaults(func=_compress)

    p = sub.add_parser("decompress", help=".gvq files -> PNG images")
    _add_inputs(p, ".gvq files or folders of them", metavar="FILE")
    p.add_argument("-o", "--out", required=True, help="output folder (mirrors the inputs), or FILE.png for one image")
    p.add_argument("--ckpt", required=True, help="the prior checkpoint the files were compressed with")
    p.add_argument("--batch", type=int, default=1000, help="files decoded at a time, which bounds memory")
    _add_device(p)
    p.set_defaults(func=_decompress)


def _add_vqvae_commands(sub) -> None:
    p = sub.add_parser("reconstruct", help="reconstruct images through a VQ-VAE (each keeps its file name)")
    _add_inputs(p, "image file, folder of images, IDX/.npz/.npy file or dataset name", one=True)
    p.add_argument("-o", "--out", required=True,
                   help="output folder: one PNG per image, named as the input (OUT/shirt.png; a dataset's are "
                        "numbered), and grid.png (originals above reconstructions)")
    p.add_argument("--ckpt", required=True, help="VQ-VAE checkpoint file or run folder")
    p.add_argument("--limit", type=int, help="first N images only (default: all)")
    _add_device(p)
    p.set_defaults(func=_reconstruct)

    p = sub.add_parser("encode", help="images -> code maps (.npy)")
    _add_inputs(p, "image file, folder of images, IDX/.npz/.npy file or dataset name", one=True)
    p.add_argument("-o", "--out", required=True, help="output .npy file of shape (N, h, w)")
    p.add_argument("--ckpt", required=True, help="VQ-VAE checkpoint file or run folder")
    p.add_argument("--limit", type=int, help="first N images only (default: all)")
    _add_device(p)
    p.set_defaults(func=_encode)

    p = sub.add_parser("decode", help="code maps (.npy) -> images")
    _add_inputs(p, ".npy file of shape (N, h, w) or (h, w)", metavar="CODES", one=True)
    p.add_argument("--codes", help=argparse.SUPPRESS)  # older spelling of CODES
    p.add_argument("-o", "--out", required=True, help="output folder: one PNG per code map and grid.png")
    p.add_argument("--ckpt", required=True, help="VQ-VAE checkpoint file or run folder")
    _add_device(p)
    p.set_defaults(func=_decode)


def add_commands(sub) -> None:
    """Sampling, codec, reconstruction, evaluation and report commands."""
    _add_sample_commands(sub)
    _add_codec_commands(sub)

    _add_vqvae_commands(sub)

    ev = sub.add_parser("eval", help="measure a trained model").add_subparsers(dest="model", required=True, metavar="MODEL")
    p = ev.add_parser("vqvae", help="test PSNR, SSIM, codebook usage, bits per pixel")
    p.add_argument("--ckpt", required=True, help="VQ-VAE checkpoint file or run folder")
    p.add_argument("--data", help="dataset (default: the one it was trained on)")
    p.add_argument("--split", choices=["train", "val", "test", "all"],
                   help="images to score (default: test, the held-out images of the training data; for other "
                        "data its test split, or all of it when it has none)")
    p.add_argument("--limit", type=int, help="first N images of the split only (default: all)")
    p.add_argument("-o", "--out", help="JSON file to write (default: eval-vqvae.json beside the checkpoint)")
    _add_device(p)
    p.set_defaults(func=_eval_vqvae)

    p = ev.add_parser("gan", help="sample a GAN (or a prior) and score it: FID, KID, precision/recall, memorization")
    p.add_argument("--ckpt", required=True, help="GAN or prior checkpoint file or run folder")
    p.add_argument("-n", "--n", type=int, default=10_000, help="samples to generate and score (more than 5; default 10,000)")
    p.add_argument("--real", help="real data to compare with (default: the held-out images of the data it was "
                                  "trained on; other data: its test split, or all of it)")
    _add_scoring_options(p)
    p.add_argument("--utility", type=int, nargs="?", const=10_000, metavar="N",
                   help="also train a fixed small classifier on N class-conditional samples (default 10000) and "
                        "report its accuracy on the real held-out images (downstream utility); for a run trained "
                        "on a --subset (or with --real-subset) also trained on those real images alone and on them "
                        "plus the samples, with classic augmentation")
    p.add_argument("--real-subset", type=int, metavar="N_REAL",
                   help="with --utility: the real images are a balanced subset of N_REAL training images, drawn as "
                        "train gan --subset draws them (default: the run's own --subset, if it has one)")
    p.add_argument("--subset-seed", type=int, metavar="S",
                   help="seed of --real-subset's draw (default: the run's --subset-seed, else 0)")
    p.add_argument("-o", "--out", help="JSON file to write (default: eval-gan.json in the run folder)")
    p.set_defaults(func=_eval_gan)

    p = ev.add_parser("folder", help="score a folder of generated images (from any tool) against real data")
    p.add_argument("--real", help="real data to compare with (its test split, or all of it when it has none); "
                                  "default: the held-out images of the data named by the folder's source.json "
                                  "(written by `ganvq sample --out-dir`)")
    p.add_argument("--fake", required=True, help="folder of generated images (PNG/JPEG/BMP/TIFF/WebP)")
    _add_scoring_options(p)
    p.add_argument("--limit", type=int, help="first N images of the folder only (default: all)")
    p.add_argument("-o", "--out", help="JSON file to write (default: FOLDER-eval.json beside the folder)")
    p.set_defaults(func=_eval_folder)

    mt = sub.add_parser("metrics", help="metric tools").add_subparsers(dest="tool", required=True, metavar="TOOL")
    p = mt.add_parser("build-extractor", help="retrain the Fashion-MNIST feature extractor (deterministic recipe)")
    p.add_argument("-o", "--out", required=True,
                   help="safetensors file to write (the shipped one is never overwritten)")
    p.add_argument("--epochs", type=int, default=8, help="passes over the Fashion-MNIST training images")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and the batch order")
    p.set_defaults(func=_build_extractor)

    p = sub.add_parser("report", help="one self-contained HTML page about a run of any kind (VQ-VAE, GAN, prior), "
                                      "or several runs side by side; scores are read from their eval JSON")
    p.add_argument("runs", nargs="*", metavar="RUN", help="run folders or checkpoints (several: a comparison)")
    p.add_argument("-o", "--out", required=True, help="HTML file to write")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples drawn for the page")
    p.add_argument("--ckpt", action="append", help=argparse.SUPPRESS)  # older spelling of RUN
    p.add_argument("--gan", help=argparse.SUPPRESS)  # older spelling of a second RUN
    p.add_argument("--images", type=int, help=argparse.SUPPRESS)  # no longer used: nothing is re-scored
    p.set_defaults(func=_report)
