"""Memory-mapped, pickle-safe random access to the rows of a schema-v1 shard dir.

`ShardReader` reads only `manifest.json` when built, so it pickles to a few paths and row
counts and each DataLoader worker maps the Arrow IPC files itself, lazily, after the fork.

Zero-copy trick: an uncompressed Arrow IPC file is mapped once and every record batch's
buffers are slices of that map, 8-byte aligned (IPC spec). So each column of each batch is
described by where its buffer starts in the file, in elements of its dtype, and a gather of
any rows of a shard is a handful of numpy fancy-indexing calls on typed views of the whole
file: no per-row and no per-record-batch Python work in the hot path
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

LIST_COLUMNS = ("input_ids", "mlm_positions", "mlm_labels", "span_starts", "span_ends")
SCALAR_COLUMNS = ("a_len", "sentence_label", "doc_id", "pass_index")


@dataclass
class Ragged:
    """Rows of a list column: row `i` is `values[offsets[i]:offsets[i + 1]]`."""

    values: np.ndarray
    offsets: np.ndarray  # int64, len = rows + 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


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

    def list_bounds(self, name: str, batch: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_open"] = {}
        return state

    def _shard(self, s: int) -> _OpenShard:
        if s not in self._open:
            self._open[s] = _OpenShard(self.shard_dir / self.files[s])
        return self._open[s]

    def _by_shard(self, rows: np.ndarray):
        """Yield (shard, positions in `rows`, record batch, row in batch) per touched shard."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= self.num_rows):
            raise IndexError(f"row out of range [0, {self.num_rows})")
        shard = np.searchsorted(self.shard_starts, rows, side="right") - 1
        for s in np.unique(shard):
            where = np.flatnonzero(shard == s)
            opened = self._shard(int(s))
            batch, row = opened.locate(rows[where] - self.shard_starts[s])
            yield opened, where, batch, row

    def take(self, rows: np.ndarray, columns: tuple[str, ...]) -> dict[str, np.ndarray | Ragged]:
        """The given columns of `rows` (in that order): scalars as arrays, lists as Ragged."""
        n = len(rows)
        parts = list(self._by_shard(rows))
        out: dict[str, np.ndarray | Ragged] = {}
        for name in columns:
            if name in SCALAR_COLUMNS:
                values = None
                for opened, where, batch, row in parts:
                    got = opened.scalar(name, batch, row)
                    values = np.empty(n, got.dtype) if values is None else values
                    values[where] = got
                out[name] = values if values is not None else np.zeros(0, np.int64)
            else:
                out[name] = self._take_list(name, n, parts)
        return out

    def _take_list(self, name: str, n: int, parts: list) -> Ragged:
        starts = np.zeros(n, np.int64)
        lengths = np.zeros(n, np.int64)
        for opened, where, batch, row in parts:
            starts[where], lengths[where] = opened.list_bounds(name, batch, row)
        offsets = np.zeros(n + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        dtype = parts[0][0].columns[name].dtype if parts else np.dtype(np.uint16)
        values = np.empty(offsets[-1], dtype)
        for opened, where, _, _ in parts:
            src, dst = _flat_ranges(starts[where], lengths[where], offsets[where])
            values[dst] = opened.view(dtype)[src]
        return Ragged(values, offsets)

    def lengths(self, rows: np.ndarray, name: str = "input_ids") -> np.ndarray:
        """Length of each row's list column, without touching the values."""
        out = np.zeros(len(rows), np.int64)
        for opened, where, batch, row in self._by_shard(rows):
            out[where] = opened.list_bounds(name, batch, row)[1]
        return out


def _flat_ranges(starts: np.ndarray, lengths: np.ndarray, dst_starts: np.ndarray):
    """Flat source and destination indices of the ranges [start, start + length)."""
    total = int(lengths.sum())
    seg = np.repeat(np.arange(len(lengths)), lengths)
    within = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return starts[seg] + within, dst_starts[seg] + within
