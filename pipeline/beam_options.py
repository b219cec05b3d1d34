"""Beam `PipelineOptions` from the CLI's leftover arguments (and `--workers`).

Local runs default to FnApiRunner: the DirectRunner's default would first try to download
the Prism binary, which fails (or hangs) offline. Unknown flags are an error, not a
warning, so a typo never silently changes a run. `--workers N` is the local runner's
`--direct_running_mode=multi_processing --direct_num_workers=N`: N worker processes, while
the launching process holds the shuffles and moves every element between stages.
"""

from __future__ import annotations

import argparse

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from core.errors import UserError

DEFAULT_LOCAL_RUNNER = "FnApiRunner"
LOCAL_RUNNERS = ("FnApiRunner", "DirectRunner", "BundleBasedDirectRunner")
_WORKER_FLAGS = ("--direct_running_mode", "--direct_num_workers")


def _known_beam_flags() -> set[str]:
    parser = argparse.ArgumentParser(add_help=False)
    for cls in PipelineOptions.__subclasses__():
        cls._add_argparse_args(parser)  # noqa: SLF001 - Beam's own registration hook
    return {opt for action in parser._actions for opt in action.option_strings}  # noqa: SLF001


def worker_args(workers: int | None, beam_args: list[str]) -> list[str]:
    """The Beam flags for `--workers N` on the local runner (none for one in-process worker).

    Refused with another runner (Dataflow sizes its pool with --max_num_workers) or next to
    the raw --direct_* flags it stands for, so that no flag silently wins over another.
    """
    if workers is None:
        return []
    if workers < 1:
        raise UserError(f"--workers must be >= 1; got {workers}")
    runner = PipelineOptions(beam_args).view_as(StandardOptions).runner
    if runner and runner not in LOCAL_RUNNERS:
        raise UserError(f"--workers is for the local runner, not {runner}; "
                        "size a Dataflow job with --max_num_workers")
    if any(arg.startswith(_WORKER_FLAGS) for arg in beam_args):
        raise UserError("give either --workers or --direct_running_mode/--direct_num_workers")
    if workers == 1:
        return []
    return ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]


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
