"""The epoch's global sample order: a pure function of (row count, seed, epoch).

Every rank and worker computes the same order independently, so no communication is needed
and resuming is O(1): skip `consumed_samples` (Megatron's and Mosaic's approach, research:
anchors_loader_trainer.md §8.3). The generator is Philox keyed by the pair (seed, epoch),
not by `seed + epoch`, so (seed=1, epoch=2) and (seed=2, epoch=1) differ.

Optional length grouping (LDDL-style binning without separate bins): inside each window of
`group_windows` global batches, rows are sorted by length (stable, so deterministic) and cut
into global batches, and the order of those batches inside the window is shuffled by the
same generator. Padding shrinks to almost nothing while samples still mix across the
whole dataset, and all ranks of a step get rows of similar length (no stragglers).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_MASK64 = (1 << 64) - 1


def epoch_generator(seed: int, epoch: int) -> np.random.Generator:
    """Philox generator whose 128-bit key is (seed, epoch)."""
    key = (seed & _MASK64) | ((epoch & _MASK64) << 64)
    return np.random.Generator(np.random.Philox(key=key))


def index_dtype(num_rows: int) -> np.dtype:
    """uint32 indices below 2^32 rows: halves the order's memory on big datasets."""
    return np.dtype(np.uint32 if num_rows < 1 << 32 else np.int64)


def global_order(
    num_rows: int,
    global_batch: int,
    seed: int,
    epoch: int,
    *,
    group_windows: int = 0,
    lengths_of: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Row indices of the epoch, `num_rows // global_batch` full global batches long.

    The rows of the last partial global batch are dropped for this epoch (they differ per
    epoch), so every rank gets the same number of equal batches. With `group_windows > 0`,
    `lengths_of(rows)` must return the sequence length of each row.
    """
    if global_batch < 1:
        raise ValueError(f"global_batch must be >= 1, got {global_batch}")
    rng = epoch_generator(seed, epoch)
    order = rng.permutation(num_rows).astype(index_dtype(num_rows))
    order = order[: (num_rows // global_batch) * global_batch]
    if group_windows <= 0:
        return order
    if lengths_of is None:
        raise ValueError("length grouping needs lengths_of")
    window = group_windows * global_batch
    for lo in range(0, len(order), window):
        chunk = order[lo:lo + window]
        chunk = chunk[np.argsort(lengths_of(chunk), kind="stable")]
        batches = chunk.reshape(-1, global_batch)
        order[lo:lo + window] = batches[rng.permutation(len(batches))].reshape(-1)
    return order
