"""Packing tokenized documents into training instances (pure functions, no Beam).

Follows Google BERT's `create_instances_from_document` (anchors_bert.md §2.1): target length
`max_seq_length - 3`, with probability `short_seq_prob` a target `randint(2, max)` drawn once
per document pass; chunks of whole sentences until the target is reached; a random A/B split
point; truncation of the longer side, front or back 50/50, to `max_seq_length - 3`.

Deliberate departures (DESIGN.md):
- `nsp`: a random B always comes from a *different* document of a negative pool (Google may
  fall back to the same document and still label it random). A one-segment chunk flips the
  coin too and, for a real next, is split at a random interior word start (Google always pairs
  it with a random B, which pushes its label-1 share above one half: 57% on news_zh_1 at 512,
  56.5% on THUCNews). With no other document in the pool, B is the real continuation with
  label 0, counted as `nsp_negative_unavailable`.
- `sop` (ALBERT): a one-segment chunk is split at a random interior word start instead of
  taking a random-document B (albert #234). A one-token chunk cannot be split: it takes a
  random B under `nsp` and is skipped under `sop` (or without a negative), counted as
  `pair_unsplittable`.
- `none` (RoBERTa DOC-SENTENCES): greedy whole sentences up to `max_seq_length - 2`, never
  crossing documents; no short targets and no randomness, so with `dupe_factor` 1 the
  instances of a document concatenate to its full tokenisation.
- A sentence longer than the budget (`max_seq_length - 3`, or `- 2` for `none`) is cut into
  pieces of at most the budget, at the last word start that fits (hard cut inside an
  over-long word), counted as `sentences_split`. Google keeps it whole and truncates all but
  the first `max_seq_length - 3` tokens away. A piece then forms a one-segment chunk, which
  `sop` (and the real-next half of `nsp`) splits at a word start without losing a token.
- The first token of every segment is marked as a word start, so a whole-word unit never
  begins before a segment boundary.

Every random choice comes from `make_rng(seed, doc_id, pass_index, Stage.PACK)` (built for
all documents of a call at once by `rng.stream_keys`); only `Generator.random` and
`Generator.integers` are used.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from core.config import PackConfig
from transforms.accounting import NSP_NEGATIVE_UNAVAILABLE, PAIR_UNSPLITTABLE, SENTENCES_SPLIT
from transforms.records import Instance, TokenizedDocument
from transforms.rng import Stage, Streams, make_rng, stream_keys

Count = Callable[[str, int], None]
Range = tuple[int, int]
"""Tokens `[lo, hi)` of one document."""


def _no_count(name: str, n: int) -> None:
    """Default counter for callers that do not need the side statistics."""


@dataclass(frozen=True)
class SpecialIds:
    """The vocab's [CLS] and [SEP] ids, the only specials the packer writes."""

    cls_id: int
    sep_id: int


@dataclass(frozen=True)
class SegmentedDoc:
    """A document with its sentences as token ranges, long sentences already cut (made by
    `segment`): segment `k` is `[starts[k], ends[k])`.

    Two lists of ints rather than a tuple per segment: a pool holds every segment of its
    documents while it is packed, and ints are no work for the garbage collector. Segments
    tile the document, so a run of whole segments from `k` reaching `n` tokens ends at
    segment `bisect_left(ends, starts[k] + n, k)`.
    """

    doc: TokenizedDocument
    starts: list[int]
    ends: list[int]


def _cut_points(word_starts: np.ndarray, length: int, piece_len: int) -> list[int]:
    """Greedy cuts so that no piece exceeds `piece_len`, at the last word start that fits."""
    starts = np.flatnonzero(word_starts)
    cuts, begin = [], 0
    while length - begin > piece_len:
        k = int(np.searchsorted(starts, begin + piece_len, side="right")) - 1
        cut = int(starts[k]) if k >= 0 and starts[k] > begin else begin + piece_len
        cuts.append(cut)
        begin = cut
    return cuts


def segment(doc: TokenizedDocument, max_len: int, count: Count = _no_count) -> SegmentedDoc:
    """Sentence ranges of `doc`; a sentence longer than `max_len` becomes pieces <= `max_len`."""
    offsets = doc.offsets.tolist()
    starts, ends = offsets[:-1], offsets[1:]
    # Long sentences are rare: replace each by its pieces, from the last so that the
    # indices of the others stay valid.
    for k in reversed(np.flatnonzero(np.diff(doc.offsets) > max_len).tolist()):
        count(SENTENCES_SPLIT, 1)
        lo, hi = starts[k], ends[k]
        bounds = [lo, *(lo + c for c in _cut_points(doc.word_starts[lo:hi], hi - lo, max_len)),
                  hi]
        starts[k:k + 1], ends[k:k + 1] = bounds[:-1], bounds[1:]
    return SegmentedDoc(doc, starts, ends)


def segment_for(doc: TokenizedDocument, cfg: PackConfig, count: Count = _no_count) -> SegmentedDoc:
    """`segment` with the budget of `cfg.task`: max_seq_length-2 for `none`, else -3."""
    return segment(doc, cfg.max_seq_length - (2 if cfg.task == "none" else 3), count)


def _pool_order(doc: TokenizedDocument) -> tuple[int, str]:
    return doc.doc_id, doc.id


class NegativePool:
    """The documents a random NSP B may come from, in an order that ignores arrival order."""

    def __init__(self, docs: Sequence[SegmentedDoc]) -> None:
        self.docs = sorted(docs, key=lambda s: _pool_order(s.doc))
        self._keys = [s.doc.doc_id for s in self.docs]

    def draw(self, rng: np.random.Generator, doc_id: int) -> SegmentedDoc | None:
        """A uniformly random pool document whose `doc_id` differs from `doc_id`, or None."""
        lo = bisect.bisect_left(self._keys, doc_id)
        hi = bisect.bisect_right(self._keys, doc_id)
        n = len(self.docs) - (hi - lo)
        if n <= 0:
            return None
        k = int(rng.integers(n))
        return self.docs[k + (hi - lo) if k >= lo else k]


def truncation_counts(len_a: int, len_b: int, max_tokens: int) -> tuple[int, int]:
    """Tokens Google's `truncate_seq_pair` removes from A and from B, without its loop.

    The loop removes from the longer side, from B on ties: first the difference, then
    alternately B, A, B, ...
    """
    excess = len_a + len_b - max_tokens
    if excess <= 0:
        return 0, 0
    diff = min(abs(len_a - len_b), excess)
    cut_a, cut_b = (diff, 0) if len_a > len_b else (0, diff)
    rest = excess - diff
    return cut_a + rest // 2, cut_b + (rest + 1) // 2


class _Pair(NamedTuple):
    """An instance before its tokens are gathered: A = `a_doc` tokens `[a_lo, a_hi)`, B
    likewise (from another document for a random NSP B; None for a single segment), and
    the sentence label."""

    a_doc: TokenizedDocument
    a_lo: int
    a_hi: int
    b_doc: TokenizedDocument | None
    b_lo: int
    b_hi: int
    label: int


def _truncate(pair: _Pair, max_tokens: int, rng: np.random.Generator) -> _Pair:
    """Front/back 50/50 per removed token, like Google; one vectorised draw per pair."""
    cut_a, cut_b = truncation_counts(pair.a_hi - pair.a_lo, pair.b_hi - pair.b_lo, max_tokens)
    if cut_a + cut_b == 0:
        return pair
    front = rng.random(cut_a + cut_b) < 0.5
    front_a = int(np.count_nonzero(front[:cut_a]))
    front_b = int(np.count_nonzero(front[cut_a:]))
    return pair._replace(a_lo=pair.a_lo + front_a, a_hi=pair.a_hi - (cut_a - front_a),
                         b_lo=pair.b_lo + front_b, b_hi=pair.b_hi - (cut_b - front_b))


_NO_MASK = np.zeros(0, dtype=np.int32)
_NO_MASK.flags.writeable = False
"""The empty mask columns of every packed instance (masking replaces them): one shared
read-only array instead of four new ones per instance."""


def _make_instances(doc_id: int, pass_index: int, pairs: Sequence[_Pair],
                    specials: SpecialIds) -> list[Instance]:
    """Instance `k` of `pairs[k]`: `[CLS] A [SEP] B [SEP]`, or `[CLS] A [SEP]` without B,
    with word starts; the first token of A and of B is marked a word start."""
    out = []
    for k, (a_doc, a_lo, a_hi, b_doc, b_lo, b_hi, label) in enumerate(pairs):
        a_end = a_hi - a_lo + 1  # the middle (or last) [SEP]
        total = a_end + 1 if b_doc is None else a_end + b_hi - b_lo + 2
        ids = np.empty(total, dtype=np.int32)
        starts = np.empty(total, dtype=bool)
        ids[0], ids[a_end], ids[total - 1] = specials.cls_id, specials.sep_id, specials.sep_id
        ids[1:a_end] = a_doc.ids[a_lo:a_hi]
        starts[1:a_end] = a_doc.word_starts[a_lo:a_hi]
        if b_doc is not None:
            ids[a_end + 1:total - 1] = b_doc.ids[b_lo:b_hi]
            starts[a_end + 1:total - 1] = b_doc.word_starts[b_lo:b_hi]
            starts[a_end + 1] = True
        starts[0] = starts[1] = starts[a_end] = starts[total - 1] = True
        out.append(Instance(doc_id, pass_index, k, ids, starts, a_end + 1, label, _NO_MASK,
                            _NO_MASK, _NO_MASK, _NO_MASK))
    return out


def _split_segment(doc: TokenizedDocument, lo: int, hi: int, rng: np.random.Generator
                   ) -> tuple[Range, Range] | None:
    """A one-segment chunk `[lo, hi)` as (A, B) cut at a random interior word start, or None."""
    if hi - lo < 2:
        return None
    starts = np.flatnonzero(doc.word_starts[lo + 1:hi]) + 1
    cut = int(starts[rng.integers(len(starts))]) if len(starts) else int(rng.integers(1, hi - lo))
    return (lo, lo + cut), (lo + cut, hi)


def _target_length(cfg: PackConfig, rng: np.random.Generator) -> int:
    max_tokens = cfg.max_seq_length - 3
    if rng.random() < cfg.short_seq_prob:
        return int(rng.integers(2, max_tokens + 1))
    return max_tokens


def _random_b(other: SegmentedDoc, target_b: int, rng: np.random.Generator) -> Range:
    """Google: whole sentences of `other` from a random start until `target_b` is reached
    (or its last sentence), as one token range."""
    starts, ends = other.starts, other.ends
    start = int(rng.integers(len(starts)))
    end = bisect.bisect_left(ends, starts[start] + target_b, start)
    return starts[start], ends[min(end, len(ends) - 1)]


def _pair_instances(sd: SegmentedDoc, pass_index: int, cfg: PackConfig, specials: SpecialIds,
                    pool: NegativePool | None, count: Count,
                    rng: np.random.Generator | None) -> list[Instance]:
    """Google's chunk loop shared by `nsp` (pool given) and `sop` (pool None)."""
    doc = sd.doc
    if rng is None:
        rng = make_rng(cfg.seed, doc.doc_id, pass_index, Stage.PACK)
    max_tokens = cfg.max_seq_length - 3
    target = _target_length(cfg, rng)
    pairs: list[_Pair] = []
    starts, ends, last = sd.starts, sd.ends, len(sd.starts) - 1
    i = 0
    while i <= last:
        # The chunk: whole segments from i until `target` tokens are reached, or to the end.
        end = min(bisect.bisect_left(ends, starts[i] + target, i), last)
        pair, i = _make_pair(sd, i, end, target, pool, rng, count)
        if pair is not None:
            pairs.append(_truncate(pair, max_tokens, rng))
        i += 1
    return _make_instances(doc.doc_id, pass_index, pairs, specials)


def _make_pair(sd: SegmentedDoc, first: int, last: int, target: int,
               pool: NegativePool | None, rng: np.random.Generator,
               count: Count) -> tuple[_Pair | None, int]:
    """(the pair of the chunk of segments `first..last`, or None; the index of the chunk's
    last segment, rewound to A's last one when B is a random B)."""
    n_segments = last - first + 1
    a_end = int(rng.integers(1, n_segments)) if n_segments >= 2 else 1
    doc = sd.doc
    if pool is None:  # SOP
        halves = _next_pair(sd, first, last, a_end, rng, count)
        if halves is None:
            return None, last
        (a_lo, a_hi), (b_lo, b_hi) = halves
        if rng.random() < 0.5:
            return _Pair(doc, b_lo, b_hi, doc, a_lo, a_hi, 1), last
        return _Pair(doc, a_lo, a_hi, doc, b_lo, b_hi, 0), last
    unsplittable = n_segments == 1 and sd.ends[first] - sd.starts[first] < 2
    if rng.random() < 0.5 or unsplittable:
        other = pool.draw(rng, doc.doc_id)
        if other is not None:
            a_lo, a_hi = sd.starts[first], sd.ends[first + a_end - 1]
            b_lo, b_hi = _random_b(other, target - (a_hi - a_lo), rng)
            return _Pair(doc, a_lo, a_hi, other.doc, b_lo, b_hi, 1), first + a_end - 1
        count(NSP_NEGATIVE_UNAVAILABLE, 1)
    halves = _next_pair(sd, first, last, a_end, rng, count)
    if halves is None:
        return None, last
    (a_lo, a_hi), (b_lo, b_hi) = halves
    return _Pair(doc, a_lo, a_hi, doc, b_lo, b_hi, 0), last


def _next_pair(sd: SegmentedDoc, first: int, last: int, a_end: int,
               rng: np.random.Generator, count: Count) -> tuple[Range, Range] | None:
    """(A, B) in document order: the chunk `first..last` split after its `a_end` segments,
    or a one-segment chunk at a word start."""
    if last > first:
        split = first + a_end
        return (sd.starts[first], sd.ends[split - 1]), (sd.starts[split], sd.ends[last])
    halves = _split_segment(sd.doc, sd.starts[first], sd.ends[first], rng)
    if halves is None:
        count(PAIR_UNSPLITTABLE, 1)
    return halves


def nsp_instances(sd: SegmentedDoc, pass_index: int, cfg: PackConfig, specials: SpecialIds,
                  pool: NegativePool | None, count: Count = _no_count,
                  rng: np.random.Generator | None = None) -> list[Instance]:
    """BERT NSP: label 1 = B from another pool document, 0 = B is the real next.

    `rng`, when given, must be the pass's `make_rng(seed, doc_id, pass_index, PACK)`."""
    return _pair_instances(sd, pass_index, cfg, specials, pool or NegativePool([]), count,
                           rng)


def sop_instances(sd: SegmentedDoc, pass_index: int, cfg: PackConfig, specials: SpecialIds,
                  pool: NegativePool | None, count: Count = _no_count,
                  rng: np.random.Generator | None = None) -> list[Instance]:
    """ALBERT SOP: label 1 = the two halves of one chunk swapped, 0 = in order."""
    return _pair_instances(sd, pass_index, cfg, specials, None, count, rng)


def single_segment_instances(sd: SegmentedDoc, pass_index: int, cfg: PackConfig,
                             specials: SpecialIds, pool: NegativePool | None,
                             count: Count = _no_count,
                             rng: np.random.Generator | None = None) -> list[Instance]:
    """RoBERTa DOC-SENTENCES: `[CLS] X [SEP]`, greedy whole sentences up to max_seq_length-2."""
    budget = cfg.max_seq_length - 2
    starts, ends = sd.starts, sd.ends
    pairs: list[_Pair] = []
    i = 0
    while i < len(starts):
        # The most whole segments from i within the budget (at least one).
        end = max(bisect.bisect_right(ends, starts[i] + budget, i) - 1, i)
        pairs.append(_Pair(sd.doc, starts[i], ends[end], None, 0, 0, -1))
        i = end + 1
    return _make_instances(sd.doc.doc_id, pass_index, pairs, specials)


TaskFn = Callable[[SegmentedDoc, int, PackConfig, SpecialIds, "NegativePool | None", Count,
                   "np.random.Generator | None"], list[Instance]]

TASKS: dict[str, TaskFn] = {
    "nsp": nsp_instances,
    "sop": sop_instances,
    "none": single_segment_instances,
}


def part_owners(sizes: Sequence[int], n_parts: int) -> list[int]:
    """The part (0..n_parts-1) that packs each document of `sizes` (its tokens), in order:
    each goes to the part with the fewest tokens so far (ties: the lowest part), so parts of
    a pool cost about the same whatever the spread of document lengths (every n-th document
    gave parts 10% apart on 24 MB of English, and a worker waited for the other)."""
    loads = [(0, k) for k in range(n_parts)]
    owners = []
    for size in sizes:
        load, k = heapq.heappop(loads)
        owners.append(k)
        heapq.heappush(loads, (load + size, k))
    return owners


def pack_documents(docs: Iterable[TokenizedDocument], cfg: PackConfig, specials: SpecialIds,
                   count: Count = _no_count, part: tuple[int, int] = (0, 1)
                   ) -> Iterator[tuple[TokenizedDocument, list[Instance]]]:
    """(document, its instances over all `dupe_factor` passes) for each document.

    Under `nsp` the documents are each other's negative pool; they are visited in the pool's
    sorted order, so the output does not depend on the order they arrive in.

    `part=(k, n)` packs (and counts) only the documents `part_owners` gives to part k, while
    every document stays a possible negative: the n parts of a pool give exactly the
    instances and counts of the whole, so n workers can share one pool.
    """
    k_part, n_parts = part
    docs = sorted(docs, key=_pool_order) if cfg.task == "nsp" else list(docs)
    owners = part_owners([len(d.ids) for d in docs], n_parts)
    segmented = [segment_for(d, cfg, count if owner == k_part else _no_count)
                 for d, owner in zip(docs, owners, strict=True)]
    pool = NegativePool(segmented) if cfg.task == "nsp" else None
    task = TASKS[cfg.task]
    passes = cfg.dupe_factor
    doc_ids = np.fromiter((d.doc_id for d in docs), dtype=np.uint64, count=len(docs))
    keys = stream_keys(cfg.seed, np.repeat(doc_ids, passes),
                       np.tile(np.arange(passes), len(docs)), Stage.PACK)
    streams = Streams()
    for k, (sd, owner) in enumerate(zip(segmented, owners, strict=True)):
        if owner != k_part:
            continue
        instances = [inst for p in range(passes)
                     for inst in task(sd, p, cfg, specials, pool, count,
                                      streams.at(keys[k * passes + p]))]
        yield sd.doc, instances

