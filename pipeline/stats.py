"""Summing the `(counter_name, n)` stats streams of all stages into one dict."""

from __future__ import annotations

import apache_beam as beam


class SumStats(beam.PTransform):
    """Iterable of stats PCollections -> a single-element PCollection holding {name: total}."""

    def expand(self, stats_pcolls):
        return (
            stats_pcolls
            | "FlattenStats" >> beam.Flatten()
            | "SumPerName" >> beam.CombinePerKey(sum)
            | "ToDict" >> beam.combiners.ToDict()
        )


def documents_summary(stats: dict) -> dict:
    """The DESIGN.md `summary.json` shape from flat counter names."""
    from transforms.accounting import (
        DOCUMENTS_KEPT,
        DOCUMENTS_READ,
        DOCUMENTS_REJECTED,
        DROPPED_PREFIX,
    )

    dropped = {
        name[len(DROPPED_PREFIX):]: n for name, n in sorted(stats.items())
        if name.startswith(DROPPED_PREFIX)
    }
    summary = {
        "documents_read": stats.get(DOCUMENTS_READ, 0),
        "documents_kept": stats.get(DOCUMENTS_KEPT, 0),
        "documents_dropped": dropped,
        "documents_rejected": stats.get(DOCUMENTS_REJECTED, 0),
    }
    for name, n in sorted(stats.items()):
        if not name.startswith(DROPPED_PREFIX) and name not in summary:
            summary[name] = n
    return summary
