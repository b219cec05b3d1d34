"""Sentence splitting: exact splits for English and Chinese, presplit documents."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.doc_steps import ApplySteps
from transforms.records import TextDocument
from transforms.sentences import ABBREVIATIONS, SplitStep, split_line, split_sentences


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "Mr. Smith paid $3.14 for it! Did he? Yes.",
            ["Mr. Smith paid $3.14 for it!", "Did he?", "Yes."],
        ),
        ("Dr. Who met Prof. Xavier. They talked.", ["Dr. Who met Prof. Xavier.", "They talked."]),
        (
            "J. R. R. Tolkien wrote it. It sold well.",
            ["J. R. R. Tolkien wrote it.", "It sold well."],
        ),
        (
            "The U.S. Army came. See e.g. Fig. 3 here.",
            ["The U.S. Army came.", "See e.g. Fig. 3 here."],
        ),
        (
            'He said "Stop." She left. (It rained.) Then...',
            ['He said "Stop."', "She left.", "(It rained.)", "Then..."],
        ),
        ("It ended... And so on. Approx. five.", ["It ended...", "And so on.", "Approx. five."]),
        ("Version 2.0 is out. 1990 was a year.", ["Version 2.0 is out.", "1990 was a year."]),
        ("no capital after. so one sentence.", ["no capital after. so one sentence."]),
        ("No end mark at all", ["No end mark at all"]),
    ],
)
def test_english_splits(line, expected):
    assert split_line(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "他说：“你好。”然后走了！真的吗？是的；好吧……结束了。",
            ["他说：“你好。”", "然后走了！", "真的吗？", "是的；", "好吧……", "结束了。"],
        ),
        ("「走吧。」他说。『好』", ["「走吧。」", "他说。", "『好』"]),
        ("数学是一门学科（见上文。）它很重要。", ["数学是一门学科（见上文。）", "它很重要。"]),
        ("对吗?对!好", ["对吗?", "对!", "好"]),
        ("价格是3.5元。很便宜", ["价格是3.5元。", "很便宜"]),
        ("数学是一门学科。It is nice. 对", ["数学是一门学科。", "It is nice.", "对"]),
    ],
)
def test_chinese_splits(line, expected):
    assert split_line(line) == expected


def test_split_is_per_line_and_presplit_keeps_lines():
    text = "One. Two.\nThree? Four."
    assert split_sentences(text, presplit=False) == ["One.", "Two.", "Three?", "Four."]
    assert split_sentences(text, presplit=True) == ["One. Two.", "Three? Four."]


def test_pieces_cover_the_line():
    line = "A b. C d! “E f?” G。H"
    assert "".join(split_line(line)).replace(" ", "") == line.replace(" ", "")


def test_split_sentences_transform_drops_too_few():
    docs = [
        TextDocument(id="a", text="One. Two.", source="s"),
        TextDocument(id="b", text="Only one.", source="s"),
    ]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(docs) | ApplySteps([SplitStep(2)])
        assert_that(
            out["documents"] | beam.Map(lambda d: (d.id, d.sentences)),
            equal_to([("a", ["One.", "Two."])]),
        )
        assert_that(
            out["stats"], equal_to([("documents_dropped/too_few_sentences", 1)]), label="stats"
        )


def test_every_abbreviation_keeps_the_sentence_whole():
    """Each listed abbreviation, in any case, before a capitalised word: no split."""
    for abbreviation in sorted(ABBREVIATIONS):
        for word in (abbreviation, abbreviation.capitalize(), abbreviation.upper()):
            line = f"See the {word}. Next part follows"
            assert split_line(line) == [line], line
