"""The whole-document fast paths of cleaning and splitting give what the line-by-line paths
give, on real English and Chinese documents and on adversarial strings built from the
characters each rule looks at (CJK wrap marks, markup, odd whitespace, abbreviations)."""

from __future__ import annotations

import json
import random
import re

import pytest

from core.cjk import KANA_AND_HAN_CLASS
from core.config import CleanConfig
from tests.clean_reference import clean_lines, word_stats_by_definition, words
from tests.corpora import corpus_path
from transforms import clean, sentences
from transforms.clean import normalize_text
from transforms.word_stats import word_stats

CONFIGS = (
    CleanConfig(),
    CleanConfig(require_end_mark=True, min_line_words=5),
    CleanConfig(strip_wiki_markup=False, drop_boilerplate_lines=False, min_line_words=1),
)
_CHARS = ("aZé7_²Ⅻ・ー中文。！？；，、「」“”‘’…-.,#!?()（）[]{}: \u3000\xa0\t\x07\x0b\u200b•*"
          "\n\n  ")
_SNIPPETS = ("[1]", "[edit]", "[Citation Needed]", "-{zh-cn:域;zh-tw:体}-", "-{于}-", "-{a\nb}-",
             "( )", "（，）", "(\n)", "[ ]", "Mr. ", "U.S. ", "e.g. ", "J. R. ", "... ", "...\n",
             "! 中", "?」", "。”", "……", "uses cookies", "Privacy Policy", "Lorem ipsum",
             " \n ", "这\n样", "，\n「", "“\n中", "\n\n", "A. ", "3.14 ", "(It rained.) ")


def _adversarial(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(_CHARS) if rng.random() < 0.7 else rng.choice(_SNIPPETS)
                    for _ in range(rng.randint(0, 30))) for _ in range(n)]


def _real_texts() -> list[str]:
    zh = corpus_path("zh/zhwiki_wiki_zh_2019_AA_wiki_00.jsonl").read_text(encoding="utf-8")
    thuc = corpus_path("zh/thucnews_cnews_val_1000.tsv").read_text(encoding="utf-8")
    en = corpus_path("en/enwiki_wikiextractor_wiki_00.txt").read_text(encoding="utf-8")
    texts = [json.loads(line)["text"] for line in zh.splitlines()]
    texts += [line.split("\t", 1)[1] for line in thuc.splitlines()[:300]]
    texts += en.split("</doc>")
    return texts


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Real documents and adversarial strings, without `\\r` or breaks inside lines (those
    always take the line-by-line path)."""
    raw = _real_texts() + _adversarial(4000, seed=3)
    return [clean._ZERO_WIDTH_RE.sub("", t).replace("\r", "\n") for t in raw
            if not clean._INLINE_BREAK_RE.search(t)]


@pytest.mark.parametrize("presplit", [False, True])
def test_whole_document_normalisation_equals_line_by_line(texts, presplit):
    for text in texts:
        assert (clean._normalize_document(text, presplit, unusual=True)
                == clean._normalize_by_line(text, presplit)), repr(text)


def test_normalisation_with_breaks_inside_lines_takes_the_line_path():
    # The fast path does not join CJK across U+2028; the dispatch must send this line away.
    assert normalize_text("这\u2028样做") == "这样做"
    assert normalize_text("a\r\nb \r c") == "a\nb\nc"


@pytest.mark.parametrize("cfg", CONFIGS, ids=["default", "strict", "bare"])
def test_whole_document_paragraph_rules_equal_clean_lines(texts, cfg):
    for raw in texts:
        text = normalize_text(raw)
        lines, dropped = clean_lines(text.split("\n"), cfg)
        assert clean.clean_paragraphs(text, cfg)[:2] == ("\n".join(lines), dropped), repr(text)


def test_too_short_agrees_with_counting_words(texts):
    for text in texts:
        for line in text.split("\n")[:50]:
            for n in (0, 1, 3, 5):
                assert clean._too_short(line, n) == (len(words(line)) < n), repr(line)


def test_scan_classes_cover_what_they_stand_for():
    """`_ODD_SPACE_RE` is `[^\\S \\n]` and `_UNUSUAL_RE` the union of four classes.
    Checked on every code point."""
    every = "".join(map(chr, range(0x110000)))

    def found(pattern: re.Pattern) -> set[int]:
        return {m.start() for m in pattern.finditer(every)}

    assert found(clean._ODD_SPACE_RE) == found(re.compile(r"[^\S \n]"))
    assert found(clean._UNUSUAL_RE) == (
        found(clean._CONTROL_BUT_NL_RE) | found(clean._ZERO_WIDTH_RE)
        | found(clean._INLINE_BREAK_RE) | found(clean._ODD_SPACE_RE))


_ZH_READABLE = re.compile(
    rf"(?:[。！？；]+|…+|[!?]+(?=[{KANA_AND_HAN_CLASS}]))[{sentences._CLOSERS}]*")
_EN_READABLE = re.compile(
    rf"(?:\.\.\.|[.!?]+)[{sentences._CLOSERS}]*"
    rf"(?=\s+[\"'“‘(\[A-Z0-9{KANA_AND_HAN_CLASS}])")


def test_boundary_regexes_match_their_readable_spelling(texts):
    """The boundary regexes begin with a character class for speed; they must find the
    same spans as the alternations they spell out (see sentences.py)."""
    for text in texts:
        for fast, readable in ((sentences._ZH_BOUNDARY, _ZH_READABLE),
                               (sentences._EN_BOUNDARY, _EN_READABLE)):
            assert ([m.span() for m in fast.finditer(text)]
                    == [m.span() for m in readable.finditer(text)]), repr(text)


def test_lorem_ipsum_is_found_in_any_case_after_line_rules():
    """The paragraph rules tell the document rules whether "lorem ipsum" can be there."""
    prose = "The quick brown fox jumps over the lazy dog near the river bank today. " * 3
    for text in (prose + "\nLOREM Ipsum dolor sit amet is here.", prose + "\nLorem ipsum."):
        doc = clean.TextDocument(id="d", text=text, source="s", presplit=False)
        cleaned, reason, dropped = clean.clean_document(doc, CleanConfig())
        expected = (clean.DropReason.LOREM_IPSUM if "amet" in text else None)
        assert reason == expected, (text, dropped)


def test_word_stats_equal_the_definition_on_real_texts(texts):
    for raw in texts:
        for text in (raw, normalize_text(raw)):
            assert word_stats(text) == word_stats_by_definition(text), repr(text)


def test_word_stats_class_table_agrees_on_every_code_point():
    """Every code point after a '_' (neither letter nor digit: the word is real or
    alphabetic by that code point alone; a space or CJK character ends it): the counts
    from the class table equal the word-by-word definition."""
    text = " ".join("_" + chr(cp) for cp in range(0x110000))
    assert word_stats(text) == word_stats_by_definition(text)


def test_every_boilerplate_phrase_holds_a_key_word():
    """`_has_boilerplate` looks for the phrases only in text holding a key word."""
    for phrase in clean._BOILERPLATE:
        assert any(key in phrase for key in clean._BOILERPLATE_KEYS), phrase
