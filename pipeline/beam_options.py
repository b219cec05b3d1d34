"""Beam `PipelineOptions` from the CLI's leftover arguments (and `--workers`).

Local runs default to FnApiRunner: the DirectRunner's default would first try to download
the Prism binary, which fails (or hangs) offline. Unknown flags are an error, not a
warning, so a typo never silently changes a run. `--workers N` is the local runner's
`--direct_running_mode=multi_processing --direct_num_workers=N`: N worker processes, while
the launching process holds the shuffles and moves every element between stages. The
workers start as `pipeline.worker_main` (`local_runner`).
"""

from __future__ import annotations

import argparse
import os

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions
from apache_beam.portability import python_urns
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.runners.runner import PipelineRunner, create_runner

from core.errors import UserError
from pipeline.lean_imports import DEFAULT_LOCAL_RUNNER, LOCAL_RUNNERS

_WORKER_FLAGS = ("--direct_running_mode", "--direct_num_workers")
_BEAM_WORKER = b" -m apache_beam.runners.worker.sdk_worker_main"
_OUR_WORKER = b" -m pipeline.worker_main"


def _beam_parser() -> argparse.ArgumentParser:
    """A parser that knows every Beam pipeline option (as Beam registers them)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for cls in PipelineOptions.__subclasses__():
        cls._add_argparse_args(parser)  # noqa: SLF001 - Beam's own registration hook
    return parser


def _check_runner(name: str) -> None:
    """An unknown `--runner` fails here with one line, not with Beam's traceback at run time."""
    try:
        create_runner(name)
    except (ValueError, ImportError, AttributeError) as e:
        known = ", ".join(StandardOptions.KNOWN_RUNNER_NAMES)
        raise UserError(f"unknown --runner {name!r}; one of {known}, "
                        "or the dotted path of a PipelineRunner class") from e


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


def local_workers(options: PipelineOptions) -> int:
    """How many worker processes (or threads) the local runner splits each stage over: 1
    unless `--direct_running_mode` is multi_processing/multi_threading (0 workers: one per
    CPU, as FnApiRunner reads it). Other runners size their pool themselves: 1."""
    direct = options.view_as(DirectOptions)
    runner = options.view_as(StandardOptions).runner
    if (runner and runner not in LOCAL_RUNNERS) or direct.direct_running_mode == "in_memory":
        return 1
    return direct.direct_num_workers or os.cpu_count() or 1


class WorkerProcessesRunner(FnApiRunner):
    """FnApiRunner whose `multi_processing` workers run `pipeline.worker_main` (Beam's SDK
    worker without Beam's unused optional imports: a worker starts in about half the CPU)."""

    def run_via_runner_api(self, pipeline_proto, options):
        use_worker_main(pipeline_proto)
        return super().run_via_runner_api(pipeline_proto, options)


def use_worker_main(pipeline_proto) -> None:
    """Point the worker command of the graph's subprocess environments at our entry point."""
    for env in pipeline_proto.components.environments.values():
        if env.urn == python_urns.SUBPROCESS_SDK:
            env.payload = env.payload.replace(_BEAM_WORKER, _OUR_WORKER)


def local_runner(options: PipelineOptions) -> PipelineRunner | None:
    """The runner object for `beam.Pipeline(runner=...)`: `WorkerProcessesRunner` for
    FnApiRunner's `multi_processing` mode (`--workers N`), else None (Beam's, by name)."""
    multi = options.view_as(DirectOptions).direct_running_mode == "multi_processing"
    if multi and options.view_as(StandardOptions).runner == "FnApiRunner":
        return WorkerProcessesRunner()
    return None


class ViewCachingOptions(PipelineOptions):
    """`PipelineOptions` that build each view once. Beam calls `view_as` for every applied
    transform and type check (~370 times while building `shards`), and each call builds an
    argparse parser and parses the flags again: ~0.26 CPU-s, an eighth of a 1-document run.
    A view keeps no values of its own (it reads and writes the options' shared
    `_all_options`), so one view per class behaves as a new one each time. The views are not
    part of the pickled or deep-copied state (`Pipeline` deep-copies its options)."""

    def view_as(self, cls):
        views = self.__dict__.setdefault("_views", {})
        if cls not in views:
            views[cls] = super().view_as(cls)
        return views[cls]

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_views", None)
        return state


def make_pipeline_options(beam_args: list[str]) -> PipelineOptions:
    """Validated Beam options; raises UserError naming the first unknown flag or stray value.

    Beam itself only warns about arguments it cannot parse and drops them, so a stray
    positional (e.g. the second file of an unquoted wildcard) would silently be ignored.
    """
    parser = _beam_parser()
    known = {opt for action in parser._actions for opt in action.option_strings}  # noqa: SLF001
    for arg in beam_args:
        if arg.startswith("--") and arg.split("=", 1)[0] not in known:
            raise UserError(f"unrecognized argument {arg.split('=', 1)[0]!r} "
                            "(not a pipeline or Beam option)")
    _, stray = parser.parse_known_args(beam_args)
    if stray:
        raise UserError(f"unexpected argument {stray[0]!r} (to read several inputs, give them "
                        "all after one --input)")
    options = ViewCachingOptions(beam_args)
    standard = options.view_as(StandardOptions)
    if not standard.runner:
        standard.runner = DEFAULT_LOCAL_RUNNER
    elif isinstance(standard.runner, str):
        _check_runner(standard.runner)
    return options


def is_dry_run(options: PipelineOptions) -> bool:
    """`--dry_run` (DataflowRunner): the job is only built, so nothing may touch the output."""
    return bool(options.get_all_options().get("dry_run"))
