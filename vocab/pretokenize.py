"""BERT pre-tokenisation, taken from `tokenizers` itself so training and encoding agree.

Google's BasicTokenizer (clean text, pad CJK characters, optional lowercase + accent strip,
split on whitespace and punctuation) is `BertNormalizer` + `BertPreTokenizer` in `tokenizers`.
Counting words for training goes through the very same Rust objects that the saved
`tokenizer.json` uses, so a word counted here is exactly a word the encoder later sees.

With `--zh-segmenter jieba` CJK characters are *not* padded (`handle_chinese_chars=False`):
jieba has already put a space between the words of each CJK run (`vocab.jieba_segmenter`),
so a Chinese word reaches WordPiece whole (a WoBERT-style word-level vocabulary).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from tokenizers import normalizers, pre_tokenizers

# ASCII fast path. On ASCII text BERT's rules reduce to: delete control characters
# (`clean_text`; \t \n \r are whitespace), lowercase, then every run of letters/digits is a
# word and every other printable non-space character (all ASCII punctuation per BERT) is a
# word of its own. Tests check it against the Rust normalizer + pre-tokenizer.
_ASCII_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ASCII_WORD = re.compile("[A-Za-z0-9]+|[!-/:-@\\[-`{-~]")

# CJK fast path: the ideographs of CJK Unified Ideographs and Extension A. The normaliser
# pads each with spaces (one word each) and leaves it as it is otherwise: none has an NFD
# decomposition or a lowercase form (unlike the compatibility ideographs U+F900-U+FAFF and
# U+2F800-U+2FA1F, which NFD maps to other characters, left to the normaliser).
_IDEOGRAPH = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")
_IDEOGRAPH_RUN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]+")

_CHUNK_CACHE_SIZE = 1 << 17
"""Distinct whitespace-free chunks whose words `BertWordSplitter.count` remembers (then it
starts afresh): enough for the chunks of many documents, a few tens of MB at most."""


def make_normalizer(lowercase: bool, handle_chinese_chars: bool) -> normalizers.Normalizer:
    """`BertNormalizer` as `BertWordPieceTokenizer` builds it (accent strip follows lowercase)."""
    return normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=handle_chinese_chars,
        strip_accents=None,
        lowercase=lowercase,
    )


class BertWordSplitter:
    """Text -> BERT words: the normalizer + pre-tokenizer of the saved `tokenizer.json`."""

    def __init__(self, lowercase: bool, handle_chinese_chars: bool = True) -> None:
        self.lowercase = lowercase
        self.handle_chinese_chars = handle_chinese_chars
        self._normalizer = make_normalizer(lowercase, handle_chinese_chars)
        self._pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        self._chunk_cache: dict[str, tuple[str, ...]] = {}

    def words(self, text: str) -> list[str]:
        """The pre-tokens WordPiece is applied to, in order."""
        if text.isascii():
            text = _ASCII_CONTROL.sub("", text)
            return _ASCII_WORD.findall(text.lower() if self.lowercase else text)
        normalized = self._normalizer.normalize_str(text)
        return [w for w, _ in self._pre_tokenizer.pre_tokenize_str(normalized)]

    def count(self, texts: Iterable[str], counts: Counter | None = None) -> Counter:
        """Counts of the words of all `texts`: `Counter(w for t in texts for w in words(t))`
        (added to `counts` when given), without one Python call per text and one tuple per
        word.

        ASCII texts go through the fast path joined by newlines (a newline ends a word and
        makes none). The others are joined by spaces and normalised in one Rust call; the
        normaliser is character by character (its NFD never reorders marks across a space)
        and maps every whitespace character to a space, so the normalised text splits on
        spaces into the chunks the pre-tokenizer would see, and only each *distinct* chunk
        goes through the Rust pre-tokenizer. When CJK characters are padded, the common
        ideographs (`_IDEOGRAPH`) are counted directly and replaced by a space before
        normalising: the normaliser would only have padded them.
        """
        ascii_texts, other_texts = [], []
        for text in texts:
            (ascii_texts if text.isascii() else other_texts).append(text)
        counts = Counter() if counts is None else counts
        if ascii_texts:
            counts.update(self.words("\n".join(ascii_texts)))
        if other_texts:
            text = " ".join(other_texts)
            if self.handle_chinese_chars:
                counts.update(_IDEOGRAPH.findall(text))
                text = _IDEOGRAPH_RUN.sub(" ", text)
            chunks = Counter(self._normalizer.normalize_str(text).split(" "))
            chunks.pop("", None)
            for chunk, n in chunks.items():
                for word in self._chunk_words(chunk):
                    counts[word] += n
        return counts

    def _chunk_words(self, chunk: str) -> tuple[str, ...]:
        """The pre-tokenizer's words of one normalised, space-free chunk (memoised)."""
        cache = self._chunk_cache
        words = cache.get(chunk)
        if words is None:
            if len(cache) >= _CHUNK_CACHE_SIZE:
                cache.clear()
            words = cache[chunk] = tuple(w for w, _ in self._pre_tokenizer.pre_tokenize_str(chunk))
        return words

    def __reduce__(self):
        # The Rust objects do not need pickling: rebuild them from the two flags.
        return (BertWordSplitter, (self.lowercase, self.handle_chinese_chars))
