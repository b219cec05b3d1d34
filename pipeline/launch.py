"""What every `run_<name>` does around its pipeline: pre-flight checks, run, print the summary.

The checks run before any pipeline is built, so a typo in a flag or input pattern, or an
occupied output dir, fails in a second with one line instead of after the workers start.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from core.config import ReadConfig
from pipeline.beam_options import is_dry_run, make_pipeline_options
from pipeline.local_memory import return_freed_memory
from pipeline.stages import check_local_inputs, with_default_inputs
from pipeline.summary import print_summary


def delete_own_files(output: str, own_files: dict[str, tuple[str, ...]]) -> None:
    """Delete the files an earlier run of this subcommand left in `output` (local or remote).

    `own_files` maps a subdir ("" for `output` itself) to the file patterns the subcommand
    writes there; nothing else is ever deleted.
    """
    stale = []
    for subdir, patterns in own_files.items():
        directory = FileSystems.join(output, subdir) if subdir else output
        for pattern in patterns:
            for result in FileSystems.match([FileSystems.join(directory, pattern)]):
                stale.extend(m.path for m in result.metadata_list)
    if stale:
        FileSystems.delete(stale)


def launch(beam_args: list[str], read_cfg: ReadConfig, prepare_output: Callable[[], None],
           build: Callable[[beam.Pipeline], None], summary_dir: str) -> None:
    """Validate the Beam flags and local inputs, `prepare_output()`, run `build(p)` to the end,
    then print the `summary.json` the pipeline wrote to `summary_dir` with the wall time.

    A `--dry_run` job is only built, never run: its output dir is neither prepared nor read.
    """
    options = make_pipeline_options(beam_args)
    check_local_inputs(with_default_inputs(read_cfg))
    dry_run = is_dry_run(options)
    if not dry_run:
        prepare_output()
        return_freed_memory()
    start = time.monotonic()
    with beam.Pipeline(options=options) as p:
        build(p)
    if dry_run:
        print(f"dry run: the job was built and not run; nothing was written to {summary_dir}")
    else:
        print_summary(summary_dir, time.monotonic() - start)
