"""Exact document deduplication across the whole corpus.

Key: a 128-bit BLAKE2 hash of the cleaned text, case-folded and with all whitespace
removed (so re-wrapped or re-cased copies match). Survivor: the duplicate with the
smallest id, whatever the input order or runner. The choice is made by a combiner that
holds one document and a count per key (combiner lifting: a hot key with a million copies
never materialises a list, TFDS C4's lesson), and `duplicate` counts every other copy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import apache_beam as beam

from transforms.accounting import DROPPED_PREFIX, STATS_TAG, Counters, DropReason
from transforms.records import TextDocument


def dedup_key(text: str) -> bytes:
    """The duplicate-detection key of a cleaned text."""
    normalised = "".join(text.casefold().split())  # `str.split`: every Unicode space
    return hashlib.blake2b(normalised.encode("utf-8"), digest_size=16).digest()


Survivor = tuple[TextDocument, int]


def keep_smallest_id(a: Survivor, b: Survivor) -> Survivor:
    """Merge two (survivor, copies) accumulators: the smaller id survives, copies add up."""
    doc = a[0] if a[0].id <= b[0].id else b[0]
    return doc, a[1] + b[1]


class _KeepSmallestIdFn(beam.CombineFn):
    """Accumulator: (document with the smallest id so far, number of copies), or None."""

    def create_accumulator(self) -> Survivor | None:
        return None

    def add_input(self, acc: Survivor | None, doc: TextDocument) -> Survivor:
        return (doc, 1) if acc is None else keep_smallest_id(acc, (doc, 1))

    def merge_accumulators(self, accs: Iterable[Survivor | None]) -> Survivor | None:
        merged = None
        for acc in accs:
            if acc is not None:
                merged = acc if merged is None else keep_smallest_id(merged, acc)
        return merged

    def extract_output(self, acc: Survivor | None) -> Survivor | None:
        return acc


class _EmitSurvivorFn(beam.DoFn):
    """(key, (survivor, copies)) -> the survivor; the other copies count as `duplicate`."""

    def __init__(self) -> None:
        self.counters = Counters()

    def finish_bundle(self):
        yield from self.counters.flush()

    def process(self, keyed):
        _, (doc, copies) = keyed
        if copies > 1:
            self.counters.inc(DROPPED_PREFIX + DropReason.DUPLICATE.value, copies - 1)
        yield doc


def _keyed(doc: TextDocument) -> tuple[bytes, TextDocument]:
    return dedup_key(doc.text), doc


class DeduplicateDocuments(beam.PTransform):
    """PCollection[TextDocument] -> {"documents": one per distinct text, "stats"}."""

    def expand(self, docs):
        out = (
            docs
            | "KeyByText" >> beam.Map(_keyed)
            | "KeepSmallestId" >> beam.CombinePerKey(_KeepSmallestIdFn())
            | "EmitSurvivors" >> beam.ParDo(_EmitSurvivorFn()).with_outputs(
                STATS_TAG, main="documents")
        )
        return {"documents": out.documents, "stats": out[STATS_TAG]}
