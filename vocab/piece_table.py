"""Exact piece -> cache slot lookups by numpy over a document's UTF-8 bytes.

Why: once the Rust tokenizer has seen a piece, what an English document costs the encoder is
`str.split` making one string per space-separated piece and one dict lookup per piece. A
piece of at most `MAX_BYTES` UTF-8 bytes (~99.9% of English pieces) is its own key: its bytes
in two uint64 words, the second one's top byte holding the length, read with one strided view
of the document's bytes at each piece start. A document is then looked up by a few numpy
passes in an open-addressing table, without building the strings. Keys are compared whole, so
a hit is exact (no hash to verify). The passes have a fixed cost (~40 numpy calls), so the
encoder uses the table only for documents with many pieces.

The table mirrors part of the encoder's piece cache and never decides alone: a piece it does
not resolve (longer, unseen, or not found within `_PROBES` buckets) is looked up by its string
as before.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

MAX_BYTES = 15
"""Longest piece (in UTF-8 bytes) the table holds: 8 bytes in the first word, 7 and the
length in the second."""
_PROBES = 8
"""Buckets tried per key; a key not placed or found within them goes by its string."""
_LOW_MASKS = np.array([(1 << (8 * min(k, 8))) - 1 for k in range(MAX_BYTES + 2)],
                      dtype=np.uint64)
_HIGH_MASKS = np.array([(1 << (8 * max(k - 8, 0))) - 1 for k in range(MAX_BYTES + 1)] + [0],
                       dtype=np.uint64)
"""By piece length (capped at MAX_BYTES + 1): the bytes of the first and of the second word
that belong to the piece."""
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F))


class PieceKeys(NamedTuple):
    """The pieces of a byte string split at every b" " (as `str.split(" ")`: empty pieces
    included): byte start, byte length, and the key words of those up to `MAX_BYTES`."""

    starts: np.ndarray
    lengths: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def take(self, index: np.ndarray) -> PieceKeys:
        """The keys of the pieces at `index`."""
        return PieceKeys(*(field[index] for field in self))


def piece_keys(raw: bytes) -> PieceKeys:
    """The keys of the space-separated pieces of `raw` (the words of longer pieces are
    meaningless; the table skips those pieces)."""
    n = len(raw)
    padded = np.frombuffer(raw + bytes(16), dtype=np.uint8)
    spaces = (padded[:n] == 32).nonzero()[0]
    starts = np.empty(len(spaces) + 1, dtype=np.int64)
    starts[0] = 0
    np.add(spaces, 1, out=starts[1:])
    lengths = np.empty_like(starts)
    np.subtract(spaces, starts[:-1], out=lengths[:-1])
    lengths[-1] = n - starts[-1]
    # The little-endian uint64 starting at every byte (unaligned reads of the padded buffer).
    words = np.ndarray((n + 9,), dtype="<u8", buffer=padded, strides=(1,))
    capped = np.minimum(lengths, MAX_BYTES + 1)
    low = words[starts] & _LOW_MASKS[capped]
    high = (words[starts + 8] & _HIGH_MASKS[capped]) | (capped.astype(np.uint64) << 56)
    return PieceKeys(starts, lengths, low, high)


class PieceTable:
    """(bytes of a piece of at most `MAX_BYTES`) -> cache slot, open addressing with linear
    probing in numpy arrays; buckets are only added, or all rebuilt (`keep_slots_below`)."""

    def __init__(self, size: int = 1 << 12) -> None:
        self._allocate(size)

    def _allocate(self, size: int) -> None:
        self._low = np.zeros(size, dtype=np.uint64)
        # An empty bucket: slot -1, and a length byte (255) that no key has.
        self._high = np.full(size, (1 << 64) - 1, dtype=np.uint64)
        self._slot = np.full(size, -1, dtype=np.int64)
        self._mask = size - 1
        self._shift = np.uint64(64 - (size.bit_length() - 1))
        self.entries = 0

    def lookup(self, keys: PieceKeys) -> np.ndarray:
        """The slot of each piece, -1 where the table does not hold it."""
        slots = np.full(len(keys.lengths), -1, dtype=np.int64)
        todo = (keys.lengths <= MAX_BYTES).nonzero()[0]
        low, high = keys.low[todo], keys.high[todo]
        pos = self._home(low, high)
        for _ in range(_PROBES):
            held = self._slot[pos]
            hit = (self._low[pos] == low) & (self._high[pos] == high)
            slots[todo[hit]] = held[hit]
            go_on = ~hit & (held >= 0)  # an empty bucket ends the key's chain
            if not go_on.any():
                break
            todo, low, high = todo[go_on], low[go_on], high[go_on]
            pos = (pos[go_on] + 1) & self._mask
        return slots

    def add(self, keys: PieceKeys, slots: np.ndarray) -> None:
        """Hold distinct pieces that `lookup` did not find, at `slots` (longer ones are
        skipped)."""
        short = keys.lengths <= MAX_BYTES
        new = int(np.count_nonzero(short))
        if 2 * (self.entries + new) > len(self._slot):  # keep the load at most 1/2
            self._rebuild(self._slot >= 0, 1 << (4 * (self.entries + new)).bit_length())
        self._place(keys.low[short], keys.high[short], slots[short])

    def keep_slots_below(self, n: int) -> None:
        """Forget the pieces at slots >= n (the cache dropped them)."""
        self._rebuild((self._slot >= 0) & (self._slot < n), len(self._slot))

    def _rebuild(self, keep: np.ndarray, size: int) -> None:
        low, high, slots = self._low[keep], self._high[keep], self._slot[keep]
        self._allocate(size)
        self._place(low, high, slots)

    def _home(self, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        return ((low * _MIX[0]) ^ (high * _MIX[1])) >> self._shift

    def _place(self, low: np.ndarray, high: np.ndarray, slots: np.ndarray) -> None:
        """Put each key in the first empty bucket of its chain; of keys contending for one
        bucket the first wins and the others probe on (so every bucket a key passed is
        taken, which `lookup` relies on)."""
        pos = self._home(low, high)
        todo = np.arange(len(slots))
        for _ in range(_PROBES):
            if not len(todo):
                break
            free = todo[self._slot[pos[todo]] < 0]
            _, first = np.unique(pos[free], return_index=True)
            won = free[first]
            at = pos[won]
            self._low[at], self._high[at], self._slot[at] = low[won], high[won], slots[won]
            self.entries += len(won)
            placed = np.zeros(len(slots), dtype=bool)
            placed[won] = True
            todo = todo[~placed[todo]]
            pos[todo] = (pos[todo] + 1) & self._mask
