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


def documents_summary(stats: dict) -> dict:
    """The DESIGN.md `summary.json` shape from flat counter names."""
    from transforms.accounting import (
        DOCUMENTS_KEPT,
        DOCUMENTS_READ,
        DOCUMENTS_REJECTED,
        DROPPED_PREFIX,
        KEPT_BY_LANGUAGE_PREFIX,
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
    by_language = {
        name[len(KEPT_BY_LANGUAGE_PREFIX):]: n for name, n in sorted(stats.items())
        if name.startswith(KEPT_BY_LANGUAGE_PREFIX)
    }
    if by_language:
        summary["documents_kept_by_language"] = by_language
    for name, n in sorted(stats.items()):
        if not name.startswith((DROPPED_PREFIX, KEPT_BY_LANGUAGE_PREFIX)) and name not in summary:
            summary[name] = n
    return summary
