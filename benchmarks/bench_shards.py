"""Shard encoding speed: vectorised Instance -> RecordBatch vs per-row Python lists.

Prints instances/s of `encode_shard` (numpy concatenation + offsets) and of a baseline
that builds the same schema-v1 table from per-row Python lists, and their ratio, measured
in the same process on the same synthetic masked instances (seq ~490, as phase-2 BERT).
Then what `WriteShard` does with a shard's sorted rows (`shard_rows.encode_row`): CPU per
row of `rows_to_columns` + `encode_shard_columns` against `decode_row` per row +
`encode_shard` (the path before 2026-12-01), best of 5 alternating runs, same bytes.
Run: `python benchmarks/bench_shards.py [n_instances]`.
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
import pyarrow as pa

from transforms.records import Instance
from transforms.shard_assign import sort_key
from transforms.shard_rows import decode_row, encode_row, rows_to_columns
from transforms.shard_schema import MAX_BATCH_ROWS, shard_schema
from transforms.shard_write import encode_shard, encode_shard_columns

VOCAB = 30522


def synthetic(n: int) -> list[Instance]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        length = int(rng.integers(400, 513))
        ids = rng.integers(5, VOCAB, size=length).astype(np.int32)
        pos = np.sort(rng.choice(np.arange(1, length - 1), size=length * 15 // 100, replace=False))
        out.append(Instance(doc_id=i, pass_index=0, index=i, input_ids=ids,
                            word_starts=np.ones(length, bool), a_len=length // 2,
                            sentence_label=int(i % 2), mlm_positions=pos.astype(np.int32),
                            mlm_labels=ids[pos].copy(), span_starts=pos.astype(np.int32),
                            span_ends=pos.astype(np.int32)))
    return out


def baseline(instances: list[Instance]) -> bytes:
    """Per-row Python lists through `pa.array` (what a naive writer does)."""
    schema = shard_schema(VOCAB)
    sink = io.BytesIO()
    with pa.ipc.new_file(sink, schema) as w:
        for lo in range(0, len(instances), MAX_BATCH_ROWS):
            chunk = instances[lo:lo + MAX_BATCH_ROWS]
            cols = {f.name: [getattr(x, f.name).tolist() if f.name not in (
                "a_len", "sentence_label", "doc_id", "pass_index", "index") else getattr(x, f.name)
                for x in chunk] for f in schema}
            w.write_batch(pa.RecordBatch.from_pydict(cols, schema=schema))
    return sink.getvalue()


def _rate(fn, instances) -> tuple[float, bytes]:
    start = time.perf_counter()
    data = fn(instances)
    return len(instances) / (time.perf_counter() - start), data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n_instances", nargs="?", type=int, default=20_000)
    n = parser.parse_args().n_instances
    instances = synthetic(n)
    base_rate, base = _rate(baseline, instances)
    fast_rate, fast = _rate(lambda xs: encode_shard(xs, VOCAB, "none"), instances)
    assert pa.ipc.open_file(pa.BufferReader(fast)).read_all().equals(
        pa.ipc.open_file(pa.BufferReader(base)).read_all())
    print(f"baseline (per-row lists): {base_rate:,.0f} instances/s")
    print(f"encode_shard (vectorised): {fast_rate:,.0f} instances/s")
    print(f"ratio: {fast_rate / base_rate:.1f}x; {len(fast) / n:,.0f} bytes/instance")
    rows = sorted(encode_row(sort_key(1, x.doc_id, x.pass_index, x.index), x)
                  for x in instances)
    paths = {"decode_row + encode_shard": lambda: encode_shard(
                 [decode_row(row) for row in rows], VOCAB, "none"),
             "rows_to_columns + encode_shard_columns": lambda: encode_shard_columns(
                 rows_to_columns(rows), VOCAB, "none")}
    best = dict.fromkeys(paths, float("inf"))
    outputs = {}
    for _ in range(5):
        for name, fn in paths.items():
            start = time.process_time()
            outputs[name] = fn()
            best[name] = min(best[name], time.process_time() - start)
    assert len(set(outputs.values())) == 1
    for name, cpu in best.items():
        print(f"rows -> shard, {name}: {cpu / n * 1e6:.1f} CPU-us/row")
    old, new = best.values()
    print(f"rows -> shard ratio: {old / new:.2f}x less CPU")


if __name__ == "__main__":
    main()
