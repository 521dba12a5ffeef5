"""`python -m ganvq`: the same as the `ganvq` command."""

import sys

from ganvq.cli import main

sys.exit(main())
