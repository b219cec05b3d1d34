"""Packing complete instances into rows of up to `max_seq_length` tokens (`--packed`).

Krell et al., "Efficient Sequence Packing without Cross-contamination" (arXiv 2107.02027),
show that BERT rows at 512 are more than half padding and that packing on the *histogram*
of lengths (their SPFHP and NNLSHP) costs time in the number of distinct lengths, not of
sequences, and reaches ~99% fill with a few sequences per row. We pack on the histogram
too, with their limit on sequences per row (`--max-sequences-per-row`, default 3), but
complete each row differently, because with few sequences per row the last slots decide
the fill:

1. the shard's instance lengths become a histogram over 1..max_len;
2. a row opens with the longest length left; while more than two slots remain, the
   longest length that fits is added (best fit, as SPFHP); the last two slots take the
   *pair* of lengths (or single length) with the largest sum that fits, found exactly by a
   two-pointer walk over the histogram;
3. the same row is repeated as long as the histogram holds its lengths (the choice could
   not change), so the work is O(max_len) per distinct row shape, not per row.

On enwiki at 512 (nsp, span, dupe 2; 1,507 instances, 867 of them full) SPFHP with 3 per
row fills 0.952 and this packer 0.966 (benchmarks/bench_packing.py): SPFHP puts lengths
one at a time longest first, so rows that opened with a medium sequence take the next
medium one and leave the third slot to a short one, while short sequences later share
rows three at a time.

Only the histogram enters steps 1-3, so the row shapes are a function of the multiset of
lengths. Concrete instances are then dealt to the rows of each shape in the order of
their shard sort key (a hash of the seed and the instance's name), and rows are ordered by
the smallest sort key they hold: a shard's rows depend only on its instances and the seed,
never on arrival order, bundles or workers.

Why per shard, after shard assignment: `WriteShards` already brings each shard's instances
to one worker, sorted, so packing there costs no extra shuffle and keeps exactly the
unpacked run's shard balance (in instances); a shard of a few hundred instances already
holds enough lengths for near-optimal fill.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Shape = tuple[tuple[int, ...], int]
"""(the lengths of one row, in the order they were added; how many rows have them)."""


def _longest_fitting(histogram: list[int], space: int) -> int:
    """The longest length <= space still in the histogram, or 0."""
    return next((n for n in range(space, 0, -1) if histogram[n]), 0)


def _best_pair(histogram: list[int], space: int) -> tuple[int, ...]:
    """One or two lengths from the histogram with the largest sum <= space (ties: the pair
    with the shorter first length, found first by the two-pointer walk)."""
    single = _longest_fitting(histogram, space)
    best, best_sum = ((single,), single) if single else ((), 0)
    lo, hi = 1, space - 1
    while lo <= hi:
        if not histogram[lo]:
            lo += 1
        elif not histogram[hi] or (lo == hi and histogram[lo] < 2) or lo + hi > space:
            hi -= 1
        else:
            if lo + hi > best_sum:
                best, best_sum = (hi, lo), lo + hi
            lo += 1
    return best


def row_shapes(histogram: np.ndarray, max_len: int, max_per_row: int) -> list[Shape]:
    """Row shapes for `histogram[n]` sequences of length n (n <= max_len).

    Every sequence is in exactly one row; a row's lengths sum to at most `max_len` and
    number at most `max_per_row`.
    """
    if len(histogram) > max_len + 1 and np.any(histogram[max_len + 1:]):
        raise ValueError(f"a sequence is longer than max_len {max_len}")
    left = [int(c) for c in histogram[:max_len + 1]] + [0] * (max_len + 1 - len(histogram))
    shapes: list[Shape] = []
    longest = max_len
    while longest := _longest_fitting(left, longest):
        row = [longest]
        left[longest] -= 1
        space = max_len - longest
        while len(row) < max_per_row:
            if len(row) == max_per_row - 2:
                added = _best_pair(left, space)
            else:
                added = (n,) if (n := _longest_fitting(left, space)) else ()
            if not added:
                break
            for n in added:
                left[n] -= 1
            row += added
            space -= sum(added)
        need = {n: row.count(n) for n in row}
        for n in row:  # back to the histogram before this row, then take it `repeat` times
            left[n] += 1
        repeat = min(left[n] // k for n, k in need.items())
        for n, k in need.items():
            left[n] -= repeat * k
        shapes.append((tuple(row), repeat))
    return shapes


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
    for pack, count in row_shapes(histogram, max_len, max_per_row):
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
