"""`ganvq <command>`: argument parsing and error reporting over the Python API, nothing more."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ganvq.errors import GanvqError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _add_train_vqvae(sub) -> None:
    from ganvq.config import VQVAE_PRESETS

    p = sub.add_parser("vqvae", help="train a VQ-VAE", description="Train a VQ-VAE on a dataset.")
    p.add_argument("--data", default="fashion-mnist", help="dataset name or path (IDX folder/file, image folder, .npz)")
    p.add_argument("--out", required=True, help="run folder: checkpoint, metrics.jsonl, config.json")
    p.add_argument("--preset", default="fmnist-7x7", choices=sorted(VQVAE_PRESETS), help="model preset")
    p.add_argument("--config", help="JSON/YAML file with options (model:, train:, data:) overriding the preset")
    p.add_argument("--steps", type=int, help="optimiser steps (default 5000 unless --minutes is given)")
    p.add_argument("--minutes", type=float, help="wall-clock training budget")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--precision", choices=["bf16", "fp32"])
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    p.add_argument("--limit", type=int, help="train on the first N images only")
    p.add_argument("--image-size", type=int, help="image size for folders of images (default 28)")
    p.add_argument("--channels", type=int, choices=[1, 3], help="force grayscale (1) or RGB (3)")
    p.add_argument("--on-bad", choices=["skip", "fail"], help="unreadable images in a folder: skip and list them (default) or fail")
    p.add_argument("--codebook-size", type=int)
    p.add_argument("--update", choices=["ema", "loss", "kmeans"], help="codebook update rule")
    p.add_argument("--log-every", type=int)
    p.add_argument("--ckpt-every", type=int)
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")
    p.set_defaults(func=_train_vqvae)


def build_vqvae_config(args) -> "VQVAERunConfig":
    """The run config from a preset, an optional config file, then command-line options."""
    import dataclasses

    from ganvq.config import TrainConfig, VQVAERunConfig, from_dict, load_config_file, merge, preset, to_dict

    base = to_dict(VQVAERunConfig(model=preset(args.preset), train=TrainConfig()))
    if args.config:
        for key, value in load_config_file(args.config).items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = _deep_update(base[key], value)
            else:
                base[key] = value
    config = from_dict(VQVAERunConfig, base)
    train = config.train
    if args.minutes is not None and args.steps is None:
        train = dataclasses.replace(train, steps=None, minutes=args.minutes)
    train = merge(train, steps=args.steps, minutes=args.minutes, batch_size=args.batch_size, lr=args.lr,
                  seed=args.seed, precision=args.precision, device=args.device, threads=args.threads,
                  log_every=args.log_every, ckpt_every=args.ckpt_every)
    model = merge(config.model, image_size=args.image_size)
    model = dataclasses.replace(model, vq=merge(model.vq, codebook_size=args.codebook_size, update=args.update))
    return merge(config, model=model, train=train, data=args.data, limit=args.limit, on_bad=args.on_bad,
                 channels=args.channels)


def _deep_update(base: dict, new: dict) -> dict:
    out = dict(base)
    for k, v in new.items():
        out[k] = _deep_update(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _train_vqvae(args) -> dict:
    from ganvq.config import to_dict
    from ganvq.io import write_json
    from ganvq.train.vqvae import train_vqvae

    config = None
    if not args.resume:
        config = build_vqvae_config(args)
        if (Path(args.out) / "checkpoint.safetensors").exists():
            raise GanvqError(f"{args.out} already holds a run; pass --resume to continue it or choose another --out")
        write_json(Path(args.out) / "config.json", to_dict(config))
    return train_vqvae(config, args.out, resume=args.resume, quiet=args.quiet)


def _reconstruct(args) -> dict:
    from ganvq.reconstruct import reconstruct

    return reconstruct(args.ckpt, args.input, args.out, limit=args.limit)


def _encode(args) -> dict:
    from ganvq.reconstruct import encode

    return encode(args.ckpt, args.input, args.out, limit=args.limit)


def _decode(args) -> dict:
    from ganvq.reconstruct import decode

    return decode(args.ckpt, args.codes, args.out)


def _eval_vqvae(args) -> dict:
    from ganvq.evaluate import eval_vqvae

    return eval_vqvae(args.ckpt, data=args.data, split=args.split, limit=args.limit, out=args.out)


def _report(args) -> dict:
    from ganvq.report.html import vqvae_report

    return vqvae_report(args.ckpt, args.out, images=args.images)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ganvq", description="Image generation and reconstruction with GANs and VQ-VAEs.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="train a model").add_subparsers(dest="model", required=True, metavar="MODEL")
    _add_train_vqvae(train)

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
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=int)
    p.add_argument("--out", help="JSON file to write (default: eval-vqvae.json beside the checkpoint)")
    p.set_defaults(func=_eval_vqvae)

    p = sub.add_parser("report", help="one HTML page: metrics, curves, reconstructions, codebook atlas")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--out", required=True, help="HTML file to write")
    p.add_argument("--images", type=int, default=2000, help="test images to score")
    p.set_defaults(func=_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ganvq command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from ganvq.train.loop import TrainingInterrupted

    try:
        result = args.func(args)
    except TrainingInterrupted as e:
        print(f"ganvq: {e}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except GanvqError as e:
        if args.debug:
            raise
        print(f"ganvq: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ganvq: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if result is not None:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
