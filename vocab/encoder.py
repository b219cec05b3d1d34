"""The project's encoder: sentences -> flat token ids, whole-word starts, sentence offsets.

Ids are exactly those of `tokenizers.Tokenizer.from_file(dir/tokenizer.json)` and of
`BertTokenizerFast.from_pretrained(dir)` (without [CLS]/[SEP]; see below for special-token
strings inside the text); for a vocab built with
`--zh-segmenter jieba` the text is first jieba-segmented (`vocab.jieba_segmenter.presegment`),
which is the input those tools expect too.

Special-token strings written in the corpus ("[MASK]", "[SEP]", ...) are plain text here,
as in Google's create_pretraining_data, so raw text can never inject control tokens; HF's
default maps them to the special ids (`split_special_tokens=False` reproduces that;
`BertTokenizerFast.from_pretrained(dir, split_special_tokens=True)` matches our default).

Word starts: a new word begins where the tokenizer's word id changes (a WordPiece start,
never a `##` continuation). With `zh_word_starts=True` over a char-level vocab, consecutive
CJK tokens inside one jieba word share one start (Chinese-BERT-wwm).

Speed: BERT normalisation and pre-tokenisation never join text across an ASCII space, nor
(in a char-level vocab) across a CJK character, which is always a word of its own. So a
*piece* (a space-free run of non-CJK text, or one CJK character) always encodes to the same
tokens, and `encode_document` caches piece -> (ids, word starts), sending only unseen pieces
to `Tokenizer.encode_batch`; the plain path (`use_cache=False`) encodes whole sentences.
Tests prove both identical on real corpora. Unseen pieces are encoded many to a string and
split back by character offsets, because one `Encoding` per piece would cost more than it
saves. With `zh_word_starts`, jieba still runs on each CJK run of the sentence.
"""

from __future__ import annotations

import re

import numpy as np
from tokenizers import Encoding, Tokenizer

from core.cjk import BERT_CHINESE_CLASS, is_bert_chinese_char
from core.special_tokens import SPECIAL_TOKEN_LIST, SPECIAL_TOKENS
from vocab.artifacts import TOKENIZER_JSON, VOCAB_TXT, VocabArtifacts, sha256_hex
from vocab.jieba_segmenter import presegment, word_start_chars
from vocab.vocab_dir import load_vocab_dir

_MAX_CACHE = 1 << 18
"""Pieces cached before the cache is dropped and refilled: ~60 MB per worker."""
_JOIN = 256
"""Unseen pieces encoded per joined string when filling the cache."""
_CHUNKS = re.compile("[^ ]+")
_CHUNKS_AND_CJK = re.compile(f"[{BERT_CHINESE_CLASS}]|[^ {BERT_CHINESE_CLASS}]+")

Cached = tuple[list[int], list[bool]]
Encoded = tuple[list[int], list[bool], list[int]]
"""Flat ids, flat word starts, and the token count of each text."""


class Encoder:
    """A BERT WordPiece encoder for one vocab; build it once per worker (`DoFn.setup`)."""

    def __init__(self, tokenizer: Tokenizer, vocab_txt: bytes, *, lowercase: bool,
                 zh_segmenter: str = "none", use_cache: bool = True,
                 split_special_tokens: bool = True) -> None:
        tokenizer.no_padding()
        tokenizer.no_truncation()
        tokenizer.encode_special_tokens = split_special_tokens
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.zh_segmenter = zh_segmenter
        self.use_cache = use_cache
        self.vocab_sha256 = sha256_hex(vocab_txt)
        self.id_to_token: list[str] = vocab_txt.decode("utf-8").split("\n")[:-1]
        self.vocab_size = len(self.id_to_token)
        ids = {t: i for i, t in enumerate(self.id_to_token)}
        missing = [t for t in SPECIAL_TOKEN_LIST if t not in ids]
        if missing:
            raise ValueError(f"vocab lacks special tokens {missing}")
        self.pad_id, self.unk_id = ids[SPECIAL_TOKENS["pad"]], ids[SPECIAL_TOKENS["unk"]]
        self.cls_id, self.sep_id = ids[SPECIAL_TOKENS["cls"]], ids[SPECIAL_TOKENS["sep"]]
        self.mask_id = ids[SPECIAL_TOKENS["mask"]]
        self._cache: dict[str, Cached] = {"": ([], [])}
        self._pieces = _CHUNKS_AND_CJK if zh_segmenter == "none" else _CHUNKS

    @classmethod
    def from_dir(cls, path: str, lowercase: bool | None = None, **kwargs) -> Encoder:
        """Our vocab dir, or one holding only Google's `vocab.txt` (then `lowercase` is needed)."""
        files, tokenizer, meta = load_vocab_dir(path, lowercase)
        return cls(tokenizer, files[VOCAB_TXT], lowercase=meta["lowercase"],
                   zh_segmenter=meta["zh_segmenter"], **kwargs)

    @classmethod
    def from_artifacts(cls, artifacts: VocabArtifacts, **kwargs) -> Encoder:
        """The vocab built earlier in the same pipeline (`all`), without touching storage.

        `artifacts.manifest` must hold `lowercase` and `zh_segmenter`."""
        manifest = artifacts.manifest
        tokenizer = Tokenizer.from_str(artifacts.files[TOKENIZER_JSON].decode("utf-8"))
        return cls(tokenizer, artifacts.files[VOCAB_TXT], lowercase=manifest["lowercase"],
                   zh_segmenter=manifest["zh_segmenter"], **kwargs)

    def encode_document(self, sentences: list[str], zh_word_starts: bool = False
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids int32, word_starts bool, offsets int64): sentence k is ids[offsets[k]:offsets[k+1]].

        Ids carry no [CLS]/[SEP]; the packer adds them.
        """
        if self.zh_segmenter == "jieba":
            sentences = [presegment(s) for s in sentences]
            zh_word_starts = False  # jieba words are already tokenizer words
        encode = self._encode_cached if self.use_cache else self._encode_plain
        ids, starts, lengths = encode(sentences, zh_word_starts)
        offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return (np.asarray(ids, dtype=np.int32), np.asarray(starts, dtype=bool), offsets)

    def _encode_plain(self, texts: list[str], zh_word_starts: bool) -> Encoded:
        ids: list[int] = []
        starts: list[bool] = []
        lengths: list[int] = []
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        for text, enc in zip(texts, encodings, strict=True):
            ids += enc.ids
            starts += _word_starts(text, enc, zh_word_starts)
            lengths.append(len(enc.ids))
        return ids, starts, lengths

    def _encode_cached(self, texts: list[str], zh_word_starts: bool) -> Encoded:
        cache = self._cache
        if len(cache) > _MAX_CACHE:
            cache.clear()
            cache[""] = ([], [])
        # ASCII has no CJK: a plain split (its empty strings hit the "" entry) is faster.
        pieces = [text.split(" ") if text.isascii() else self._pieces.findall(text)
                  for text in texts]
        unseen = list(dict.fromkeys(p for ps in pieces for p in ps if p not in cache))
        if unseen:
            self._fill(cache, unseen)
        ids: list[int] = []
        starts: list[bool] = []
        lengths: list[int] = []
        for text, text_pieces in zip(texts, pieces, strict=True):
            before = len(ids)
            if zh_word_starts and self._pieces is _CHUNKS_AND_CJK and not text.isascii():
                jieba_starts = word_start_chars(text)
                for m in self._pieces.finditer(text):
                    piece_ids, piece_starts = cache[m.group()]
                    ids += piece_ids
                    if is_bert_chinese_char(m.group()[0]):  # one CJK character: one token
                        starts += [m.start() in jieba_starts] * len(piece_ids)
                    else:
                        starts += piece_starts
            else:
                for piece in text_pieces:
                    piece_ids, piece_starts = cache[piece]
                    ids += piece_ids
                    starts += piece_starts
            lengths.append(len(ids) - before)
        return ids, starts, lengths

    def _fill(self, cache: dict[str, Cached], unseen: list[str]) -> None:
        """Encode unseen pieces, `_JOIN` at a time joined by spaces (one `Encoding` per group
        instead of per piece), and split the tokens back by their character offsets."""
        groups = [unseen[i:i + _JOIN] for i in range(0, len(unseen), _JOIN)]
        joined = [" ".join(group) for group in groups]
        encodings = self.tokenizer.encode_batch(joined, add_special_tokens=False)
        for group, text, enc in zip(groups, joined, encodings, strict=True):
            ids, starts = enc.ids, _word_starts(text, enc, zh_word_starts=False)
            ends = []  # token index where each piece's tokens end
            next_chunk_at = len(group[0]) + 1  # character where the next piece begins
            for i, (lo, _) in enumerate(enc.offsets):
                while lo >= next_chunk_at:
                    ends.append(i)
                    next_chunk_at += len(group[len(ends)]) + 1
            ends += [len(ids)] * (len(group) - len(ends))
            lo = 0
            for piece, hi in zip(group, ends, strict=True):
                cache[piece] = (ids[lo:hi], starts[lo:hi])
                lo = hi


def _word_starts(text: str, enc: Encoding, zh_word_starts: bool) -> list[bool]:
    """True where the word id changes; with `zh_word_starts`, CJK tokens that continue a
    jieba word are not starts."""
    starts = []
    prev = object()
    for w in enc.word_ids:
        starts.append(w is None or w != prev)
        prev = w
    if zh_word_starts and starts:
        jieba_starts = word_start_chars(text)
        for i, (lo, hi) in enumerate(enc.offsets):
            if (starts[i] and hi - lo == 1 and is_bert_chinese_char(text[lo])
                    and lo not in jieba_starts):
                starts[i] = False
    return starts
