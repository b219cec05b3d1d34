"""The shard stage: instances -> balanced, hash-ordered Arrow IPC files + manifest.json.

Beam's sinks decide file contents by bundle (`WriteToFiles`) or by a round-robin from a
random start (`num_shards`), so neither is deterministic. Here every instance's shard and
row position follow from its own stable sort key (transforms/shard_assign.py): the keys alone
are grouped by hash bucket and ranked to find the shard boundary keys; each instance then
bisects them, and the instances are grouped by shard, sorted and written by our own DoFn.
The bytes are therefore the same on any runner, bundling and worker count, and the
instances cross one shuffle (the 32-byte keys a second one). Both shuffles carry a few
large `bytes` batches per bundle, not one Python object per instance (transforms/shard_rows.py:
~3 bytes per token instead of ~10), and so do the rows on their way to AssignShard; on a
local run the row batches wait in spill files and only references to them cross
(transforms/spill.py).

    instances ─► KeyBySortKey ─┬► key batches ─► GroupByBucket ─► BoundaryKeys(BucketOffsets)
                               └► row batches ─► AssignShard(boundary keys) ─► GroupByShard
                                                                      ─► WriteShard
                                                   (--packed: pack each shard's rows first)
    BucketOffsets ─► WriteEmptyShards                     (shards that get no row)
    shard infos ─► WriteManifest(stats, vocab) ─► vocab.txt, manifest.json
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from transforms import manifest as mf
from transforms import shard_write
from transforms.accounting import SHARDS, STATS_TAG, Counters
from transforms.batching import Batcher, in_global_window
from transforms.pack_rows import pack_rows
from transforms.records import Instance
from transforms.shard_assign import (
    boundary_ranks,
    bucket_of_key,
    bucket_offsets,
    shard_of_key,
    shard_sizes,
    sort_key,
)
from transforms.shard_rows import (
    KEY_SIZE,
    decode_row,
    encode_rows,
    rows_to_columns,
    split_rows,
)
from transforms.spill import Payloads
from transforms.stats import stats_dict

Bucketed = tuple[int, bytes]  # (bucket, its sort keys concatenated)
Assigned = tuple[int, bytes]  # (shard, a `shard_rows.join_rows` batch)


def _split_keys(keys: bytes) -> list[bytes]:
    return [keys[i:i + KEY_SIZE] for i in range(0, len(keys), KEY_SIZE)]


@dataclass(frozen=True)
class RowPacking:
    """`--packed`: rows of up to `max_len` tokens holding up to `max_per_row` instances."""

    max_len: int
    max_per_row: int


class KeyBySortKey(beam.DoFn):
    """Instances -> payloads of their shard rows (`shard_rows.encode_rows`: sort key + compact
    fields, batched by `join_rows`); also, per bundle, (bucket, concatenated sort keys)
    batches to the `keys` output.

    Rows are encoded `BATCH` instances at a time (the rest at the end of the bundle): what
    crosses the shuffles is grouped and sorted by key, so the order they leave in is free."""

    KEYS = "keys"
    BATCH = 256

    def __init__(self, seed: int, spill_dir: str | None) -> None:
        self._seed = seed
        self._payloads = Payloads(spill_dir)

    def start_bundle(self) -> None:
        self._keys = Batcher(b"".join)
        self._rows = Batcher(self._payloads.put_rows)
        self._instances: list[Instance] = []

    def process(self, inst: Instance):
        self._instances.append(inst)
        if len(self._instances) >= self.BATCH:
            payloads, batches = self._encode()
            yield from payloads
            for batch in batches:
                yield beam.pvalue.TaggedOutput(self.KEYS, batch)

    def _encode(self) -> tuple[list[bytes], list[Bucketed]]:
        """Encodes the held instances: the row payloads and key batches that complete."""
        instances, self._instances = self._instances, []
        keys = [sort_key(self._seed, inst.doc_id, inst.pass_index, inst.index)
                for inst in instances]
        payloads = [rows for row in encode_rows(keys, instances)
                    for _, rows in self._rows.add(0, row)]
        return payloads, [batch for key in keys
                          for batch in self._keys.add(bucket_of_key(key), key)]

    def finish_bundle(self):
        payloads, batches = self._encode()
        for payload in payloads + [rows for _, rows in self._rows.flush()]:
            yield GlobalWindows.windowed_value(payload)
        self._payloads.close()
        for batch in in_global_window(batches + self._keys.flush()):
            yield beam.pvalue.TaggedOutput(self.KEYS, batch)


class BoundaryKeys(beam.DoFn):
    """A bucket's sort-key batches -> (shard, key) for each shard whose first rank falls in it."""

    def __init__(self, num_shards: int) -> None:
        self._num_shards = num_shards
        self._ranks: tuple[int, list[int]] = (-1, [])  # (total, boundary_ranks(total, k))

    def process(self, element, offsets: tuple[dict[int, int], int]):
        bucket, batches = element
        first, total = offsets
        if self._ranks[0] != total:
            self._ranks = total, boundary_ranks(total, self._num_shards)
        ranks = self._ranks[1]
        keys = sorted(key for batch in batches for key in _split_keys(batch))
        start = first[bucket]
        for i in range(bisect.bisect_left(ranks, start),
                       bisect.bisect_left(ranks, start + len(keys))):
            yield i + 1, keys[ranks[i] - start]


class AssignShard(beam.DoFn):
    """Payload of rows -> (shard, payload of its rows) by bisecting the boundary keys; rows
    are batched per shard within a bundle (`batching.Batcher`)."""

    def __init__(self, spill_dir: str | None) -> None:
        self._payloads = Payloads(spill_dir)

    def setup(self) -> None:
        self._seen = None
        self._boundaries: list[bytes] = []

    def start_bundle(self) -> None:
        self._rows = Batcher(self._payloads.put_rows)

    def process(self, rows: bytes, boundaries: list[tuple[int, bytes]]):
        if boundaries is not self._seen:  # the side input, sorted once per new view
            self._seen = boundaries
            self._boundaries = [key for _, key in sorted(boundaries)]
        for row in split_rows(self._payloads.get(rows)):
            yield from self._rows.add(shard_of_key(row[:KEY_SIZE], self._boundaries), row)

    def finish_bundle(self):
        yield from in_global_window(self._rows.flush())
        self._payloads.close()


class WriteShard(beam.DoFn):
    """(shard, row batches) -> the shard file, written atomically; yields its manifest
    entry. Shards without rows come from `WriteEmptyShards`, so the dir always holds
    `num_shards` files."""

    def __init__(self, output_dir: str, num_shards: int, compression: str,
                 packing: RowPacking | None, spill_dir: str | None) -> None:
        self._output_dir = output_dir
        self._num_shards = num_shards
        self._compression = compression
        self._packing = packing
        self._payloads = Payloads(spill_dir)
        self.counters = Counters()

    def finish_bundle(self):
        yield from self.counters.flush()

    def process(self, element, vocab: dict):
        shard, payloads = element
        shard_rows = sorted(row for payload in payloads  # by key
                            for row in split_rows(self._payloads.get(payload)))
        name = shard_write.shard_file_name(shard, self._num_shards)
        columns = rows_to_columns(shard_rows) if self._packing is None else None
        if columns is not None:  # no Instance per row
            del shard_rows
            data = shard_write.encode_shard_columns(columns, vocab["size"], self._compression)
            self._write(name, data)
            yield shard_write.shard_info_of_counts(
                name, data, len(columns.scalars["doc_id"]),
                columns.lists["input_ids"][1].sum(), columns.lists["mlm_positions"][1].sum())
            return
        instances = [decode_row(row) for row in shard_rows]
        del shard_rows
        rows = None
        if self._packing is None:
            data = shard_write.encode_shard(instances, vocab["size"], self._compression)
        else:
            rows = pack_rows([len(inst.input_ids) for inst in instances],
                             self._packing.max_len, self._packing.max_per_row)
            data = shard_write.encode_packed_shard(instances, rows, vocab["size"],
                                                   self._compression)
        self._write(name, data)
        yield shard_write.shard_info(name, data, instances, None if rows is None else len(rows))

    def _write(self, name: str, data: bytes) -> None:
        shard_write.write_atomically(beam.io.filesystems.FileSystems.join(self._output_dir, name),
                                     data)
        self.counters.inc(SHARDS)


class _BucketOffsetsFn(beam.CombineFn):
    """(bucket, keys) batches -> `bucket_offsets` of the per-bucket counts, in one combine."""

    def create_accumulator(self) -> Counter:
        return Counter()

    def add_input(self, counts: Counter, bucketed: Bucketed) -> Counter:
        counts[bucketed[0]] += len(bucketed[1]) // KEY_SIZE
        return counts

    def merge_accumulators(self, accumulators) -> Counter:
        merged = Counter()
        for counts in accumulators:
            merged.update(counts)
        return merged

    def extract_output(self, counts: Counter) -> tuple[dict[int, int], int]:
        return bucket_offsets(counts)


_NO_OFFSETS: tuple[dict[int, int], int] = ({}, 0)
"""`bucket_offsets` of no instances: the side input's default for an empty corpus."""


class WriteEmptyShards(WriteShard):
    """The impulse (+ the bucket offsets) -> an empty shard file, written as `WriteShard`
    writes any, for each shard that gets no rows: one ParDo, not a FlatMap before the
    writer."""

    def process(self, _: bytes, offsets: tuple[dict[int, int], int], vocab: dict):
        for shard, size in enumerate(shard_sizes(offsets[1], self._num_shards)):
            if size == 0:
                yield from super().process((shard, []), vocab)


class WriteShards(beam.PTransform):
    """PCollection[Instance] -> {"shards": one info dict per shard file, "stats": ...}.

    `vocab` is a single-element PCollection of `manifest.vocab_info(...)` (the id width
    depends on the vocab size). With `packing`, each shard's instances (the same ones, in the
    same balanced shards) are packed into schema-v2 rows (transforms/pack_rows.py). With a
    `spill_dir` (local runs) the rows cross their two fusion breaks as spill files.
    """

    def __init__(self, output_dir: str, num_shards: int, compression: str, seed: int,
                 vocab: beam.PCollection, packing: RowPacking | None = None,
                 spill_dir: str | None = None) -> None:
        super().__init__()
        self._output_dir = output_dir
        self._num_shards = num_shards
        self._compression = compression
        self._seed = seed
        self._vocab = vocab
        self._packing = packing
        self._spill_dir = spill_dir

    def expand(self, instances):
        keyed = instances | "KeyBySortKey" >> beam.ParDo(
            KeyBySortKey(self._seed, self._spill_dir)).with_output_types(bytes).with_outputs(
                KeyBySortKey.KEYS, main="rows")
        rows, bucketed = keyed.rows, keyed[KeyBySortKey.KEYS]
        # Without the default for no input (an Impulse, 3 ParDos and a stage of start-up):
        # the side inputs default to `_NO_OFFSETS` instead.
        offsets = beam.pvalue.AsSingleton(
            bucketed | "BucketOffsets" >> beam.CombineGlobally(
                _BucketOffsetsFn()).without_defaults(), default_value=_NO_OFFSETS)
        boundaries = (
            bucketed
            | "GroupByBucket" >> beam.GroupByKey()
            | "BoundaryKeys" >> beam.ParDo(BoundaryKeys(self._num_shards), offsets=offsets)
        )
        writer_args = (self._output_dir, self._num_shards, self._compression, self._packing,
                       self._spill_dir)
        writer, empty_writer = WriteShard(*writer_args), WriteEmptyShards(*writer_args)
        vocab = beam.pvalue.AsSingleton(self._vocab)
        written = (
            rows
            | "AssignShard" >> beam.ParDo(AssignShard(self._spill_dir),
                                          beam.pvalue.AsList(boundaries))
            .with_output_types(Assigned)
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.ParDo(writer, vocab=vocab).with_outputs(STATS_TAG,
                                                                          main="shards")
        )
        empty = (
            instances.pipeline
            | "Once" >> beam.Impulse()
            | "WriteEmptyShards" >> beam.ParDo(empty_writer, offsets=offsets, vocab=vocab)
            .with_outputs(STATS_TAG, main="shards")
        )
        return {
            "shards": (written.shards, empty.shards) | "AllShards" >> beam.Flatten(),
            "stats": (written[STATS_TAG], empty[STATS_TAG]) | "ShardStats" >> beam.Flatten(),
        }


class WriteManifestFn(beam.DoFn):
    """The impulse (+ the summed stats, all shard infos) -> vocab.txt, then manifest.json.

    Yields the manifest. One step writes both so that their order is fixed: a run killed at
    any point before the rename of manifest.json leaves no manifest. The shard infos come as
    a side input (complete before this step runs) rather than through a global combine,
    which would add two more stages to every run. `summary.json` is written from the same
    stats by `transforms.summary.WriteSummary`, as in every subcommand.
    """

    def __init__(self, output_dir: str, config: dict) -> None:
        self._output_dir = output_dir
        self._config = config

    def process(self, _: bytes, totals: dict, shard_infos: Iterable[dict], vocab: dict):
        stats = stats_dict(totals)
        join = beam.io.filesystems.FileSystems.join
        shard_write.write_atomically(join(self._output_dir, mf.VOCAB_NAME), vocab["vocab_txt"])
        manifest = mf.build_manifest(self._config, vocab, list(shard_infos), stats)
        shard_write.write_atomically(join(self._output_dir, mf.MANIFEST_NAME),
                                     mf.manifest_bytes(manifest))
        yield manifest


class WriteManifest(beam.PTransform):
    """PCollection[shard info] -> single-element PCollection[manifest dict], written last.

    `stats` is the summed counters, (name, total) pairs (transforms/stats.SumStats); the
    manifest's `counters` are built from them. `config` is `core.config.output_fields(job)`.
    """

    def __init__(self, output_dir: str, config: dict, vocab: beam.PCollection,
                 stats: beam.PCollection) -> None:
        super().__init__()
        self._output_dir = output_dir
        self._config = config
        self._vocab = vocab
        self._stats = stats

    def expand(self, shard_infos):
        write = beam.ParDo(WriteManifestFn(self._output_dir, self._config),
                           totals=beam.pvalue.AsDict(self._stats),
                           shard_infos=beam.pvalue.AsList(shard_infos),
                           vocab=beam.pvalue.AsSingleton(self._vocab))
        return shard_infos.pipeline | "Once" >> beam.Impulse() | "WriteManifestJson" >> write
