"""The fused per-document DoFns: every exit of a document counted once, by its own reason."""

from __future__ import annotations

import json

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from core.config import CleanConfig, ReadConfig
from pipeline.stages import CleanCorpus
from transforms.accounting import Counters
from transforms.doc_steps import DocumentSteps

SENTENCES = ["The river runs past the old mill and the village green every day.",
             "The miller keeps the wheel turning from dawn until the late evening hours."]
KEPT = " ".join(SENTENCES) + "\nShort line."
RECORDS = [
    {"text": KEPT},
    {"text": KEPT.upper()},  # the same dedup key: a duplicate when dedup is on
    {"text": "Far too short to keep."},
    {"text": "Lorem ipsum dolor sit amet, " * 6 + "consectetur adipiscing elit."},
    {"text": "今天天气很好，我们一起去公园散步。公园里有很多人在跑步和打太极拳。" * 2},
    {"text": "the river runs past the old mill and the village green on every single day of "
             "the long and busy year without a stop"},  # one sentence
    {"text": "   "},
]


def _corpus(tmp_path) -> str:
    path = tmp_path / "corpus.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in RECORDS]
    lines.insert(3, "{broken json")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("dedup", [True, False])
def test_clean_corpus_counts_each_exit_once_by_its_reason(tmp_path, dedup):
    """One document per exit (each cleaning reason, language, duplicate, too few sentences,
    a reject): the fused DoFns count each exactly once, under its own name, and the totals
    balance; the kept document is counted per language once."""
    read = ReadConfig(inputs=(_corpus(tmp_path),), format="jsonl")
    clean = CleanConfig(min_sentences=2, languages=("en",), near_dedup=False, dedup=dedup)
    kept = 1 if dedup else 2
    expected = {
        "documents_read": 8, "files_read": 1,
        "documents_rejected": 1, "documents_rejected/invalid_json": 1,
        "documents_dropped/empty": 1, "documents_dropped/too_few_words": 1,
        "documents_dropped/lorem_ipsum": 1, "documents_dropped/language": 1,
        "documents_dropped/too_few_sentences": 1,
        "documents_kept_by_language/en": kept,
        "lines_dropped/too_short": 2,  # KEPT's short line, in both copies (cleaned first)
        **({"documents_dropped/duplicate": 1} if dedup else {}),
    }
    dropped = sum(n for name, n in expected.items() if name.startswith("documents_dropped/"))
    assert expected["documents_read"] == kept + dropped + expected["documents_rejected"]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        out = p | CleanCorpus(read, clean)
        assert_that(out["stats"] | beam.CombinePerKey(sum), equal_to(list(expected.items())))
        assert_that(out["documents"] | beam.Map(lambda d: (d.lang, d.sentences)),
                    equal_to([("en", SENTENCES), ("en", [s.upper() for s in SENTENCES])][:kept]),
                    label="documents")
        assert_that(out["rejects"] | beam.Map(lambda r: r.reason), equal_to(["invalid_json"]),
                    label="rejects")


def test_a_dropped_document_goes_through_no_later_step():
    """The chain stops at the step that drops a document (its count is that step's alone)
    and the bundle's counts leave once, in `finish_bundle`."""
    calls = []

    def first(doc, counters: Counters):
        calls.append(("first", doc))
        if doc == "drop":
            counters.inc("documents_dropped/first")
            return None
        return doc + "!"

    def second(doc, counters: Counters):
        calls.append(("second", doc))
        counters.inc("seen_by_second")
        return doc

    fn = DocumentSteps([first, second])
    out = [o for doc in ("a", "drop", "b") for o in fn.process(doc)]
    assert out == ["a!", "b!"]
    assert calls == [("first", "a"), ("second", "a!"), ("first", "drop"),
                     ("first", "b"), ("second", "b!")]
    stats = sorted(o.value.value for o in fn.finish_bundle())
    assert stats == [("documents_dropped/first", 1), ("seen_by_second", 2)]
    assert list(fn.finish_bundle()) == []
