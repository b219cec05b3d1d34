"""The line-by-line definition of the paragraph rules, which `transforms/clean.py` runs as
whole-document passes: tests compare the two on real and adversarial texts.

Here each line goes through the markup rules and the line rules on its own, as C4 states
them; the package's `clean_paragraphs` must give the same kept text and the same dropped
lines on every normalised document.
"""

from __future__ import annotations

import re
from collections import Counter

from core.cjk import KANA_AND_HAN_CLASS
from core.config import CleanConfig
from transforms import clean


def words(text: str) -> list[str]:
    """Whitespace tokens, with every CJK character a word of its own."""
    return clean._WORD_RE.findall(text)


def strip_wiki_markup(line: str) -> str:
    """Citation markers, MediaWiki -{..}- conversion markup (zh-cn variant kept), empty ()."""
    line = clean._CITATION_RE.sub("", line)
    line = clean._CONVERSION_RE.sub(clean._conversion_text, line)
    line = clean._EMPTY_BRACKETS_RE.sub("", line)
    return clean._SPACE_RUN_RE.sub(" ", line).strip()


def clean_lines(lines: list[str], cfg: CleanConfig) -> tuple[list[str], Counter]:
    """Kept lines and a counter of dropped lines by rule."""
    kept, dropped = [], Counter()
    for line in lines:
        if cfg.strip_wiki_markup:
            line = strip_wiki_markup(line)
        rule = clean.line_drop_rule(line, cfg, boilerplate=True)
        if rule is None:
            kept.append(line)
        else:
            dropped[rule] += 1
    return kept, dropped


def word_stats_by_definition(text: str) -> tuple[int, int, int, int]:
    """`word_stats` from its docstring, word by word: a CJK word is one letter; another word
    is real if a character is a letter or digit, alphabetic if one is a letter (a
    non-decimal `isalnum` character, as the regex class `[^\\W\\d_]`)."""
    n = n_real = chars = n_alpha = 0
    for word in words(text):
        cjk = re.fullmatch(f"[{KANA_AND_HAN_CLASS}]", word) is not None
        n += 1
        if cjk or any(c.isalnum() for c in word):
            n_real += 1
            chars += len(word)
        n_alpha += cjk or any(c.isalnum() and not c.isdecimal() for c in word)
    return n, n_real, chars, n_alpha
