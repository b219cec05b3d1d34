"""Beam `PipelineOptions` from the CLI's leftover arguments.

Local runs default to FnApiRunner: the DirectRunner's default would first try to download
the Prism binary, which fails (or hangs) offline. Unknown flags are an error, not a
warning, so a typo never silently changes a run.
"""

from __future__ import annotations

import argparse

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from core.errors import UserError

DEFAULT_LOCAL_RUNNER = "FnApiRunner"


def _known_beam_flags() -> set[str]:
    parser = argparse.ArgumentParser(add_help=False)
    for cls in PipelineOptions.__subclasses__():
        cls._add_argparse_args(parser)  # noqa: SLF001 - Beam's own registration hook
    return {opt for action in parser._actions for opt in action.option_strings}  # noqa: SLF001


def make_pipeline_options(beam_args: list[str]) -> PipelineOptions:
    """Validated Beam options; raises UserError naming the first unknown flag."""
    known = _known_beam_flags()
    for arg in beam_args:
        if arg.startswith("--"):
            flag = arg.split("=", 1)[0]
            if flag not in known:
                raise UserError(f"unrecognized argument {flag!r} (not a pipeline or Beam option)")
    options = PipelineOptions(beam_args)
    if not options.view_as(StandardOptions).runner:
        options.view_as(StandardOptions).runner = DEFAULT_LOCAL_RUNNER
    return options


def is_dry_run(options: PipelineOptions) -> bool:
    """`--dry_run` (DataflowRunner): the job is only built, so nothing may touch the output."""
    return bool(options.get_all_options().get("dry_run"))
