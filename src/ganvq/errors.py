"""The one exception family ganvq raises for problems a user can act on."""


class GanvqError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits with code 2."""


def warn(message: str) -> None:
    """A one-line warning for the user on stderr (e.g. unreadable files that were skipped)."""
    import sys

    print(f"ganvq: warning: {message}", file=sys.stderr)
