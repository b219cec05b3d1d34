"""Options, pipeline assembly and run summaries for the `beam_runner.py` subcommands."""
