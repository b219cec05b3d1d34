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

# Characters `str.split` takes for whitespace but BERT's normaliser deletes as control
# characters (category Cc, not tab/newline/carriage return); every other character is
# whitespace to both or to neither (Unicode White_Space and category Zs).
_SPLIT_NOT_BERT_SPACE = re.compile("[\x0b\x0c\x1c-\x1f\x85]")

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


def _mostly_non_ascii(text: str) -> bool:
    """Whether at least one character in eight is outside ASCII (by UTF-8 length, C speed).

    Decides whether `count` takes the common ideographs out of the whole text first (two
    regex passes, ~35 ms per MB): worth it for Chinese, whose chunks would otherwise be whole
    sentences, each new to the chunk cache; not for English with a few ideographs, whose
    chunks holding them the normaliser pads as it would have anyway."""
    return len(text.encode("utf-8", "surrogatepass")) - len(text) >= len(text) // 8


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
            if text.isalnum():  # one run of ASCII letters and digits: one word
                return [text.lower() if self.lowercase else text]
            text = _ASCII_CONTROL.sub("", text)
            return _ASCII_WORD.findall(text.lower() if self.lowercase else text)
        normalized = self._normalizer.normalize_str(text)
        return [w for w, _ in self._pre_tokenizer.pre_tokenize_str(normalized)]

    def count(self, texts: Iterable[str], counts: Counter | None = None) -> Counter:
        """Counts of the words of all `texts`: `Counter(w for t in texts for w in words(t))`
        (added to `counts` when given), without one Python call per text and one tuple per
        word, and without normalising the whole text.

        Whitespace ends a word and makes none, before and after normalising (the normaliser
        maps every whitespace character to a space), so the texts are joined by newlines and
        split on whitespace by `str.split` (C speed), and each *distinct* chunk goes through
        `words` once (memoised): the ASCII fast path, or the Rust normaliser and
        pre-tokenizer on that chunk alone. That is exact because the normaliser works
        character by character (its NFD never reorders marks across a space). `str.split`
        also splits on a few characters that BERT deletes as control characters instead
        (`_SPLIT_NOT_BERT_SPACE`), so those are deleted first, as BERT would. When CJK
        characters are padded, the common ideographs (`_IDEOGRAPH`) are counted directly and
        replaced by a space: the normaliser would only have padded them.

        The old way, the normaliser over the whole joined text, cost more than the counting
        on documents with a few non-ASCII characters (nearly every real document).
        """
        counts = Counter() if counts is None else counts
        text = "\n".join(texts)
        if self.handle_chinese_chars and not text.isascii() and _mostly_non_ascii(text):
            counts.update(_IDEOGRAPH.findall(text))
            text = _IDEOGRAPH_RUN.sub(" ", text)
        text = _SPLIT_NOT_BERT_SPACE.sub("", text)  # most of them are ASCII
        chunk_words = self._chunk_words
        for chunk, n in Counter(text.split()).items():
            for word in chunk_words(chunk):
                counts[word] += n
        return counts

    def _chunk_words(self, chunk: str) -> tuple[str, ...]:
        """`words` of one whitespace-free chunk of text (memoised)."""
        cache = self._chunk_cache
        words = cache.get(chunk)
        if words is None:
            if len(cache) >= _CHUNK_CACHE_SIZE:
                cache.clear()
            words = cache[chunk] = tuple(self.words(chunk))
        return words

    def __reduce__(self):
        # The Rust objects do not need pickling: rebuild them from the two flags.
        return (BertWordSplitter, (self.lowercase, self.handle_chinese_chars))
