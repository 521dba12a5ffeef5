"""The one exception family ganvq raises for problems a user can act on."""


class GanvqError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits with code 2."""
