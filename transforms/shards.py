"""The shard stage: instances -> balanced, hash-ordered Arrow IPC files + manifest.json.

Beam's sinks decide file contents by bundle (`WriteToFiles`) or by a round-robin from a
random start (`num_shards`), so neither is deterministic. Here every instance's shard and
row position follow from its own stable hash (transforms/shard_assign.py): instances are
grouped by hash bucket, ranked, grouped by shard, sorted and written by our own DoFn. The
bytes are therefore the same on any runner, bundling and worker count.

    instances ─► KeyByBucket ─► GroupByBucket ─► RankBucket(bucket offsets) ─► GroupByShard
              ─► WriteShard ─► shard infos ─► WriteManifest(stats, vocab) ─► manifest.json
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import apache_beam as beam
import numpy as np

from pipeline.summary import SUMMARY_FILE, summary_bytes
from transforms import manifest as mf
from transforms import shard_write
from transforms.accounting import SHARDS, STATS_TAG, Counters
from transforms.records import Instance
from transforms.shard_assign import bucket_of, bucket_offsets, shard_hash, shard_of_rank

_NO_WORD_STARTS = np.zeros(0, dtype=bool)


class KeyByBucket(beam.DoFn):
    """Instance -> (bucket, (sort key, instance)); the sort key leads with the shard hash.

    `word_starts` is not stored in shards, so it is dropped (on a copy) before two shuffles.
    """

    def __init__(self, seed: int) -> None:
        self._seed = seed

    def process(self, inst: Instance):
        key = (shard_hash(self._seed, inst.doc_id, inst.pass_index, inst.index),
               inst.doc_id, inst.pass_index, inst.index)
        yield bucket_of(key[0]), (key, dataclasses.replace(inst, word_starts=_NO_WORD_STARTS))


class RankBucket(beam.DoFn):
    """A whole bucket -> (shard, [(sort key, instance)]) chunks, from global ranks."""

    def __init__(self, num_shards: int) -> None:
        self._num_shards = num_shards

    def process(self, element, offsets: tuple[dict[int, int], int]):
        bucket, items = element
        first, total = offsets
        chunks: dict[int, list] = {}
        for i, item in enumerate(sorted(items, key=lambda kv: kv[0])):
            shard = shard_of_rank(first[bucket] + i, total, self._num_shards)
            chunks.setdefault(shard, []).append(item)
        yield from chunks.items()


class WriteShard(beam.DoFn):
    """(shard, chunks) -> the shard file, written atomically; yields its manifest entry.

    Every shard index arrives (with an empty marker), so empty shards still get a valid,
    zero-row file and the dir always holds `num_shards` files.
    """

    def __init__(self, output_dir: str, num_shards: int, compression: str) -> None:
        self._output_dir = output_dir
        self._num_shards = num_shards
        self._compression = compression
        self.counters = Counters()

    def finish_bundle(self):
        yield from self.counters.flush()

    def process(self, element, vocab: dict):
        shard, chunks = element
        items = sorted((item for chunk in chunks if chunk for item in chunk), key=lambda kv: kv[0])
        instances = [inst for _, inst in items]
        name = shard_write.shard_file_name(shard, self._num_shards)
        data = shard_write.encode_shard(instances, vocab["size"], self._compression)
        shard_write.write_atomically(beam.io.filesystems.FileSystems.join(self._output_dir, name),
                                     data)
        yield shard_write.shard_info(name, data, instances)
        self.counters.inc(SHARDS)


def _bucket_only(keyed: tuple) -> int:
    return keyed[0]


def _empty_marker(shard: int) -> tuple[int, None]:
    return shard, None


class WriteShards(beam.PTransform):
    """PCollection[Instance] -> {"shards": one info dict per shard file, "stats": ...}.

    `vocab` is a single-element PCollection of `manifest.vocab_info(...)` (the id width
    depends on the vocab size).
    """

    def __init__(self, output_dir: str, num_shards: int, compression: str, seed: int,
                 vocab: beam.PCollection) -> None:
        super().__init__()
        self._output_dir = output_dir
        self._num_shards = num_shards
        self._compression = compression
        self._seed = seed
        self._vocab = vocab

    def expand(self, instances):
        keyed = instances | "KeyByBucket" >> beam.ParDo(KeyByBucket(self._seed))
        offsets = (
            keyed
            | "BucketOnly" >> beam.Map(_bucket_only)
            | "CountPerBucket" >> beam.combiners.Count.PerElement()
            | "BucketCounts" >> beam.combiners.ToDict()
            | "BucketOffsets" >> beam.Map(bucket_offsets)
        )
        chunks = (
            keyed
            | "GroupByBucket" >> beam.GroupByKey()
            | "RankBucket" >> beam.ParDo(RankBucket(self._num_shards),
                                         offsets=beam.pvalue.AsSingleton(offsets))
        )
        markers = (
            instances.pipeline
            | "ShardIndices" >> beam.Create(range(self._num_shards))
            | "EmptyMarkers" >> beam.Map(_empty_marker)
        )
        written = (
            (chunks, markers)
            | "FlattenChunks" >> beam.Flatten()
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.ParDo(
                WriteShard(self._output_dir, self._num_shards, self._compression),
                vocab=beam.pvalue.AsSingleton(self._vocab)).with_outputs(STATS_TAG, main="shards")
        )
        return {"shards": written.shards, "stats": written[STATS_TAG]}


class WriteManifestFn(beam.DoFn):
    """All shard infos -> summary.json, vocab.txt, then manifest.json (last, atomic).

    Yields the manifest. One step writes all three so that their order is fixed: a run
    killed at any point before the rename of manifest.json leaves no manifest.
    """

    def __init__(self, output_dir: str, config: dict, summary_dir: str) -> None:
        self._output_dir = output_dir
        self._config = config
        self._summary_dir = summary_dir

    def process(self, shard_infos: Iterable[dict], vocab: dict, stats: dict):
        join = beam.io.filesystems.FileSystems.join
        shard_write.write_atomically(join(self._summary_dir, SUMMARY_FILE), summary_bytes(stats))
        shard_write.write_atomically(join(self._output_dir, mf.VOCAB_NAME), vocab["vocab_txt"])
        manifest = mf.build_manifest(self._config, vocab, list(shard_infos), stats)
        shard_write.write_atomically(join(self._output_dir, mf.MANIFEST_NAME),
                                     mf.manifest_bytes(manifest))
        yield manifest


class WriteManifest(beam.PTransform):
    """PCollection[shard info] -> single-element PCollection[manifest dict], written last.

    `stats` is the single-element dict of summed counters (pipeline/stats.SumStats) that
    also becomes `summary_dir/summary.json`.
    """

    def __init__(self, output_dir: str, config: dict, summary_dir: str,
                 vocab: beam.PCollection, stats: beam.PCollection) -> None:
        super().__init__()
        self._output_dir = output_dir
        self._config = config
        self._summary_dir = summary_dir
        self._vocab = vocab
        self._stats = stats

    def expand(self, shard_infos):
        return (
            shard_infos
            | "AllShardInfos" >> beam.combiners.ToList()
            | "WriteManifestJson" >> beam.ParDo(
                WriteManifestFn(self._output_dir, self._config, self._summary_dir),
                vocab=beam.pvalue.AsSingleton(self._vocab),
                stats=beam.pvalue.AsSingleton(self._stats))
        )
