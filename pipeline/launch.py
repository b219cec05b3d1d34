"""What every `run_<name>` does around its pipeline: pre-flight checks, run, print the summary.

The checks run before any pipeline is built, so a typo in a flag or input pattern, or an
occupied output dir, fails in a second with one line instead of after the workers start.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import time
from collections.abc import Callable, Iterator

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from core.config import ReadConfig
from core.errors import UserError
from pipeline.beam_options import is_dry_run, make_pipeline_options
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


def ensure_local_output(output: str) -> None:
    """Create a local `--output` now, so an impossible path (e.g. under /proc, or a read-only
    place) fails with one line before the pipeline starts instead of in a worker."""
    if "://" in output:
        return
    if os.path.exists(output) and not os.path.isdir(output):
        raise UserError(f"--output {output!r} exists and is not a directory")
    try:
        os.makedirs(output, exist_ok=True)
    except OSError as e:
        raise UserError(f"--output {output!r} cannot be created: {e.strerror or e}") from e
    if not os.access(output, os.W_OK | os.X_OK):
        raise UserError(f"--output {output!r} is not writable")


def launch(beam_args: list[str], read_cfg: ReadConfig, prepare_output: Callable[[], None],
           build: Callable[[beam.Pipeline], None], summary_dir: str) -> dict | None:
    """Validate the Beam flags and local inputs, `prepare_output()`, run `build(p)` to the end,
    then print the `summary.json` the pipeline wrote to `summary_dir` with the wall time.

    A `--dry_run` job is only built, never run: its output dir is neither prepared nor read.
    Returns the summary (None for a dry run).
    """
    options = make_pipeline_options(beam_args)
    check_local_inputs(with_default_inputs(read_cfg))
    dry_run = is_dry_run(options)
    if not dry_run:
        ensure_local_output(summary_dir)
        prepare_output()
    start = time.monotonic()
    try:
        with _quiet_worker_errors(), beam.Pipeline(options=options) as p:
            build(p)
    except Exception as e:
        if (path := no_space_path(e)) is not None:
            raise UserError(f"no space left on device writing {path or summary_dir}") from e
        raise
    if dry_run:
        print(f"dry run: the job was built and not run; nothing was written to {summary_dir}")
        return None
    return print_summary(summary_dir, time.monotonic() - start)
