"""vocab.piece_table: byte keys of space-separated pieces, exact lookups, growth, forgetting."""

from __future__ import annotations

import numpy as np

from vocab.piece_table import MAX_BYTES, PieceTable, piece_keys

# Pieces that differ only in their last byte, in length (a trailing NUL), or past the first
# word, at every length around the two-word boundary, plus multi-byte UTF-8.
NEAR_TWINS = [b"", b"a", b"a\x00", b"b", b"abcdefg", b"abcdefgh", b"abcdefgi", b"abcdefgh\x00",
              b"abcdefghi", b"abcdefghj", b"abcdefghijklmno", b"abcdefghijklmnp",
              b"abcdefghijklmnop", b"\xc3\xa9t\xc3\xa9", b"\xe4\xb8\xad\xe6\x96\x87x"]


def _table_of(pieces: list[bytes]) -> PieceTable:
    table = PieceTable()
    table.add(piece_keys(b" ".join(pieces)), np.arange(len(pieces), dtype=np.int64))
    return table


def test_keys_split_like_str_split():
    raw = "  a bé\tc  d ".encode()
    keys = piece_keys(raw)
    pieces = [raw[a:a + n] for a, n in zip(keys.starts.tolist(), keys.lengths.tolist(),
                                           strict=True)]
    assert pieces == [p.encode() for p in raw.decode().split(" ")]


def test_every_short_piece_finds_its_own_slot_whatever_surrounds_it():
    table = _table_of(NEAR_TWINS)
    # The same pieces in another order and context: each must map to its own slot.
    order = list(reversed(range(len(NEAR_TWINS))))
    doc = b"zz " + b" ".join(NEAR_TWINS[i] for i in order) + b" \xff\xff"
    slots = table.lookup(piece_keys(doc)).tolist()
    expected = [-1] + [i if len(NEAR_TWINS[i]) <= MAX_BYTES else -1 for i in order] + [-1]
    assert slots == expected
    assert any(len(p) > MAX_BYTES for p in NEAR_TWINS)  # longer pieces go by their string


def test_growth_and_forgetting_keep_lookups_exact():
    # Pieces that share their first word (9-13 bytes), or their second word and length (7
    # bytes), so that chains hold look-alikes.
    pieces = [f"abcdefgh{i}".encode() for i in range(10_000)]
    pieces += [f"{i:07d}".encode() for i in range(10_000)]
    table = PieceTable()
    for lo in range(0, len(pieces), 3000):  # added in batches, growing the table
        keys = piece_keys(b" ".join(pieces[lo:lo + 3000]))
        table.add(keys, np.arange(lo, lo + len(keys.lengths), dtype=np.int64))
    keys = piece_keys(b" ".join(pieces))
    found = table.lookup(keys)
    # Every hit is exact; at a load of at most 1/2 nearly every key is placed.
    assert np.all((found == np.arange(len(pieces))) | (found < 0))
    assert np.count_nonzero(found < 0) < len(pieces) // 1000
    table.keep_slots_below(7000)
    found_after = table.lookup(keys)
    assert np.all(found_after[7000:] < 0)
    assert np.array_equal(found_after[:7000], found[:7000])
