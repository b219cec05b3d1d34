"""Schema v1 and the vectorised Instance -> RecordBatch -> IPC bytes path."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from shard_helpers import make_instances

from transforms.shard_schema import instances_to_batch, integer_array, shard_schema
from transforms.shard_write import encode_shard

COLUMNS = ("input_ids", "mlm_positions", "mlm_labels", "span_starts", "span_ends")


def _read(data: bytes) -> pa.ipc.RecordBatchFileReader:
    return pa.ipc.open_file(pa.BufferReader(data))


def test_round_trip_exact_values_and_batch_sizes():
    instances = make_instances(2500)
    reader = _read(encode_shard(instances, vocab_size=300, compression="none"))
    assert [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)] == [
        1024, 1024, 452]
    assert reader.schema.equals(shard_schema(300), check_metadata=True)
    rows = reader.read_all().to_pylist()
    for inst, row in zip(instances, rows, strict=True):
        for name in COLUMNS:
            assert row[name] == getattr(inst, name).tolist(), name
        assert (row["a_len"], row["sentence_label"], row["doc_id"], row["pass_index"]) == (
            inst.a_len, inst.sentence_label, inst.doc_id, inst.pass_index)


def test_types_are_the_narrow_unsigned_ones_of_design():
    schema = shard_schema(30522)
    assert str(schema.field("input_ids").type) == "list<item: uint16>"
    assert str(schema.field("mlm_labels").type) == "list<item: uint16>"
    assert str(schema.field("mlm_positions").type) == "list<item: uint16>"
    assert schema.field("a_len").type == pa.uint16()
    assert schema.field("sentence_label").type == pa.int8()
    assert schema.field("doc_id").type == pa.uint64()
    assert schema.field("pass_index").type == pa.uint8()
    assert str(shard_schema(65536).field("input_ids").type) == "list<item: uint16>"
    assert str(shard_schema(65537).field("input_ids").type) == "list<item: uint32>"
    assert str(shard_schema(65537).field("mlm_labels").type) == "list<item: uint32>"


def test_large_vocab_ids_survive_as_uint32():
    inst = make_instances(1)[0]
    inst.input_ids[1] = 70000
    batch = instances_to_batch([inst], vocab_size=80000)
    assert batch.column("input_ids").to_pylist()[0][1] == 70000


def test_out_of_range_id_raises_instead_of_wrapping():
    inst = make_instances(1)[0]
    inst.input_ids[1] = 300
    with pytest.raises(ValueError, match="input_ids value out of range"):
        instances_to_batch([inst], vocab_size=300)


def test_empty_shard_is_a_valid_file_with_the_schema():
    reader = _read(encode_shard([], vocab_size=300, compression="none"))
    assert reader.num_record_batches == 0
    assert reader.schema.equals(shard_schema(300), check_metadata=True)


@pytest.mark.parametrize("compression", ["zstd", "lz4"])
def test_compressed_shards_read_back_identical_and_smaller(compression):
    instances = make_instances(300)
    plain = encode_shard(instances, 300, "none")
    packed = encode_shard(instances, 300, compression)
    assert len(packed) < len(plain)
    assert _read(packed).read_all().equals(_read(plain).read_all())
    assert encode_shard(instances, 300, compression) == packed  # deterministic bytes


def test_conversion_is_vectorised_enough():
    """10k rows convert in well under a second (per-row Python lists would be ~10x slower)."""
    import time

    instances = make_instances(10_000)
    start = time.perf_counter()
    encode_shard(instances, 300, "none")
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.uint16, np.int32, np.uint32,
                                   np.int64, np.uint64])
def test_integer_array_equals_pyarrow_s_own_conversion(dtype):
    """Same type and values as `pa.array` (which would import pandas), also from a strided
    view and from an empty array."""
    values = np.arange(40, dtype=dtype)
    for view in (values, values[::3], values[:0]):
        assert integer_array(view).equals(pa.array(view))
        assert integer_array(view).type == pa.from_numpy_dtype(dtype)
