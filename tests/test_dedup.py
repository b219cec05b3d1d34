"""Exact deduplication: normalised key, smallest id survives, copies counted."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.dedup import (DeduplicateDocuments, DocRef, Survivor, dedup_key,
                              merge_survivors)
from transforms.records import TextDocument


def doc(doc_id: str, text: str) -> TextDocument:
    return TextDocument(id=doc_id, text=text, source="s")


def test_key_ignores_case_and_whitespace_only():
    assert dedup_key("Hello  World\nAgain") == dedup_key("hello world again")
    assert dedup_key("Hello world.") != dedup_key("Hello world!")


def test_merge_survivors_is_order_free():
    a = Survivor(DocRef("b", b"\x00"), 1, 2)
    b = Survivor(DocRef("a", b"\xff"), 1, 1)
    assert merge_survivors(a, b) == merge_survivors(b, a) == Survivor(DocRef("a", b"\xff"), 1, 3)
    twin = Survivor(DocRef("a", b"\xff"), 2, 4)
    assert merge_survivors(b, twin) == merge_survivors(twin, b) == Survivor(b.ref, 3, 5)


def test_deduplicate_documents():
    docs = [
        doc("f:3", "Same text."),
        doc("f:1", "same  TEXT."),
        doc("g:0", "Same text."),
        doc("f:2", "Other text."),
        doc("h:9", "Unique."),
    ]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(docs) | DeduplicateDocuments()
        assert_that(
            out["documents"] | beam.Map(lambda d: (d.id, d.text)),
            equal_to([("f:1", "same  TEXT."), ("f:2", "Other text."), ("h:9", "Unique.")]),
        )
        assert_that(out["stats"], equal_to([("documents_dropped/duplicate", 2)]), label="stats")


def test_hot_key_many_copies():
    docs = [doc(f"d{i:04d}", "Spam line.") for i in range(500)]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(docs) | DeduplicateDocuments()
        assert_that(out["documents"] | beam.Map(lambda d: d.id), equal_to(["d0000"]))
        assert_that(
            out["stats"] | beam.CombinePerKey(sum),
            equal_to([("documents_dropped/duplicate", 499)]),
            label="stats",
        )
