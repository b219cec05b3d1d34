"""Per-key batches of `bytes` that a DoFn emits instead of one element per record.

Runners decode every shuffled element, and FnApiRunner holds a shuffle decoded in RAM until
it is read, so a few large `bytes` batches per bundle cost far less than one Python object
per record (per-element overhead, object headers). Used for the NSP-pool shuffle
(transforms/pack_beam.py) and the shard shuffles (transforms/shards.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from apache_beam.transforms.window import GlobalWindows

BATCH_BYTES = 4 << 20
"""Bytes a DoFn collects per bundle before it emits them as batches (bounds its RAM; 16 MB
held the packing stage's rows while it packed a whole pool, ~15 MB more at the run's peak).
Larger batches would only mean fewer elements."""


class Batcher:
    """Per-key lists of bytes, emitted as (key, joined bytes) batches, in key order. Emits
    everything once `BATCH_BYTES` are held, and whatever is left at `flush`."""

    def __init__(self, join: Callable[[Iterable[bytes]], bytes]) -> None:
        self._join = join
        self._limit = BATCH_BYTES
        self._parts: dict[int, list[bytes]] = {}
        self._size = 0

    def add(self, key: int, data: bytes) -> list[tuple[int, bytes]]:
        self._parts.setdefault(key, []).append(data)
        self._size += len(data)
        return self.flush() if self._size >= self._limit else []

    def flush(self) -> list[tuple[int, bytes]]:
        out = [(key, self._join(parts)) for key, parts in sorted(self._parts.items())]
        self._parts, self._size = {}, 0
        return out


def in_global_window(batches: list[tuple[int, bytes]]):
    """Batches as windowed values, for `finish_bundle` (everything here is globally windowed)."""
    return [GlobalWindows.windowed_value(batch) for batch in batches]
