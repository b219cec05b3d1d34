"""Shard schema v1 (DESIGN.md "Shard dir") and the vectorised Instance -> RecordBatch step.

One row per instance, no padding stored, the narrowest unsigned types that hold the values:
token ids are uint16 unless the vocab has more than 65,536 entries. List columns are built
from one concatenated numpy buffer plus int32 offsets, so the conversion costs a few numpy
calls per shard instead of a Python list per row.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        raise ValueError(f"{name}: too many values for int32 offsets: {offsets[-1]}")
    values = np.concatenate(parts) if offsets[-1] else np.zeros(0, dtype)
    if len(values) and limit and (values.min() < 0 or values.max() >= limit):
        raise ValueError(f"{name} value out of range [0, {limit}): {values.min()}..{values.max()}")
    return pa.ListArray.from_arrays(
        pa.array(offsets.astype(np.int32)), pa.array(values.astype(dtype, copy=False))
    )


def _scalar_array(values: Sequence[int], dtype: type) -> pa.Array:
    return pa.array(np.fromiter(values, dtype=dtype, count=len(values)))


def instances_to_batch(instances: Sequence[Instance], vocab_size: int) -> pa.RecordBatch:
    """Schema-v1 RecordBatch of `instances`, in the given order.

    Values are range-checked before narrowing: a silently wrapped token id would corrupt
    training data, so an out-of-range value raises instead.
    """
    schema = shard_schema(vocab_size)
    ids_t = id_dtype(vocab_size)
    pos_limit = 1 << 16

    def column(name: str, dtype: np.dtype, limit: int) -> pa.ListArray:
        return _list_array([getattr(inst, name) for inst in instances], dtype, limit, name)

    arrays = [
        column("input_ids", ids_t, vocab_size),
        _scalar_array([inst.a_len for inst in instances], np.uint16),
        column("mlm_positions", POSITION_DTYPE, pos_limit),
        column("mlm_labels", ids_t, vocab_size),
        column("span_starts", POSITION_DTYPE, pos_limit),
        column("span_ends", POSITION_DTYPE, pos_limit),
        _scalar_array([inst.sentence_label for inst in instances], np.int8),
        _scalar_array([inst.doc_id for inst in instances], np.uint64),
        _scalar_array([inst.pass_index for inst in instances], np.uint8),
        _scalar_array([inst.index for inst in instances], np.uint32),
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)



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
