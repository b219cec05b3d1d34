"""The fewest rows any packer could use: a lower bound for `bench_packing.py`.

Packing instances into rows of at most `max_len` tokens and `max_per_row` instances is
bin packing with a cardinality limit. A lower bound on its rows is the round-up of the
configuration LP (Gilmore and Gomory): one variable per feasible row content (a multiset of
lengths with sum <= max_len and size <= max_per_row), minimise the rows subject to every
length being covered as often as it occurs. Its optimum is never above that of any packing,
and for bin packing it is known to be within a row or two of the optimum in practice.

Solved by column generation: the LP over the row contents seen so far (HiGHS via scipy),
then the content with the largest dual value is found exactly by a dynamic programme over
(instances, tokens) (a bounded knapsack with a count limit); while that value exceeds 1 the
content joins the LP. At every step Farley's bound (LP value / largest dual value) is a
valid lower bound too, so the loop may stop as soon as its round-up meets a packing's rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csc_matrix

_EPS = 1e-6


def simple_rows(lengths: np.ndarray, max_len: int, max_per_row: int) -> int:
    """max(tokens / max_len, instances / max_per_row, instances longer than max_len / 2)."""
    return max(-(-int(lengths.sum()) // max_len), -(-len(lengths) // max_per_row),
               int(np.sum(lengths > max_len // 2)))


def _best_content(values: np.ndarray, sizes: np.ndarray, counts: np.ndarray, max_len: int,
                  max_per_row: int) -> tuple[float, Counter]:
    """The row content with the largest sum of `values` (exact DP over (instances, tokens))."""
    best = np.full((max_per_row + 1, max_len + 1), -np.inf)
    best[0, :] = 0.0
    steps = []
    for size, count, value in zip(sizes.tolist(), counts.tolist(), values.tolist(),
                                  strict=True):
        if value <= 0:
            continue
        for _ in range(min(count, max_per_row, max_len // size)):  # each copy at most once
            with_it = best[:-1, :max_len + 1 - size] + value
            take = with_it > best[1:, size:]
            best[1:, size:] = np.where(take, with_it, best[1:, size:])
            steps.append((size, take))
    k = int(np.argmax(best[:, max_len]))
    total, room, content = float(best[k, max_len]), max_len, Counter()
    for size, take in reversed(steps):
        if k and room >= size and take[k - 1, room - size]:
            content[size] += 1
            k, room = k - 1, room - size
    return total, content


def lp_rows(lengths: Sequence[int], max_len: int, max_per_row: int,
            packing: Sequence[Sequence[int]] = (), max_rounds: int = 5000) -> int:
    """Round-up of the configuration LP: no packing of `lengths` has fewer rows.

    `packing` (rows of lengths, e.g. a packer's) seeds the LP and lets the loop stop once the
    bound reaches its row count.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    sizes, counts = np.unique(lengths, return_counts=True)
    row_of = {int(s): i for i, s in enumerate(sizes)}
    contents = [Counter({int(s): 1}) for s in sizes] + [Counter(map(int, r)) for r in packing]
    target = len(packing) or None
    bound = simple_rows(lengths, max_len, max_per_row)
    for _ in range(max_rounds):
        if target is not None and bound >= target:
            return bound
        data, rows, cols = [], [], []
        for j, content in enumerate(contents):
            for size, k in content.items():
                data.append(-k)
                rows.append(row_of[size])
                cols.append(j)
        matrix = csc_matrix((data, (rows, cols)), shape=(len(sizes), len(contents)))
        lp = linprog(np.ones(len(contents)), A_ub=matrix, b_ub=-counts.astype(float),
                     bounds=(0, None), method="highs")
        if lp.status != 0:
            raise RuntimeError(f"LP failed: {lp.message}")
        duals = -lp.ineqlin.marginals
        value, content = _best_content(duals, sizes, counts, max_len, max_per_row)
        bound = max(bound, int(np.ceil(lp.fun / max(1.0, value) - _EPS)))  # Farley
        if value <= 1 + _EPS:  # no better row content: the LP is optimal
            return max(bound, int(np.ceil(lp.fun - _EPS)))
        contents.append(content)
    raise RuntimeError(f"column generation did not converge in {max_rounds} rounds")
