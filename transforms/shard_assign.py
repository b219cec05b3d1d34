"""Which shard an instance goes to: exact balance from a stable hash, computed in parallel.

Every instance gets `h = stable_hash64("shard", seed, doc_id, pass_index, index)`. Ordering
all instances by `(h, doc_id, pass_index, index)` gives a global pseudo-random order that
depends on nothing but the seed and the instances themselves; the instance of rank `r` out
of `total` goes to shard `r * num_shards // total`, so each shard is a contiguous range of
that order and shard sizes differ by at most one row.

This departs from DESIGN.md's `hash mod num_shards`: hash-mod sizes are binomial
(sd ~ sqrt(n/k)), so with 16 shards of 2,000 rows a shard outside +-5% is likely, while the
issue asks for +-5%. The rank is found without a global sort: the top `BUCKET_BITS` bits of
`h` split the order into buckets; per-bucket counts give each bucket's first rank (a prefix
sum over 4,096 integers), and each bucket is sorted on its own. Rows inside a shard stay
sorted by the hash, as DESIGN.md says.

Only the 32-byte sort keys take that route: the sorted buckets yield the `num_shards - 1`
boundary keys (the keys at each shard's first rank), and every instance then finds its shard
by bisection, so the instances themselves cross a single shuffle, the one by shard.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Mapping, Sequence
from functools import lru_cache

from transforms.rng import stable_hash64_extend, stable_hash64_state

BUCKET_BITS = 12
_SORT_KEY = struct.Struct(">QQQQ")


def shard_hash(seed: int, doc_id: int, pass_index: int, index: int) -> int:
    """The 64-bit key that orders instances; independent of runner, bundle and worker:
    `stable_hash64("shard", seed, doc_id, pass_index, index)`, the prefix hashed once."""
    return stable_hash64_extend(_hash_prefix(seed), doc_id, pass_index, index)


@lru_cache(maxsize=16)
def _hash_prefix(seed: int):
    return stable_hash64_state("shard", seed)


def bucket_of(h: int) -> int:
    """The bucket of a hash: its top `BUCKET_BITS` bits, so buckets are contiguous h ranges."""
    return h >> (64 - BUCKET_BITS)


def sort_key(seed: int, doc_id: int, pass_index: int, index: int) -> bytes:
    """`(h, doc_id, pass_index, index)` as big-endian uint64s: bytes order is tuple order."""
    return _SORT_KEY.pack(shard_hash(seed, doc_id, pass_index, index), doc_id, pass_index,
                          index)


def bucket_of_key(key: bytes) -> int:
    """`bucket_of` the hash that leads a `sort_key`."""
    return bucket_of(int.from_bytes(key[:8], "big"))


def bucket_offsets(counts: Mapping[int, int]) -> tuple[dict[int, int], int]:
    """First global rank of each non-empty bucket, and the total instance count."""
    first: dict[int, int] = {}
    total = 0
    for bucket in sorted(counts):
        first[bucket] = total
        total += counts[bucket]
    return first, total


def boundary_ranks(total: int, num_shards: int) -> list[int]:
    """The first rank of shards 1 .. num_shards-1 (ceil(s*total/k)); shard 0 starts at 0."""
    return [-(-s * total // num_shards) for s in range(1, num_shards)]


def shard_of_key(key: bytes, boundaries: Sequence[bytes]) -> int:
    """Shard of a sort key, given the keys at `boundary_ranks` in shard order.

    `#{s: boundary_s <= key}` = `#{s: ceil(s*total/k) <= rank}` = `rank * k // total`, the
    module docstring's rule; equal boundaries (empty shards) are skipped by the same count,
    and boundaries at rank >= total (empty trailing shards) may be left out.
    """
    return bisect.bisect_right(boundaries, key)


def shard_sizes(total: int, num_shards: int) -> list[int]:
    """The row count of each shard for `total` instances (rank r goes to shard r * k // total)."""
    bounds = [-(-s * total // num_shards) for s in range(num_shards + 1)]  # ceil(s*total/k)
    return [bounds[s + 1] - bounds[s] for s in range(num_shards)]
