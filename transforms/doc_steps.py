"""Per-document steps run by one DoFn: a chain of 1:1-or-drop functions fused by hand.

Each ParDo costs Beam ~25 ms of start-up (it inspects every method's signature several
times and sets up an operation per stage) and a few microseconds per element, so the chain
clean -> language, and sentence split -> count per language, is one ParDo each instead of
one per step (benchmarks/bench_startup.py). The steps stay small functions in their own
modules (`clean.CleanStep`, `language.LanguageStep`, `sentences.SplitStep`, ...).

A step is `step(doc, counters) -> doc or None`: it returns the document it passes on (the
same or a new one) or None after counting why it dropped it in `counters`, so every exit
is counted by exactly one step, as when each step was its own DoFn. `emit(doc)` yields what
the last step's document becomes (by default the document itself; dedup's `_keyed_outputs`
adds its key and a tagged reference).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import apache_beam as beam

from transforms.accounting import STATS_TAG, Counters

DocStep = Callable[[Any, Counters], Any]
"""(document, counters) -> the document passed on, or None when dropped (and counted)."""


def _as_is(doc: Any) -> Iterable[Any]:
    yield doc


class DocumentSteps(beam.DoFn):
    """Runs `steps` in order on each document; yields `emit(document)` for the survivors."""

    def __init__(self, steps: Sequence[DocStep],
                 emit: Callable[[Any], Iterable[Any]] = _as_is) -> None:
        self._steps = tuple(steps)
        self._emit = emit
        self.counters = Counters()

    def finish_bundle(self):
        yield from self.counters.flush()

    def process(self, doc):
        counters = self.counters
        for step in self._steps:
            doc = step(doc, counters)
            if doc is None:
                return
        yield from self._emit(doc)


class ApplySteps(beam.PTransform):
    """PCollection -> {"documents": the survivors, "stats": (name, n), and one PCollection per
    extra tag `emit` uses}."""

    def __init__(self, steps: Sequence[DocStep],
                 emit: Callable[[Any], Iterable[Any]] = _as_is,
                 tags: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._fn = DocumentSteps(steps, emit)
        self._tags = tags

    def expand(self, docs):
        out = docs | "Steps" >> beam.ParDo(self._fn).with_outputs(
            STATS_TAG, *self._tags, main="documents")
        return {"documents": out.documents, "stats": out[STATS_TAG],
                **{tag: out[tag] for tag in self._tags}}
