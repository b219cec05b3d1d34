"""The bytes form of instances in the shard shuffle: exact round trip, key order, batches."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from shard_helpers import make_instances

from transforms.records import Instance
from transforms.shard_assign import sort_key
from transforms.shard_rows import (
    KEY_SIZE,
    decode_row,
    encode_row,
    encode_rows,
    join_rows,
    rows_to_columns,
    split_rows,
)
from transforms.shard_write import encode_shard, encode_shard_columns

FIELDS = ("input_ids", "mlm_positions", "mlm_labels", "span_starts", "span_ends")


def _key(inst: Instance) -> bytes:
    return sort_key(3, inst.doc_id, inst.pass_index, inst.index)


def _assert_same(decoded: Instance, inst: Instance) -> None:
    assert (decoded.doc_id, decoded.pass_index, decoded.index, decoded.a_len,
            decoded.sentence_label) == (inst.doc_id, inst.pass_index, inst.index, inst.a_len,
                                        inst.sentence_label)
    for name in FIELDS:
        got, want = getattr(decoded, name), getattr(inst, name)
        assert got.tolist() == want.tolist(), name
    assert len(decoded.word_starts) == 0  # not stored in shards, not carried


def test_rows_round_trip_every_field():
    for inst in make_instances(200):
        _assert_same(decode_row(encode_row(_key(inst), inst)), inst)


def test_ids_beyond_uint16_and_negative_values_keep_their_width():
    inst = make_instances(1)[0]
    inst.input_ids = inst.input_ids.copy()
    inst.input_ids[1] = 70_000  # a vocab of > 65,536 ids
    inst.mlm_labels = np.array([-1, 5], np.int32)
    row = encode_row(_key(inst), inst)
    decoded = decode_row(row)
    _assert_same(decoded, inst)
    assert decoded.input_ids.dtype == np.int32
    assert decoded.mlm_positions.dtype == np.uint16


def test_one_array_beyond_uint16_keeps_its_width_and_the_others_narrow():
    inst = make_instances(1)[0]
    inst.mlm_labels = inst.mlm_labels.copy()
    inst.mlm_labels[0] = 65_536  # the first id beyond uint16, nothing negative
    decoded = decode_row(encode_row(_key(inst), inst))
    _assert_same(decoded, inst)
    assert decoded.mlm_labels.dtype == inst.mlm_labels.dtype
    assert decoded.input_ids.dtype == np.uint16


def test_rows_are_compact():
    inst = make_instances(1)[0]
    arrays = sum(getattr(inst, name).size for name in FIELDS)
    assert len(encode_row(_key(inst), inst)) <= KEY_SIZE + 40 + 5 * 8 + 2 * arrays


def test_row_bytes_sort_in_sort_key_order():
    instances = make_instances(500)
    rows = [encode_row(_key(inst), inst) for inst in instances]
    by_key = sorted(range(len(instances)), key=lambda i: _key(instances[i]))
    assert sorted(rows) == [rows[i] for i in by_key]


def test_batches_round_trip_and_reject_truncation():
    rows = [encode_row(_key(inst), inst) for inst in make_instances(30)]
    batch = join_rows(rows)
    assert list(split_rows(batch)) == rows
    assert list(split_rows(join_rows([]))) == []
    with pytest.raises(ValueError, match="truncated"):
        list(split_rows(batch[:-1]))


def test_a_wrong_key_or_a_damaged_row_is_refused():
    inst = make_instances(1)[0]
    with pytest.raises(ValueError, match="32 bytes"):
        encode_row(b"short", inst)
    with pytest.raises(ValueError, match="holds"):
        decode_row(encode_row(_key(inst), inst) + b"x")


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_shards_from_row_columns_are_the_shards_of_the_decoded_instances(compression):
    """`WriteShard`'s columnar path: the same file bytes and counts as decoding every row
    into an `Instance` and `encode_shard`, over several record batches, for a shard with an
    empty-masked row and a single-segment row, and for no rows at all."""
    instances = make_instances(2500, vocab_size=300)
    instances[7].mlm_positions = instances[7].mlm_labels = np.zeros(0, np.int32)
    instances[7].span_starts = instances[7].span_ends = np.zeros(0, np.int32)
    instances[9].sentence_label = -1
    rows = sorted(encode_row(_key(inst), inst) for inst in instances)
    for part in (rows, rows[:1], []):
        columns = rows_to_columns(part)
        expected = encode_shard([decode_row(row) for row in part], 300, compression)
        assert encode_shard_columns(columns, 300, compression) == expected
        assert columns.lists["input_ids"][1].sum() == sum(
            len(decode_row(row).input_ids) for row in part)


def test_row_columns_only_for_all_uint16_rows_and_checked_like_instances():
    instances = make_instances(20)
    rows = [encode_row(_key(inst), inst) for inst in instances]
    wide = instances[3]
    wide.input_ids = wide.input_ids.copy()
    wide.input_ids[1] = 70_000
    assert rows_to_columns(rows[:3] + [encode_row(_key(wide), wide)]) is None
    with pytest.raises(ValueError, match="length differs"):
        rows_to_columns(rows[:2] + [rows[2] + b"xy"])
    with pytest.raises(ValueError, match="input_ids value out of range"):
        encode_shard_columns(rows_to_columns(rows), 200, "none")  # ids of a 300-id vocab


def _variant(inst: Instance, **arrays) -> Instance:
    return dataclasses.replace(inst, **arrays)


def test_rows_encoded_together_are_the_rows_encoded_one_by_one():
    """`encode_rows` (KeyBySortKey's path) == `encode_row` per instance: for uint16 batches
    (empty arrays, int64 and uint16 inputs too), and for batches it must leave to
    `encode_row` because one row does not fit uint16 (wide ids, a negative label), or
    whose arrays are not all integers (an all-bool row, which `encode_row` writes
    through its general path)."""
    base = make_instances(40, seed=9, vocab_size=30_522)
    empty = np.zeros(0, np.int32)
    usual = [*base[:5],
             _variant(base[5], mlm_positions=empty, mlm_labels=empty, span_starts=empty,
                      span_ends=empty),
             _variant(base[6], input_ids=base[6].input_ids.astype(np.int64)),
             _variant(base[7], mlm_labels=base[7].mlm_labels.astype(np.uint16)),
             _variant(base[8], input_ids=np.array([0, 65_535], np.int32)),
             *base[9:]]
    wide = _variant(base[10], input_ids=np.array([2, 65_536, 3], np.int32))
    negative = _variant(base[11], mlm_labels=np.array([-1], np.int32))
    flags = _variant(base[12], **{name: np.ones(3, bool) for name in FIELDS})
    for batch in (usual, usual[:1], [*usual, wide], [negative, *usual], [*usual[:3], flags],
                  []):
        keys = [_key(inst) for inst in batch]
        one_by_one = [encode_row(k, i) for k, i in zip(keys, batch, strict=True)]
        assert encode_rows(keys, batch) == one_by_one


def test_rows_encoded_together_refuse_what_one_row_refuses():
    inst = make_instances(2)
    with pytest.raises(ValueError, match="32 bytes"):
        encode_rows([_key(inst[0]), b"short"], inst)
    square = np.zeros((2, 2), np.int32)
    for batch in ([inst[0], _variant(inst[1], span_ends=square)],
                  [_variant(inst[1], **{name: square for name in FIELDS})]):
        with pytest.raises(ValueError, match="1-D"):
            encode_rows([_key(i) for i in batch], batch)
