"""`python -m ssan ...`: the command line (see ssan/cli.py)."""

from .cli import main

raise SystemExit(main())
