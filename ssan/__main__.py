"""`python -m ssan ...`: the command line (see ssan/cli.py)."""

from ssan.cli import main

raise SystemExit(main())
