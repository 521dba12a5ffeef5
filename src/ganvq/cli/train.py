"""`ganvq train vqvae|vqgan|gan|prior`: options parsed into overrides, which `build_run_config` lays over a
preset and a config file; the training functions do the rest."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ganvq.runs import GANRunConfig, PriorRunConfig, VQVAERunConfig


def _add_run_options(p) -> None:
    """Options every training command shares: seed, precision, device, threads, data subset."""
    p.add_argument("--seed", type=int, help="seed of every random draw of the run (default: the preset's, 0)")
    p.add_argument("--precision", choices=["auto", "bf16", "fp16", "fp32"],
                   help="auto (default): bf16 autocast where the CPU/GPU runs bf16 natively, else fp32; fp16: "
                        "CUDA only, with a gradient scaler")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N (with --resume: where the run goes on, as do "
                   "--threads and --precision)")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    p.add_argument("--limit", type=int, help="train on the first N images only")
    p.add_argument("--val-fraction", type=float,
                   help="images held out from training for scoring, stored in the run (default: 0.1 for data "
                        "without a test split, else 0, the test split scoring checkpoints)")


def _add_image_options(p, sizes: str) -> None:
    """How folders of images are read: size, channels, unreadable files."""
    p.add_argument("--image-size", type=int, help=f"image size for folders of images ({sizes})")
    p.add_argument("--channels", type=int, choices=[1, 3], help="force grayscale (1) or RGB (3)")
    p.add_argument("--on-bad", choices=["skip", "fail"],
                   help="unreadable images in a folder: skip and list them (default) or fail")


def _add_logging_options(p) -> None:
    p.add_argument("--log-every", type=int, help="steps between metric lines in RUN/metrics.jsonl (default 50)")
    p.add_argument("--ckpt-every", type=int, help="steps between scored checkpoints (default 1000)")
    p.add_argument("--ckpt-minutes", type=float, metavar="M",
                   help="also write a checkpoint every M minutes, so a slow run never loses more (default 2; 0: off)")
    p.add_argument("--resume", nargs="?", const=True, metavar="RUN",
                   help="continue the run in RUN (or --out) exactly where it stopped; with --steps N (the total "
                        "to reach) or --minutes M (more minutes) it trains a finished run longer")


# What a resumed run does take: every other train option given is ignored (the run keeps the config stored in its
# checkpoint), and the user is told so. Train options default to None (flags to False): given ones are not.
_TAKEN_ON_RESUME = {"command", "model", "debug", "quiet", "func", "resume", "out", "steps", "minutes", "device",
                    "threads", "precision"}


def _run_target(args) -> tuple[str, bool]:
    """The run folder and whether to resume it, from --out and --resume [RUN]."""
    from pathlib import Path

    from ganvq.errors import GanvqError, warn

    run = args.resume if isinstance(args.resume, str) else None
    if run is not None and args.out is not None and Path(run) != Path(args.out):
        raise GanvqError(f"--resume {run} and --out {args.out} name different run folders; give one of them")
    out = args.out or run
    if out is None:
        raise GanvqError("give the run folder: --out RUN for a new run, or --resume RUN to continue one")
    if args.resume:
        ignored = [f"--{name.replace('_', '-')}" for name, value in vars(args).items()
                   if name not in _TAKEN_ON_RESUME and value is not None and value is not False]
        if ignored:
            warn(f"{', '.join(ignored)} ignored: a resumed run keeps its stored config (only --steps and --minutes "
                 "change its length, and --device, --threads and --precision where it runs)")
    return out, bool(args.resume)


def _resuming(args) -> dict:
    """The trainer's arguments for resuming: a new length (--steps, --minutes) and where the run goes on (--device,
    --threads, --precision), those given."""
    from ganvq.train.loop import MACHINE_OPTIONS

    machine = {name: getattr(args, name) for name in MACHINE_OPTIONS if getattr(args, name, None)}
    return {"resume": True, "quiet": args.quiet, "steps": args.steps, "minutes": args.minutes, "machine": machine}


def _printed(summary: dict) -> dict | None:
    """The summary the command prints: under torchrun rank 0's alone (the other processes print nothing)."""
    from ganvq.train.distributed import launched

    return summary if launched().main else None


def _train_options(args) -> dict:
    """The training options given on the command line (None: not given)."""
    return {"steps": args.steps, "minutes": args.minutes, "batch_size": args.batch_size, "lr": args.lr,
            "seed": args.seed, "precision": args.precision, "device": args.device, "threads": args.threads,
            "log_every": args.log_every, "ckpt_every": args.ckpt_every, "ckpt_minutes": args.ckpt_minutes}


def _data_options(args) -> dict:
    return {"data": args.data, "limit": args.limit, "on_bad": args.on_bad, "channels": args.channels,
            "val_fraction": args.val_fraction}


def _add_train_vqvae(sub) -> None:
    p = sub.add_parser("vqvae", help="train a VQ-VAE", description="Train a VQ-VAE on a dataset.")
    _add_vqvae_options(p, "model preset", "model:, train:, data:", "learning rate (default: the preset's)")
    p.add_argument("--update", choices=["ema", "loss", "kmeans"], help="codebook update rule")
    p.add_argument("--levels", type=int, help="residual quantization levels (codes per position; default 1)")
    _add_restoration_options(p)
    _add_logging_options(p)
    p.set_defaults(func=_train_vqvae)


def _add_vqvae_options(p, preset_help: str, config_sections: str, lr_help: str) -> None:
    """The data, run-length, image and codebook options train vqvae and train vqgan share."""
    from ganvq.runs import VQVAE_PRESETS

    p.add_argument("--data", help="dataset name or path (IDX folder/file, image folder, .npz, .npy; "
                                  "default fashion-mnist)")
    p.add_argument("-o", "--out", help="run folder: checkpoint, metrics.jsonl, config.json (required unless --resume RUN)")
    p.add_argument("--preset", choices=sorted(VQVAE_PRESETS),
                   help=f"{preset_help} (default: fmnist-7x7, or for colour images rgb-32, rgb-64 at --image-size 64)")
    p.add_argument("--config", help=f"JSON/YAML file with options ({config_sections}) overriding the preset")
    p.add_argument("--steps", type=int, help="optimiser steps (default 5000 unless --minutes is given)")
    p.add_argument("--minutes", type=float, help="wall-clock training budget; the final scoring and "
                   "checkpoint come after it (default: none, --steps decides)")
    p.add_argument("--batch-size", type=int, help="images per step (default: the preset's)")
    p.add_argument("--lr", type=float, help=lr_help)
    _add_run_options(p)
    _add_image_options(p, "default 28")
    p.add_argument("--codebook-size", type=int, help="codes in the codebook, K (default: the preset's)")


def _add_restoration_options(p) -> None:
    """--corrupt and --init, shared by train vqvae and train vqgan."""
    p.add_argument("--corrupt", metavar="DAMAGE",
                   help="train a restoration model: the encoder sees damaged images, the loss compares with the "
                        "clean ones; noise:SIGMA (pixels in [0, 1]), blur:SIGMA (pixels), jpeg:QUALITY or "
                        "mask:center|box:x,y,w,h|random:p (used by `ganvq restore`)")
    p.add_argument("--init", metavar="RUN", help="start from this VQ-VAE run's weights (same model), e.g. to "
                                                 "fine-tune a clean model into a --corrupt one")


def build_vqvae_config(args) -> VQVAERunConfig:
    """The run config from a preset, an optional config file, then command-line options."""
    from ganvq.runs import build_run_config

    model = {"image_size": args.image_size,
             "vq": {"codebook_size": args.codebook_size, "update": args.update, "levels": args.levels}}
    return build_run_config("vqvae", args.preset, args.config,
                            {"model": model, "train": _train_options(args), "corrupt": args.corrupt, "init": args.init,
                             **_data_options(args)})


def _train_vqvae(args) -> dict:
    from ganvq.train.vqgan import train_vqgan
    from ganvq.train.vqvae import train_vqvae

    out, resume = _run_target(args)
    if resume:  # train_vqgan continues plain VQ-VAE and VQGAN runs alike
        return _printed(train_vqgan(None, out, **_resuming(args)))
    if args.preset is None:
        args.preset = _default_vqvae_preset(args, build_vqvae_config)
    config = build_vqvae_config(args)
    _check_colour_preset(args, config, "fmnist-7x7 or fmnist-14x14")
    return _printed(train_vqvae(config, out, quiet=args.quiet))


def _add_train_vqgan(sub) -> None:
    from ganvq.runs.vqgan import PERCEPTUAL, PIXEL_LOSSES, VQGAN_LOSSES

    p = sub.add_parser("vqgan", help="train a VQGAN: a VQ-VAE with a patch discriminator and a perceptual loss",
                       description="Train a VQGAN (Esser et al. 2021): a VQ-VAE whose decoder also learns against a "
                                   "patch discriminator, with a perceptual loss and the adaptive GAN weight. The run "
                                   "is a VQ-VAE run: eval, reconstruct, train prior, sample and the codec take it.")
    _add_vqvae_options(p, "VQ-VAE preset; fmnist-7x7, fmnist-14x14 and fmnist-14x14-k64 come with measured "
                       "VQGAN weights",
                       "model:, train:, vqgan:, data:", "the VQ-VAE's learning rate (default: the preset's)")
    p.add_argument("--gan-loss", choices=VQGAN_LOSSES, help="the discriminator's loss (default hinge)")
    p.add_argument("--disc-weight", type=float,
                   help="weight of the GAN term, times the adaptive weight (default: the preset's; 0: no GAN term, "
                        "and D trains only for --perceptual features)")
    p.add_argument("--disc-start", type=int, help="steps before the discriminator starts (default: the preset's)")
    p.add_argument("--adaptive", action=argparse.BooleanOptionalAction, default=None,
                   help="balance the GAN term by |grad L_rec| / |grad L_GAN| at the decoder's last layer (default on)")
    p.add_argument("--perceptual", choices=PERCEPTUAL,
                   help="cnn: the shipped Fashion-MNIST CNN's features (1-channel 28 px; also the default FID "
                        "extractor, so its FIDs flatter the VQGAN: check them on --features inception); features: "
                        "the discriminator's (feature matching, for RGB); auto (default): cnn where it applies")
    p.add_argument("--perceptual-weight", type=float, help="weight of the perceptual term (default: the preset's)")
    p.add_argument("--pixel-loss", choices=PIXEL_LOSSES,
                   help="the pixel term: mse (default, as a VQ-VAE) or l1 (as taming-transformers' VQGAN)")
    p.add_argument("--perceptual-start", type=int,
                   help="steps before the perceptual term joins the loss (default: the preset's, 0: from the start)")
    p.add_argument("--perceptual-ramp", type=int,
                   help="steps over which the perceptual weight rises from 0 (default: the preset's, 0: at once)")
    p.add_argument("--lr-d", type=float, help="the discriminator's learning rate (default: --lr)")
    p.add_argument("--clip-spikes", type=float, metavar="F",
                   help="scale a step's gradient down to F times its running mean norm where it is larger, against "
                        "loss spikes (default: the preset's; 0: off)")
    _add_restoration_options(p)
    _add_logging_options(p)
    p.set_defaults(func=_train_vqgan)


def build_vqgan_config(args) -> VQVAERunConfig:
    """The VQGAN run config from a preset, an optional config file, then command-line options."""
    from ganvq.runs import build_run_config

    vqgan = {"loss": args.gan_loss, "disc_weight": args.disc_weight, "disc_start": args.disc_start,
             "adaptive": args.adaptive, "perceptual": args.perceptual, "perceptual_weight": args.perceptual_weight,
             "pixel_loss": args.pixel_loss,
             "perceptual_start": args.perceptual_start, "perceptual_ramp": args.perceptual_ramp, "lr_d": args.lr_d,
             "clip_spikes": args.clip_spikes}
    model = {"image_size": args.image_size, "vq": {"codebook_size": args.codebook_size}}
    return build_run_config("vqgan", args.preset, args.config,
                            {"model": model, "train": _train_options(args), "vqgan": vqgan, "corrupt": args.corrupt,
                             "init": args.init, **_data_options(args)})


def _train_vqgan(args) -> dict:
    from ganvq.train.vqgan import train_vqgan

    out, resume = _run_target(args)
    if resume:
        return _printed(train_vqgan(None, out, only_vqgan=True, **_resuming(args)))
    if args.preset is None:
        args.preset = _default_vqvae_preset(args, build_vqgan_config)
    config = build_vqgan_config(args)
    _check_colour_preset(args, config, "fmnist-7x7 or fmnist-14x14")
    return _printed(train_vqgan(config, out, quiet=args.quiet))


def _data_channels(config) -> int:
    """The channels training will give the images of a run config: forced (--channels), or as the data is."""
    from ganvq.data.datasets import training_images_and_channels

    return config.channels or training_images_and_channels(config.data)[1]


def _say_preset(args, name: str, why: str) -> None:
    """Say on stderr which preset `train` picked for the data, and at what size when --image-size is not its own."""
    import sys

    from ganvq.runs.presets import GAN_PRESETS, VQVAE_PRESETS

    own = GAN_PRESETS[name].model.image_size if name in GAN_PRESETS else VQVAE_PRESETS[name].image_size
    size = f", here at {args.image_size} px (--image-size)" if args.image_size not in (None, own) else ""
    if not args.quiet:
        print(f"ganvq: {why}: preset {name}, made for {PRESET_PURPOSE[name]}{size}; --preset to choose another",
              file=sys.stderr)


# What a preset picked for the data is for, as `train` says when it picks one
PRESET_PURPOSE = {"rgb-32": "colour photos on a CPU (32 px)", "rgb-64": "colour photos on a CPU (64 px)",
                  "few-100": "little data (DiffAugment, LeCam, narrow networks)",
                  "rgb-32-few": "a few hundred colour photos (32 px; DiffAugment, LeCam, narrow networks)",
                  "dp-fmnist": "Fashion-MNIST (28 px, as it trains any images unless --image-size says otherwise)"}


def _check_colour_preset(args, config, grayscale: str) -> None:
    """Warn when a preset made for colour photos (rgb-*) was named for grayscale data: it trains, on 1 channel at the
    preset's size, a recipe measured on neither; `grayscale` names the presets made for such data."""
    from ganvq.errors import warn

    if args.preset.startswith("rgb") and _data_channels(config) == 1:
        warn(f"preset {args.preset} is made for colour photos, and {config.data} is grayscale: it trains on 1 channel "
             f"at the preset's size, a recipe measured on neither; {grayscale} may suit it better")


def _default_vqvae_preset(args, build) -> str:
    """The preset of a `train vqvae` or `train vqgan` that names none: fmnist-7x7, or an RGB one for colour data
    (said on stderr)."""
    from ganvq.runs.presets import default_vqvae_preset

    config = build(args)  # fmnist-7x7 (presets._base) under the config file and options: the data, as training sees it
    name = default_vqvae_preset(_data_channels(config), args.image_size)
    if name != "fmnist-7x7":
        _say_preset(args, name, "colour images")
    return name


def _add_train_gan(sub) -> None:
    from ganvq.data.augment import TRANSLATION_FILLS
    from ganvq.losses.gan import LOSSES
    from ganvq.runs import GAN_PRESETS

    p = sub.add_parser("gan", help="train a GAN", description="Train a GAN (DCGAN or SN-ResNet) on a dataset.")
    p.add_argument("--data", help="dataset name or path (IDX folder/file, image folder, .npz, .npy; "
                                  "default fashion-mnist)")
    p.add_argument("-o", "--out", help="run folder: checkpoint, metrics.jsonl, config.json, samples/ "
                                 "(required unless --resume RUN)")
    p.add_argument("--preset", choices=sorted(GAN_PRESETS),
                   help="run preset (default: fmnist-best, or few-100 for a training set of at most 500 images, "
                        "where it measured best; for colour images rgb-32, rgb-64 at --image-size 64, and rgb-32-few "
                        "for at most 500; dp-fmnist with --dp-epsilon)")
    p.add_argument("--config", help="JSON/YAML file with options (model:, train:, gan:, data:) overriding the preset")
    p.add_argument("--steps", type=int, help="generator steps (default 5000 unless --minutes is given)")
    p.add_argument("--minutes", type=float, help="wall-clock training budget; the final scoring and "
                   "checkpoint come after it (default: none, --steps decides)")
    p.add_argument("--batch-size", type=int, help="images per step (default: the preset's)")
    p.add_argument("--lr", type=float, help="generator learning rate (default: the preset's)")
    p.add_argument("--lr-d", type=float, help="discriminator learning rate (TTUR; default: --lr)")
    p.add_argument("--loss", choices=LOSSES, help="GAN loss (default: the preset's)")
    p.add_argument("--arch", choices=["dcgan", "resnet"], help="DCGAN or SN-ResNet generator and discriminator")
    p.add_argument("--d-norm", choices=["bn", "sn", "none"], help="discriminator normalisation (bn: the article)")
    p.add_argument("--d-projection", choices=["flat", "pooled"],
                   help="what a conditional DCGAN discriminator's class embedding meets: its last feature map "
                        "(flat) or that map summed over space (pooled: 49x fewer weights at 28 px, but 12-15 "
                        "points less downstream accuracy under DP-SGD, docs/results.md)")
    p.add_argument("--n-d", type=int, help="discriminator steps per generator step")
    p.add_argument("--class-loss", type=float, metavar="W",
                   help="conditional runs: weight of a class loss read off D's projection (D learns to classify "
                        "real images, G to make fakes D classifies as their label; 0: off, the default; under "
                        "DP-SGD it narrowed each class and cost 13-23 points of accuracy, docs/results.md)")
    p.add_argument("--ema-decay", type=float, help="EMA of G for sampling, e.g. 0.999 (0: off)")
    p.add_argument("--ema-power", type=float, metavar="GAMMA",
                   help="average G's weights as a power function instead (EDM2): update s weighs as s^GAMMA, "
                        "so a smaller GAMMA averages a longer share of the run (replaces --ema-decay's)")
    p.add_argument("--r1-gamma", type=float, help="R1 penalty weight (0: off)")
    p.add_argument("--lecam", type=float, metavar="W",
                   help="LeCam regularisation weight for small training sets (Tseng et al. 2021; 0: off)")
    p.add_argument("--consistency", type=float, metavar="W",
                   help="consistency regularisation weight (bCR, Zhao et al. 2021; 10 in the paper; 0: off): D's "
                        "logits on two DiffAugment draws of each image are pulled together; needs --diffaugment")
    p.add_argument("--diffaugment", help='DiffAugment transforms, e.g. "color,translation,cutout" ("" for none)')
    p.add_argument("--diffaugment-p", type=float, metavar="P",
                   help="probability that each DiffAugment transform touches an image (default 1: always)")
    p.add_argument("--diffaugment-target", type=float, metavar="T",
                   help="adapt p as ADA does, keeping the fraction of real images D scores positive at T "
                        "(ADA: 0.6); p starts at 0 (default 0: p fixed)")
    p.add_argument("--diffaugment-shift", type=float, metavar="F",
                   help="largest DiffAugment translation as a fraction of the image size (default 0.125)")
    p.add_argument("--diffaugment-fill", choices=TRANSLATION_FILLS,
                   help="what a DiffAugment translation uncovers: zeros (mid-grey; the default), black (-1) or the edge pixels")
    p.add_argument("--real-shift", type=float, metavar="F",
                   help="shift each training image D sees by up to F of the image size (edge fill): classic "
                        "augmentation, which G learns to reproduce (default 0: off)")
    p.add_argument("--conditional", action=argparse.BooleanOptionalAction, default=None,
                   help="class-conditional training when the data has labels (preset default: on)")
    p.add_argument("--on-diverge", choices=["stop", "rollback"], help="on NaN/inf: stop, or roll back and halve the lr")
    p.add_argument("--sample-every", type=int, help="steps between sample grids in RUN/samples/")
    _add_privacy_options(p)
    _add_run_options(p)
    p.add_argument("--subset", type=int, metavar="N",
                   help="train on a balanced subset of N training images (equal per class), stored in the run so "
                        "eval finds the same images; e.g. --subset 100 (without --preset: few-100, made for little "
                        "data)")
    p.add_argument("--subset-seed", type=int, metavar="S", help="seed that picks the subset's images (default 0)")
    _add_image_options(p, "28, 32, 64")
    _add_logging_options(p)
    p.set_defaults(func=_train_gan)


def _add_privacy_options(p) -> None:
    """DP-SGD on the discriminator (runs.privacy, train.private)."""
    p.add_argument("--dp-epsilon", type=float, metavar="E",
                   help="train with differential privacy (DP-SGD on D; G is post-processing) until (E, --dp-delta) "
                        "is spent; needs a D without batch or spectral norm: --preset dp-fmnist")
    p.add_argument("--dp-delta", type=float, metavar="D", help="delta of the privacy budget (default 1e-5)")
    p.add_argument("--dp-max-grad-norm", type=float, metavar="C",
                   help="clip every training image's gradient to this L2 norm (default 1)")
    p.add_argument("--dp-noise-multiplier", type=float, metavar="SIGMA",
                   help="noise std / C (default: calibrated so --steps x n_D D steps spend exactly E)")
    p.add_argument("--dp-accountant", choices=["rdp", "prv"], help="opacus accountant (default rdp)")
    p.add_argument("--dp-clipping", choices=["pair", "separate"],
                   help="clip each real image's gradient with its paired fake's (pair, the default) or each on its "
                        "own (separate: a fixed number of fakes per step; the same noise, the same epsilon)")


def build_gan_config(args, data_only: bool = False) -> GANRunConfig:
    """The GAN run config from a preset, an optional config file, then command-line options. data_only: without the
    model, GAN and privacy options, for reading the data before a preset is picked (some of them, such as
    --consistency, are checked against parts of the preset still to be picked)."""
    from ganvq.runs import build_run_config

    gan = {"lr_d": args.lr_d, "loss": args.loss, "n_d": args.n_d, "ema_decay": args.ema_decay,
           "ema_power": args.ema_power, "r1_gamma": args.r1_gamma, "diffaugment": args.diffaugment,
           "diffaugment_p": args.diffaugment_p,
           "diffaugment_target": args.diffaugment_target, "diffaugment_shift": args.diffaugment_shift,
           "diffaugment_fill": args.diffaugment_fill, "real_shift": args.real_shift, "conditional": args.conditional,
           "on_diverge": args.on_diverge, "sample_every": args.sample_every, "class_loss": args.class_loss,
           "lecam_weight": args.lecam, "consistency_weight": args.consistency}
    model = {"image_size": args.image_size, "arch": args.arch, "d_norm": args.d_norm,
             "d_projection": args.d_projection}
    privacy = {"epsilon": args.dp_epsilon, "delta": args.dp_delta, "max_grad_norm": args.dp_max_grad_norm,
               "noise_multiplier": args.dp_noise_multiplier, "accountant": args.dp_accountant,
               "clipping": args.dp_clipping}
    options = {"model": model, "train": _train_options(args), "gan": gan, "privacy": privacy,
               **_data_options(args), "subset": args.subset, "subset_seed": args.subset_seed}
    if data_only:
        options = {k: v for k, v in options.items() if k not in ("model", "gan", "privacy")}
    return build_run_config("gan", args.preset, args.config, options)


def _train_gan(args) -> dict:
    from ganvq.train.gan import train_gan

    out, resume = _run_target(args)
    if resume:
        return _printed(train_gan(None, out, **_resuming(args)))
    if args.preset is None:
        args.preset = _default_gan_preset(args)
    config = build_gan_config(args)
    _check_colour_preset(args, config, "fmnist-best (or few-100 for a few hundred images)")
    return _printed(train_gan(config, out, quiet=args.quiet))


def _default_gan_preset(args) -> str:
    """The preset of a `train gan` that names none: dp-fmnist for private training, else by the number of training
    images and their colour (runs.presets.default_gan_preset), said on stderr when it is not fmnist-best."""
    from ganvq.data.datasets import training_images_and_channels
    from ganvq.runs.presets import SMALL_DATA_IMAGES, default_gan_preset

    if args.dp_epsilon is not None:
        probe = argparse.Namespace(**{**vars(args), "preset": "dp-fmnist"})  # the data as dp-fmnist reads it
        colour = _data_channels(build_gan_config(probe, data_only=True)) == 3
        _say_preset(args, "dp-fmnist", "private training (--dp-epsilon)"
                    + (" of colour images, for which no private recipe is measured" if colour else ""))
        return "dp-fmnist"
    # fmnist-best under the config file and the data options: the data, as training sees it
    config = build_gan_config(args, data_only=True)
    n, channels = training_images_and_channels(config.data, config.limit, config.val_fraction)  # one read
    n, channels = config.subset or n, config.channels or channels
    name = default_gan_preset(n, channels, args.image_size)
    colour = "colour " if channels == 3 else ""
    if n <= SMALL_DATA_IMAGES:
        _say_preset(args, name, f"{n:,} {colour}training images (at most {SMALL_DATA_IMAGES:,})")
    elif colour:
        _say_preset(args, name, "colour images")
    return name


def _add_train_prior(sub) -> None:
    p = sub.add_parser("prior", help="train an autoregressive prior over a VQ-VAE's code maps",
                       description="Encode the training images with a trained VQ-VAE, then train an autoregressive "
                                   "prior over the code maps (for sampling and compression).")
    p.add_argument("--vqvae", help="trained VQ-VAE: checkpoint file or run folder (required unless --resume)")
    p.add_argument("-o", "--out", help="run folder: checkpoint (with the VQ-VAE inside), metrics.jsonl, config.json "
                                 "(required unless --resume RUN)")
    p.add_argument("--data", help="dataset to encode (default: the VQ-VAE's training data)")
    p.add_argument("--config", help="JSON/YAML file with options (model:, train:, ...) overriding the defaults")
    p.add_argument("--steps", type=int, help="optimiser steps (default 5000 unless --minutes is given)")
    p.add_argument("--minutes", type=float, help="wall-clock training budget; the final scoring and "
                   "checkpoint come after it (default: none, --steps decides)")
    p.add_argument("--arch", choices=["transformer", "local", "maskgit"],
                   help="transformer (default): fewest bits; local: a small MLP over each code's causal "
                        "neighbours, ~25x fewer multiply-adds per code, for a fast codec; maskgit: a bidirectional "
                        "masked-code transformer for filling holes (restore), no codec")
    p.add_argument("--dim", type=int, help="transformer (and maskgit) width, or local hidden width (default 128; "
                                           "local 96)")
    p.add_argument("--layers", type=int, help="transformer (and maskgit) blocks, or local hidden layers (default 4; "
                                              "local 2)")
    p.add_argument("--neighbors", type=int, help="local only: neighbours each code is predicted from (default 8)")
    p.add_argument("--heads", type=int, help="attention heads (default 4)")
    p.add_argument("--dropout", type=float, help="dropout probability in the transformer (default 0.1)")
    p.add_argument("--class-conditional", action="store_true", help="one start token per class (labelled data)")
    p.add_argument("--batch-size", type=int, help="code maps per step (default 128)")
    p.add_argument("--lr", type=float, help="learning rate (default 1e-3)")
    _add_run_options(p)
    _add_logging_options(p)
    p.set_defaults(func=_train_prior)


def build_prior_config(args) -> PriorRunConfig:
    """The prior run config from defaults, an optional config file, then command-line options."""
    from ganvq.runs import build_run_config

    model = {"arch": args.arch, "dim": args.dim, "layers": args.layers, "heads": args.heads,
             "dropout": args.dropout, "neighbors": args.neighbors}
    return build_run_config("prior", None, args.config, {
        "vqvae": args.vqvae, "model": model, "train": _train_options(args), "data": args.data, "limit": args.limit,
        "val_fraction": args.val_fraction, "class_conditional": args.class_conditional or None})


def _train_prior(args) -> dict:
    from ganvq.train.prior import train_prior

    out, resume = _run_target(args)
    if resume:
        return _printed(train_prior(None, out, **_resuming(args)))
    return _printed(train_prior(build_prior_config(args), out, quiet=args.quiet))


def add_train_commands(sub) -> None:
    """`ganvq train MODEL` for every model kind."""
    train = sub.add_parser("train", help="train a model").add_subparsers(dest="model", required=True, metavar="MODEL")
    _add_train_vqvae(train)
    _add_train_vqgan(train)
    _add_train_gan(train)
    _add_train_prior(train)
