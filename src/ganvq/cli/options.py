"""Command-line numbers checked where they are parsed: one line and exit 2 for a value no command can use.

`harden(parser)` walks every (sub)command once the parser is built and gives each `type=int` and
`type=float` option a checked type: integers at least 1 unless listed in INT_MINIMUM, at most a bound
that keeps allocations sane (INT_MAXIMUM), and floats finite, positive where listed in POSITIVE. The
configs check their own ranges again (a config file bypasses the command line); this catches the rest
(sampling counts, limits, sizes) before anything runs.
"""

from __future__ import annotations

import argparse
import math

# others: at least 1; a VQGAN's start steps may be 0 (from the first step, the default), seeds from 0 (the default)
INT_MINIMUM = {"--seed": 0, "--subset-seed": 0, "--sample-every": 0, "--disc-start": 0,
               "--perceptual-start": 0, "--perceptual-ramp": 0}
INT_MAXIMUM = {  # others: DEFAULT_INT_MAXIMUM
    "--n": 1_000_000, "--rows": 1_000, "--steps": 10**12, "--batch": 1_000_000, "--batch-size": 1_000_000,
    "--image-size": 4096, "--threads": 1024, "--seed": 2**63 - 1, "--subset-seed": 2**63 - 1, "--top-k": 1 << 20,
    "--codebook-size": 1 << 20,
    "--levels": 64, "--epochs": 10_000,
}
DEFAULT_INT_MAXIMUM = 10**9
POSITIVE = {"--lr", "--lr-d", "--minutes", "--truncation", "--temperature"}  # floats > 0 (--ckpt-minutes 0: off)


def _int_type(name: str, lo: int, hi: int):
    def parse(text: str) -> int:
        try:
            value = int(text.strip().replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be at least {lo}, got {value}")
        if value > hi:
            raise argparse.ArgumentTypeError(f"must be at most {hi:,}, got {value:,}")
        return value

    parse.__name__ = "whole number"
    return parse


def _float_type(name: str, positive: bool):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if positive and value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


def harden(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give every int and float option of `parser` and its subcommands a checked type (see the module doc)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                harden(sub)
            continue
        name = max(action.option_strings, key=len, default=action.dest)
        if action.type is int:
            action.type = _int_type(name, INT_MINIMUM.get(name, 1), INT_MAXIMUM.get(name, DEFAULT_INT_MAXIMUM))
        elif action.type is float:
            action.type = _float_type(name, name in POSITIVE)
    return parser
