"""`rng.stream_keys` + `Streams` give exactly `make_rng`'s generators, many keys at a time;
`stable_hash64` is pinned, and extending a shared prefix hashes the whole tuple."""

from __future__ import annotations

import numpy as np
import pytest

from core.config import MAX_SEED
from transforms.rng import (
    Stage,
    Streams,
    StreamTails,
    bounded_from_uint32,
    make_rng,
    stable_hash64,
    stable_hash64_extend,
    stable_hash64_state,
    stream_keys,
)


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


@pytest.mark.parametrize("n", [1, 3, 21_128, 30_522, 2**31 + 7, 3 * 2**30, 2**32])
def test_stream_tails_give_numpys_bounded_integers(n):
    """After any earlier draws (odd or even uint32 counts: `has_uint32` set or not), a
    stream's tail through `bounded_from_uint32` equals numpy's `integers(0, n, size)`
    wherever no rejection is flagged, and a rejection is flagged at the first value where
    numpy rejected (n near 2**31: often). Many streams share one `StreamTails`."""
    tails, expected, sizes = StreamTails(), [], []
    for seed in range(400):
        generator = np.random.Generator(np.random.Philox(seed))
        generator.permutation(seed % 40 + 1)  # next_uint32 draws: leaves a buffered half or not
        generator.random(seed % 5)
        state = generator.bit_generator.state
        size = seed % 9  # 0 too: nothing drawn
        expected.append(generator.integers(0, n, size=size, dtype=np.int64).tolist())
        generator.bit_generator.state = state
        tails.add(generator, size)
        sizes.append(size)
    stream = np.repeat(np.arange(len(sizes)), sizes)
    rank = np.concatenate([np.arange(size) for size in sizes])
    values, rejected = bounded_from_uint32(tails.draws(stream, rank), n)
    assert values.dtype == np.int64
    flagged, pos = 0, 0
    for want, size in zip(expected, sizes, strict=True):
        got, bad = values[pos:pos + size], rejected[pos:pos + size]
        pos += size
        first_bad = int(bad.argmax()) if bad.any() else size
        flagged += first_bad < size
        assert got[:first_bad].tolist() == want[:first_bad]
        assert first_bad == size or got[first_bad] != want[first_bad]
    assert (flagged > 50) == (n in (2**31 + 7, 3 * 2**30))


def test_bounded_draws_refuse_an_empty_or_64_bit_range():
    for n in (0, 2**32 + 1):
        with pytest.raises(ValueError, match="1 <= n"):
            bounded_from_uint32(np.zeros(1, np.uint32), n)


def test_stable_hash64_is_pinned_and_a_prefix_extends_to_the_whole_tuple():
    # Pinned: the doc_id column of every shard and every pool and shard order depend on it.
    assert stable_hash64("doc", "wiki/42") == 0x4348DAEB03242F41
    assert stable_hash64() == 0xB4B2797457A0A6E4
    prefix = stable_hash64_state("shard", 7)
    for rest in [(), (1,), (2, 3, "x\x1fy"), ("é", 4.5, -1)]:
        assert stable_hash64_extend(prefix, *rest) == stable_hash64("shard", 7, *rest)
    assert stable_hash64_extend(prefix) == stable_hash64("shard", 7)  # the prefix is unchanged
