"""`ganvq <command>`: argument parsing and error reporting over the Python API, nothing more."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys

from ganvq.cli.audit import add_audit_commands
from ganvq.cli.commands import add_commands
from ganvq.cli.db import add_db_commands
from ganvq.cli.examples import add_examples
from ganvq.cli.options import harden
from ganvq.cli.parser import Parser, add_global_options
from ganvq.cli.restore import add_restore_command
from ganvq.cli.train import add_train_commands, build_gan_config, build_prior_config, build_vqvae_config
from ganvq.errors import GanvqError

__all__ = ["build_gan_config", "build_parser", "build_prior_config", "build_vqvae_config", "main"]

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """The `ganvq` parser: every command, with global options, examples and checked numbers."""
    parser = Parser(prog="ganvq", description="Image generation and reconstruction with GANs and VQ-VAEs.",
                    epilog="environment:\n"
                           "  GANVQ_MAX_PIXELS        pixel values of one array read (default 2^31)\n"
                           "  GANVQ_MAX_IMAGE_PIXELS  pixels of one image file read (default 89,478,485)\n"
                           "  GANVQ_PROGRESS_SECONDS  seconds between progress lines when output is not a "
                           "terminal (default 15)\n"
                           "Set a limit higher to read larger inputs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_train_commands(sub)
    add_commands(sub)
    add_restore_command(sub)
    add_db_commands(sub)
    add_audit_commands(sub)
    add_global_options(parser)
    add_examples(parser)
    return harden(parser)


class _Terminated(KeyboardInterrupt):
    """SIGTERM outside training (whose loop saves a checkpoint first): ends the command like Ctrl-C does."""

    signum = signal.SIGTERM


def _terminate(signum, frame) -> None:
    raise _Terminated


def _import_numerics() -> None:
    """Import numpy, torch and the training loop with SIGINT and SIGTERM held back until they are in. A signal
    landing inside their C initialisation can be swallowed there (torch clears a failed numpy import and goes on), so
    a Ctrl-C at start-up ended as a finished run (exit 0) or as an error from a half-imported numpy. Held back, it is
    raised right after the imports, where main() turns it into one line and 128 + signal."""
    try:
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    except (AttributeError, ValueError, OSError):  # no pthread_sigmask here, or not the main thread
        held = None
    try:
        import numpy  # noqa: F401
        import torch  # noqa: F401

        import ganvq.train.loop  # noqa: F401
    finally:
        if held is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)


def main(argv: list[str] | None = None) -> int:
    """Run one ganvq command; returns the process exit code (128 + signal after SIGINT/SIGTERM, with one line).
    A process that joined torchrun's process group does not return: it exits at once with that code."""
    code = _run(argv)
    if not _flushed():
        code = 128 + signal.SIGPIPE
    distributed = sys.modules.get("ganvq.train.distributed")
    if argv is None and distributed is not None and distributed.joined_a_group():
        # Leave without the interpreter's finalization, where torch's gloo teardown sometimes aborts a rank after a
        # run that succeeded ("terminate called without an active exception", exit -6, which torchrun reports as
        # the run's failure; seen in tests/distributed, 9 of 100 two-process runs). Every file is written by now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _run(argv: list[str] | None) -> int:
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread: signals stay as they are
        previous = None
    try:
        _import_numerics()
        return _main(argv)
    except KeyboardInterrupt as e:  # Ctrl-C while starting (importing torch) or in a command that is not training
        signum = getattr(e, "signum", signal.SIGINT)
        print(f"ganvq: {'terminated' if signum == signal.SIGTERM else 'interrupted'}", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:  # `ganvq db search ... | head`: the reader has gone, as with any command-line tool
        _silence_stdout()
        return 128 + signal.SIGPIPE
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _flushed() -> bool:
    """Whether stdout took what is left in its buffer; False (and stdout silenced) when its reader has gone."""
    try:
        sys.stdout.flush()
        return True
    except BrokenPipeError:
        _silence_stdout()
        return False


def _silence_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's last flush into a closed pipe raises nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file (a test's capture): nothing is flushed into a pipe
        pass


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from ganvq.train.loop import TrainingInterrupted

    try:
        result = args.func(args)
    except TrainingInterrupted as e:
        if os.environ.get("RANK", "0") == "0":  # under torchrun every rank stops alike: rank 0 alone says so
            print(f"ganvq: {e}", file=sys.stderr)
        return e.exit_code
    except GanvqError as e:
        if args.debug:
            raise
        print(f"ganvq: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:  # the last resort: sizes are checked before allocation wherever ganvq knows them
        if args.debug:
            raise
        print("ganvq: error: out of memory: an input or a config size is too large for this machine",
              file=sys.stderr)
        return EXIT_USAGE
    if result is not None:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
