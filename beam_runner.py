"""Command line of the pipeline: `python beam_runner.py SUBCOMMAND ...` (see README)."""

import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main())
