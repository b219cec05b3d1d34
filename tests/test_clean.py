"""Cleaning: one test per normalisation step, line rule and document rule, exact counters."""

from __future__ import annotations

import dataclasses
import json
import random
from collections import Counter
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from core.config import CleanConfig, ReadConfig
from tests.clean_reference import clean_lines, strip_wiki_markup, word_stats_by_definition, words
from tests.corpora import corpus_path
from transforms.accounting import DropReason
from transforms.clean import (
    CleanStep,
    clean_document,
    document_drop_reason,
    line_drop_rule,
    normalize_text,
)
from transforms.doc_steps import ApplySteps
from transforms.read import read_records
from transforms.records import TextDocument
from transforms.word_stats import word_stats


def drop_reason(text: str, cfg: CleanConfig):
    """`document_drop_reason` of a text that may hold "lorem ipsum" in any case."""
    return document_drop_reason(text, cfg, maybe_lorem=True)


CFG = CleanConfig()
PROSE = "The quick brown fox jumps over the lazy dog near the river bank today. "


def cfg(**kw) -> CleanConfig:
    return dataclasses.replace(CFG, **kw)


def test_words_count_each_cjk_character():
    assert words("数学是 a test，好") == ["数", "学", "是", "a", "test，", "好"]
    assert words("ひらがな") == ["ひ", "ら", "が", "な"]


def test_normalize_nfc_and_nfkc():
    assert normalize_text("Cafe\u0301") == "Café"
    assert normalize_text("ｆｕｌｌ①", "NFKC") == "full1"
    assert normalize_text("ｆｕｌｌ", "NFC") == "ｆｕｌｌ"


def test_normalize_removes_controls_and_zero_width_and_collapses_space():
    text = "a\u200bb\u00adc\x07d\u3000\u00a0e\t f\r\n\n  \n g  "
    assert normalize_text(text) == "abc d e f\ng"


def test_hard_wrapped_chinese_line_break_disappears():
    assert normalize_text("这\n样做") == "这样做"
    assert normalize_text("这 \r\n 样做") == "这样做"
    # Mixed: CJK-CJK breaks join, a break after 。 or next to Latin stays a line.
    mixed = "We do it\nthis way: 我们这\n样做。\n下一\n段 and\nmore"
    assert normalize_text(mixed) == "We do it\nthis way: 我们这样做。\n下一段 and\nmore"
    # A blank line is a paragraph break, not a wrap.
    assert normalize_text("第一段\n\n第二段") == "第一段\n第二段"


def test_break_inside_a_line_joins_cjk_and_spaces_latin():
    assert normalize_text("这\u2028样做 and\u2028more\x85text") == "这样做 and more text"


def test_presplit_lines_are_sentences_and_never_join():
    # BERT text format: a headline line ending in a CJK letter is followed by the body.
    assert normalize_text("熟食窝点被取缔\n本报讯", presplit=True) == "熟食窝点被取缔\n本报讯"
    assert normalize_text("这\u2028样做", presplit=True) == "这样做"


def test_clean_document_joins_hard_wrapped_chinese_paragraph():
    body = "我们今天这\n样做是为了测试硬换行的中文段落，\n因为每一行都被截断了。"
    doc = TextDocument(id="a", text=body, source="a.jsonl", presplit=False)
    cleaned, reason, _ = clean_document(doc, cfg(min_words=5))
    assert reason is None
    assert cleaned.text == "我们今天这样做是为了测试硬换行的中文段落，因为每一行都被截断了。"


def test_strip_wiki_markup():
    assert (
        strip_wiki_markup("Paris[1] is big[edit] and old[citation needed].")
        == "Paris is big and old."
    )
    assert strip_wiki_markup("区-{zh-cn:域;zh-tw:体}-名") == "区域名"
    assert strip_wiki_markup("用-{于}-和-{}-") == "用于和"
    assert strip_wiki_markup("数学（）是 ( ) 一门") == "数学是 一门"
    assert strip_wiki_markup("Keep [a] note") == "Keep [a] note"


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("", "empty"),
        ("This site uses cookies to improve your experience today.", "boilerplate"),
        ("Please enable JavaScript to view this page properly.", "boilerplate"),
        ("JavaScript is a programming language for the web.", None),
        ("History.", "too_short"),
        ("Two words", "too_short"),
        ("Three words here", None),
        ("数学", "too_short"),
        ("数学家", None),
    ],
)
def test_line_rules(line, rule):
    assert line_drop_rule(line, CFG, boilerplate=True) == rule


def test_end_mark_rule_is_optional_and_knows_cjk_marks():
    strict = cfg(require_end_mark=True)
    assert line_drop_rule("A heading without a mark", strict, boilerplate=True) == "no_end_mark"
    assert line_drop_rule("It trails off...", strict, boilerplate=True) == "no_end_mark"
    assert line_drop_rule("He said “hello there.”", strict, boilerplate=True) is None
    assert line_drop_rule("这是一个句子。", strict, boilerplate=True) is None
    assert line_drop_rule("A heading without a mark", CFG, boilerplate=True) is None


def test_clean_lines_counts_dropped_lines_by_rule():
    kept, dropped = clean_lines(
        ["History.", "Real text line here[2].", "Privacy policy of this site."], CFG
    )
    assert kept == ["Real text line here."]
    assert dropped == Counter({"too_short": 1, "boilerplate": 1})


def test_document_rules_each_reason():
    ok = PROSE * 3
    assert drop_reason(ok, CFG) is None
    assert drop_reason("", CFG) == DropReason.EMPTY
    assert drop_reason(ok + "Lorem ipsum dolor.", CFG) == DropReason.LOREM_IPSUM
    assert drop_reason(ok + "{x}", cfg(drop_code=True)) == DropReason.CODE
    assert drop_reason(ok + "{x}", CFG) is None
    assert drop_reason("Too short to keep.", CFG) == DropReason.TOO_FEW_WORDS
    assert drop_reason(ok, cfg(min_words=5, max_words=10)) == DropReason.TOO_MANY_WORDS
    long_words = " ".join(["Incomprehensibilities"] * 30)
    assert drop_reason(long_words, CFG) == DropReason.MEAN_WORD_LENGTH
    assert drop_reason(ok + "# " * 5, CFG) == DropReason.SYMBOL_RATIO
    numbers = " ".join(str(i) for i in range(40)) + " " + PROSE
    assert drop_reason(numbers, CFG) == DropReason.ALPHA_RATIO


def test_document_rules_thresholds_are_inclusive_edges():
    twenty = " ".join(["word"] * 20)
    assert drop_reason(twenty, CFG) is None
    assert drop_reason(" ".join(["word"] * 19), CFG) == DropReason.TOO_FEW_WORDS
    # 2 '#' over 20 words = 0.1 is allowed; 3 is not.
    assert drop_reason(twenty + " # #", CFG) is None
    assert drop_reason(twenty + " # # #", CFG) == DropReason.SYMBOL_RATIO


def test_chinese_counts_characters_as_words():
    assert drop_reason("数学是研究数量结构变化以及空间等概念的一门学科。", CFG) is None
    assert drop_reason("数学是一门学科。", CFG) == DropReason.TOO_FEW_WORDS


def test_line_shape_rules():
    line = PROSE.strip()
    assert drop_reason("\n".join([line] * 3), CFG) == DropReason.REPEATED_LINES
    assert drop_reason("\n".join([line, line + " A", line + " B", line]), CFG) is None
    bullets = "\n".join(f"- {line} {i}" for i in range(10))
    assert drop_reason(bullets, CFG) == DropReason.BULLET_LINES
    teasers = "\n".join(f"{line} {i}…" for i in range(3)) + "\n" + line
    assert drop_reason(teasers, CFG) == DropReason.ELLIPSIS_LINES
    # Shape rules need 3 lines: a one-line article ending in "…" is kept.
    assert drop_reason(line + " " + line + "…", CFG) is None


def test_clean_document_presplit_keeps_every_line():
    raw = TextDocument(
        id="d", text="Heading\n" + PROSE + "\n" + PROSE + " x", source="s", presplit=True
    )
    cleaned, reason, dropped = clean_document(raw, CFG)
    assert reason is None and dropped == Counter()
    assert cleaned.text.split("\n")[0] == "Heading" and cleaned.presplit


def test_clean_document_paragraphs_drop_headings():
    raw = TextDocument(
        id="d", text="Title\n\n" + PROSE + "\nHistory.\n" + PROSE + "Again.", source="s"
    )
    cleaned, reason, dropped = clean_document(raw, CFG)
    assert reason is None and cleaned.text == PROSE.strip() + "\n" + PROSE + "Again."
    assert dropped == Counter({"too_short": 2})


def test_clean_documents_transform_counters():
    docs = [
        TextDocument(id="a", text=PROSE * 2, source="s"),
        TextDocument(id="b", text="Only four words here.", source="s"),
        TextDocument(id="c", text="History.\n\n", source="s"),
    ]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(docs) | ApplySteps([CleanStep(CFG)])
        assert_that(out["documents"] | beam.Map(lambda d: d.id), equal_to(["a"]))
        assert_that(
            out["stats"] | beam.CombinePerKey(sum),
            equal_to(
                [
                    ("documents_dropped/too_few_words", 1),
                    ("documents_dropped/empty", 1),
                    ("lines_dropped/too_short", 1),
                ]
            ),
            label="stats",
        )


def _kept(records) -> tuple[int, int]:
    docs = [r for r in records if isinstance(r, TextDocument)]
    return sum(clean_document(d, CFG)[0] is not None for d in docs), len(docs)


def _read(path: Path, fmt: str):
    with open(path, "rb") as fh:
        return list(read_records(path.name, str(path), fh,
                                 ReadConfig(inputs=(str(path),), format=fmt)))


@pytest.mark.parametrize("name", ["bert_sample/sample_text.txt", "zh/albert_zh_news_zh_1.txt"])
def test_defaults_keep_every_google_sample_document(name):
    assert _kept(_read(corpus_path(name), "text")) in [(3, 3), (10, 10)]


def test_defaults_keep_real_wiki_and_news():
    kept, total = _kept(_read(corpus_path("zh/zhwiki_wiki_zh_2019_AA_wiki_00.jsonl"), "jsonl"))
    assert (kept, total) == (62, 64)  # the two dropped are disambiguation stubs
    en = _read(corpus_path("en/enwiki_wikiextractor_wiki_00.txt"), "wikiextractor")
    prose = [d for d in en if d.text.strip()]  # 75 of 111 are title-only redirect stubs
    assert _kept(prose) == (34, 36)
    thuc = corpus_path("zh/thucnews_cnews_val_1000.tsv")
    docs = [
        TextDocument(id=str(i), text=line.split("\t", 1)[1], source="t")
        for i, line in enumerate(thuc.read_text(encoding="utf-8").splitlines())
    ]
    assert _kept(docs) == (1000, 1000)


def test_config_is_json_able():
    assert json.loads(json.dumps(dataclasses.asdict(CFG)))["min_line_words"] == 3


def test_word_stats_counts_every_word_by_its_definition():
    # Letters, digits, '_', superscript/Roman numerals, kana punctuation, Han, punctuation
    # and whitespace of several kinds, in random words: the regex counting matches a
    # word-by-word count on every text.
    alphabet = "aZé7_²Ⅻ・ー中文。-.,#…(  \n\t"
    rng = random.Random(11)
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        assert word_stats(text) == word_stats_by_definition(text), repr(text)
