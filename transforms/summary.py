"""summary.json: written inside the pipeline from the summed stats.

The file holds only counts, so it is identical across runners; the CLI adds the wall time
when it prints it (`pipeline/summary.py`).
"""

from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from transforms.shard_write import write_atomically
from transforms.stats import documents_summary, stats_dict

SUMMARY_FILE = "summary.json"


def summary_bytes(stats: dict) -> bytes:
    return (json.dumps(documents_summary(stats), indent=2, ensure_ascii=False) + "\n").encode()


class WriteSummary(beam.PTransform):
    """`SumStats`' (name, total) pairs -> OUTPUT/summary.json; emits its path. The totals
    are a side input of a one-element (Impulse) step, so an empty input still writes one."""

    def __init__(self, output_dir: str) -> None:
        super().__init__()
        self._output_dir = output_dir

    def expand(self, totals):
        return (
            totals.pipeline
            | "Once" >> beam.Impulse()
            | "WriteSummaryJson" >> beam.Map(_write_summary, self._output_dir,
                                             beam.pvalue.AsDict(totals))
        )


def _write_summary(_: bytes, output_dir: str, totals: dict) -> str:
    path = FileSystems.join(output_dir, SUMMARY_FILE)
    write_atomically(path, summary_bytes(stats_dict(totals)))
    return path
