"""The argparse layer every ganvq command shares: one-line errors with a "did you mean", help that shows
defaults and an example, `--version`, and the global options (`--quiet`, `--debug`) accepted before or
after the command."""

from __future__ import annotations

import argparse
import difflib
import sys
from typing import NoReturn

GLOBAL_OPTIONS = (("--debug", "show tracebacks"),
                  ("--quiet", "no progress display (no bar on a terminal, no progress lines in a log)"))


def version() -> str:
    """ganvq's version: the installed package's metadata, else ganvq.__version__, else "unknown"."""
    from importlib import metadata

    try:
        return metadata.version("ganvq")
    except metadata.PackageNotFoundError:
        import ganvq

        return getattr(ganvq, "__version__", "unknown")


def suggestion(word: str, choices) -> str | None:
    """The choice closest to a mistyped `word` (difflib's ratio of at least 0.6), or None."""
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1)
    return close[0] if close else None


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Epilogs (examples) kept as written; each option's default appended unless its help already says it
    or there is none worth showing (None, False, an empty list)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (not action.option_strings or default in (None, False, argparse.SUPPRESS) or default == []
                or "default" in text or "%(default)" in text or isinstance(action, argparse._VersionAction)):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse with its errors on one line, `ganvq CMD: error: ...`, naming the closest command, option or
    choice when a word is mistyped; options are taken only when spelt out in full."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        # no prefixes: `--dat` for `--data` would stop working, or change meaning, once an option starting
        # alike is added; a prefix gets "did you mean" instead
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        if "required" in message:  # a mistyped option (--outdir) is why a required one (--out-dir) is missing
            options = [o for o in self._option_string_actions if o.startswith("--")]
            for word in (w.split("=", 1)[0] for w in getattr(self, "_words", ()) if w.startswith("--")):
                if word not in options and (close := suggestion(word, options)):
                    message = f"unknown option {word!r}; did you mean {close!r}?"
                    break
        hint = "" if "did you mean" in message else f" (see {self.prog} --help)"
        print(f"{self.prog}: error: {message}{hint}", file=sys.stderr)
        self.exit(2)

    def _check_value(self, action: argparse.Action, value) -> None:
        if action.choices is None or value in action.choices:
            return
        close = suggestion(str(value), action.choices)
        if isinstance(action, argparse._SubParsersAction):
            message = f"unknown {(action.metavar or 'command').lower()} {value!r}"  # command, model, action
            if close:
                raise argparse.ArgumentError(None, f"{message}; did you mean {close!r}?")
            raise argparse.ArgumentError(None, f"{message}; choose from {', '.join(map(str, action.choices))}")
        if close:
            raise argparse.ArgumentError(action, f"invalid choice {value!r}; did you mean {close!r}?")
        super()._check_value(action, value)

    def parse_known_args(self, args=None, namespace=None):
        self._words = list(sys.argv[1:] if args is None else args)  # for error(): the words as typed
        namespace, extras = super().parse_known_args(args, namespace)
        options = [s for s in self._option_string_actions if s.startswith("--")]
        for extra in extras:
            if extra.startswith("--") and len(extra) > 2:
                word = extra.split("=", 1)[0]
                close = suggestion(word, options)
                if close:
                    self.error(f"unknown option {word!r}; did you mean {close!r}?")
        if extras and " " in self.prog:  # a command's own parser: name its leftovers with its own --help
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command words, parser) for `parser` and every (sub)command below it, each parser once."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    yield from subcommands(sub, (*path, name))


def add_global_options(parser: argparse.ArgumentParser) -> None:
    """--debug and --quiet on the top level (default off) and on every command; a command's copy defaults to
    SUPPRESS so it never resets a flag given before the command."""
    parser.add_argument("--version", action="version", version=f"ganvq {version()}",
                        help="print ganvq's version and exit")
    for name, text in GLOBAL_OPTIONS:
        parser.add_argument(name, action="store_true", help=text)
    for path, sub in subcommands(parser):
        if path:
            group = sub.add_argument_group("global options (also accepted before the command)")
            for name, text in GLOBAL_OPTIONS:
                group.add_argument(name, action="store_true", default=argparse.SUPPRESS, help=text)
