"""One example per command, shown at the end of its --help (kept in one place so they read as a set)."""

from __future__ import annotations

import argparse

from ganvq.cli.parser import subcommands

EXAMPLES = {
    (): "ganvq train vqvae --out runs/v1 --minutes 10",
    ("train",): "ganvq train vqvae --out runs/v1 --minutes 10",
    ("train", "vqvae"): "ganvq train vqvae --out runs/v1 --minutes 10",
    ("train", "vqgan"): "ganvq train vqgan --out runs/vg1 --preset fmnist-7x7 --minutes 10",
    ("train", "gan"): "ganvq train gan --out runs/g1 --preset fmnist-best --minutes 30",
    ("train", "prior"): "ganvq train prior --vqvae runs/v1 --out runs/p1 --minutes 10",
    ("sample",): "ganvq sample --ckpt runs/g1 -o samples.png --n 64",
    ("interpolate",): "ganvq interpolate --ckpt runs/g1 -o walk.png --rows 8 --steps 10",
    ("compress",): "ganvq compress photos/ -o photos-gvq --ckpt runs/p1",
    ("decompress",): "ganvq decompress photos-gvq -o photos-png --ckpt runs/p1",
    ("reconstruct",): "ganvq reconstruct shirt.png -o rec --ckpt runs/v1   (writes rec/shirt.png and rec/grid.png)",
    ("restore",): "ganvq restore shirt.png -o fixed --ckpt runs/p1 --mask center --samples 4",
    ("encode",): "ganvq encode photos/ -o codes.npy --ckpt runs/v1",
    ("decode",): "ganvq decode codes.npy -o images --ckpt runs/v1",
    ("eval",): "ganvq eval vqvae --ckpt runs/v1",
    ("eval", "vqvae"): "ganvq eval vqvae --ckpt runs/v1 -o runs/v1/eval-vqvae.json",
    ("eval", "gan"): "ganvq eval gan --ckpt runs/g1 --n 10000",
    ("eval", "folder"): "ganvq eval folder --fake samples/ --real fashion-mnist",
    ("metrics",): "ganvq metrics build-extractor -o my-cnn.safetensors",
    ("metrics", "build-extractor"): "ganvq metrics build-extractor -o my-cnn.safetensors --epochs 8",
    ("report",): "ganvq report runs/v1 runs/g1 -o report.html",
    ("db",): "ganvq db create lib.gvqdb --ckpt runs/p1",
    ("db", "create"): "ganvq db create lib.gvqdb --ckpt runs/p1",
    ("db", "add"): "ganvq db add lib.gvqdb photos/",
    ("db", "get"): "ganvq db get lib.gvqdb 0 1 2 -o images",
    ("db", "search"): "ganvq db search lib.gvqdb --query shirt.png -k 5",
    ("db", "info"): "ganvq db info lib.gvqdb",
    ("db", "check"): "ganvq db check lib.gvqdb",
    ("db", "export"): "ganvq db export lib.gvqdb -o images --format png",
    ("audit",): "ganvq audit membership --ckpt runs/g1",
    ("audit", "membership"): "ganvq audit membership --ckpt runs/g1 --members train --non-members test --n 1000",
}


def add_examples(parser: argparse.ArgumentParser) -> None:
    """Append its example to the help of every command that has one and no example of its own."""
    for path, sub in subcommands(parser):
        example = EXAMPLES.get(path)
        if example and "example:" not in (sub.epilog or ""):
            sub.epilog = "\n\n".join(filter(None, [sub.epilog, f"example:\n  {example}"]))
