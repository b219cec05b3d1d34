"""Memory-mapped, pickle-safe random access to the rows of a shard dir (schema v1 or v2).

`ShardReader` reads only `manifest.json` when built, so it pickles to a few paths and row
counts and each DataLoader worker maps the Arrow IPC files itself, lazily, after the fork.

Zero-copy trick: an uncompressed Arrow IPC file is mapped once and every record batch's
buffers are slices of that map, 8-byte aligned (IPC spec). So each column of each batch is
described by where its buffers start in the file, in elements of their dtype. Gathering any
rows of a shard into a padded matrix is then a few numpy calls on typed views of the whole
file (offsets lookup, then one fixed-width window copy per row, done as a single fancy
index): no per-row and no per-record-batch Python work in the hot path
(research: anchors_loader_trainer.md §5.3-5.6).

Compressed shards (zstd/lz4 IPC body compression) cannot be sliced in place: on first use
the whole shard is decompressed once, re-encoded uncompressed in memory and cached for the
life of the worker, and then read the same way. That costs the shard's uncompressed size in
RAM per worker process, which is why uncompressed shards are the default.
"""

from __future__ import annotations

import json
import mmap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from numpy.lib.stride_tricks import sliding_window_view

from transforms.shard_schema import PACKED_SCHEMA_VERSION


@dataclass
class _ColumnIndex:
    """Where one column's buffers sit in the shard's bytes, per record batch.

    `data_base[b]` is the first element of batch b's values (lists) or of the column itself
    (scalars) in units of `dtype`; `offsets_base[b]` the first int32 offset of a list column.
    """

    dtype: np.dtype
    data_base: np.ndarray
    offsets_base: np.ndarray | None


class _OpenShard:
    """One mapped (or decompressed) shard: typed whole-file views plus per-batch bases."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - lives as long as the map
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        buf = pa.py_buffer(self._map)
        reader = pa.ipc.open_file(pa.BufferReader(buf))
        if reader.num_record_batches and not _zero_copy(reader.get_batch(0), buf):
            buf = _decompressed(reader)
            reader = pa.ipc.open_file(pa.BufferReader(buf))
        self.buffer = buf  # keeps the bytes alive while views exist
        self.schema = reader.schema
        batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
        sizes = np.array([b.num_rows for b in batches], dtype=np.int64)
        self.batch_starts = np.concatenate([[0], np.cumsum(sizes)])
        self.columns = {name: _index_column(batches, name, buf) for name in self.schema.names}
        self._views: dict[np.dtype, np.ndarray] = {}

    def view(self, dtype: np.dtype) -> np.ndarray:
        """The whole shard's bytes as a read-only array of `dtype` (zero-copy)."""
        if dtype not in self._views:
            count = self.buffer.size // dtype.itemsize
            self._views[dtype] = np.frombuffer(self.buffer, dtype=dtype, count=count)
        return self._views[dtype]

    def locate(self, local_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(record batch, row within it) of each shard-local row."""
        batch = np.searchsorted(self.batch_starts, local_rows, side="right") - 1
        return batch, local_rows - self.batch_starts[batch]

    def scalar(self, name: str, batch: np.ndarray, row: np.ndarray) -> np.ndarray:
        col = self.columns[name]
        return self.view(col.dtype)[col.data_base[batch] + row]

    def list_bounds(self, name: str, batch: np.ndarray,
                    row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(first element in the typed view, length) of each row of a list column."""
        col = self.columns[name]
        offsets = self.view(np.dtype(np.int32))
        at = col.offsets_base[batch] + row
        begin = offsets[at].astype(np.int64)
        return col.data_base[batch] + begin, offsets[at + 1] - begin


def _zero_copy(batch: pa.RecordBatch, buf: pa.Buffer) -> bool:
    """True when the batch's buffers point into `buf` (uncompressed IPC on a map)."""
    lo, hi = buf.address, buf.address + buf.size
    return all(b is None or lo <= b.address < hi or b.size == 0
               for col in batch.columns for b in col.buffers())


def _decompressed(reader: pa.ipc.RecordBatchFileReader) -> pa.Buffer:
    """The shard re-encoded without body compression, in memory (decompresses once)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, reader.schema) as writer:
        for i in range(reader.num_record_batches):
            writer.write_batch(reader.get_batch(i))
    return sink.getvalue()


def _element_base(buffer: pa.Buffer, buf: pa.Buffer, dtype: np.dtype, offset: int) -> int:
    start = buffer.address - buf.address
    if start % dtype.itemsize:
        raise ValueError(f"misaligned Arrow buffer at byte {start} for {dtype}")
    return start // dtype.itemsize + offset


def _index_column(batches: list[pa.RecordBatch], name: str, buf: pa.Buffer) -> _ColumnIndex:
    data, offs = [], []
    dtype = None
    for batch in batches:
        arr = batch.column(name)
        if arr.null_count:
            raise ValueError(f"column {name!r} has nulls; schema v1 has none")
        if pa.types.is_list(arr.type):
            values = arr.values
            dtype = np.dtype(values.type.to_pandas_dtype())
            int32 = np.dtype(np.int32)
            offs.append(_element_base(arr.buffers()[1], buf, int32, arr.offset))
            data.append(_element_base(values.buffers()[1], buf, dtype, values.offset))
        else:
            dtype = np.dtype(arr.type.to_pandas_dtype())
            data.append(_element_base(arr.buffers()[1], buf, dtype, arr.offset))
    if dtype is None:  # a shard without batches: nothing will ever be gathered from it
        dtype = np.dtype(np.uint8)
    return _ColumnIndex(dtype, np.array(data, dtype=np.int64),
                        np.array(offs, dtype=np.int64) if offs else None)


class ShardReader:
    """Row access over every shard of a shard dir, in manifest order.

    Global row `i` is row `i - shard_starts[s]` of shard `s`. Pickling keeps only the dir
    and the manifest's row counts; maps are reopened on first use in each process.
    """

    def __init__(self, shard_dir: str | Path) -> None:
        self.shard_dir = Path(shard_dir)
        manifest_path = self.shard_dir / "manifest.json"
        if not manifest_path.is_file():
            raise FileNotFoundError(f"no manifest.json in shard dir {self.shard_dir}")
        self.manifest = json.loads(manifest_path.read_text())
        shards = self.manifest["shards"]
        self.files = [s["file"] for s in shards]
        rows = np.array([int(s["rows"]) for s in shards], dtype=np.int64)
        self.shard_starts = np.concatenate([[0], np.cumsum(rows)])
        self._open: dict[int, _OpenShard] = {}

    @property
    def num_rows(self) -> int:
        return int(self.shard_starts[-1])

    @property
    def packed(self) -> bool:
        """True for schema-v2 shards: rows hold several complete instances."""
        return self.manifest.get("schema_version") == PACKED_SCHEMA_VERSION

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_open"] = {}
        return state

    def _shard(self, s: int) -> _OpenShard:
        if s not in self._open:
            self._open[s] = _OpenShard(self.shard_dir / self.files[s])
        return self._open[s]

    def locate(self, rows: np.ndarray) -> list[Located]:
        """Where `rows` live, grouped by shard; pass it to `scalar` and `padded`."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= self.num_rows):
            raise IndexError(f"row out of range [0, {self.num_rows})")
        shard = np.searchsorted(self.shard_starts, rows, side="right") - 1
        located = []
        for s in np.unique(shard):
            where = np.flatnonzero(shard == s)
            opened = self._shard(int(s))
            batch, row = opened.locate(rows[where] - self.shard_starts[s])
            located.append(Located(opened, where, batch, row))
        return located

    def lengths(self, rows: np.ndarray, name: str = "input_ids") -> np.ndarray:
        """Length of each row's list column, without touching the values."""
        out = np.zeros(len(rows), np.int64)
        for loc in self.locate(rows):
            out[loc.where] = loc.shard.list_bounds(name, loc.batch, loc.row)[1]
        return out

    @staticmethod
    def scalar(located: list[Located], name: str) -> np.ndarray:
        """A scalar column of the located rows, in row order."""
        values = None
        for loc in located:
            got = loc.shard.scalar(name, loc.batch, loc.row)
            if values is None:
                values = np.empty(sum(len(x.where) for x in located), got.dtype)
            values[loc.where] = got
        return values if values is not None else np.zeros(0, np.int64)

    @staticmethod
    def padded(located: list[Located], name: str, fill: int, dtype: np.dtype,
               multiple: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """([rows, width] matrix, lengths) of a list column, `fill` after each row's end.

        `width` is the longest row rounded up to `multiple`. Each row is copied as one
        `width`-wide window of the shard's typed view (a sliding-window view indexed by the
        rows' first elements), so the gather is one numpy call per shard. Values are read
        directly as `dtype` when it has the stored item size (uint16 ids as int16 when the
        vocab fits), else converted.
        """
        n = sum(len(loc.where) for loc in located)
        bounds = [loc.shard.list_bounds(name, loc.batch, loc.row) for loc in located]
        lengths = np.zeros(n, np.int64)
        for loc, (_, length) in zip(located, bounds, strict=True):
            lengths[loc.where] = length
        width = max(1, -(-int(lengths.max(initial=0)) // multiple) * multiple)
        out = np.empty((n, width), dtype)
        for loc, (start, _) in zip(located, bounds, strict=True):
            stored = loc.shard.columns[name].dtype
            view = loc.shard.view(dtype if dtype.itemsize == stored.itemsize else stored)
            if len(start) and int(start.max()) + width > len(view):  # window past the end
                out[loc.where] = view[np.minimum(start[:, None] + np.arange(width), len(view) - 1)]
            else:
                out[loc.where] = sliding_window_view(view, width)[start]
        out[np.arange(width) >= lengths[:, None]] = fill
        return out, lengths


@dataclass
class Located:
    """Rows of one shard: positions in the request, record batch and row in the batch."""

    shard: _OpenShard
    where: np.ndarray
    batch: np.ndarray
    row: np.ndarray
