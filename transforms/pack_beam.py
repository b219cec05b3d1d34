"""The packing stage on Beam: TokenizedDocument -> Instance (pure algorithms in transforms/pack.py).

`sop` and `none` need nothing beyond the document: one ParDo packs all `dupe_factor` passes.

`nsp` needs a random B from *another* document, drawn from a pool that spans the corpus
(not one input file or bundle) and is the same on every runner:

    documents ─► CountDocuments ──────────────────────────┐ (side input n_docs)
              └► CompactDocuments ─► KeyByPool: bucket = stable_hash64(seed, "nsp-pool", doc_id)
                 mod max(1, n_docs // nsp_pool_size) ─► GroupByPool ─► PackPools

Pool membership is a pure function of (seed, doc_id, n_docs), and inside a pool documents are
sorted by doc_id before use, so neither arrival order nor bundling can change a draw. The
documents cross GroupByPool as compact bytes (`coders.tokenized_bytes`, ~2.3 bytes per token),
many per element (`batching.Batcher`, per pool and bundle): the local runner holds a shuffle
decoded in RAM, where one `TokenizedDocument` per element took ~10 bytes per token. They
are batched so already on their way to KeyByPool, and on a local run both batches wait in
spill files while only references to them cross (`spill_dir`, transforms/spill.py). Each
pool holds about `nsp_pool_size` documents in memory, pools are processed in parallel, and
the documents cross the shuffle once: all `dupe_factor` passes of a document are packed inside
its pool, each pass drawing its own negatives (different documents, starts and split points).

With `pool_parts` n > 1 (`--workers n`: the local runner hands each worker whole groups) every
pool is grouped n times, under keys (pool, 0..n-1), and group k packs only the pool's
documents `pack.part_owners` gives to part k, about 1/n of its tokens
(`pack.pack_documents(part=...)`): a corpus of one pool (fewer than
2 × nsp_pool_size documents) is then packed, masked and keyed by all n workers instead of
one. Only the payload references are repeated on a local run (the spill file is written
once); each group reads the whole pool, the negatives of its documents may be any of them.
The instances and counts are those of the whole pool, whatever n.
"""

from __future__ import annotations

from collections import Counter

import apache_beam as beam

from core.config import PackConfig
from transforms.accounting import (
    DOCUMENTS_KEPT,
    DROPPED_PREFIX,
    INSTANCES,
    INSTANCES_LABEL_PREFIX,
    STATS_TAG,
    TOKENS,
    Counters,
    DropReason,
)
from transforms.batching import Batcher, in_global_window
from transforms.coders import tokenized_bytes, tokenized_doc_id, tokenized_from_bytes
from transforms.pack import SpecialIds, pack_documents
from transforms.records import Instance
from transforms.rng import stable_hash64
from transforms.shard_rows import split_rows
from transforms.spill import Payloads, SpillElements

NO_INSTANCE = DROPPED_PREFIX + DropReason.NO_INSTANCE.value


def pool_bucket(seed: int, doc_id: int, n_docs: int, pool_size: int) -> int:
    """The NSP pool of a document: uniform over max(1, n_docs // pool_size) pools."""
    return stable_hash64(seed, "nsp-pool", doc_id) % max(1, n_docs // pool_size)


class _Counts(Counter):
    """A Counter with the `(name, n)` callable the pure functions take."""

    def add(self, name: str, n: int) -> None:
        self[name] += n


class _PackFn(beam.DoFn):
    """Packs all passes of one document (`sop`, `none`) or of every document of a pool (`nsp`)."""

    def __init__(self, cfg: PackConfig, specials: SpecialIds, spill_dir: str | None,
                 pool_parts: int) -> None:
        self._cfg = cfg
        self._specials = specials
        self._payloads = Payloads(spill_dir)
        self._pool_parts = pool_parts
        self.counters = Counters()

    def finish_bundle(self):
        yield from self.counters.flush()

    def process(self, element):
        part = (0, 1)
        if self._cfg.task == "nsp":
            (_, k), payloads = element
            part = (k, self._pool_parts)
            docs = [tokenized_from_bytes(data, stored_ids=True) for payload in payloads
                    for data in split_rows(self._payloads.get(payload))]
        else:
            docs = [element]
        counts = _Counts()
        for _, instances in pack_documents(docs, self._cfg, self._specials, counts.add, part):
            counts[DOCUMENTS_KEPT if instances else NO_INSTANCE] += 1
            counts[INSTANCES] += len(instances)
            for inst in instances:
                counts[INSTANCES_LABEL_PREFIX + str(inst.sentence_label)] += 1
                counts[TOKENS] += len(inst.input_ids)
            yield from instances
        for name, n in sorted(counts.items()):
            self.counters.inc(name, n)


class _KeyByPoolFn(beam.DoFn):
    """Payload of compact documents -> ((pool, part), payload of its documents) for each of
    the `pool_parts` parts, batched per pool within a bundle."""

    def __init__(self, cfg: PackConfig, spill_dir: str | None, pool_parts: int) -> None:
        self._seed = cfg.seed
        self._pool_size = cfg.nsp_pool_size
        self._payloads = Payloads(spill_dir)
        self._parts = range(pool_parts)

    def start_bundle(self) -> None:
        self._batches = Batcher(self._payloads.put_rows)

    def _parted(self, batches):
        for pool, payload in batches:
            for part in self._parts:
                yield (pool, part), payload

    def process(self, payload: bytes, n_docs: int):
        for data in split_rows(self._payloads.get(payload)):
            pool = pool_bucket(self._seed, tokenized_doc_id(data), n_docs, self._pool_size)
            yield from self._parted(self._batches.add(pool, data))

    def finish_bundle(self):
        yield from in_global_window(self._parted(self._batches.flush()))
        self._payloads.close()


class PackInstances(beam.PTransform):
    """PCollection[TokenizedDocument] -> {"instances": PCollection[Instance], "stats": ...}.

    Counts `documents_kept` (>= 1 instance) or `documents_dropped/no_instance`, `instances`,
    `tokens` (input_ids incl. specials), `instances_label/<label>`, and the packing side
    statistics of transforms/pack.py. With a `spill_dir` (local runs) the documents cross
    the NSP pool shuffle as spill files. `pool_parts`: how many groups share each NSP pool
    (the local runner's worker count; see the module docstring).
    """

    def __init__(self, pack_cfg: PackConfig, cls_id: int, sep_id: int,
                 spill_dir: str | None = None, pool_parts: int = 1) -> None:
        super().__init__()
        if pool_parts < 1:
            raise ValueError(f"pool_parts must be >= 1; got {pool_parts}")
        self._cfg = pack_cfg
        self._specials = SpecialIds(cls_id, sep_id)
        self._spill_dir = spill_dir
        self._pool_parts = pool_parts

    def expand(self, documents):
        if self._cfg.task == "nsp":
            # Without the default for an empty input (an Impulse, 3 ParDos and a stage of
            # start-up): with no documents, KeyByPool never reads the count.
            n_docs = documents | "CountDocuments" >> beam.CombineGlobally(
                beam.combiners.CountCombineFn()).without_defaults()
            documents = (
                documents
                | "CompactDocuments" >> beam.ParDo(SpillElements(self._spill_dir, tokenized_bytes))
                .with_output_types(bytes)
                | "KeyByPool" >> beam.ParDo(
                    _KeyByPoolFn(self._cfg, self._spill_dir, self._pool_parts),
                    beam.pvalue.AsSingleton(n_docs))
                .with_output_types(tuple[tuple[int, int], bytes])
                | "GroupByPool" >> beam.GroupByKey()
            )
        pack = beam.ParDo(_PackFn(self._cfg, self._specials, self._spill_dir, self._pool_parts)
                          ).with_output_types(Instance)
        outputs = documents | "Pack" >> pack.with_outputs(STATS_TAG, main="instances")
        return {"instances": outputs.instances, "stats": outputs[STATS_TAG]}
