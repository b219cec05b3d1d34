"""Word counts of a document for the Gopher-style rules, from a table of character classes.

A word is a whitespace token (`str.split`), except that each CJK character (kana, Han:
`KANA_AND_HAN_CLASS`) is a word on its own and also ends the token before it. A word is
*real* if one of its characters is a letter or digit (`isalnum`, the regex class
`[^\\W_]`), *alphabetic* if one is a non-decimal alphanumeric (`[^\\W\\d_]`); a CJK word is
both.

Why a table: splitting a document into word strings and testing each one cost more than the
rest of the cleaning rules together (English: ~1.5 M words per 10 MB). Here each code point
is looked up once in a byte table (numpy gather), token boundaries are the edges of the
in-word runs, and per-token flags are one `bitwise_or.reduceat`: a handful of array
operations per document, whatever its number of words. The table is filled lazily, each
code point the first time a document holds it, from the same predicates the definition
names (`str.isspace`, the regex classes), so it agrees with them on every code point.
"""

from __future__ import annotations

import re

import numpy as np

from core.cjk import KANA_AND_HAN_CLASS

_IN_WORD = 1  # neither whitespace nor CJK: part of a whitespace token
_REAL = 2  # `[^\W_]` and not CJK
_ALPHA = 4  # `[^\W\d_]` and not CJK
_CJK = 8
_UNKNOWN = 0x80  # not looked up yet
_CJK_CHAR_RE = re.compile(rf"[{KANA_AND_HAN_CLASS}]")
_ALNUM_RE = re.compile(r"[^\W_]")
_ALPHA_RE = re.compile(r"[^\W\d_]")
_CLASSES = np.full(0x110000, _UNKNOWN, np.uint8)


def _char_class(ch: str) -> int:
    if _CJK_CHAR_RE.match(ch):
        return _CJK
    if ch.isspace():
        return 0
    return (_IN_WORD | (_REAL if _ALNUM_RE.match(ch) else 0)
            | (_ALPHA if _ALPHA_RE.match(ch) else 0))


def _classes(code_points: np.ndarray) -> np.ndarray:
    """The class byte of each code point, looking up the ones never seen before."""
    classes = _CLASSES[code_points]
    unknown = classes == _UNKNOWN
    if unknown.any():
        for cp in np.unique(code_points[unknown]).tolist():
            _CLASSES[cp] = _char_class(chr(cp))
        classes = _CLASSES[code_points]
    return classes


def word_stats(text: str) -> tuple[int, int, int, int]:
    """(words, real words, total length of the real words, alphabetic words) of `text`."""
    code_points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
    classes = _classes(code_points)
    n_cjk = int(np.count_nonzero(classes == _CJK))
    in_word = np.zeros(len(classes) + 2, np.uint8)  # padded with a non-word at each end
    np.bitwise_and(classes, _IN_WORD, out=in_word[1:-1])
    # Edges of the in-word runs: starts at even, ends (exclusive) at odd positions.
    edges = np.flatnonzero(in_word[1:] != in_word[:-1])
    starts = edges[0::2]
    if not len(starts):
        return n_cjk, n_cjk, n_cjk, n_cjk
    # Each segment runs from a token start to the next one: the token, then whitespace and
    # CJK characters, which carry neither flag.
    flags = np.bitwise_or.reduceat(classes, starts)
    real = (flags & _REAL).astype(bool)
    real_chars = int((edges[1::2] - starts)[real].sum())
    n_real = int(np.count_nonzero(real))
    n_alpha = int(np.count_nonzero(flags & _ALPHA))
    return n_cjk + len(starts), n_cjk + n_real, n_cjk + real_chars, n_cjk + n_alpha
