"""`verify` for packed shard dirs (schema v2): the packed layout, then every v1 rule per sequence.

A packed row must hold 1..`max_sequences_per_row` sequences whose per-sequence lists agree in
length and whose `seq_lens` sum to the row's length (at most `max_seq_length`); its masked
positions ascend and lie in the row, and no span crosses from one sequence into the next.
The row is then cut into its sequences, positions and spans made relative to their sequence,
and the sequences are checked as v1 rows by `pipeline.verify.check_batch`: each one starts
with [CLS], has its [SEP]s where its `a_len` says, and no mask sits on another sequence's
[CLS] or [SEP] (that is the v1 "on a special" rule once positions are per sequence).
Messages name the row and, for per-sequence rules, the sequence.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipeline.verify import Rules, _fail, _first, _list, check_batch, not_ascending
from transforms.shard_schema import PACKED_LIST_COLUMNS


def _lists(offsets: np.ndarray, values: np.ndarray, dtype: pa.DataType) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)),
                                    pa.array(values, type=dtype))


def check_packed_batch(batch: pa.RecordBatch, rules: Rules, where: str, row0: int) -> int:
    """Check one record batch of packed rows; returns its number of sequences."""
    n = batch.num_rows

    def check(bad: np.ndarray, what: str) -> None:
        if bad.any():
            _fail(f"{where} row {row0 + _first(bad)}", what)

    io, ids = _list(batch, "input_ids")
    so, seq_lens = _list(batch, "seq_lens")
    counts = np.diff(so)
    for name in PACKED_LIST_COLUMNS[1:]:
        check(np.diff(_list(batch, name)[0]) != counts, f"{name} and seq_lens differ in length")
    check((counts < 1) | (counts > rules.max_per_row),
          f"sequences per row outside [1, {rules.max_per_row}]")
    row_lens = np.diff(io)
    check(row_lens > rules.max_len, f"row longer than {rules.max_len} tokens")
    check(np.bincount(np.repeat(np.arange(n), counts), weights=seq_lens, minlength=n)
          != row_lens, "seq_lens do not sum to the row length")
    # The sequences now tile `ids` in order: sequence j is ids[starts[j]:starts[j+1]].
    starts = np.concatenate([[0], np.cumsum(seq_lens)])

    po, pos = _list(batch, "mlm_positions")
    check(np.diff(po) != np.diff(_list(batch, "mlm_labels")[0]),
          "mlm_labels and mlm_positions differ in length")
    xo, s_starts = _list(batch, "span_starts")
    eo, s_ends = _list(batch, "span_ends")
    check(np.diff(xo) != np.diff(eo), "span_starts and span_ends differ in length")
    prow = np.repeat(np.arange(n), np.diff(po))
    check(not_ascending(prow, pos, n), "mlm_positions not strictly ascending")
    check(np.bincount(prow[pos >= row_lens[prow]], minlength=n) > 0,
          "mlm position outside the row")
    pseq = np.searchsorted(starts, io[prow] + pos, side="right") - 1

    srow = np.repeat(np.arange(n), np.diff(xo))
    outside = (s_starts >= row_lens[srow]) | (s_ends >= row_lens[srow])
    check(np.bincount(srow[outside], minlength=n) > 0, "span outside the row")
    first = np.searchsorted(starts, io[srow] + s_starts, side="right") - 1
    last = np.searchsorted(starts, io[srow] + s_ends, side="right") - 1
    check(np.bincount(srow[first != last], minlength=n) > 0, "span crosses a sequence boundary")
    order = np.argsort(first, kind="stable")

    n_seq = len(seq_lens)
    seq_row = np.repeat(np.arange(n), counts)
    seq_in_row = np.arange(n_seq) - so[seq_row]
    ids_type = batch.schema.field("input_ids").type.value_type
    pos_type = pa.uint16()

    def per_seq(seq_of: np.ndarray) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(np.bincount(seq_of, minlength=n_seq))])

    _, labels = _list(batch, "mlm_labels")
    mo = per_seq(pseq)
    exploded = pa.RecordBatch.from_pydict({
        "input_ids": _lists(starts, ids, ids_type),
        "a_len": pa.array(_list(batch, "a_lens")[1]),
        "mlm_positions": _lists(mo, pos + io[prow] - starts[pseq], pos_type),
        "mlm_labels": _lists(mo, labels, ids_type),
        "span_starts": _lists(per_seq(first), (s_starts + io[srow] - starts[first])[order],
                              pos_type),
        "span_ends": _lists(per_seq(first), (s_ends + io[srow] - starts[first])[order],
                            pos_type),
        "sentence_label": pa.array(_list(batch, "sentence_labels")[1]),
        "pass_index": pa.array(_list(batch, "pass_indexes")[1]),
    })
    check_batch(exploded, rules, where, row0,
                lambda j: f"row {row0 + seq_row[j]} sequence {seq_in_row[j]}")
    return n_seq
