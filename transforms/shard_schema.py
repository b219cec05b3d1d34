"""Shard schema v1 (DESIGN.md "Shard dir") and the vectorised Instance -> RecordBatch step.

One row per instance, no padding stored, the narrowest unsigned types that hold the values:
token ids are uint16 unless the vocab has more than 65,536 entries. List columns are built
from one concatenated numpy buffer plus int32 offsets, so the conversion costs a few numpy
calls per shard instead of a Python list per row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa

from transforms.records import Instance

FORMAT_NAME = "bert-shards-arrow"
SCHEMA_VERSION = 1
PACKED_SCHEMA_VERSION = 2
"""`--packed` rows: several complete instances per row (`packed_shard_schema`)."""
PACKED_LIST_COLUMNS = ("seq_lens", "a_lens", "sentence_labels", "doc_ids", "pass_indexes",
                       "indexes")
"""Per-row lists with one entry per sequence of a packed row, in row order."""
MAX_BATCH_ROWS = 1024
"""Record batch size: ~1 MB at seq 512, the sweet spot for memory-mapped random access
(research: anchors_loader_trainer.md §5.5)."""

POSITION_DTYPE = np.uint16


def id_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits, else uint32."""
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.uint32)


def shard_schema(vocab_size: int) -> pa.Schema:
    """The Arrow schema of every shard written with a vocab of `vocab_size` ids."""
    ids = pa.from_numpy_dtype(id_dtype(vocab_size))
    pos = pa.uint16()
    return pa.schema(
        [
            pa.field("input_ids", pa.list_(ids), nullable=False),
            pa.field("a_len", pa.uint16(), nullable=False),
            pa.field("mlm_positions", pa.list_(pos), nullable=False),
            pa.field("mlm_labels", pa.list_(ids), nullable=False),
            pa.field("span_starts", pa.list_(pos), nullable=False),
            pa.field("span_ends", pa.list_(pos), nullable=False),
            pa.field("sentence_label", pa.int8(), nullable=False),
            pa.field("doc_id", pa.uint64(), nullable=False),
            pa.field("pass_index", pa.uint8(), nullable=False),
            pa.field("index", pa.uint32(), nullable=False),
        ],
        metadata={"format": FORMAT_NAME, "schema_version": str(SCHEMA_VERSION)},
    )


def packed_shard_schema(vocab_size: int) -> pa.Schema:
    """Schema v2: one row holds complete instances back to back.

    `input_ids`, `mlm_positions`, `mlm_labels`, `span_starts`, `span_ends` are as in v1 but
    relative to the row; `seq_lens[k]`, `a_lens[k]` (relative to sequence k),
    `sentence_labels[k]`, `doc_ids[k]`, `pass_indexes[k]` and `indexes[k]` describe sequence
    k, which starts at `sum(seq_lens[:k])`.
    """
    ids = pa.from_numpy_dtype(id_dtype(vocab_size))
    pos = pa.uint16()
    return pa.schema(
        [
            pa.field("input_ids", pa.list_(ids), nullable=False),
            pa.field("seq_lens", pa.list_(pos), nullable=False),
            pa.field("a_lens", pa.list_(pos), nullable=False),
            pa.field("mlm_positions", pa.list_(pos), nullable=False),
            pa.field("mlm_labels", pa.list_(ids), nullable=False),
            pa.field("span_starts", pa.list_(pos), nullable=False),
            pa.field("span_ends", pa.list_(pos), nullable=False),
            pa.field("sentence_labels", pa.list_(pa.int8()), nullable=False),
            pa.field("doc_ids", pa.list_(pa.uint64()), nullable=False),
            pa.field("pass_indexes", pa.list_(pa.uint8()), nullable=False),
            pa.field("indexes", pa.list_(pa.uint32()), nullable=False),
        ],
        metadata={"format": FORMAT_NAME, "schema_version": str(PACKED_SCHEMA_VERSION)},
    )


def schema_for(vocab_size: int, packed: bool) -> pa.Schema:
    return packed_shard_schema(vocab_size) if packed else shard_schema(vocab_size)


def _list_array(parts: Sequence[np.ndarray], dtype: np.dtype, limit: int,
                name: str) -> pa.ListArray:
    """list<dtype> from per-row arrays; values must lie in [0, limit)."""
    lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    values = np.concatenate(parts) if lengths.sum() else np.zeros(0, dtype)
    return _list_of(values, lengths, dtype, limit, name)


def _list_of(values: np.ndarray, lengths: np.ndarray, dtype: np.dtype, limit: int,
             name: str) -> pa.ListArray:
    """list<dtype> of rows of `lengths` values each, back to back in `values`."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        raise ValueError(f"{name}: too many values for int32 offsets: {offsets[-1]}")
    if len(values) and limit and (values.min() < 0 or values.max() >= limit):
        raise ValueError(f"{name} value out of range [0, {limit}): {values.min()}..{values.max()}")
    return pa.ListArray.from_arrays(
        integer_array(offsets.astype(np.int32)), integer_array(values.astype(dtype, copy=False))
    )


def integer_array(values: np.ndarray) -> pa.Array:
    """A 1-D numpy integer array as an Arrow array of its type, on the same buffer.

    Not `pa.array(values)`: that first asks whether `values` is a pandas object, which
    imports pandas (~0.5 CPU-s, once per process) in a job that never uses it."""
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values),
                                 [None, pa.py_buffer(values)])


def _scalar_array(values: Sequence[int], dtype: type) -> pa.Array:
    return integer_array(np.fromiter(values, dtype=dtype, count=len(values)))


def instances_to_batch(instances: Sequence[Instance], vocab_size: int) -> pa.RecordBatch:
    """Schema-v1 RecordBatch of `instances`, in the given order.

    Values are range-checked before narrowing: a silently wrapped token id would corrupt
    training data, so an out-of-range value raises instead.
    """
    return _v1_batch(
        {name: _list_array([getattr(inst, name) for inst in instances], dtype, limit, name)
         for name, dtype, limit in _v1_lists(vocab_size)},
        {name: _scalar_array([getattr(inst, name) for inst in instances], dtype)
         for name, dtype in _V1_SCALARS}, vocab_size)


def columns_to_batch(scalars: Mapping[str, np.ndarray],
                     lists: Mapping[str, tuple[np.ndarray, np.ndarray]],
                     vocab_size: int) -> pa.RecordBatch:
    """`instances_to_batch` of rows given as columns (`shard_rows.RowColumns`): per-row
    scalar arrays and per list column (values, per-row lengths); the same checks."""
    for name, dtype in _V1_SCALARS:
        info = np.iinfo(dtype)
        column = scalars[name]
        if len(column) and (column.min() < info.min or column.max() > info.max):
            raise ValueError(f"{name} value out of range for {np.dtype(dtype)}")
    return _v1_batch(
        {name: _list_of(*lists[name], dtype, limit, name)
         for name, dtype, limit in _v1_lists(vocab_size)},
        {name: integer_array(scalars[name].astype(dtype)) for name, dtype in _V1_SCALARS},
        vocab_size)


_V1_SCALARS = (("a_len", np.uint16), ("sentence_label", np.int8), ("doc_id", np.uint64),
               ("pass_index", np.uint8), ("index", np.uint32))


def _v1_lists(vocab_size: int) -> list[tuple[str, np.dtype, int]]:
    """(name, dtype, exclusive limit) of each list column of schema v1."""
    ids_t, pos_limit = id_dtype(vocab_size), 1 << 16
    return [("input_ids", ids_t, vocab_size), ("mlm_positions", POSITION_DTYPE, pos_limit),
            ("mlm_labels", ids_t, vocab_size), ("span_starts", POSITION_DTYPE, pos_limit),
            ("span_ends", POSITION_DTYPE, pos_limit)]


def _v1_batch(lists: dict[str, pa.Array], scalars: dict[str, pa.Array],
              vocab_size: int) -> pa.RecordBatch:
    schema = shard_schema(vocab_size)
    return pa.RecordBatch.from_arrays([(lists | scalars)[name] for name in schema.names],
                                      schema=schema)


def packed_rows_to_batch(instances: Sequence[Instance], rows: Sequence[Sequence[int]],
                         vocab_size: int) -> pa.RecordBatch:
    """Schema-v2 RecordBatch: row r holds `instances[i] for i in rows[r]`, back to back.

    Positions and spans are shifted by the sequence's start in the row; ids, masks and
    labels are otherwise the instances' own, unchanged.
    """
    ids_t = id_dtype(vocab_size)
    pos_limit = 1 << 16
    columns: dict[str, list[np.ndarray]] = {name: [] for name in packed_shard_schema(1).names}
    for row in rows:
        seqs = [instances[i] for i in row]
        lens = np.array([len(s.input_ids) for s in seqs], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
        columns["input_ids"].append(np.concatenate([s.input_ids for s in seqs]))
        columns["seq_lens"].append(lens)
        columns["a_lens"].append(np.array([s.a_len for s in seqs], dtype=np.int64))
        for name in ("mlm_positions", "span_starts", "span_ends"):
            columns[name].append(np.concatenate(
                [getattr(s, name).astype(np.int64) + at for s, at in zip(seqs, starts,
                                                                          strict=True)]))
        columns["mlm_labels"].append(np.concatenate([s.mlm_labels for s in seqs]))
        columns["sentence_labels"].append(np.array([s.sentence_label for s in seqs], np.int8))
        columns["doc_ids"].append(np.array([s.doc_id for s in seqs], dtype=np.uint64))
        columns["pass_indexes"].append(np.array([s.pass_index for s in seqs], dtype=np.uint8))
        columns["indexes"].append(np.array([s.index for s in seqs], dtype=np.uint32))
    kinds = {"input_ids": (ids_t, vocab_size), "mlm_labels": (ids_t, vocab_size),
             "sentence_labels": (np.dtype(np.int8), 0), "doc_ids": (np.dtype(np.uint64), 0),
             "pass_indexes": (np.dtype(np.uint8), 0), "indexes": (np.dtype(np.uint32), 0)}
    schema = packed_shard_schema(vocab_size)
    arrays = [_list_array(columns[name], *kinds.get(name, (POSITION_DTYPE, pos_limit)), name)
              for name in schema.names]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
