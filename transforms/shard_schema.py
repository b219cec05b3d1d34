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
        ],
        metadata={"format": FORMAT_NAME, "schema_version": str(SCHEMA_VERSION)},
    )


def _list_array(parts: Sequence[np.ndarray], dtype: np.dtype, limit: int,
                name: str) -> pa.ListArray:
    """list<dtype> from per-row arrays; values must lie in [0, limit)."""
    lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        raise ValueError(f"{name}: too many values for int32 offsets: {offsets[-1]}")
    values = np.concatenate(parts) if offsets[-1] else np.zeros(0, dtype)
    if len(values) and (values.min() < 0 or values.max() >= limit):
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
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)

