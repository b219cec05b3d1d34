"""`rng.stream_keys` + `Streams` give exactly `make_rng`'s generators, many keys at a time."""

from __future__ import annotations

import numpy as np

from core.config import MAX_SEED
from transforms.rng import Stage, Streams, make_rng, stream_keys


def _draws(rng: np.random.Generator) -> list:
    """The draw kinds packing and masking use, in a mixed order."""
    return [rng.permutation(37).tolist(), rng.random(5).tolist(),
            rng.integers(0, 30_000, size=7).tolist(), rng.integers(1, 4).item(),
            rng.random()]


def test_stream_keys_give_make_rngs_generators():
    src = np.random.default_rng(5)
    n = 400
    doc_ids = src.integers(0, 2**64, size=n, dtype=np.uint64)
    doc_ids[:3] = [0, 2**63, 2**64 - 1]
    passes = src.integers(0, 256, size=n)
    extras = src.integers(0, 4, size=n).astype(np.uint64)  # many 0: the six-word key
    extras[3:5] = [2**32, 2**40 + 3]
    streams = Streams()
    for seed in (0, 12345, MAX_SEED):
        for stage in Stage:
            keys = stream_keys(seed, doc_ids, passes, stage, extras)
            for k in range(n):
                expected = make_rng(seed, int(doc_ids[k]), int(passes[k]), stage, int(extras[k]))
                assert _draws(streams.at(keys[k])) == _draws(expected), (seed, stage, k)


def test_a_stream_restarts_from_its_key_whatever_was_drawn_before():
    keys = stream_keys(7, np.array([1, 2], np.uint64), np.array([0, 0]), Stage.MASK)
    streams = Streams()
    first = _draws(streams.at(keys[0]))
    streams.at(keys[1]).integers(0, 9, size=3)  # leaves a buffered half word behind
    assert _draws(streams.at(keys[0])) == first
