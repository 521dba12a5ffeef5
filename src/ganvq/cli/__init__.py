"""`ganvq <command>`: argument parsing and error reporting over the Python API, nothing more."""

from __future__ import annotations

import argparse
import json
import sys

from ganvq.cli.commands import add_commands
from ganvq.cli.train import add_train_commands, build_gan_config, build_prior_config, build_vqvae_config
from ganvq.errors import GanvqError

__all__ = ["build_gan_config", "build_parser", "build_prior_config", "build_vqvae_config", "main"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ganvq", description="Image generation and reconstruction with GANs and VQ-VAEs.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_train_commands(sub)
    add_commands(sub)
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
