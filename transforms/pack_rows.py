"""Packing complete instances into rows of up to `max_seq_length` tokens (`--packed`).

Krell et al., "Efficient Sequence Packing without Cross-contamination" (arXiv 2107.02027),
show that BERT rows at 512 are more than half padding and that a histogram-based packer
(SPFHP, shortest-pack-first histogram packing) fills them to ~99% in time that depends on
the number of distinct lengths, not of sequences. We use SPFHP with their limit on
sequences per pack (`--max-sequences-per-row`, default 3):

1. the shard's instance lengths become a histogram over 1..max_len;
2. lengths are taken longest first; the sequences of one length go, as many at a time as
   fit, into the open strategy (a multiset of lengths with a count of packs) with the least
   remaining space that still fits them (best fit), splitting a strategy when fewer
   sequences than packs remain; what does not fit opens a new strategy;
3. a strategy with `max_per_row` sequences or no space left is closed.

Only the histogram enters steps 1-3, so the packing is a function of the multiset of
lengths. Concrete instances are then dealt to the packs of each strategy in the order of
their shard sort key (which is a hash of the seed and the instance's name), and rows are
ordered by the smallest sort key they hold: the rows of a shard depend only on the
instances and the seed, never on arrival order, bundles or workers.

Why per shard, after shard assignment: `WriteShards` already brings each shard's instances
to one worker, sorted, so packing there costs no extra shuffle and keeps exactly the
unpacked run's shard balance (in instances); a shard of a few thousand instances has
enough lengths for near-complete fill (measured in benchmarks/bench_packing.py), and
SPFHP's cost per shard is O(max_len x strategies), milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Strategy = tuple[tuple[int, ...], int]
"""(the lengths of one pack, longest first; how many packs have them)."""


def spfhp(histogram: np.ndarray, max_len: int, max_per_row: int) -> list[Strategy]:
    """Packing strategies for `histogram[l]` sequences of length l (l <= max_len).

    Every sequence is in exactly one pack; a pack's lengths sum to at most `max_len` and
    number at most `max_per_row`. Strategies come in the order they were opened.
    """
    if len(histogram) > max_len + 1 and histogram[max_len + 1:].any():
        raise ValueError(f"a sequence is longer than max_len {max_len}")
    # open_by_space[s]: indices into `strategies` of open strategies with s tokens free.
    open_by_space: list[list[int]] = [[] for _ in range(max_len + 1)]
    strategies: list[list] = []  # [lengths, count]

    def add(lengths: tuple[int, ...], count: int) -> None:
        space = max_len - sum(lengths)
        strategies.append([lengths, count])
        if space > 0 and len(lengths) < max_per_row:
            open_by_space[space].append(len(strategies) - 1)

    for length in range(min(len(histogram) - 1, max_len), 0, -1):
        todo = int(histogram[length])
        while todo:
            space = next((s for s in range(length, max_len + 1) if open_by_space[s]), None)
            if space is None:
                add((length,), todo)
                break
            index = open_by_space[space][-1]
            lengths, count = strategies[index]
            moved = min(count, todo)
            if moved == count:  # every pack of the strategy takes one more sequence
                open_by_space[space].pop()
                strategies[index][1] = 0
            else:  # the rest of the strategy stays open as it was
                strategies[index][1] = count - moved
            add(lengths + (length,), moved)
            todo -= moved
    return [(tuple(lengths), count) for lengths, count in strategies if count]


def pack_rows(lengths: Sequence[int], max_len: int, max_per_row: int) -> list[list[int]]:
    """Rows of indices into `lengths` (taken in index order within each length).

    Callers pass instances in sort-key order; each row lists its instances longest first
    and rows are ordered by their smallest index, so the result is a function of the
    instances' lengths and order only.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) == 0:
        return []
    if lengths.min() < 1:
        raise ValueError("every sequence needs at least one token")
    histogram = np.bincount(lengths, minlength=max_len + 1)
    queues: dict[int, list[int]] = {}
    for i, length in enumerate(lengths.tolist()):
        queues.setdefault(length, []).append(i)
    taken = dict.fromkeys(queues, 0)
    rows: list[list[int]] = []
    for pack, count in spfhp(histogram, max_len, max_per_row):
        for _ in range(count):
            row = []
            for length in pack:
                row.append(queues[length][taken[length]])
                taken[length] += 1
            rows.append(row)
    rows.sort(key=min)
    return rows


def fill(row_lengths: Sequence[int], max_len: int) -> float:
    """Non-pad tokens / (rows x max_len): 1.0 is no padding at all."""
    return float(np.sum(row_lengths)) / max(1, len(row_lengths) * max_len)
