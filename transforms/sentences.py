"""Sentence splitting for English and Chinese: rules and regexes, offline.

NLTK punkt (what C4 used) needs a model download at run time; these rules need nothing.
A line is never joined with the next one: lines are paragraphs (or, for presplit BERT text
documents, already sentences, which are kept as they are).

Chinese: a sentence ends after a run of 。！？；… (or ASCII ! ? directly followed by a CJK
character), together with the closing quotes and brackets that follow it (”」』）》’).

English: a sentence ends after . ! ? or ... with any closing quotes/brackets, when
whitespace follows and the next word starts with an upper-case letter, a digit or an
opening quote/bracket. No split after: a known abbreviation (Mr. Dr. e.g. i.e. vs. Fig.
No. St. ...), a single capital letter (initials "J. R. R. Tolkien"), or a dotted acronym
("U.S.", a deliberate choice: "in the U.S. In 1990" stays one sentence). Decimals such as
3.14 never split because no whitespace follows the point. A lower-case next word never
starts a sentence ("approx. five", "etc. and").
"""

from __future__ import annotations

import re

from core.cjk import KANA_AND_HAN_CLASS
from transforms.accounting import DROPPED_PREFIX, Counters, DropReason
from transforms.records import Document, TextDocument

ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "gen", "col", "lt", "capt", "sgt", "rev",
    "hon", "mt", "fig", "figs", "no", "nos", "vol", "vols", "pp", "ed", "eds", "vs", "cf", "al",
    "approx", "e.g", "i.e", "a.m", "p.m", "ca", "inc", "ltd", "co", "corp", "dept", "est", "jan",
    "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "univ", "assn",
    "bros", "ave", "blvd", "op",
})
_CLOSERS = "\"'”’)\\]}」』）》〉】"
# Each boundary regex begins with one character class, which lets `re` skip to candidate
# marks in C instead of trying the pattern at every position. Both spell out, after the first
# mark, the alternatives `(?:[。！？；]+|…+|[!?]+(?=CJK))` and `(?:\.\.\.|[.!?]+)` with the
# same matches and the same backtracking order (the first mark picks the branch).
_ZH_BOUNDARY = re.compile(
    rf"[。！？；…!?](?:(?<=[。！？；])[。！？；]*|(?<=…)…*|(?<=[!?])[!?]*(?=[{KANA_AND_HAN_CLASS}]))"
    rf"[{_CLOSERS}]*"
)
_EN_BOUNDARY = re.compile(
    rf"[.!?](?:(?<=\.)\.\.|[.!?]*)[{_CLOSERS}]*(?=\s+[\"'“‘(\[A-Z0-9{KANA_AND_HAN_CLASS}])"
)
_ACRONYM = re.compile(r"^(?:[A-Za-z]\.)+[A-Za-z]?$")


_LONGEST_ABBREVIATION = max(map(len, ABBREVIATIONS))


def _is_abbreviation(before: str) -> bool:
    """True when the text before a '.' ends in a word that does not end sentences.

    Cheap tests first: an acronym `_ACRONYM` accepts is one letter or has '.' second, and a
    word longer than every abbreviation is none (`lower` never shortens a string).
    """
    tail = before.rsplit(None, 1)
    if not tail:
        return False
    token = tail[-1].lstrip("\"'“‘([")
    if len(token) == 1 and token.isalpha() and token.isupper():
        return True
    if (len(token) == 1 or token[1:2] == ".") and _ACRONYM.match(token + "."):
        return True
    return len(token) <= _LONGEST_ABBREVIATION and token.lower() in ABBREVIATIONS


def _en_cuts(line: str) -> list[int]:
    """End offsets of English sentences; the abbreviation look-back is bounded (linear time)."""
    cuts = []
    for m in _EN_BOUNDARY.finditer(line):
        start = m.start()
        # A single period (not an ellipsis) may end an abbreviation instead of a sentence.
        if (line[start] == "." and not line.startswith("...", start)
                and _is_abbreviation(line[max(0, start - 32) : start])):
            continue
        cuts.append(m.end())
    return cuts


def split_line(line: str) -> list[str]:
    """Sentences of one paragraph line, stripped, in order; their concatenation is the line.

    Each rule runs only where it can match: Chinese marks are not ASCII, and an English
    boundary needs one of `.!?` (the regexes have no literal prefix to skip text quickly).
    """
    if line.isascii():
        cuts = _en_cuts(line)  # ascending and distinct
    elif "." in line or "!" in line or "?" in line:
        cuts = sorted({m.end() for m in _ZH_BOUNDARY.finditer(line)} | set(_en_cuts(line)))
    else:
        cuts = [m.end() for m in _ZH_BOUNDARY.finditer(line)]
    pieces, start = [], 0
    for cut in cuts + [len(line)]:
        piece = line[start:cut].strip()
        if piece:
            pieces.append(piece)
        start = cut
    return pieces


def split_sentences(text: str, presplit: bool) -> list[str]:
    """All sentences of a cleaned document; presplit documents keep their lines."""
    lines = [line for line in text.split("\n") if line.strip()]
    if presplit:
        return lines
    return [s for line in lines for s in split_line(line)]


class SplitStep:
    """A `doc_steps.DocumentSteps` step: TextDocument -> Document with its sentences; a
    document with fewer than `min_sentences` (at least one) is dropped and counted."""

    def __init__(self, min_sentences: int) -> None:
        self._min_sentences = max(1, min_sentences)

    def __call__(self, doc: TextDocument, counters: Counters) -> Document | None:
        sentences = split_sentences(doc.text, doc.presplit)
        if len(sentences) < self._min_sentences:
            counters.inc(DROPPED_PREFIX + DropReason.TOO_FEW_SENTENCES.value)
            return None
        return Document(id=doc.id, text=doc.text, sentences=sentences, lang=doc.lang)
