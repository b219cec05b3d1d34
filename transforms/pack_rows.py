"""Packing complete instances into rows of up to `max_seq_length` tokens (`--packed`).

Krell et al., "Efficient Sequence Packing without Cross-contamination" (arXiv 2107.02027),
show that BERT rows at 512 are more than half padding and that packing on the *histogram*
of lengths (their SPFHP and NNLSHP) costs time in the number of distinct lengths, not of
sequences. We pack on the histogram too, with their limit on sequences per row
(`--max-sequences-per-row`), as a greedy whose rows are each filled exactly:

1. the shard's instance lengths become a histogram over 1..max_len;
2. a row opens with the longest length left; the rest of the row is the subset of at most
   (limit - 1) lengths left with the largest sum that fits, found exactly by a bitset
   subset-sum over (count, sum) (`_best_completion`);
3. the same row is repeated as long as the histogram holds its lengths (the choice could
   not change), so the work is per distinct row shape, not per row;
4. among the best sums, one run takes the fewest lengths (short ones stay for the gaps of
   later rows), a second run at least as many as the rows still needed hold on average
   (tokens left / max_len rows for the lengths left): when the limit, not the tokens, binds
   (many short instances), rows must take several of them early. The run with fewer rows
   wins (ties: the first); each wins on real data, the other on some.

On the shards of benchmarks/bench_packing.py this is within one row per shard of the
configuration-LP lower bound for every limit 3..8 (enwiki at 512, limit 4: 1,078 rows,
the bound), where SPFHP and a best-fit-then-best-pair greedy left 2-3% of fill; 100k
lengths take 0.1-0.8 s.

Only the histogram enters steps 1-4, so the row shapes are a function of the multiset of
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


def _best_completion(histogram: list[int], space: int, slots: int,
                     at_least: int) -> tuple[int, ...]:
    """At most `slots` lengths from the histogram with the largest sum <= `space`, longest
    first; exact. Among the best sums, the fewest lengths that are still >= `at_least`
    (else the most).

    Subset sum with a count limit, as bitsets: `reach[k]` has bit s set when k of the lengths
    seen so far sum to s. Lengths are added longest first (each copy once, up to the copies
    that could fit), stopping as soon as `space` itself is reachable with >= `at_least`
    lengths. The walk back prefers the longer lengths: short ones stay for the gaps of later
    rows.
    """
    if slots < 1 or space < 1:
        return ()
    mask = (1 << (space + 1)) - 1
    full = 1 << space
    reach = [1] + [0] * slots
    top = 0  # the most lengths reach[] holds so far
    seen: list[tuple[int, list[int]]] = []  # (length, reach before it)
    for n in range(space, 0, -1):
        copies = min(histogram[n], slots, space // n)
        if not copies:
            continue
        seen.append((n, reach.copy()))
        for _ in range(copies):
            top = min(slots, top + 1)
            for k in range(top, 0, -1):
                reach[k] |= (reach[k - 1] << n) & mask
        if any(r & full for r in reach[max(1, at_least):top + 1]):
            break
    best = max(r.bit_length() - 1 for r in reach[1:])
    if best < 1:
        return ()
    ks = [k for k in range(1, slots + 1) if reach[k] >> best & 1]
    k = next((k for k in ks if k >= at_least), ks[-1])
    chosen: list[int] = []
    total = best
    for n, before in reversed(seen):  # shortest first: leave a length out whenever possible
        if before[k] >> total & 1:
            continue
        j = next(j for j in range(1, k + 1)
                 if total >= j * n and before[k - j] >> (total - j * n) & 1)
        chosen += [n] * j
        k, total = k - j, total - j * n
    return tuple(sorted(chosen, reverse=True))


def _greedy_shapes(left: list[int], max_len: int, max_per_row: int,
                   balance: bool) -> list[Shape]:
    """Rows longest first, each completed by `_best_completion`; with `balance`, a row takes
    at least as many lengths as the rows still needed (tokens / max_len) hold on average."""
    shapes: list[Shape] = []
    longest = max_len
    count = sum(left)
    tokens = sum(n * c for n, c in enumerate(left))
    while longest := _longest_fitting(left, longest):
        per_row = -(-count // max(1, -(-tokens // max_len))) if balance else 1
        left[longest] -= 1
        row = (longest, *_best_completion(left, max_len - longest, max_per_row - 1,
                                          per_row - 1))
        left[longest] += 1
        need = {n: row.count(n) for n in row}
        repeat = min(left[n] // k for n, k in need.items())
        for n, k in need.items():
            left[n] -= repeat * k
        count -= repeat * len(row)
        tokens -= repeat * sum(row)
        shapes.append((row, repeat))
    return shapes


def row_shapes(histogram: np.ndarray, max_len: int, max_per_row: int) -> list[Shape]:
    """Row shapes for `histogram[n]` sequences of length n (n <= max_len): the greedy
    without, then with balancing, whichever needs fewer rows (ties: without).

    Every sequence is in exactly one row; a row's lengths sum to at most `max_len` and
    number at most `max_per_row`.
    """
    if len(histogram) > max_len + 1 and np.any(histogram[max_len + 1:]):
        raise ValueError(f"a sequence is longer than max_len {max_len}")
    left = [int(c) for c in histogram[:max_len + 1]] + [0] * (max_len + 1 - len(histogram))
    tries = [_greedy_shapes(left.copy(), max_len, max_per_row, balance)
             for balance in (False, True)]
    return min(tries, key=lambda shapes: sum(count for _, count in shapes))


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
    by_length = np.argsort(lengths, kind="stable")  # each length's indices, in order
    taken = np.concatenate([[0], np.cumsum(histogram)[:-1]])
    blocks = []
    for shape, count in row_shapes(histogram, max_len, max_per_row):
        columns = []
        for n in dict.fromkeys(shape):  # equal lengths are adjacent: the shape is sorted
            k = shape.count(n)
            columns.append(by_length[taken[n]:taken[n] + count * k].reshape(count, k))
            taken[n] += count * k
        blocks.append(np.hstack(columns))
    rows = [row for block in blocks for row in block.tolist()]
    firsts = np.concatenate([block.min(axis=1) for block in blocks])
    return [rows[i] for i in np.argsort(firsts, kind="stable")]


def fill(row_lengths: Sequence[int], max_len: int) -> float:
    """Non-pad tokens / (rows x max_len): 1.0 is no padding at all."""
    return float(np.sum(row_lengths)) / max(1, len(row_lengths) * max_len)
