"""The project's encoder: sentences -> flat token ids, whole-word starts, sentence offsets.

Ids are exactly those of `tokenizers.Tokenizer.from_file(dir/tokenizer.json)` and of
`BertTokenizerFast.from_pretrained(dir)` (without [CLS]/[SEP]); for a vocab built with
`--zh-segmenter jieba` the text is first jieba-segmented (`vocab.jieba_segmenter.presegment`),
which is the input those tools expect too.

Word starts: a new word begins where the tokenizer's word id changes (a WordPiece start,
never a `##` continuation). With `zh_word_starts=True` over a char-level vocab, consecutive
CJK tokens inside one jieba word share one start (Chinese-BERT-wwm).

Speed: BERT normalisation and pre-tokenisation never join text across an ASCII space, so a
space-separated chunk always encodes to the same tokens. `encode_document` therefore caches
chunk -> (ids, word starts) and sends only unseen chunks to `Tokenizer.encode_batch`; the
plain path (`use_cache=False`) encodes whole sentences. Tests prove both identical on real
corpora.
"""

from __future__ import annotations

import re

import numpy as np
from tokenizers import Encoding, Tokenizer

from vocab.artifacts import MANIFEST, TOKENIZER_JSON, VOCAB_TXT, VocabArtifacts, sha256_hex
from vocab.jieba_segmenter import presegment, word_start_chars
from vocab.pretokenize import is_cjk_char
from vocab.vocab_dir import load_vocab_dir

_UNUSED = re.compile(r"\[unused\d+\]")
_MAX_CACHE = 1 << 20
"""Chunks cached per mode before the cache is dropped and refilled (bounds worker memory)."""

Cached = tuple[list[int], list[bool]]


class Encoder:
    """A BERT WordPiece encoder for one vocab; build it once per worker (`DoFn.setup`)."""

    def __init__(self, tokenizer: Tokenizer, vocab_txt: bytes, *, lowercase: bool,
                 zh_segmenter: str = "none", use_cache: bool = True) -> None:
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.zh_segmenter = zh_segmenter
        self.use_cache = use_cache
        self.vocab_sha256 = sha256_hex(vocab_txt)
        self.id_to_token: list[str] = vocab_txt.decode("utf-8").split("\n")[:-1]
        self.vocab_size = len(self.id_to_token)
        ids = {t: i for i, t in enumerate(self.id_to_token)}
        missing = [t for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]") if t not in ids]
        if missing:
            raise ValueError(f"vocab lacks special tokens {missing}")
        self.pad_id, self.unk_id = ids["[PAD]"], ids["[UNK]"]
        self.cls_id, self.sep_id, self.mask_id = ids["[CLS]"], ids["[SEP]"], ids["[MASK]"]
        self._caches: dict[bool, dict[str, Cached]] = {False: {}, True: {}}

    @classmethod
    def from_dir(cls, path: str, lowercase: bool | None = None, **kwargs) -> Encoder:
        """Our vocab dir, or a dir holding only Google's `vocab.txt` (then `lowercase` is needed)."""
        files, tokenizer, meta = load_vocab_dir(path, lowercase)
        return cls(tokenizer, files[VOCAB_TXT], lowercase=meta["lowercase"],
                   zh_segmenter=meta["zh_segmenter"], **kwargs)

    @classmethod
    def from_artifacts(cls, artifacts: VocabArtifacts, **kwargs) -> Encoder:
        """The vocab built earlier in the same pipeline (`all`), without touching storage."""
        manifest = artifacts.manifest or {}
        if not manifest and MANIFEST in artifacts.files:
            import json

            manifest = json.loads(artifacts.files[MANIFEST])
        tokenizer = Tokenizer.from_str(artifacts.files[TOKENIZER_JSON].decode("utf-8"))
        return cls(tokenizer, artifacts.files[VOCAB_TXT], lowercase=manifest["lowercase"],
                   zh_segmenter=manifest["zh_segmenter"], **kwargs)

    def replacement_ids(self) -> np.ndarray:
        """Ids a random replacement may take: everything but specials and `[unusedN]`."""
        special = {self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id}
        keep = [i for i, t in enumerate(self.id_to_token)
                if i not in special and not _UNUSED.fullmatch(t)]
        return np.asarray(keep, dtype=np.int32)

    def encode_document(self, sentences: list[str], zh_word_starts: bool = False
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids int32, word_starts bool, offsets int64); sentence k is ids[offsets[k]:offsets[k+1]]."""
        if self.zh_segmenter == "jieba":
            sentences = [presegment(s) for s in sentences]
            zh_word_starts = False  # jieba words are already tokenizer words
        encode = self._encode_cached if self.use_cache else self._encode_plain
        ids, starts, lengths = encode(sentences, zh_word_starts)
        offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return (np.asarray(ids, dtype=np.int32), np.asarray(starts, dtype=bool), offsets)

    def _encode_plain(self, texts: list[str], zh_word_starts: bool):
        ids: list[int] = []
        starts: list[bool] = []
        lengths: list[int] = []
        for text, enc in zip(texts, self.tokenizer.encode_batch(texts, add_special_tokens=False)):
            ids += enc.ids
            starts += _word_starts(text, enc, zh_word_starts)
            lengths.append(len(enc.ids))
        return ids, starts, lengths

    def _encode_cached(self, texts: list[str], zh_word_starts: bool):
        cache = self._caches[zh_word_starts]
        if len(cache) > _MAX_CACHE:
            cache.clear()
        chunked = [[c for c in text.split(" ") if c] for text in texts]
        unseen = list({c for chunks in chunked for c in chunks if c not in cache})
        if unseen:
            for chunk, enc in zip(unseen, self.tokenizer.encode_batch(unseen,
                                                                      add_special_tokens=False)):
                cache[chunk] = (enc.ids, _word_starts(chunk, enc, zh_word_starts))
        ids: list[int] = []
        starts: list[bool] = []
        lengths: list[int] = []
        for chunks in chunked:
            before = len(ids)
            for chunk in chunks:
                chunk_ids, chunk_starts = cache[chunk]
                ids += chunk_ids
                starts += chunk_starts
            lengths.append(len(ids) - before)
        return ids, starts, lengths


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
            if starts[i] and hi - lo == 1 and is_cjk_char(text[lo]) and lo not in jieba_starts:
                starts[i] = False
    return starts
