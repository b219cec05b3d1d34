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
Tests prove both identical on real corpora. A document's sentences are joined by spaces and
split once; with mostly CJK characters (or any, with jieba word starts), the pieces are found
by numpy on the code points, and a one-character piece takes its cache slot from a
per-code-point table (Chinese is nearly all such pieces), so only longer runs are looked up as
strings. Otherwise the pieces are the
space-separated runs (a run with CJK characters inside encodes alone as in context too), and
a document of many pieces is looked up on its UTF-8 bytes in a `PieceTable` (keyed by the
bytes of pieces up to 15 bytes, exact) instead of by one string per piece. Unseen pieces are
encoded many to a string and split back by character offsets, because one `Encoding` per
piece would cost more than it saves; those of printable ASCII skip the Rust normaliser
(`_fill`). With `zh_word_starts`, jieba still runs on each CJK run.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable
from itertools import repeat
from operator import itemgetter

import numpy as np
from tokenizers import Encoding, Tokenizer
from tokenizers.normalizers import BertNormalizer
from tokenizers.pre_tokenizers import BertPreTokenizer

from core.cjk import BERT_CHINESE_CLASS, BERT_CHINESE_RANGES, is_bert_chinese_char
from core.special_tokens import SPECIAL_TOKEN_LIST, SPECIAL_TOKENS
from vocab.artifacts import (
    TOKENIZER_JSON,
    VOCAB_TXT,
    VocabArtifacts,
    sha256_hex,
    vocab_txt_tokens,
)
from vocab.jieba_segmenter import presegment, word_start_chars
from vocab.piece_table import PieceTable, piece_keys
from vocab.vocab_dir import load_vocab_dir

_MAX_CACHE = 1 << 18
"""Pieces cached at most (~30 MB per worker) before the newer ones are dropped."""
_KEEP = _MAX_CACHE // 2
"""Pieces kept when the cache is full: the oldest, which hold the frequent words (a
word's first sighting comes early the more frequent it is), so that fewer pieces are
encoded again than after dropping everything."""
_JOIN = 256
"""Unseen pieces encoded per joined string when filling the cache."""
_BARE_MIN = 32
"""Fewest unseen printable-ASCII pieces that get their own call of the tokenizer without a
normaliser when other pieces need the full one (the normaliser costs a few microseconds per
piece, a call tens)."""
_TABLE_MIN_PIECES = 1024
"""Documents with at least this many space-separated pieces are looked up in the byte-keyed
`PieceTable` (below it its fixed cost exceeds a dict lookup per piece: crossover measured at
~500-1000 pieces on English)."""
_PIECES = re.compile(f"[{BERT_CHINESE_CLASS}]|[^ {BERT_CHINESE_CLASS}]+")
_CJK_LEAD_BYTE = chr(min(lo for lo, _ in BERT_CHINESE_RANGES)).encode()[0]
"""The smallest first UTF-8 byte of a BERT CJK character."""
_ASCII_ALNUM = np.array([c < 128 and chr(c).isalnum() for c in range(256)])
"""byte -> is an ASCII letter or digit."""
_TABLE_CHARS = max(hi for _, hi in BERT_CHINESE_RANGES) + 1
"""One-character pieces below this code point (all BERT CJK ranges) have a slot table."""

Encoded = tuple[list[int] | np.ndarray, list[bool] | np.ndarray, np.ndarray]
"""Flat ids, flat word starts, and text offsets (int64: text k is [offsets[k], offsets[k+1]))."""


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
        self.id_to_token = vocab_txt_tokens(vocab_txt)
        self.vocab_size = len(self.id_to_token)
        ids = {t: i for i, t in enumerate(self.id_to_token)}
        missing = [t for t in SPECIAL_TOKEN_LIST if t not in ids]
        if missing:
            raise ValueError(f"vocab lacks special tokens {missing}")
        self.pad_id, self.unk_id = ids[SPECIAL_TOKENS["pad"]], ids[SPECIAL_TOKENS["unk"]]
        self.cls_id, self.sep_id = ids[SPECIAL_TOKENS["cls"]], ids[SPECIAL_TOKENS["sep"]]
        self.mask_id = ids[SPECIAL_TOKENS["mask"]]
        self._cache = _PieceCache()
        self._bare, self._bare_lower = _without_normaliser(tokenizer, split_special_tokens)

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
        ids, starts, offsets = encode(sentences, zh_word_starts)
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
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return ids, starts, offsets

    def _encode_cached(self, texts: list[str], zh_word_starts: bool) -> Encoded:
        if len(self._cache) > _MAX_CACHE:
            self._cache.keep_oldest(_KEEP)
        # One string per document: the " " joints split pieces, so no piece crosses a text.
        joined = " ".join(texts)
        raw = joined.encode("utf-8", "surrogatepass")
        # Only text with a UTF-8 lead byte of a CJK range can hold CJK (English punctuation
        # such as dashes and quotes stays below it).
        if (self.zh_segmenter == "none" and not raw.isascii()
                and np.frombuffer(raw, dtype=np.uint8).max() >= _CJK_LEAD_BYTE):
            chars = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            cjk = _cjk_table()[chars]
            n_cjk = int(np.count_nonzero(cjk))
            # Mostly words with a few CJK characters (an English article naming a place)
            # take the space-separated pieces below: a piece with CJK characters inside is
            # a piece too, and the byte table serves long documents.
            if n_cjk and (zh_word_starts or n_cjk >= joined.count(" ")):
                return self._encode_by_chars(texts, joined, chars, cjk, zh_word_starts)
        # The pieces are the space-separated runs (empty strings hit the "" entry), and
        # text k has exactly count(" ") + 1 of them.
        bounds = _running_sum(text.count(" ") + 1 for text in texts)
        if bounds[-1] >= _TABLE_MIN_PIECES:
            slots = self._slots_of_bytes(raw)
        else:
            slots = self._slots(joined.split(" "))
        ids, starts, piece_offsets = self._cache.gather(slots)
        return ids, starts, piece_offsets[bounds]

    def _encode_by_chars(self, texts: list[str], joined: str, chars: np.ndarray,
                         cjk: np.ndarray, zh_word_starts: bool) -> Encoded:
        """The pieces of a document with CJK characters, found on its code points `chars`.

        A piece is one CJK character (`cjk`) or a maximal run of other non-space characters.
        Pieces of one character (nearly all in Chinese) take their slot from a per-code-point
        table; only longer runs are looked up by text.
        """
        in_run = ~cjk & (chars != 32)
        run_starts, run_ends = in_run.copy(), in_run.copy()
        run_starts[1:] &= ~in_run[:-1]
        run_ends[:-1] &= ~in_run[1:]
        lo = np.flatnonzero(cjk | run_starts)  # first character of each piece
        hi = np.flatnonzero(cjk | run_ends) + 1  # one past its last
        first = chars[lo]
        single = (hi - lo == 1) & (first < _TABLE_CHARS)
        longer = np.flatnonzero(~single)
        if 2 * len(longer) > len(lo):  # mostly words: cut all pieces out in one call
            slots = self._slots(_PIECES.findall(joined))
        else:
            slots = np.empty(len(lo), dtype=np.int64)
            slots[single] = self._char_slots(first[single])
            if len(longer):
                bounds = zip(lo[longer].tolist(), hi[longer].tolist(), strict=True)
                slots[longer] = self._slots([joined[a:b] for a, b in bounds])
        ids, starts, piece_offsets = self._cache.gather(slots)
        text_at = _running_sum(len(text) + 1 for text in texts)
        bounds = np.searchsorted(lo, text_at)
        if zh_word_starts:
            # A CJK piece's tokens start a word only where jieba starts one (CJK runs never
            # cross the joints, so jieba sees the same runs as text by text).
            jieba = np.zeros(len(chars), dtype=bool)
            jieba[np.fromiter(word_start_chars(joined), dtype=np.int64)] = True
            piece_of = np.repeat(np.arange(len(lo)), np.diff(piece_offsets))
            in_cjk = cjk[lo][piece_of]
            starts[in_cjk] = jieba[lo[piece_of[in_cjk]]]
        return ids, starts, piece_offsets[bounds]

    def _slots_of_bytes(self, raw: bytes) -> np.ndarray:
        """The cache slot of each piece of `raw` split at b" ": by the byte-keyed table,
        and by string for the pieces it does not resolve."""
        keys = piece_keys(raw)
        slots = self._cache.table.lookup(keys)
        unresolved = np.flatnonzero(slots < 0)
        if len(unresolved):
            spans = zip(keys.starts[unresolved].tolist(), keys.lengths[unresolved].tolist(),
                        strict=True)
            slots[unresolved] = self._slots(
                [raw[a:a + n].decode("utf-8", "surrogatepass") for a, n in spans])
            # The table learns the pieces it missed (each once: one slot per piece), so
            # that it mirrors only pieces of documents that take this path.
            _, first = np.unique(slots[unresolved], return_index=True)
            learn = unresolved[first]
            self._cache.table.add(keys.take(learn), slots[learn])
        return slots

    def _slots(self, pieces: list[str]) -> np.ndarray:
        """The cache slot of each piece, encoding the unseen ones first."""
        cache = self._cache
        slots = cache.slots(pieces)
        missing = np.flatnonzero(slots < 0)
        if len(missing):
            missed = [pieces[i] for i in missing.tolist()]
            # Each once, in order of first sight (not set order, so that the cache's
            # contents are the same in every process; the tokens of a piece do not depend
            # on the pieces it is encoded with).
            self._fill(cache, list(dict.fromkeys(missed)))
            slots[missing] = cache.slots(missed)
        return slots

    def _char_slots(self, chars: np.ndarray) -> np.ndarray:
        """The cache slot of each one-character piece (code points below `_TABLE_CHARS`)."""
        table = self._cache.char_table()
        slots = table[chars]
        missing = slots < 0
        if missing.any():
            unseen = np.unique(chars[missing])
            table[unseen] = self._slots([chr(c) for c in unseen.tolist()])
            slots = table[chars]
        return slots

    def _fill(self, cache: _PieceCache, unseen: list[str]) -> None:
        """Encode unseen pieces and cache their tokens.

        Pieces of printable ASCII go to `_bare` (the tokenizer without its normaliser),
        lowercased here if the normaliser lowercases: on such text BertNormalizer only
        lowercases (nothing to clean, pad, or strip), so the tokens and offsets are the same,
        and the Rust normaliser (its offset alignments) cost more than the rest of the
        tokenizer."""
        simple, rest = [], []
        if self._bare is not None:
            for piece in unseen:
                (simple if piece.isascii() and piece.isprintable() else rest).append(piece)
        if len(simple) < min(len(unseen), _BARE_MIN):  # none, or not worth a second call
            simple, rest = [], unseen
        self._encode_groups(cache, self._bare, simple, lower=self._bare_lower, by_words=True)
        self._encode_groups(cache, self.tokenizer, rest, lower=False, by_words=False)

    @staticmethod
    def _encode_groups(cache: _PieceCache, tokenizer: Tokenizer, pieces: list[str],
                       lower: bool, by_words: bool) -> None:
        """Encode `pieces`, `_JOIN` at a time joined by spaces (one `Encoding` per group
        instead of per piece), split the tokens back by piece, and cache them. A token's
        piece is found by its character offset, or (`by_words`, printable ASCII) by its word
        id and the words found on the bytes: the offsets as Python tuples cost more."""
        if not pieces:
            return
        groups = [pieces[i:i + _JOIN] for i in range(0, len(pieces), _JOIN)]
        joined = [" ".join(group) for group in groups]
        if lower:
            joined = [text.lower() for text in joined]
        encodings = tokenizer.encode_batch(joined, add_special_tokens=False)
        for group, text, enc in zip(groups, joined, encodings, strict=True):
            words = np.asarray(enc.word_ids, dtype=np.int64)
            if by_words:
                owner = _ascii_word_pieces(text)[words]
            else:
                # Piece k starts at character piece_at[k]; a token belongs to the last piece
                # starting at or before its first character.
                piece_at = _running_sum(len(p) + 1 for p in group[:-1])
                offsets = enc.offsets  # (start, end) per token
                token_at = np.fromiter(map(itemgetter(0), offsets), np.int64, len(offsets))
                owner = np.searchsorted(piece_at, token_at, side="right") - 1
            counts = np.bincount(owner, minlength=len(group))
            # A start wherever the word id changes, as `_word_starts` (no None ids: the text
            # has no special tokens).
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
        self._by_char: np.ndarray | None = None
        self.table = PieceTable()  # mirrors `index` for short pieces of byte-path documents
        self.table.add(piece_keys(b""), np.zeros(1, dtype=np.int64))

    def char_table(self) -> np.ndarray:
        """code point -> slot of the one-character piece, -1 if not cached (the caller
        keeps it filled); made on first use, as only text with CJK needs it."""
        if self._by_char is None:
            self._by_char = np.full(_TABLE_CHARS, -1, dtype=np.int64)
        return self._by_char

    def __len__(self) -> int:
        return len(self.index)

    def keep_oldest(self, n: int) -> None:
        """Forget every piece but the first `n` cached (slots are given in cache order, and
        so are the tokens in the store)."""
        self.index = dict(itertools.islice(self.index.items(), n))
        self._used = int(self._first[n])
        if self._by_char is not None:
            self._by_char[self._by_char >= n] = -1
        self.table.keep_slots_below(n)

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


def _without_normaliser(tokenizer: Tokenizer, split_special_tokens: bool
                        ) -> tuple[Tokenizer | None, bool]:
    """(the tokenizer's model and pre-tokenizer without a normaliser, whether the normaliser
    lowercases), or (None, False) unless the normaliser is a `BertNormalizer`, the
    pre-tokenizer a `BertPreTokenizer` (`_ascii_word_pieces` finds its words), and no added
    token is matched in text (special tokens split as text; any other added token would be
    matched on the normalised text)."""
    normaliser = tokenizer.normalizer
    added = tokenizer.get_added_tokens_decoder().values()
    if (not isinstance(normaliser, BertNormalizer)
            or not isinstance(tokenizer.pre_tokenizer, BertPreTokenizer)
            or not all(t.special and split_special_tokens for t in added)):
        return None, False
    bare = Tokenizer(tokenizer.model)
    bare.pre_tokenizer = tokenizer.pre_tokenizer
    return bare, normaliser.lowercase


def _ascii_word_pieces(text: str) -> np.ndarray:
    """The piece (space-separated run) of each word of printable-ASCII `text`, in order: as
    BertPreTokenizer splits it, a word is a run of letters and digits or one other
    character (all other printable ASCII is punctuation), spaces split."""
    codes = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    alnum = _ASCII_ALNUM[codes]
    space = codes == 32
    starts = ~(alnum | space)
    starts[0] |= alnum[0]
    starts[1:] |= alnum[1:] & ~alnum[:-1]
    return np.cumsum(space)[starts]


def _running_sum(values: Iterable[int]) -> np.ndarray:
    """[0, v0, v0 + v1, ...] as int64 (for the few values of one document, cheaper than
    `np.cumsum` of a list)."""
    return np.fromiter(itertools.accumulate(values, initial=0), dtype=np.int64)


@functools.cache
def _cjk_table() -> np.ndarray:
    """code point -> is a BERT CJK character, for every code point."""
    table = np.zeros(0x110000, dtype=bool)
    for lo, hi in BERT_CHINESE_RANGES:
        table[lo:hi + 1] = True
    return table


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
