"""What every `run_<name>` does around its pipeline: pre-flight checks, run, print the summary.

The checks run before any pipeline is built, so a typo in a flag or input pattern, or an
occupied output dir, fails in a second with one line instead of after the workers start.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import apache_beam as beam

from core.config import ReadConfig
from pipeline.beam_options import is_dry_run, make_pipeline_options
from pipeline.output_dir import OwnFiles, prepare_output_dir
from pipeline.stages import check_local_inputs, with_default_inputs
from pipeline.summary import print_summary


def launch(beam_args: list[str], read_cfg: ReadConfig, output: str, overwrite: bool,
           own_files: OwnFiles, build: Callable[[beam.Pipeline], None]) -> None:
    """Validate the Beam flags and local inputs, apply the output-dir policy
    (`pipeline/output_dir.py`) to `output`, run `build(p)` to the end, then print the
    `summary.json` the pipeline wrote to `output` with the wall time.

    A `--dry_run` job is only built, never run: its output dir is neither prepared nor read.
    """
    options = make_pipeline_options(beam_args)
    check_local_inputs(with_default_inputs(read_cfg))
    dry_run = is_dry_run(options)
    if not dry_run:
        prepare_output_dir(output, overwrite, own_files)
    start = time.monotonic()
    with beam.Pipeline(options=options) as p:
        build(p)
    if dry_run:
        print(f"dry run: the job was built and not run; nothing was written to {output}")
    else:
        print_summary(output, time.monotonic() - start)
