"""Summing the `(counter_name, n)` stats streams of all stages into one dict."""

from __future__ import annotations

from collections import Counter

import apache_beam as beam


class _SumCountsFn(beam.CombineFn):
    """(name, n) pairs -> {name: total} in one global combine (one shuffle, not two)."""

    def create_accumulator(self) -> Counter:
        return Counter()

    def add_input(self, totals: Counter, pair: tuple[str, int]) -> Counter:
        totals[pair[0]] += pair[1]
        return totals

    def merge_accumulators(self, accumulators) -> Counter:
        merged = Counter()
        for totals in accumulators:
            merged.update(totals)  # keeps zero totals, unlike `+`
        return merged

    def extract_output(self, totals: Counter) -> dict:
        return dict(sorted(totals.items()))


class SumStats(beam.PTransform):
    """Iterable of stats PCollections -> a single-element PCollection holding {name: total}."""

    def expand(self, stats_pcolls):
        return (
            stats_pcolls
            | "FlattenStats" >> beam.Flatten()
            | "SumPerName" >> beam.CombineGlobally(_SumCountsFn())
        )


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
