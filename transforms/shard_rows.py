"""The compact bytes form in which instances cross the shard shuffle, and batches of them.

Local runners hold a whole shuffle in RAM: FnApiRunner keeps every grouped value *decoded*
until the group is read, so a shuffle of `Instance` objects costs ~1 KB of Python and numpy
headers per instance on top of int32 arrays. What crosses the shard `GroupByKey` is therefore
one `bytes` per batch of rows, each row its 32-byte sort key followed by the instance in the
narrowest integer type that holds its values (uint16 for any vocab of <= 65,536 ids, the
shard file's own width), which is ~3 bytes per token instead of ~10.

    row   = sort key (32 B) | header | 5 x (dtype code, count) | 5 raw arrays
    batch = 4-byte little-endian row length | row, repeated

Rows sort by their bytes in sort-key order (the key leads and is unique per instance), so
the writer needs no decoding to order a shard. `word_starts` is not stored in shards and is
not carried.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

import numpy as np

from transforms.ranges import concat_ranges
from transforms.records import Instance

KEY_SIZE = 32
_SCALARS = (("doc_id", "Q"), ("pass_index", "q"), ("index", "q"), ("a_len", "q"),
            ("sentence_label", "q"))
_SPEC = (("code", "4s"), ("count", "I"))  # numpy dtype.str, element count
_ARRAYS = ("input_ids", "mlm_positions", "mlm_labels", "span_starts", "span_ends")
_ROW_HEAD = (("key", f"{KEY_SIZE}s"), *_SCALARS,
             *((f"{part}{k}", code) for k in range(len(_ARRAYS)) for part, code in _SPEC))
"""The fixed-size head of every row: key, header and the five array specs (specs are the
same size whatever the dtypes). The one definition of the layout: the structs below and
`_HEAD`, the numpy view of many heads, are made from it."""


def _struct(fields: Iterable[tuple[str, str]]) -> struct.Struct:
    return struct.Struct("<" + "".join(code for _, code in fields))


_HEADER = _struct(_SCALARS)
_ARRAY = _struct(_SPEC)
_U16_ROW = _struct(_ROW_HEAD)
# The key is raw hash bytes ("V": numpy's "S" would drop trailing NULs on read); the dtype
# codes are NUL-padded text ("S": read back without the padding, comparable to `_U16`).
_HEAD = np.dtype([(name, f"{'V' if name == 'key' else 'S'}{code[:-1]}" if code.endswith("s")
                   else f"<{code}") for name, code in _ROW_HEAD])
_LENGTH = struct.Struct("<I")
_NO_WORD_STARTS = np.zeros(0, dtype=bool)
_UINT16_MAX = np.iinfo(np.uint16).max
_U16 = np.dtype(np.uint16).str.encode("ascii")
_ALL_U16 = (_U16.ljust(4, b"\0"),) * len(_ARRAYS)


def _narrow(values: np.ndarray) -> np.ndarray:
    """`values` as uint16 when every value fits (exactly), else unchanged."""
    if values.size == 0 or (values.min() >= 0 and values.max() <= _UINT16_MAX):
        return values.astype(np.uint16, copy=False)
    return values


def encode_row(key: bytes, inst: Instance) -> bytes:
    """`key` (a `shard_assign.sort_key`) followed by the instance's shard fields."""
    rows = _uint16_rows([key], [inst])
    return rows[0] if rows is not None else _encode_row_by_array(key, inst)


def encode_rows(keys: Sequence[bytes], instances: Sequence[Instance]) -> list[bytes]:
    """`[encode_row(key, inst) for ...]`, the usual rows built together: one concatenation,
    one range check and one uint16 conversion for all arrays of all instances, then per row
    one struct pack and a slice, instead of a dozen numpy calls on small arrays per row.
    Row by row when some row does not fit that uint16 layout (or with no instances)."""
    rows = _uint16_rows(keys, instances)
    if rows is None:
        return [encode_row(key, inst) for key, inst in zip(keys, instances, strict=True)]
    return rows


def _uint16_rows(keys: Sequence[bytes], instances: Sequence[Instance]) -> list[bytes] | None:
    """The rows in the all-uint16 layout, or None unless all arrays are 1-D, their
    concatenation is integer and every value fits uint16 (bool arrays, which
    `_encode_row_by_array` narrows to uint16 too, are written as uint16: the same bytes).
    Checked together, so a row's raw arrays are one slice of one uint16 buffer."""
    arrays = [getattr(inst, name) for inst in instances for name in _ARRAYS]
    try:
        values = np.concatenate(arrays)
    except ValueError:  # no instances, or arrays of several dimensions
        return None
    if values.ndim != 1 or values.dtype.kind not in "iu" or (
            values.size and (values.min() < 0 or values.max() > _UINT16_MAX)):
        return None
    data = values.astype(np.uint16).tobytes()
    counts = iter([len(a) for a in arrays])
    rows, pos = [], 0
    for key, inst in zip(keys, instances, strict=True):
        if len(key) != KEY_SIZE:
            raise ValueError(f"sort keys are {KEY_SIZE} bytes, got {len(key)}")
        c0, c1, c2, c3, c4 = next(counts), next(counts), next(counts), next(counts), next(counts)
        end = pos + 2 * (c0 + c1 + c2 + c3 + c4)
        rows.append(_U16_ROW.pack(key, inst.doc_id, inst.pass_index, inst.index, inst.a_len,
                                  inst.sentence_label, _U16, c0, _U16, c1, _U16, c2, _U16, c3,
                                  _U16, c4) + data[pos:end])
        pos = end
    return rows


def _encode_row_by_array(key: bytes, inst: Instance) -> bytes:
    """A row whose arrays each have their own width: uint16 when it fits, else their own."""
    if len(key) != KEY_SIZE:
        raise ValueError(f"sort keys are {KEY_SIZE} bytes, got {len(key)}")
    arrays = [np.asarray(getattr(inst, name)) for name in _ARRAYS]
    for array in arrays:
        if array.ndim != 1:
            raise ValueError(f"instance arrays are 1-D, got shape {array.shape}")
    arrays = [_narrow(array) for array in arrays]
    parts = [key, _HEADER.pack(inst.doc_id, inst.pass_index, inst.index, inst.a_len,
                               inst.sentence_label)]
    parts.extend(_ARRAY.pack(array.dtype.str.encode("ascii"), len(array)) for array in arrays)
    parts.extend(array.tobytes() for array in arrays)
    return b"".join(parts)


def decode_row(row: bytes) -> Instance:
    """The instance of an `encode_row` row (arrays are read-only views of `row`)."""
    fields = _U16_ROW.unpack_from(row)
    scalars, specs = fields[1:6], fields[6:]
    if specs[::2] == _ALL_U16:  # the usual row: one uint16 buffer, cut in five
        counts = specs[1::2]
        if _U16_ROW.size + 2 * sum(counts) != len(row):
            raise ValueError(f"row of {len(row)} bytes holds "
                             f"{_U16_ROW.size + 2 * sum(counts)} bytes of fields")
        values = np.frombuffer(row, np.uint16, offset=_U16_ROW.size)
        arrays, pos = [], 0
        for count in counts:
            arrays.append(values[pos:pos + count])
            pos += count
    else:
        arrays = _general_arrays(row, specs)
    doc_id, pass_index, index, a_len, label = scalars
    input_ids, mlm_positions, mlm_labels, span_starts, span_ends = arrays
    return Instance(doc_id, pass_index, index, input_ids, _NO_WORD_STARTS, a_len, label,
                    mlm_positions, mlm_labels, span_starts, span_ends)


def _general_arrays(row: bytes, specs: tuple) -> list[np.ndarray]:
    """The five arrays of a row of any dtypes (`specs`: dtype code, count, five times)."""
    pos = _U16_ROW.size
    arrays = []
    for code, count in zip(specs[::2], specs[1::2], strict=True):
        dtype = np.dtype(code.rstrip(b"\0").decode("ascii"))
        arrays.append(np.frombuffer(row, dtype, count, pos))
        pos += count * dtype.itemsize
    if pos != len(row):
        raise ValueError(f"row of {len(row)} bytes holds {pos} bytes of fields")
    return arrays


class RowColumns(NamedTuple):
    """Rows as shard columns, in row order: `scalars[name]` (int64; doc_id uint64) per row,
    `lists[name]` = (all rows' values, uint16; each row's length, int64)."""

    scalars: dict[str, np.ndarray]
    lists: dict[str, tuple[np.ndarray, np.ndarray]]


def rows_to_columns(rows: Sequence[bytes]) -> RowColumns | None:
    """The columns of rows whose arrays are all uint16 (what `encode_row` writes for any
    vocab of <= 65,536 ids), in a few numpy calls instead of an `Instance` per row; None if
    any row has another dtype (then `decode_row` each)."""
    heads = np.frombuffer(b"".join([row[:_U16_ROW.size] for row in rows]), _HEAD)
    if not all((heads[f"code{k}"] == _U16).all() for k in range(len(_ARRAYS))):
        return None
    counts = np.stack([heads[f"count{k}"].astype(np.int64) for k in range(len(_ARRAYS))], 1)
    sizes = np.fromiter(map(len, rows), np.int64, len(rows))
    if (sizes != _U16_ROW.size + 2 * counts.sum(axis=1)).any():
        raise ValueError("a row's length differs from the bytes of its fields")
    values = np.frombuffer(b"".join([row[_U16_ROW.size:] for row in rows]), "<u2")
    # Where each row's array k starts in `values`, and its values gathered in row order.
    starts = np.zeros(counts.size, dtype=np.int64)
    counts.ravel()[:-1].cumsum(out=starts[1:])
    starts = starts.reshape(counts.shape)
    lists = {name: (values[concat_ranges(starts[:, k], counts[:, k])], counts[:, k])
             for k, name in enumerate(_ARRAYS)}
    return RowColumns(
        {name: heads[name].astype(np.uint64 if name == "doc_id" else np.int64)
         for name, _ in _SCALARS}, lists)


def join_rows(rows: Iterable[bytes]) -> bytes:
    """One batch of rows: each prefixed with its length."""
    parts = []
    for row in rows:
        parts.append(_LENGTH.pack(len(row)))
        parts.append(row)
    return b"".join(parts)


def split_rows(batch: bytes) -> Iterator[bytes]:
    """The rows of a `join_rows` batch, in order."""
    pos, end = 0, len(batch)
    while pos < end:
        (n,) = _LENGTH.unpack_from(batch, pos)
        pos += _LENGTH.size
        if pos + n > end:
            raise ValueError("truncated row batch")
        yield batch[pos:pos + n]
        pos += n
