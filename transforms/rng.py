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
    return int.from_bytes(stable_hash64_state(*parts).digest(), "little")


def stable_hash64_state(*parts: object):
    """The BLAKE2b state of `stable_hash64(*parts)`, for `stable_hash64_extend`."""
    h = hashlib.blake2b(digest_size=8)
    h.update(_encoded(parts))
    return h


def stable_hash64_extend(state, *parts: object) -> int:
    """`stable_hash64(*prefix, *parts)` from `state = stable_hash64_state(*prefix)` (left as
    it is): BLAKE2b hashes a concatenation the same in pieces, so a shared prefix is hashed
    once."""
    h = state.copy()
    h.update(_encoded(parts))
    return int.from_bytes(h.digest(), "little")


def _encoded(parts: tuple) -> bytes:
    """The bytes a tuple of parts is hashed as: each part's `str`, then a 0x1F separator."""
    return "".join([f"{part!s}\x1f" for part in parts]).encode("utf-8")


def doc_id_hash(doc_id: str) -> int:
    """The uint64 `doc_id` column: a stable hash of the source document's id string."""
    return stable_hash64("doc", doc_id)


def _entropy(seed: int, doc_id: int, pass_index: int, stage: Stage, extra: int) -> list[int]:
    entropy = [seed & 0xFFFFFFFF, seed >> 32, doc_id & 0xFFFFFFFF, doc_id >> 32]
    entropy += [pass_index, int(stage)]
    if extra:
        entropy += [extra & 0xFFFFFFFF, extra >> 32]
    return entropy


def make_rng(
    seed: int, doc_id: int, pass_index: int, stage: Stage, extra: int = 0
) -> np.random.Generator:
    """A generator private to one (document, pass, stage).

    `extra` (>= 0) splits that stream further, e.g. per instance of a document for masking;
    `extra=0` leaves the key, and so the stream, exactly as without it. This defines the
    streams; `Streams` gives the same ones for many keys at a time, ~20x cheaper.
    """
    entropy = _entropy(seed, doc_id, pass_index, stage, extra)
    return np.random.Generator(np.random.Philox(np.random.SeedSequence(entropy)))


# numpy's SeedSequence constants (numpy/random/bit_generator.pyx; a specified algorithm).
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_POOL = 4
_U32 = 0xFFFFFFFF


def _seed_sequence_keys(words: np.ndarray) -> np.ndarray:
    """`SeedSequence(row).generate_state(2, uint64)` for every row of uint32 `words`, in numpy.

    That is the key `Philox(SeedSequence(row))` runs with (counter 0). The hash constants
    evolve identically for every row, so they stay Python ints; the rows are uint32 columns,
    whose products wrap modulo 2**32 as SeedSequence's C arithmetic does.
    """
    n_rows, n_words = words.shape
    hash_const = _INIT_A

    def hashmix(value: np.ndarray) -> np.ndarray:
        nonlocal hash_const
        value = value ^ np.uint32(hash_const)
        hash_const = (hash_const * _MULT_A) & _U32
        value = value * np.uint32(hash_const)
        return value ^ (value >> np.uint32(16))

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        result = np.uint32(_MIX_L) * x - np.uint32(_MIX_R) * y
        return result ^ (result >> np.uint32(16))

    zero = np.zeros(n_rows, dtype=np.uint32)
    pool = [hashmix(words[:, i] if i < n_words else zero) for i in range(_POOL)]
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = mix(pool[dst], hashmix(pool[src]))
    for src in range(_POOL, n_words):
        for dst in range(_POOL):
            pool[dst] = mix(pool[dst], hashmix(words[:, src]))
    state = np.empty((n_rows, 4), dtype="<u4")
    hash_const = _INIT_B
    for i in range(4):
        value = pool[i] ^ np.uint32(hash_const)
        hash_const = (hash_const * _MULT_B) & _U32
        value = value * np.uint32(hash_const)
        state[:, i] = value ^ (value >> np.uint32(16))
    return state.view("<u8")


def stream_keys(seed: int, doc_ids: np.ndarray, pass_indices: np.ndarray, stage: Stage,
                extras: np.ndarray | None = None) -> np.ndarray:
    """The Philox keys of `make_rng(seed, doc_ids[k], pass_indices[k], stage, extras[k])` for
    every k, as an (n, 2) uint64 array: one vectorised hash instead of n SeedSequences.
    A pass index is one uint32 word here, as in `make_rng` below 2**32; `PackConfig` keeps
    every pass index below 255."""
    doc_ids = np.asarray(doc_ids, dtype=np.uint64)
    n = len(doc_ids)
    extras = np.zeros(n, np.uint64) if extras is None else np.asarray(extras, dtype=np.uint64)
    words = np.empty((n, 8), dtype=np.uint32)
    words[:, 0], words[:, 1] = seed & _U32, seed >> 32
    words[:, 2], words[:, 3] = doc_ids & np.uint64(_U32), doc_ids >> np.uint64(32)
    words[:, 4], words[:, 5] = np.asarray(pass_indices, dtype=np.uint32), int(stage)
    words[:, 6], words[:, 7] = extras & np.uint64(_U32), extras >> np.uint64(32)
    has_extra = extras != 0  # extra=0 keys the stream by six words, not eight
    keys = np.empty((n, 2), dtype=np.uint64)
    if has_extra.any():
        keys[has_extra] = _seed_sequence_keys(words[has_extra])
    if not has_extra.all():
        keys[~has_extra] = _seed_sequence_keys(words[~has_extra, :6])
    return keys


class Streams:
    """`make_rng`'s generators from `stream_keys` keys, one at a time: one Generator whose
    Philox state is reset per key (~5 us) instead of a new SeedSequence, Philox and
    Generator (~130 us). The generator `at` returns is only valid until the next call."""

    def __init__(self) -> None:
        self._generator = np.random.Generator(np.random.Philox(0))
        self._bit_generator = self._generator.bit_generator
        self._zeros = np.zeros(4, dtype=np.uint64)

    def at(self, key: np.ndarray) -> np.random.Generator:
        """The generator of one row of `stream_keys`, at the start of its stream."""
        self._bit_generator.state = {
            "bit_generator": "Philox",
            "state": {"counter": self._zeros, "key": key},
            "buffer": self._zeros, "buffer_pos": 4, "has_uint32": 0, "uinteger": 0,
        }
        return self._generator


class StreamTails:
    """The next uint32 draws of many streams, taken at each stream's end, read in one go.

    A Philox generator's `next_uint32` returns the low half of a 64-bit draw, then its high
    half, which waits in the `has_uint32`/`uinteger` buffer; so a stream's next uint32s are
    that buffered half, if any, then the halves of its next raw 64-bit draws. `add` takes
    whole 64-bit draws, so it must be a stream's last use.
    """

    def __init__(self) -> None:
        self._buffered: list[int] = []  # the waiting half, or -1
        self._raw: list[np.ndarray] = []

    def add(self, generator: np.random.Generator, n: int) -> None:
        """Takes the stream's next `n` uint32s (at least)."""
        if n == 0:
            self._buffered.append(-1)
            self._raw.append(_NO_RAW)
            return
        state = generator.bit_generator.state
        self._buffered.append(state["uinteger"] if state["has_uint32"] else -1)
        self._raw.append(generator.bit_generator.random_raw((n + 1) // 2))

    def draws(self, stream: np.ndarray, rank: np.ndarray) -> np.ndarray:
        """uint32 number `rank[i]` (from 0) of stream `stream[i]` (in `add` order), for every i."""
        halves = np.concatenate(self._raw).astype("<u8", copy=False).view("<u4")
        first = np.zeros(len(self._raw), dtype=np.int64)
        np.fromiter(map(len, self._raw[:-1]), np.int64, len(self._raw) - 1).cumsum(
            out=first[1:])
        buffered = np.asarray(self._buffered, dtype=np.int64)
        rank = rank - (buffered >= 0)[stream]
        out = halves[np.maximum(2 * first[stream] + rank, 0)] if len(halves) else (
            np.zeros(len(stream), np.uint32))
        from_buffer = rank < 0
        out[from_buffer] = buffered[stream[from_buffer]]
        return out


_NO_RAW = np.zeros(0, dtype=np.uint64)


def bounded_from_uint32(draws: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`Generator.integers(0, n, size, dtype=np.int64)` from the uint32 draws it consumes.

    numpy draws each value by Lemire's method on one `next_uint32`
    (numpy/random/src/distributions/distributions.c, `buffered_bounded_lemire_uint32`):
    `(u * n) >> 32`, unless the low 32 bits of `u * n` fall below `2**32 mod n`; then it
    rejects `u` and draws again, shifting every later value. Returns the values and a
    rejection flag per draw: where one is set, that value and all later ones of the same
    call are not numpy's (the chance is below n / 2**32 per draw).
    """
    if not 1 <= n <= 1 << 32:
        raise ValueError(f"bounded draws need 1 <= n <= 2**32, got {n}")
    product = draws.astype(np.uint64) * np.uint64(n)
    rejected = (product & np.uint64(_U32)) < np.uint64(((1 << 32) - n) % n)
    return (product >> np.uint64(32)).astype(np.int64), rejected
