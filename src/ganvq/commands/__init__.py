"""Command layer: what each `ganvq` command does, over files and run folders, on top of the library."""
