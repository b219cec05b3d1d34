"""summary.json: written inside the pipeline from the summed stats, printed by the CLI.

The file holds only counts, so it is identical across runners; the wall time is added
when printing.
"""

from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline.errors import UserError
from pipeline.stats import documents_summary
from transforms.shard_write import write_atomically

SUMMARY_FILE = "summary.json"


def summary_bytes(stats: dict) -> bytes:
    return (json.dumps(documents_summary(stats), indent=2, ensure_ascii=False) + "\n").encode()


class WriteSummary(beam.PTransform):
    """PCollection holding one {counter: total} dict -> OUTPUT/summary.json; emits its path."""

    def __init__(self, output_dir: str) -> None:
        super().__init__()
        self._output_dir = output_dir

    def expand(self, stats_dict):
        return stats_dict | "WriteSummaryJson" >> beam.Map(_write_summary, self._output_dir)


def _write_summary(stats: dict, output_dir: str) -> str:
    path = FileSystems.join(output_dir, SUMMARY_FILE)
    write_atomically(path, summary_bytes(stats))
    return path


def read_summary(output_dir: str) -> dict:
    path = FileSystems.join(output_dir, SUMMARY_FILE)
    try:
        with FileSystems.open(path) as fh:
            return json.loads(fh.read())
    except OSError as e:
        raise UserError(f"no {SUMMARY_FILE} in {output_dir!r}: {e}") from e


def format_summary(summary: dict, wall_time_s: float) -> str:
    """One screen: counts first, then dropped by reason, then any other counters."""
    lines = []
    for key, value in summary.items():
        if isinstance(value, dict):
            lines.append(f"{key.replace('_', ' '):<40} {sum(value.values()):>12,}")
            lines.extend(f"    {reason:<36} {n:>12,}" for reason, n in value.items())
        elif "/" in key:  # a breakdown counter: shown by its exact summary.json name
            lines.append(f"    {key:<36} {value:>12,}")
        else:
            lines.append(f"{key.replace('_', ' '):<40} {value:>12,}")
    lines.append(f"{'wall time':<40} {wall_time_s:>11.1f}s")
    return "\n".join(lines)


def print_summary(output_dir: str, wall_time_s: float) -> None:
    print(format_summary(read_summary(output_dir), wall_time_s))
    print(f"output: {output_dir}")
