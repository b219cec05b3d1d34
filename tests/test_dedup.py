"""Exact deduplication: normalised key, smallest id survives, copies counted."""

from __future__ import annotations

import random

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from core.config import ReadConfig
from tests.corpora import corpus_path
from transforms import dedup
from transforms.dedup import (
    DeduplicateDocuments,
    DocRef,
    Survivor,
    dedup_key,
    doc_ref,
    key_documents,
    merge_survivors,
)
from transforms.read import read_records
from transforms.records import TextDocument


def doc(doc_id: str, text: str) -> TextDocument:
    return TextDocument(id=doc_id, text=text, source="s")


def test_key_ignores_case_and_whitespace_only():
    assert dedup_key("Hello  World\nAgain") == dedup_key("hello world again")
    assert dedup_key("Hello world.") != dedup_key("Hello world!")


def test_key_drops_every_kind_of_whitespace_and_folds_case():
    """Every whitespace code point (as `str.split` knows them) is dropped, on the byte path
    (ASCII ones) and the word path (others); `casefold`, not `lower`."""
    spaces = [chr(cp) for cp in range(0x110000) if chr(cp).isspace()]
    assert {ord(c) for c in spaces} == set(dedup._ASCII_SPACES) | {
        ord(c) for c in spaces if dedup._OTHER_SPACE_RE.match(c)}
    for space in spaces:
        assert dedup_key(f"Ab{space}c d\n{space}E") == dedup_key("abcde"), repr(space)
    assert dedup_key("Straße") == dedup_key("STRASSE")
    assert dedup_key("Ab c") != dedup_key("Ab-c")


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
        out = p | beam.Create(docs) | key_documents(()) | DeduplicateDocuments()
        assert_that(
            out["documents"] | beam.Map(lambda d: (d.id, d.text)),
            equal_to([("f:1", "same  TEXT."), ("f:2", "Other text."), ("h:9", "Unique.")]),
        )
        assert_that(out["stats"], equal_to([("documents_dropped/duplicate", 2)]), label="stats")


def test_hot_key_many_copies():
    docs = [doc(f"d{i:04d}", "Spam line.") for i in range(500)]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(docs) | key_documents(()) | DeduplicateDocuments()
        assert_that(out["documents"] | beam.Map(lambda d: d.id), equal_to(["d0000"]))
        assert_that(
            out["stats"] | beam.CombinePerKey(sum),
            equal_to([("documents_dropped/duplicate", 499)]),
            label="stats",
        )


def _check(docs: list[TextDocument], kept: list[tuple], n_dropped: int,
           reshuffle: bool = False) -> None:
    """One FnApiRunner run keeps exactly `kept` (id, text, source) and counts `n_dropped`."""
    with BeamTestPipeline(runner="FnApiRunner") as p:
        pdocs = p | beam.Create(docs, reshuffle=False)
        if reshuffle:
            pdocs = pdocs | beam.Reshuffle()
        out = pdocs | key_documents(()) | DeduplicateDocuments()
        assert_that(out["documents"] | beam.Map(lambda d: (d.id, d.text, d.source)),
                    equal_to(kept))
        assert_that(out["stats"] | beam.CombinePerKey(sum),
                    equal_to([("documents_dropped/duplicate", n_dropped)]), label="stats")


def test_real_corpus_survivor_is_the_smallest_id_of_each_copy_group_in_any_order():
    """Copies of real Chinese and English documents (re-cased, re-wrapped, under ids that
    sort before and after the original's): each group keeps its smallest id, every other
    copy counts as `duplicate`, and neither input order nor bundling changes the output."""
    originals = []
    for rel, fmt in [("zh/zhwiki_wiki_zh_2019_AA_wiki_00.jsonl", "jsonl"),
                     ("en/enwiki_wikiextractor_wiki_00.txt", "wikiextractor")]:
        path = corpus_path(rel)
        with open(path, "rb") as fh:
            originals += [d for d in read_records(path.name, str(path), fh,
                                                  ReadConfig(inputs=(str(path),), format=fmt))
                          if isinstance(d, TextDocument) and d.text.strip()]
    assert len({dedup_key(d.text) for d in originals}) == len(originals) > 90
    docs, groups = [], []
    for i, orig in enumerate(originals):
        group = [orig]
        for j in range(i % 3):  # 0, 1 or 2 extra copies
            text = orig.text.upper() if j == 0 else orig.text.replace("\n", " \n  ")
            copy_id = f"0-copy{j}:{orig.id}" if i % 2 else f"~copy{j}:{orig.id}"
            group.append(TextDocument(id=copy_id, text=text, source=f"copies{j}"))
        docs += group
        groups.append(group)
    expected = [(w.id, w.text, w.source) for w in (min(g, key=lambda d: d.id) for g in groups)]
    n_dropped = len(docs) - len(groups)
    assert n_dropped > 60 and any(w[0].startswith("0-copy") for w in expected)

    for seed, reshuffle in [(1, False), (2, True)]:
        order = docs[:]
        random.Random(seed).shuffle(order)
        _check(order, expected, n_dropped, reshuffle)


def test_copies_sharing_the_survivors_id_keep_exactly_one_whatever_the_order():
    """`--id-field` ids can repeat: identical records under one id, and a re-cased one under
    the same id, leave one document each, the same one in every order."""
    same = TextDocument(id="x", text="Repeated record.", source="a.jsonl")
    recased = TextDocument(id="x", text="REPEATED RECORD.", source="b.jsonl")
    twin = TextDocument(id="y", text="Another record.", source="a.jsonl")
    survivor = min([same, recased], key=doc_ref)  # the id ties: the fingerprint decides
    kept = [(d.id, d.text, d.source) for d in (survivor, twin)]
    for order in ([same, same, recased, twin, same, twin], [recased, twin, twin, same, same, same]):
        _check(order, kept, 4)
