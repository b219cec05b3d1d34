"""The one place randomness comes from.

Every random choice in the pipeline is drawn from a generator keyed by
(seed, doc_id, pass_index, stage), never from global state or element order, so the
output is the same whatever the runner, bundling or worker count (DESIGN.md, Determinism).
Philox is counter-based and SeedSequence hashing is specified by numpy, so the streams are
stable across platforms and processes.
"""

from __future__ import annotations

import hashlib
from enum import IntEnum

import numpy as np


class Stage(IntEnum):
    """Distinct streams per stage, so adding draws to one stage never shifts another.

    The values are part of every stream's key: never renumber them (pools and shards are
    keyed by `stable_hash64` with their own salts, not by a stage stream).
    """

    PACK = 1
    MASK = 3


def stable_hash64(*parts: object) -> int:
    """A 64-bit hash of the parts' string forms that is identical in every process.

    Python's `hash()` is salted per process, so it must never decide anything here.
    """
    h = hashlib.blake2b(digest_size=8)
    for part in parts:
        h.update(str(part).encode("utf-8"))
        h.update(b"\x1f")
    return int.from_bytes(h.digest(), "little")


def doc_id_hash(doc_id: str) -> int:
    """The uint64 `doc_id` column: a stable hash of the source document's id string."""
    return stable_hash64("doc", doc_id)


def make_rng(
    seed: int, doc_id: int, pass_index: int, stage: Stage, extra: int = 0
) -> np.random.Generator:
    """A generator private to one (document, pass, stage).

    `extra` (>= 0) splits that stream further, e.g. per instance of a document for masking;
    `extra=0` leaves the key, and so the stream, exactly as without it.
    """
    entropy = [seed & 0xFFFFFFFF, seed >> 32, doc_id & 0xFFFFFFFF, doc_id >> 32]
    entropy += [pass_index, int(stage)]
    if extra:
        entropy += [extra & 0xFFFFFFFF, extra >> 32]
    return np.random.Generator(np.random.Philox(np.random.SeedSequence(entropy)))
