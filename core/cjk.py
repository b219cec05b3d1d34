"""The two CJK character classes of the project, and why there are two.

- `BERT_CHINESE_RANGES` (`BERT_CHINESE_CLASS`, `is_bert_chinese_char`): Google BERT's
  `tokenization._is_chinese_char` ranges, the characters the BERT normalizer pads with
  spaces so that each becomes one token. Kana and Hangul are *not* in it, as in BERT; the
  encoder, the jieba segmenter and the vocab must use exactly this set to agree with
  `tokenizers`.
- `KANA_AND_HAN_CLASS`: Hiragana, Katakana and every Han block (the BERT ranges widened to
  all of U+20000-U+2FA1F) — scripts written without spaces between words. The cleaning
  rules count each such character as a word (Gopher thresholds, `--min-line-words`), and
  the sentence splitter treats them as the start of a sentence after `!`/`?`.

Both are regex character-class bodies (`[...]` without the brackets).
"""

from __future__ import annotations

BERT_CHINESE_RANGES: tuple[tuple[int, int], ...] = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
"""Code point ranges, inclusive, of Google BERT's `_is_chinese_char`."""

BERT_CHINESE_CLASS = "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in BERT_CHINESE_RANGES)

KANA_AND_HAN_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"


def is_bert_chinese_char(ch: str) -> bool:
    """True for a character BERT treats as a CJK ideograph (one token per character)."""
    cp = ord(ch)
    if cp < 0x3400:
        return False
    return any(lo <= cp <= hi for lo, hi in BERT_CHINESE_RANGES)
