"""Summing the `(counter_name, n)` stats streams of all stages per counter name."""

from __future__ import annotations

from collections.abc import Mapping

import apache_beam as beam


class SumStats(beam.PTransform):
    """Iterable of stats PCollections -> `(name, total)` per counter name.

    Consumers read the totals as a side input, `beam.pvalue.AsDict` (`stats_dict` orders
    them): a per-name sum is one grouping and one ParDo, where a global combine into one
    dict costs six ParDos, an extra stage and ~0.2 s of start-up
    (benchmarks/bench_startup.py). A name with a zero total keeps it.
    """

    def expand(self, stats_pcolls):
        return (
            stats_pcolls
            | "FlattenStats" >> beam.Flatten()
            | "SumPerName" >> beam.CombinePerKey(sum)
        )


def stats_dict(totals: Mapping[str, int]) -> dict[str, int]:
    """The `AsDict` side input of `SumStats`' totals as a dict in name order."""
    return dict(sorted(totals.items()))


BY_REASON = "_by_reason"
"""Suffix of the object that breaks a total count down by reason (`documents_rejected` stays
the count DESIGN.md asks for; `documents_rejected_by_reason` lists its reasons)."""


def documents_summary(stats: dict) -> dict:
    """The DESIGN.md `summary.json` shape from flat counter names.

    Every breakdown `group/name` becomes an object `{name: n}` under `group` (e.g.
    `documents_dropped`, `lines_dropped`, `instances_label`); a breakdown of a count that
    is itself a total (`documents_rejected`) goes to `<group>_by_reason`. So the reasons of
    dropped and rejected documents are both objects of bare reason names.
    """
    from transforms.accounting import (
        DOCUMENTS_KEPT,
        DOCUMENTS_READ,
        DOCUMENTS_REJECTED,
    )

    summary: dict = {
        "documents_read": stats.get(DOCUMENTS_READ, 0),
        "documents_kept": stats.get(DOCUMENTS_KEPT, 0),
        "documents_dropped": {},
        "documents_rejected": stats.get(DOCUMENTS_REJECTED, 0),
        DOCUMENTS_REJECTED + BY_REASON: {},
    }
    for name, n in sorted(stats.items()):
        group, _, reason = name.partition("/")
        if not reason:
            summary.setdefault(name, n)
            continue
        if isinstance(summary.get(group), int) or group in stats:
            group += BY_REASON
        summary.setdefault(group, {})[reason] = n
    return summary
