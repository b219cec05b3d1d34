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
from itertools import repeat

import numpy as np
from tokenizers import Encoding, Tokenizer

from core.cjk import BERT_CHINESE_CLASS, is_bert_chinese_char
from core.special_tokens import SPECIAL_TOKEN_LIST, SPECIAL_TOKENS
from vocab.artifacts import TOKENIZER_JSON, VOCAB_TXT, VocabArtifacts, sha256_hex
from vocab.jieba_segmenter import presegment, word_start_chars
from vocab.vocab_dir import load_vocab_dir

_MAX_CACHE = 1 << 18
"""Pieces cached before the cache is dropped and refilled: ~30 MB per worker."""
_JOIN = 256
"""Unseen pieces encoded per joined string when filling the cache."""
_CHUNKS = re.compile("[^ ]+")
_CHUNKS_AND_CJK = re.compile(f"[{BERT_CHINESE_CLASS}]|[^ {BERT_CHINESE_CLASS}]+")

Encoded = tuple[list[int] | np.ndarray, list[bool] | np.ndarray, list[int] | np.ndarray]
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
        self._cache = _PieceCache()
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
        if len(self._cache) > _MAX_CACHE:
            self._cache = _PieceCache()
        cache = self._cache
        # ASCII has no CJK: a plain split (its empty strings hit the "" entry) is faster.
        pieces = [text.split(" ") if text.isascii() else self._pieces.findall(text)
                  for text in texts]
        flat = [p for ps in pieces for p in ps]
        slots = cache.slots(flat)
        missing = np.flatnonzero(slots < 0)
        if len(missing):
            missed = [flat[i] for i in missing.tolist()]
            # Sorted so that the cache's contents do not depend on set order (the tokens of
            # a piece do not depend on the pieces it is encoded with).
            self._fill(cache, sorted(set(missed)))
            slots[missing] = cache.slots(missed)
        ids, starts, piece_offsets = cache.gather(slots)
        bounds = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum([len(ps) for ps in pieces], out=bounds[1:])
        text_offsets = piece_offsets[bounds]
        if zh_word_starts and self._pieces is _CHUNKS_AND_CJK:
            for t, text in enumerate(texts):
                if text.isascii():
                    continue
                jieba_starts = word_start_chars(text)
                for j, m in enumerate(self._pieces.finditer(text), start=int(bounds[t])):
                    if is_bert_chinese_char(m.group()[0]):  # one CJK character: one token
                        starts[piece_offsets[j]:piece_offsets[j + 1]] = m.start() in jieba_starts
        return ids, starts, np.diff(text_offsets)

    def _fill(self, cache: _PieceCache, unseen: list[str]) -> None:
        """Encode unseen pieces, `_JOIN` at a time joined by spaces (one `Encoding` per group
        instead of per piece), and split the tokens back by their character offsets."""
        groups = [unseen[i:i + _JOIN] for i in range(0, len(unseen), _JOIN)]
        joined = [" ".join(group) for group in groups]
        encodings = self.tokenizer.encode_batch(joined, add_special_tokens=False)
        for group, enc in zip(groups, encodings, strict=True):
            # Piece k starts at character piece_at[k]; a token belongs to the last piece
            # starting at or before its first character.
            piece_at = np.zeros(len(group), dtype=np.int64)
            np.cumsum([len(p) + 1 for p in group[:-1]], out=piece_at[1:])
            token_at = np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2)[:, 0]
            owner = np.searchsorted(piece_at, token_at, side="right") - 1
            counts = np.bincount(owner, minlength=len(group))
            # A start wherever the word id changes, as `_word_starts` (no None ids: the text
            # has no special tokens).
            words = np.asarray(enc.word_ids, dtype=np.int64)
            starts = np.ones(len(words), dtype=bool)
            np.not_equal(words[1:], words[:-1], out=starts[1:])
            cache.add(group, counts, np.asarray(enc.ids, dtype=np.int32), starts)


class _PieceCache:
    """piece -> slot, and each slot's tokens in two flat arrays (ids, word starts).

    Slot values are plain ints and the tokens numpy arrays, so a full cache holds no
    per-token Python objects for the garbage collector to walk, and a document's tokens are
    one numpy gather by slot instead of a Python loop over lists.
    """

    def __init__(self) -> None:
        self.index: dict[str, int] = {"": 0}
        self._first = np.zeros(1024, dtype=np.int64)  # slot -> first token in the store
        self._count = np.zeros(1024, dtype=np.int64)  # slot -> number of tokens
        self._ids = np.zeros(4096, dtype=np.int32)
        self._starts = np.zeros(4096, dtype=bool)
        self._used = 0  # tokens in the store

    def __len__(self) -> int:
        return len(self.index)

    def slots(self, pieces: list[str]) -> np.ndarray:
        """The slot of each piece, -1 where a piece is not cached (one pass either way)."""
        return np.fromiter(map(self.index.get, pieces, repeat(-1, len(pieces))),
                           dtype=np.int64, count=len(pieces))

    def add(self, pieces: list[str], counts: np.ndarray, ids: np.ndarray,
            starts: np.ndarray) -> None:
        """Cache `pieces`, piece k being the next `counts[k]` tokens of `ids`/`starts`."""
        first_slot = len(self.index)
        n_slots = first_slot + len(pieces)
        if n_slots > len(self._first):
            size = max(n_slots, 2 * len(self._first))
            self._first = np.resize(self._first, size)
            self._count = np.resize(self._count, size)
        used = self._used + len(ids)
        if used > len(self._ids):
            size = max(used, 2 * len(self._ids))
            self._ids = np.resize(self._ids, size)
            self._starts = np.resize(self._starts, size)
        self._ids[self._used:used] = ids
        self._starts[self._used:used] = starts
        self._count[first_slot:n_slots] = counts
        self._first[first_slot:n_slots] = self._used + np.cumsum(counts) - counts
        self._used = used
        self.index.update(zip(pieces, range(first_slot, n_slots), strict=True))

    def gather(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids, word starts, piece offsets): piece k's tokens are [offsets[k], offsets[k+1])."""
        counts = self._count[slots]
        offsets = np.zeros(len(slots) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        positions = np.repeat(self._first[slots] - offsets[:-1], counts)
        positions += np.arange(offsets[-1], dtype=np.int64)
        return self._ids[positions], self._starts[positions], offsets


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
