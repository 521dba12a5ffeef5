"""`ganvq db create|add|get|search|info|export|check`: an image database on codes (ganvq.commands.db)."""

from __future__ import annotations

import argparse

MAX_ID = (1 << 32) - 1


def _entry_id(text: str) -> int:
    """An entry ID: a whole number from 0 (not `int`, which the CLI's checks would start at 1)."""
    try:
        value = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"an entry ID is a whole number, got {text!r}") from None
    if not 0 <= value <= MAX_ID:
        raise argparse.ArgumentTypeError(f"an entry ID lies in [0, {MAX_ID:,}], got {value}")
    return value


def _create(args) -> dict:
    from ganvq.commands.db import create_db

    return create_db(args.archive, args.ckpt, embedding=args.embedding, dim=args.dim)


def _add(args) -> dict:
    from ganvq.commands.db import add_to_db

    return add_to_db(args.archive, args.inputs, split=args.split, limit=args.limit, batch=args.batch,
                     resize=args.resize, ckpt=args.ckpt, quiet=args.quiet, skip_existing=args.skip_existing)


def _get(args) -> dict:
    from ganvq.commands.db import get_from_db

    return get_from_db(args.archive, args.ids, args.out, ckpt=args.ckpt)


def _search(args) -> dict:
    from ganvq.commands.db import search_db

    return search_db(args.archive, args.query, k=args.k, ckpt=args.ckpt, method=args.method)


def _info(args) -> dict:
    from ganvq.commands.db import info_db

    return info_db(args.archive)


def _check(args) -> dict:
    from ganvq.commands.db import check_db

    return check_db(args.archive)


def _export(args) -> dict:
    from ganvq.commands.db import export_db

    return export_db(args.archive, args.out, fmt=args.format, ckpt=args.ckpt, quiet=args.quiet,
                     skip_damaged=args.skip_damaged)


def add_db_commands(sub) -> None:
    """The `db` command and its subcommands."""
    db = sub.add_parser("db", help="an image database on codes: one .gvqdb archive, fetch any image, search by "
                                   "similarity").add_subparsers(dest="action", required=True, metavar="ACTION")

    def command(name: str, help: str, func, ckpt: bool = True):
        p = db.add_parser(name, help=help)
        p.add_argument("archive", metavar="LIB.gvqdb", help="the archive file")
        if ckpt:
            p.add_argument("--ckpt", help="the prior checkpoint (default: the one the archive was created with)")
        p.set_defaults(func=func)
        return p

    p = command("create", "a new, empty archive for the images a prior checkpoint codes", _create, ckpt=False)
    p.add_argument("--ckpt", required=True, help="prior checkpoint or run folder (it holds its VQ-VAE)")
    p.add_argument("--embedding", choices=["auto", "features", "codes"], default="auto",
                   help="search embedding: features (the shipped Fashion-MNIST CNN, for 28x28 grayscale), codes "
                        "(pooled codebook vectors, any data); auto (default) picks features for 28x28 grayscale")
    p.add_argument("--dim", type=int, default=32, help="bytes of embedding per image (PCA dimensions; default 32)")

    p = command("add", "add images (files, folders, datasets); labels and source names are kept", _add)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or a dataset")
    p.add_argument("--split", default="all", help="split of a dataset with named splits (default all)")
    p.add_argument("--limit", type=int, help="first N images only")
    p.add_argument("--batch", type=int, default=1000, help="images per commit (default 1000)")
    p.add_argument("--resize", action="store_true", help="resize images of another size or colour to the model's "
                                                         "(without it they are refused)")
    p.add_argument("--skip-existing", action="store_true",
                   help="leave out images whose source name the archive holds already: finishes an add that was "
                        "stopped (Ctrl-C, an error) without adding its images twice")

    p = command("get", "entries decoded to PNGs (OUT/ID.png)", _get)
    p.add_argument("ids", nargs="+", type=_entry_id, metavar="ID", help="entry IDs (as add, search and info print them)")
    p.add_argument("-o", "--out", required=True, help="output folder")

    p = command("search", "the entries most similar to an image file or an entry", _search)
    p.add_argument("--query", required=True, help="an entry ID or an image file (a file named like a number: ./NAME)")
    p.add_argument("-k", "--k", type=int, default=10, help="neighbours (default 10)")
    p.add_argument("--method", choices=["auto", "exact", "hnsw"], default="auto",
                   help="auto (default): exact up to 250,000 entries, HNSW (faiss) above")

    command("info", "entries, bytes by part, model and embedding", _info, ckpt=False)
    command("check", "verify every checksum; names damaged entries by ID", _check, ckpt=False)

    p = command("export", "every entry to PNGs or to one-image .gvq files, with index.csv", _export)
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.add_argument("--format", choices=["png", "gvq"], default="png",
                   help="png: decoded images; gvq: one-image .gvq files, decoded by ganvq decompress")
    p.add_argument("--skip-damaged", action="store_true",
                   help="leave out entries that fail their checks (listed in a warning) instead of stopping")
