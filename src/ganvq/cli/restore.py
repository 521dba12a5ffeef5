"""`ganvq restore`: fill holes, or undo the damage a restoration-trained VQ-VAE learned to undo."""

from __future__ import annotations


def _restore(args) -> dict:
    from ganvq.cli.commands import _inputs
    from ganvq.commands.restore import restore

    return restore(args.ckpt, _inputs(args, one=True)[0], args.out, mask=args.mask, samples=args.samples,
                   seed=args.seed, damage=args.damage, candidates=args.candidates, limit=args.limit,
                   device=args.device, quiet=args.quiet, out_size=args.out_size)


def add_restore_command(sub) -> None:
    """`ganvq restore INPUT -o OUT --ckpt RUN [--mask M] [--samples K]`."""
    from ganvq.cli.commands import _add_device, _add_inputs

    p = sub.add_parser("restore", help="restore damaged images: complete holes through a prior over codes, or "
                                       "denoise/deblur/de-JPEG with a VQ-VAE trained with --corrupt",
                       description="Restore damaged images. With a prior run (ganvq train prior) the codes under a "
                                   "hole are redrawn from the prior, conditioned on the visible codes; with a VQ-VAE "
                                   "trained with `train vqvae --corrupt DAMAGE` the model undoes that damage. "
                                   "Visible pixels are kept as they are.")
    _add_inputs(p, "damaged image file, folder of images, IDX/.npz/.npy file or dataset name", one=True)
    p.add_argument("-o", "--out", required=True,
                   help="output folder: one PNG per image, named as the input (NAME-k.png with --samples K), and "
                        "grid.png (the first 64 damaged images above their restorations; with --samples K, the "
                        "first 8, each above its K completions)")
    p.add_argument("--ckpt", required=True, help="prior run (for holes) or VQ-VAE run trained with --corrupt")
    p.add_argument("--mask", metavar="MASK",
                   help="the missing pixels: a mask image (white, at least 128 of 255: missing; 1 in a 0/1 mask) of the "
                        "model's image size, or of the input files' own size where they all share one (it is then "
                        "resized and centre-cropped as they are) "
                        "or a shape, center (the centred half-size box), box:x,y,w,h or random:p (a fraction p of the pixels, drawn per "
                        "image from --seed); default for a mask-trained VQ-VAE: the mask it was trained with")
    p.add_argument("--out-size", choices=["input", "model"],
                   help="size of the images written for image files of another size than the model's: input (the "
                        "default for holes) pastes each restored hole, upsampled from the model's size, into the "
                        "image at its own size and keeps every other pixel (upright, in the model's gray or RGB, 8 "
                        "bits); model writes what the model restored, resized and centre-cropped (the only choice "
                        "for --damage and for a VQ-VAE trained on noise, blur or JPEG). Never into an input file: "
                        "an output folder where an output would replace an input image is refused")
    p.add_argument("--samples", type=int, default=1, metavar="K",
                   help="prior runs: K different completions of each image (default 1)")
    p.add_argument("--candidates", type=int, default=4, metavar="C",
                   help="prior runs: each completion is the most likely of C draws, scored with the codes after "
                        "the hole too (default 4; 1: plain ancestral sampling)")
    p.add_argument("--damage", metavar="DAMAGE",
                   help="damage clean inputs first, to see a model at work: noise:SIGMA, blur:SIGMA or jpeg:QUALITY")
    p.add_argument("--seed", type=int, default=0, help="seed of the completions, random masks and --damage noise")
    p.add_argument("--limit", type=int, help="first N images only (default: all)")
    _add_device(p)
    p.set_defaults(func=_restore)
