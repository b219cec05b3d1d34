"""Index ranges as flat numpy arrays: one array operation instead of a Python loop."""

from __future__ import annotations

import numpy as np


def concat_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated `range(s, s + n)` for each (s, n) of the int64 `starts`/`lengths`."""
    offsets = (starts - lengths.cumsum() + lengths).repeat(lengths)
    return offsets + np.arange(len(offsets))
