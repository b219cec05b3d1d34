"""Encoding one shard as an Arrow IPC file and writing files atomically through FileSystems.

A shard is encoded in memory (so its sha256 and size are known before anything is
written), then written to a temporary name next to its final name and renamed. Going
through Beam's `FileSystems` makes the same code write to local disk or `gs://`. A shard
that is retried overwrites itself with identical bytes.

Compression defaults to `none`: uncompressed IPC is read zero-copy from a memory map. A
zstd/lz4 shard cannot be sliced in place, so the trainer's reader (trainer/shard_reader.py)
decompresses each shard once per worker and keeps it uncompressed in RAM — its full
uncompressed size per worker process. `--compression zstd` saves ~40% of disk for archives
or network storage.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from transforms.records import Instance
from transforms.shard_rows import RowColumns
from transforms.shard_schema import (
    MAX_BATCH_ROWS,
    columns_to_batch,
    instances_to_batch,
    packed_rows_to_batch,
    packed_shard_schema,
    shard_schema,
)


def shard_file_name(shard: int, num_shards: int) -> str:
    return f"shard-{shard:05d}-of-{num_shards:05d}.arrow"


def ipc_options(compression: str) -> pa.ipc.IpcWriteOptions:
    """IPC body compression: `none` keeps memory-mapped reads zero-copy (the default)."""
    return pa.ipc.IpcWriteOptions(compression=None if compression == "none" else compression)


def _ipc_file(schema: pa.Schema, compression: str, batches: Iterable[pa.RecordBatch]
              ) -> bytes:
    """Arrow IPC file bytes of `batches`, in order."""
    sink = io.BytesIO()
    with pa.ipc.new_file(sink, schema, options=ipc_options(compression)) as w:
        for batch in batches:
            w.write_batch(batch)
    return sink.getvalue()


def _row_ranges(n_rows: int) -> Iterator[tuple[int, int]]:
    """`[lo, hi)` of each record batch of <= `MAX_BATCH_ROWS` rows."""
    for lo in range(0, n_rows, MAX_BATCH_ROWS):
        yield lo, min(lo + MAX_BATCH_ROWS, n_rows)


def encode_shard(instances: Sequence[Instance], vocab_size: int, compression: str) -> bytes:
    """Arrow IPC file bytes: the rows in the given order, record batches of <= 1024 rows."""
    return _ipc_file(shard_schema(vocab_size), compression,
                     (instances_to_batch(instances[lo:hi], vocab_size)
                      for lo, hi in _row_ranges(len(instances))))


def encode_shard_columns(columns: RowColumns, vocab_size: int, compression: str) -> bytes:
    """`encode_shard` of the rows of `columns` (`shard_rows.rows_to_columns`): the same bytes."""
    offsets = {name: np.concatenate(([0], lengths.cumsum()))
               for name, (_, lengths) in columns.lists.items()}
    return _ipc_file(shard_schema(vocab_size), compression, (
        columns_to_batch(
            {name: column[lo:hi] for name, column in columns.scalars.items()},
            {name: (values[offsets[name][lo]:offsets[name][hi]], lengths[lo:hi])
             for name, (values, lengths) in columns.lists.items()}, vocab_size)
        for lo, hi in _row_ranges(len(columns.scalars["doc_id"]))))


def encode_packed_shard(instances: Sequence[Instance], rows: Sequence[Sequence[int]],
                        vocab_size: int, compression: str) -> bytes:
    """Arrow IPC file bytes of packed rows (schema v2; `rows` index into `instances`)."""
    return _ipc_file(packed_shard_schema(vocab_size), compression,
                     (packed_rows_to_batch(instances, rows[lo:hi], vocab_size)
                      for lo, hi in _row_ranges(len(rows))))


def shard_info(file: str, data: bytes, instances: Sequence[Instance],
               rows: int | None = None) -> dict:
    """The manifest entry of one shard; packed shards (`rows` given) also count instances."""
    return shard_info_of_counts(file, data, len(instances),
                                sum(len(inst.input_ids) for inst in instances),
                                sum(len(inst.mlm_positions) for inst in instances), rows)


def shard_info_of_counts(file: str, data: bytes, n_instances: int, tokens: int,
                         masked_tokens: int, rows: int | None = None) -> dict:
    """`shard_info` from the counts alone."""
    info = {
        "file": file,
        "rows": n_instances if rows is None else rows,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "tokens": int(tokens),
        "masked_tokens": int(masked_tokens),
    }
    if rows is not None:
        info["instances"] = n_instances
    return info


def write_atomically(path: str, data: bytes) -> None:
    """Write `data` to `path` (local or any Beam filesystem) via a temp name and a rename."""
    directory, name = FileSystems.split(path)
    temp = FileSystems.join(directory, f".{name}.tmp-{uuid.uuid4().hex}")
    try:
        with FileSystems.create(temp, mime_type="application/octet-stream",
                                compression_type=CompressionTypes.UNCOMPRESSED) as f:
            f.write(data)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        with contextlib.suppress(Exception):  # free what the partial file took
            FileSystems.delete([temp])
        # Named after the final path, so the launcher can say which file did not fit.
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path) from e
    FileSystems.rename([temp], [path])


def read_bytes(path: str) -> bytes:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return f.read()

