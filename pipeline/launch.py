"""What every `run_<name>` does around its pipeline: pre-flight checks, run, print the summary.

The checks run before any pipeline is built, so a typo in a flag or input pattern, or an
occupied output dir, fails in a second with one line instead of after the workers start.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import logging
import re
import time
from collections.abc import Callable, Iterator

import apache_beam as beam
from apache_beam.options.pipeline_options import StandardOptions

from core.config import ReadConfig
from core.errors import UserError
from pipeline.beam_options import (
    LOCAL_RUNNERS,
    is_dry_run,
    local_runner,
    make_pipeline_options,
)
from pipeline.local_memory import release_finished_stages, return_freed_memory
from pipeline.output_dir import OwnFiles, prepare_output_dir
from pipeline.progress import progress_lines
from pipeline.stages import check_local_inputs, check_remote_inputs, with_default_inputs
from pipeline.summary import print_summary
from pipeline.worker_zygote import zygote
from transforms.spill import spill_dir

_NO_SPACE = re.compile(r"No space left on device(?:: '([^']+)')?")


def no_space_path(error: BaseException) -> str | None:
    """The file a run failed to write because the disk was full ("" if unnamed), else None.

    Beam re-raises a worker's error wrapped in its own (in-process: the same OSError type
    with its stage names appended; multi-process: a RuntimeError holding the remote
    traceback as text), so both the exception chain and the message are searched.
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return str(error.filename or "")
        if match := _NO_SPACE.search(str(error)):
            return match.group(1) or ""
        error = error.__cause__ or error.__context__
    return None


@contextlib.contextmanager
def _quiet_worker_errors() -> Iterator[None]:
    """Beam logs a failing DoFn's traceback before re-raising the same error to us; the
    error itself still ends the run (as one line when it is the user's, else in full)."""
    logger = logging.getLogger("apache_beam.runners.common")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def launch(beam_args: list[str], read_cfg: ReadConfig, output: str, overwrite: bool,
           own_files: OwnFiles, build: Callable[[beam.Pipeline, str | None], None]
           ) -> dict | None:
    """Validate the Beam flags and local inputs, apply the output-dir policy
    (`pipeline/output_dir.py`) to `output`, run `build(p, spill_dir)` to the end, then print
    the `summary.json` the pipeline wrote to `output` with the wall time and return it.

    `spill_dir` is a new temporary dir on a local run (None otherwise, and on a dry run): the
    shuffles there live in this process's RAM, so the bulk of the data waits in spill files
    (transforms/spill.py). It is removed when the run ends, failed or not.

    A `--dry_run` job is only built, never run: its output dir is neither prepared nor read.
    Returns the summary (None for a dry run).

    The heap is frozen (`gc.freeze`) from the end of the graph build to the end of the run.
    By then the process holds ~200-250k objects that live as long as the run (Beam, pyarrow,
    numpy, our modules, the graph), and every full collection of the garbage collector walked
    them all: ~0.15-0.33 CPU-s each, several times per 10 MB on an in-process worker. Frozen,
    collections skip them; unfrozen afterwards, so that what among them became garbage can
    still go (tests and benchmarks run many jobs in one process). Workers forked from the
    zygote inherit its frozen imports (pipeline/worker_zygote.py).
    """
    options = make_pipeline_options(beam_args)
    check_local_inputs(with_default_inputs(read_cfg))
    local = options.view_as(StandardOptions).runner in LOCAL_RUNNERS
    dry_run = is_dry_run(options)
    if local and not dry_run:
        check_remote_inputs(read_cfg)
    if not dry_run:
        prepare_output_dir(output, overwrite, own_files)
        return_freed_memory()
        release_finished_stages()
    runner = local_runner(options)
    start = time.monotonic()
    try:
        with (spill_dir(local and not dry_run) as spill, _quiet_worker_errors(),
              zygote() if runner is not None and not dry_run else contextlib.nullcontext(),
              progress_lines() if local else contextlib.nullcontext(),
              beam.Pipeline(runner=runner, options=options) as p):
            build(p, spill)
            gc.freeze()  # the Pipeline runs when the block ends (see the docstring)
    except Exception as e:
        if (path := no_space_path(e)) is not None:
            raise UserError(f"no space left on device writing {path or output}") from e
        raise
    finally:
        gc.unfreeze()
    if dry_run:
        print(f"dry run: the job was built and not run; nothing was written to {output}")
        return None
    return print_summary(output, time.monotonic() - start)
