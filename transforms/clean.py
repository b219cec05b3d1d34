"""Cleaning: normalisation, C4-style line rules, Gopher-style document filters.

Pure functions first (no Beam), the `CleanStep` of the per-document DoFn last
(`transforms/doc_steps.py`).

- `normalize_text`: Unicode NFC (or NFKC), control and zero-width characters removed, every
  run of whitespace inside a line made one space, lines stripped, blank lines dropped. A
  single line break between two CJK characters is a hard wrap, not a word boundary, and
  disappears (`这\n样做` -> `这样做`).
- `clean_paragraphs` (C4, Raffel et al. 2020, adapted): applies to paragraph documents only.
  Presplit (BERT text format) lines are sentences the user prepared, so they are kept as
  they are. Rules: wiki residue removed (`[1]`, `[edit]`, `[citation needed]`,
  `-{zh-cn:..}-` conversion markup, empty brackets); boilerplate lines dropped (C4's policy
  phrases, and JavaScript only in "enable/requires JavaScript" phrases -- C4 drops every
  line containing "javascript", which would empty the article about JavaScript); lines
  under `min_line_words` words dropped (headings such as "History." and titles); optional
  C4 end-mark rule.
- `document_drop_reason` (Gopher, Rae et al. 2021, Table A1, thresholds relaxed for short
  wiki/news documents and Chinese): word count, mean word length, `#`/ellipsis-to-word
  ratio, alphabetic-word ratio, repeated, bullet and ellipsis lines, lorem ipsum, optional
  `{` (C4 "code") rule. Words are whitespace tokens, except that each CJK character is a
  word on its own, since Chinese and Japanese are written without spaces
  (`transforms/word_stats.py` counts them).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from itertools import islice, repeat

from core.cjk import KANA_AND_HAN_CLASS
from core.config import CleanConfig
from transforms.accounting import (
    DROPPED_PREFIX,
    LINES_DROPPED_PREFIX,
    Counters,
    DropReason,
)
from transforms.records import TextDocument
from transforms.word_stats import word_stats

_WORD_RE = re.compile(rf"[{KANA_AND_HAN_CLASS}]|[^\s{KANA_AND_HAN_CLASS}]+")
_ZERO_WIDTH_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f]")
_SPACE_RUN_RE = re.compile(r"[^\S\n]{2,}|[^\S \n]")
r"""Whitespace runs without a line break, except a lone space (the common case, left alone):
replacing these with one space is `re.sub(r"\s+", " ", line)` on each line, doing far less."""
_SPACES_RE = re.compile(" {2,}")
_INLINE_BREAKS = "\v\f\x1c\x1d\x1e\x85\u2028\u2029"  # str.splitlines' breaks besides \r, \n
# A line ending in one of these is not finished:
_WRAP_BEFORE = KANA_AND_HAN_CLASS + "，、（《〈「『【“‘"
_WRAP_AFTER = KANA_AND_HAN_CLASS + "\u3001-\u303f\uff01-\uff65“”‘’…"  # CJK letters and punctuation
_WRAP_BEFORE_RE = re.compile(rf"[{_WRAP_BEFORE}]")
_WRAP_AFTER_RE = re.compile(rf"[{_WRAP_AFTER}]")
_INLINE_BREAK_RE = re.compile(rf"[{_INLINE_BREAKS}]")
_CJK_INLINE_BREAK_RE = re.compile(
    rf"([{_WRAP_BEFORE}])[^\S\n]*[{_INLINE_BREAKS}][^\S\n]*(?=[{_WRAP_AFTER}])")
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc; a space keeps words apart
_CONTROL_BUT_NL_RE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_ODD_SPACE_RE = re.compile(
    "[\t\x0b\x0c\r\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
"""`[^\\S \\n]` spelled out (whitespace besides a space and a line break; a test checks every
code point), which `re` scans for twice as fast. Without it and without a double space, no
line needs `_SPACE_RUN_RE`."""
_UNUSUAL_RE = re.compile("[" + "".join(
    r.pattern[1:-1] for r in (_CONTROL_BUT_NL_RE, _ZERO_WIDTH_RE, _INLINE_BREAK_RE, _ODD_SPACE_RE)
) + "]")
"""Any character a normalisation pass removes or replaces besides `\\n` and double spaces:
one scan that most lines of clean text pass, instead of four."""
_WRAP_JOIN_RE = re.compile(rf"\n(?<=[{_WRAP_BEFORE}]\n)(?=[{_WRAP_AFTER}])")
"""A hard-wrapping line break; the pattern begins with the `\\n` so that `re` jumps from one
line break to the next (~15x faster than beginning with the wrap-mark class)."""
_BLANK_LINES_RE = re.compile(r"\n\n+")
_CITATION_RE = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]|\[编辑\]|\[編輯\]", re.IGNORECASE)
_CONVERSION_RE = re.compile(r"-\{([^{}\n]*)\}-")  # within a line: runs on whole documents
_VARIANT_RE = re.compile(r"zh-(?:cn|hans|sg|my)\s*:\s*([^;]*)")
_EMPTY_BRACKETS_RE = re.compile(
    r"\([^\S\n]*[,;，；]?[^\S\n]*\)|（[^\S\n]*[,;，；]?[^\S\n]*）|\[[^\S\n]*\]")
_BOILERPLATE = (
    "terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
    "use cookies", "enable javascript", "javascript is disabled", "javascript must be enabled",
    "requires javascript", "javascript is required",
)
_BOILERPLATE_KEYS = ("cookie", "javascript", "terms of use", "privacy policy")
END_MARKS = (".", "!", "?", '"', "。", "！", "？", "”", "」", "』", "…")
MIN_LINES_FOR_SHAPE_RULES = 3
_LOREM = "lorem ipsum"
_BULLETS = ("•", "-", "*", "·", "‣", "◦")
_ELLIPSES = ("...", "…")


def normalize_text(text: str, form: str = "NFC", presplit: bool = False) -> str:
    """Unicode form, no control/zero-width characters, one space per gap, no blank lines.

    Zero-width joiners are removed too, which may change emoji sequences and Persian
    spelling; for BERT-style vocabularies those characters are noise.

    Hard-wrapped CJK: Chinese and Japanese have no spaces between words, so a line break
    inside a run of CJK text is a hard wrap, and joining the lines with a space (or
    keeping them apart) would make `这\n样做` two words for jieba and WordPiece. One line
    break (with the spaces around it) disappears when it follows a CJK letter or a
    mid-sentence mark (，、 or an opening bracket/quote) and precedes a CJK letter or CJK
    punctuation. A blank line is a paragraph break, and a line ending in 。！？：；」 ends
    a sentence or a heading, so both stay. Between Latin words a break inside a line
    (U+2028, NEL, form feed) becomes one space, and `\n` keeps separating paragraph
    lines. In presplit BERT text every `\n` ends a sentence the user chose (often a
    headline), so only the breaks inside a line join there.

    Every rule is local to a line, so a document without breaks inside its lines is
    normalised by whole-document passes (`_normalize_document`, several times faster than a
    regex per line); the rare one with such breaks goes line by line (`_normalize_by_line`).
    """
    text = unicodedata.normalize(form, text)
    unusual = _UNUSUAL_RE.search(text) is not None
    if unusual:
        text = _ZERO_WIDTH_RE.sub("", text)
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if _INLINE_BREAK_RE.search(text):
            return _normalize_by_line(text, presplit)
    return _normalize_document(text, presplit, unusual)


def _normalize_by_line(text: str, presplit: bool) -> str:
    """`normalize_text` after the Unicode form, one line at a time: the general path."""
    lines: list[str] = []
    wrapped = False  # the previous raw line was kept and ends unfinished in CJK
    for line in text.split("\n"):
        if _INLINE_BREAK_RE.search(line):
            line = _CJK_INLINE_BREAK_RE.sub(r"\1", line)
        kept = _SPACE_RUN_RE.sub(" ", _CONTROL_RE.sub(" ", line)).strip()
        if not kept:
            wrapped = False
            continue
        if wrapped and _WRAP_AFTER_RE.match(kept):
            lines[-1] += kept
        else:
            lines.append(kept)
        wrapped = not presplit and _WRAP_BEFORE_RE.match(kept[-1]) is not None
    return "\n".join(lines)


def _normalize_document(text: str, presplit: bool, unusual: bool) -> str:
    """`_normalize_by_line` in whole-document passes, for text with no `\r` and no breaks
    inside its lines: each pass runs only when a cheap search finds something for it.
    `unusual=False` says that `_UNUSUAL_RE` finds nothing in `text`."""
    if unusual:
        text = _CONTROL_BUT_NL_RE.sub(" ", text)
    text = _collapse_spaces(text, unusual)
    if not presplit and "\n" in text:
        text = _WRAP_JOIN_RE.sub("", text)  # lines are stripped: the break is bare
    if "\n\n" in text:
        text = _BLANK_LINES_RE.sub("\n", text)
    return text.strip("\n")


def _collapse_spaces(text: str, odd_spaces: bool) -> str:
    """Each line of `text` with `_SPACE_RUN_RE` applied and stripped (blank lines stay);
    `odd_spaces=False` says that `text` has no whitespace but spaces and line breaks.

    `_SPACE_RUN_RE` is applied as two cheaper passes: each odd space made a space, then
    each run of spaces made one (a literal prefix `re` finds fast; ~4x on English text
    with no-break spaces)."""
    if odd_spaces and _ODD_SPACE_RE.search(text):
        text = _ODD_SPACE_RE.sub(" ", text)
    if "  " in text:
        text = _SPACES_RE.sub(" ", text)
    # Now the only whitespace is single spaces and line breaks.
    if " \n" in text or "\n " in text:
        text = text.replace(" \n", "\n").replace("\n ", "\n")
    return text.strip(" ")


def _conversion_text(match: re.Match) -> str:
    inner = match.group(1)
    variant = _VARIANT_RE.search(inner)
    if variant:
        return variant.group(1).strip()
    return "" if ":" in inner else inner


def line_drop_rule(line: str, cfg: CleanConfig, boilerplate: bool) -> str | None:
    """The name of the C4-style rule that drops this paragraph line, or None to keep it.

    `boilerplate=False` says the document holds no boilerplate phrase, so the line is not
    searched for one (the phrases are looked for in the whole document first)."""
    if not line:
        return "empty"
    if boilerplate and cfg.drop_boilerplate_lines and _has_boilerplate(line.lower()):
        return "boilerplate"
    if _too_short(line, cfg.min_line_words):
        return "too_short"
    if cfg.require_end_mark and (not line.endswith(END_MARKS) or line.endswith("...")):
        return "no_end_mark"
    return None


def _too_short(line: str, min_words: int) -> bool:
    """Fewer than `min_words` words (whitespace tokens, each CJK character a word of its
    own), without listing the words of a long line.

    Each whitespace token holds at least one word, so `min_words` tokens (found by a split
    that stops there) settle it; otherwise the words are counted up to `min_words`.
    """
    if min_words <= 0:
        return False
    if len(line.split(None, min_words - 1)) >= min_words:
        return False
    return sum(1 for _ in islice(_WORD_RE.finditer(line), min_words)) < min_words


def clean_paragraphs(text: str, cfg: CleanConfig) -> tuple[str, Counter, bool]:
    """The C4-style line rules on a normalised paragraph document (what `normalize_text`
    returns: lines stripped, one space per gap): (kept lines joined, dropped lines by rule,
    whether the kept text may contain "lorem ipsum" in any case).

    Each markup rule is local to a line, so they run once over the whole document, and the
    boilerplate phrases are looked for in the whole document before line by line. No phrase
    spans lines, so the kept lines can hold "lorem ipsum" only if all the lines did: one
    `lower` serves both searches.
    """
    if cfg.strip_wiki_markup:
        stripped = _CITATION_RE.sub("", text)
        if "-{" in stripped:
            stripped = _CONVERSION_RE.sub(_conversion_text, stripped)
        stripped = _EMPTY_BRACKETS_RE.sub("", stripped)
        if stripped != text:
            text = _collapse_spaces(stripped, odd_spaces=False)
    lower = text.lower() if cfg.drop_boilerplate_lines or cfg.drop_lorem_ipsum else None
    boilerplate = lower is not None and cfg.drop_boilerplate_lines and _has_boilerplate(lower)
    maybe_lorem = lower is None or _LOREM in lower
    kept, dropped = [], Counter()
    for line in text.split("\n"):
        rule = line_drop_rule(line, cfg, boilerplate)
        if rule is None:
            kept.append(line)
        else:
            dropped[rule] += 1
    return "\n".join(kept), dropped, maybe_lorem


def _has_boilerplate(lower: str) -> bool:
    """Does `lower` hold a boilerplate phrase? Each phrase holds one of the four key words,
    so text without them (nearly all) is searched 4 times, not 11."""
    return (any(w in lower for w in _BOILERPLATE_KEYS)
            and any(p in lower for p in _BOILERPLATE))


def _fraction(count: int, total: int) -> float:
    return count / total if total else 0.0


def document_drop_reason(
    text: str, cfg: CleanConfig, maybe_lorem: bool
) -> DropReason | None:
    """Gopher-style quality rules on a normalised document; None means keep.
    `maybe_lorem=False` says "lorem ipsum" is not in `text` in any case."""
    if not text:
        return DropReason.EMPTY
    if cfg.drop_lorem_ipsum and maybe_lorem and _LOREM in text.lower():
        return DropReason.LOREM_IPSUM
    if cfg.drop_code and "{" in text:
        return DropReason.CODE
    n_tokens, n_real, real_chars, n_alpha = word_stats(text)
    if n_real < cfg.min_words:
        return DropReason.TOO_FEW_WORDS
    if n_real > cfg.max_words:
        return DropReason.TOO_MANY_WORDS
    if not cfg.min_mean_word_length <= real_chars / n_real <= cfg.max_mean_word_length:
        return DropReason.MEAN_WORD_LENGTH
    symbols = text.count("#") + text.count("...") + text.count("…")
    if _fraction(symbols, n_real) > cfg.max_symbol_ratio:
        return DropReason.SYMBOL_RATIO
    if _fraction(n_alpha, n_tokens) < cfg.min_alpha_ratio:
        return DropReason.ALPHA_RATIO
    return _line_shape_reason(text.split("\n"), cfg)


def _line_shape_reason(lines: list[str], cfg: CleanConfig) -> DropReason | None:
    """Repeated, bullet and ellipsis line fractions.

    The bullet and ellipsis rules need MIN_LINES_FOR_SHAPE_RULES lines: a one-line news
    article that happens to end in "…" is not a list of teasers.
    """
    repeated = len(lines) - len(set(lines))  # lines equal to an earlier one
    if _fraction(repeated, len(lines)) > cfg.max_repeated_line_fraction:
        return DropReason.REPEATED_LINES
    if len(lines) < MIN_LINES_FOR_SHAPE_RULES:
        return None
    bullets = sum(map(str.startswith, lines, repeat(_BULLETS)))
    if _fraction(bullets, len(lines)) > cfg.max_bullet_line_fraction:
        return DropReason.BULLET_LINES
    ellipses = sum(map(str.endswith, lines, repeat(_ELLIPSES)))
    if _fraction(ellipses, len(lines)) > cfg.max_ellipsis_line_fraction:
        return DropReason.ELLIPSIS_LINES
    return None


def clean_document(
    doc: TextDocument, cfg: CleanConfig
) -> tuple[TextDocument | None, DropReason | None, Counter]:
    """(cleaned document or None, drop reason or None, dropped lines by rule)."""
    text = normalize_text(doc.text, cfg.normalization, doc.presplit)
    dropped: Counter = Counter()
    maybe_lorem = True
    if not doc.presplit and text:
        text, dropped, maybe_lorem = clean_paragraphs(text, cfg)
    reason = document_drop_reason(text, cfg, maybe_lorem)
    if reason is not None:
        return None, reason, dropped
    cleaned = TextDocument(id=doc.id, text=text, source=doc.source, presplit=doc.presplit)
    return cleaned, None, dropped


class CleanStep:
    """The cleaning step of a `doc_steps.DocumentSteps` chain: the cleaned document, or None
    when it is dropped; counts dropped lines by rule and dropped documents by reason."""

    def __init__(self, cfg: CleanConfig) -> None:
        self._cfg = cfg

    def __call__(self, doc: TextDocument, counters: Counters) -> TextDocument | None:
        cleaned, reason, dropped_lines = clean_document(doc, self._cfg)
        for rule, n in sorted(dropped_lines.items()):
            counters.inc(LINES_DROPPED_PREFIX + rule, n)
        if reason is not None:
            counters.inc(DROPPED_PREFIX + reason.value)
        return cleaned
