"""Masking units: which positions can be masked, how they group, and which groups are picked.

Pure numpy, no Beam. Every masking mode (transforms/mask.py) is the same three steps over
one instance, all vectorised (no per-token Python loop):

1. `candidate_words`: the maskable positions are everything except the layout specials
   ([CLS], the middle [SEP], the last [SEP]) and any structural special id inside the text.
   The maskable positions form *runs* (one per segment), so no unit can cross a [SEP].
   A run is cut into words at `word_starts` (WordPiece starts, or jieba words over CJK
   tokens); token masking (transforms/mask.py) is this with every token a word.
2. `tile_units`: words are grouped into units of consecutive words whose lengths follow a
   law (1 word for token/wwm; truncated geometric for span; 1/n for n-grams). The tiling is
   a stationary renewal process (the first boundary comes from the equilibrium residual),
   cut at run ends. Hence every word start is equally likely to start a unit (a segment's
   first word always does), units never overlap, and their length law is exactly the
   requested one except where a segment edge truncates them. Two picked units may touch;
   they stay separate units (SpanBERT merges touching spans). Rejection sampling of
   overlapping spans (SpanBERT, ALBERT) instead skews lengths short at high masking density
   and needs a sequential loop.
3. `select_units`: units are visited in a random order and taken while they fit the token
   budget; a unit that would exceed it is backed off to its longest whole-word prefix that
   fits (ALBERT's n-gram back-off; for one-word units this is Google's "skip and continue").
   Each back-off is one vectorised pass, so the loop runs a handful of times per instance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np


@dataclass(frozen=True)
class Words:
    """The maskable words of one instance.

    `starts[j]` / `ends[j]` are word j's first token and one past its last. `cum` is the
    prefix sum of word lengths in tokens (len = n_words + 1). `run_start[j]` is True when
    word j is the first word of a segment. `n_tokens` is the number of maskable tokens.
    """

    starts: np.ndarray
    ends: np.ndarray
    cum: np.ndarray
    run_start: np.ndarray
    n_tokens: int


class Batch(NamedTuple):
    """Instances end to end: instance k is `ids[first[k]:first[k + 1]]`; `layout` holds the
    positions of every instance's layout specials ([CLS], a pair's middle [SEP], the last
    token), in no particular order."""

    ids: np.ndarray
    first: np.ndarray  # int64, one more than instances
    layout: np.ndarray

    @classmethod
    def of(cls, input_ids: Sequence[np.ndarray], a_lens: Iterable[int]) -> Batch:
        """The batch of instances' `input_ids` and `a_len`s (their A segment with [CLS] and
        the middle [SEP]; `a_len >= len(input_ids)`: a single segment)."""
        lengths = np.fromiter(map(len, input_ids), dtype=np.int64, count=len(input_ids))
        first = np.zeros(len(input_ids) + 1, dtype=np.int64)
        lengths.cumsum(out=first[1:])
        starts = first[:-1]
        a_ends = np.minimum(np.fromiter(a_lens, np.int64, len(input_ids)), lengths)
        return cls(np.concatenate(input_ids), first,
                   np.concatenate((starts, starts + a_ends - 1, first[1:] - 1)))

    @classmethod
    def one(cls, input_ids: np.ndarray, a_len: int) -> Batch:
        """`Batch.of([input_ids], [a_len])`, in a few microseconds."""
        n = len(input_ids)
        return cls(input_ids, np.array([0, n]), np.array([0, min(a_len, n) - 1, n - 1]))


def blocked_positions(batch: Batch, never_mask: np.ndarray) -> np.ndarray:
    """Where no unit may reach: every `never_mask` id, and every layout position.

    `never_mask` is a bool lookup table over the vocab ([CLS], [SEP], [PAD], [MASK]): such
    ids are blocked wherever they occur, so text that spelled a special token is neither
    masked nor crossed. The layout positions hold such ids too; they are blocked by
    position as well, so that no word ever runs from one instance into the next.
    """
    blocked = never_mask[batch.ids]
    blocked[batch.layout] = True
    return blocked


def candidate_words(
    input_ids: np.ndarray,
    word_starts: np.ndarray,
    a_len: int,
    never_mask: np.ndarray,
) -> Words:
    """Maskable words of `[CLS] A [SEP] B [SEP]` (or `[CLS] X [SEP]`)."""
    return _words(*_word_bounds(Batch.one(input_ids, a_len), word_starts, never_mask))


def batch_candidate_words(batch: Batch, word_starts: np.ndarray, never_mask: np.ndarray
                          ) -> list[Words]:
    """`candidate_words` of every instance of `batch` (`word_starts` end to end too), found
    over the whole batch in a handful of numpy calls, then cut per instance."""
    starts, ends, run_start = _word_bounds(batch, word_starts, never_mask)
    cut = starts.searchsorted(batch.first).tolist()
    base = batch.first.tolist()
    return [_words(starts[cut[k]:cut[k + 1]] - base[k], ends[cut[k]:cut[k + 1]] - base[k],
                   run_start[cut[k]:cut[k + 1]]) for k in range(len(base) - 1)]


def _word_bounds(batch: Batch, word_starts: np.ndarray, never_mask: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first token, one past the last, whether it starts a segment) of every maskable word
    of the batch, in order."""
    blocked = blocked_positions(batch, never_mask)
    after_block = np.empty(len(blocked), dtype=bool)
    after_block[1:] = blocked[:-1]
    after_block[batch.first[:-1]] = True
    is_start = ~blocked & (word_starts | after_block)
    starts = is_start.nonzero()[0]
    # A word ends at the next word start or blocked position (every last token is blocked).
    bounds = (is_start | blocked).nonzero()[0]
    return starts, bounds[bounds.searchsorted(starts) + 1], after_block[starts]


def _words(starts: np.ndarray, ends: np.ndarray, run_start: np.ndarray) -> Words:
    cum = np.zeros(len(starts) + 1, dtype=np.int64)
    (ends - starts).cumsum(out=cum[1:])
    return Words(starts, ends, cum, run_start, int(cum[-1]))


@lru_cache(maxsize=64)
def truncated_geometric(p: float, max_len: int) -> np.ndarray:
    """SpanBERT's span-length law: P(k) ∝ p(1-p)^(k-1) on [1, max_len], renormalised.

    Truncated, not clipped: clipping (Megatron) piles the tail onto max_len (mean 4.46 at
    p=0.2, max 10) where SpanBERT's renormalisation gives the paper's mean 3.797.
    """
    k = np.arange(1, max_len + 1)
    pmf = p * (1.0 - p) ** (k - 1)
    return pmf / pmf.sum()


@lru_cache(maxsize=64)
def inverse_n(max_n: int) -> np.ndarray:
    """ALBERT's n-gram law: P(n) ∝ 1/n on [1, max_n] (6:3:2 for max_n = 3)."""
    pmf = 1.0 / np.arange(1, max_n + 1)
    return pmf / pmf.sum()


@lru_cache(maxsize=64)
def _cdfs(pmf_key: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative law and equilibrium-residual law, for inverse-CDF sampling."""
    pmf = np.asarray(pmf_key)
    lengths = np.arange(1, len(pmf) + 1)
    survival = pmf[::-1].cumsum()[::-1]  # P(L >= k)
    residual = survival / float((pmf * lengths).sum())
    cdf, res_cdf = np.cumsum(pmf), np.cumsum(residual)
    cdf[-1] = res_cdf[-1] = 1.0
    return cdf, res_cdf


def sample_lengths(pmf: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """`size` iid draws from a length law on [1, len(pmf)] (inverse CDF)."""
    cdf, _ = _cdfs(tuple(pmf.tolist()))
    return cdf.searchsorted(rng.random(size), side="right") + 1


def tile_units(
    words: Words, pmf: np.ndarray | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Group words into units `[first_word, end_word)` that tile every segment.

    `pmf=None` (or a one-point law) keeps each word its own unit and draws nothing.
    Otherwise unit boundaries are a stationary renewal process over the word index with
    inter-boundary lengths from `pmf`, plus a boundary at every segment start; a unit that
    runs past its segment's end is truncated there (the realised mean is therefore a little
    below the law's mean, by the edge units only).
    """
    n_words = len(words.starts)
    if pmf is None or len(pmf) == 1 or n_words == 0:
        first = np.arange(n_words)
        return first, first + 1
    _, res_cdf = _cdfs(tuple(pmf.tolist()))
    gaps = sample_lengths(pmf, n_words, rng)
    gaps[0] = res_cdf.searchsorted(rng.random(), side="right") + 1
    renewal = gaps.cumsum()
    renewal = renewal[: renewal.searchsorted(n_words)]
    is_first = words.run_start.copy()
    is_first[renewal] = True
    first = is_first.nonzero()[0]
    end = np.empty_like(first)
    end[:-1] = first[1:]
    end[-1] = n_words
    return first, end


def select_units(
    words: Words,
    first: np.ndarray,
    end: np.ndarray,
    budget: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick units in random order up to `budget` tokens; returns chosen `[first, end)` words.

    Google/ALBERT semantics: a unit that does not fit is backed off to its longest prefix of
    whole words that fits, or skipped if not even its first word fits, and the visit goes
    on with the next unit. One-word units are therefore taken whole or skipped.
    """
    cum = words.cum
    order = rng.permutation(len(first))
    unit_tokens = cum[end] - cum[first]
    first_word_tokens = cum[first + 1] - cum[first]
    take_first, take_end = [], []
    remaining = budget
    while remaining > 0 and len(order):
        spent = unit_tokens[order].cumsum()
        n_fit = int(spent.searchsorted(remaining, side="right"))
        take_first.append(first[order[:n_fit]])
        take_end.append(end[order[:n_fit]])
        if n_fit:
            remaining -= int(spent[n_fit - 1])
        if n_fit == len(order) or remaining == 0:
            break
        over = order[n_fit]
        lo = first[over]
        cut = int(cum.searchsorted(cum[lo] + remaining, side="right")) - 1
        if cut > lo:
            take_first.append(np.array([lo]))
            take_end.append(np.array([cut]))
            remaining -= int(cum[cut] - cum[lo])
        order = order[n_fit + 1 :]
        order = order[first_word_tokens[order] <= remaining]
    if not take_first:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    chosen_first, chosen_end = np.concatenate(take_first), np.concatenate(take_end)
    by_start = np.argsort(chosen_first, kind="stable")
    return chosen_first[by_start], chosen_end[by_start]
