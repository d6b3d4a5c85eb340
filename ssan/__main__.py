"""`python -m ssan ...`: the command line (see ssan/cli.py)."""

from ssan.cli import main

if __name__ == "__main__":  # not when a reader's child process imports this module
    raise SystemExit(main())
