"""Deterministic JSONL.zst shards: same rows, same files, byte for byte, on any runner.

Beam's own sinks decide shard contents per bundle (WriteToText's round robin starts at a
random shard), so rows are assigned to `num_shards` by a stable hash of their sort key,
grouped, sorted, and written here through `FileSystems` under a temporary name that is
renamed into place (`shard_write.write_atomically`). Every shard file exists, even when
empty, so the names always run `-00000-of-N` .. `-(N-1)-of-N`.
"""

from __future__ import annotations

import json

import apache_beam as beam
import zstandard
from apache_beam.io.filesystems import FileSystems

from transforms.accounting import STATS_TAG, Counters
from transforms.rng import stable_hash64
from transforms.shard_write import write_atomically

ZSTD_LEVEL = 3


def shard_name(prefix: str, index: int, num_shards: int) -> str:
    return f"{prefix}-{index:05d}-of-{num_shards:05d}.jsonl.zst"


def encode_row(row: dict) -> str:
    """One JSON line, non-ASCII kept as is, keys in the row's own order."""
    return json.dumps(row, ensure_ascii=False) + "\n"


class _WriteShardFn(beam.DoFn):
    def __init__(self, output_dir: str, prefix: str, num_shards: int, count_as: str | None) -> None:
        self._output_dir = output_dir
        self._prefix = prefix
        self._num_shards = num_shards
        self._count_as = count_as
        self.counters = Counters()

    def setup(self) -> None:
        self._compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)

    def finish_bundle(self):
        yield from self.counters.flush()

    def process(self, grouped):
        index, keyed_rows = grouped
        lines = sorted((key, encode_row(row)) for key, row in keyed_rows if row is not None)
        data = self._compressor.compress("".join(line for _, line in lines).encode("utf-8"))
        path = FileSystems.join(self._output_dir, shard_name(self._prefix, index, self._num_shards))
        write_atomically(path, data)
        if self._count_as:
            self.counters.inc(self._count_as, len(lines))
        yield path


class WriteJsonlShards(beam.PTransform):
    """PCollection[(sort_key: str, row: dict)] -> {"files": paths, "stats"}.

    `count_as`: a counter incremented by the rows written (e.g. `documents_kept`).
    """

    def __init__(self, output_dir: str, prefix: str, num_shards: int,
                 count_as: str | None = None) -> None:
        super().__init__()
        self._output_dir = output_dir
        self._prefix = prefix
        self._num_shards = num_shards
        self._count_as = count_as

    def expand(self, keyed_rows):
        every_shard = (
            keyed_rows.pipeline
            | "AllShardIndexes" >> beam.Create([(i, ("", None)) for i in range(self._num_shards)])
        )
        assigned = keyed_rows | "AssignShard" >> beam.Map(_assign, self._num_shards)
        write = _WriteShardFn(self._output_dir, self._prefix, self._num_shards, self._count_as)
        out = (
            (every_shard, assigned)
            | "WithEmptyShards" >> beam.Flatten()
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.ParDo(write).with_outputs(STATS_TAG, main="files")
        )
        return {"files": out.files, "stats": out[STATS_TAG]}


def _assign(keyed_row: tuple[str, dict], num_shards: int) -> tuple[int, tuple[str, dict]]:
    return stable_hash64("jsonl-shard", keyed_row[0]) % num_shards, keyed_row
