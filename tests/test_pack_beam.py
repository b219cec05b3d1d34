"""PackInstances on Beam: same rows as the pure functions, corpus-wide NSP pools, counters,
and the same multiset of rows with 1 worker and with 2 worker processes."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from pack_helpers import corpus, crafted_doc, instance_rows

from core.config import PackConfig
from transforms.accounting import DOCUMENTS_KEPT, DROPPED_PREFIX, INSTANCES, DropReason
from transforms.pack import SpecialIds, pack_documents
from transforms.pack_beam import PackInstances, pool_bucket

CLS, SEP = 2, 3
REPO = Path(__file__).resolve().parents[1]


def _packed(docs, cfg):
    """(document, instances) from the pure functions run pool by pool (one pool per bucket
    for `nsp`)."""
    groups = defaultdict(list)
    for doc in docs:
        key = pool_bucket(cfg.seed, doc.doc_id, len(docs), cfg.nsp_pool_size)
        groups[key if cfg.task == "nsp" else doc.doc_id].append(doc)
    return [packed for group in groups.values()
            for packed in pack_documents(group, cfg, SpecialIds(CLS, SEP))]


def expected_rows(docs, cfg):
    return [row for _, insts in _packed(docs, cfg) for row in instance_rows(insts)]


def expected_counts(docs, cfg):
    """(documents kept, documents without an instance, instances) of the pure functions."""
    packed = _packed(docs, cfg)
    empty = sum(1 for _, insts in packed if not insts)
    return len(packed) - empty, empty, sum(len(insts) for _, insts in packed)


@beam.ptransform_fn
def Counts(stats):  # noqa: N802 (a PTransform)
    """The same three figures from a packing run's (name, n) stats."""
    totals = stats | "Sum" >> beam.CombinePerKey(sum) | "Dict" >> beam.combiners.ToDict()
    return totals | "Three" >> beam.Map(lambda s: (
        s[DOCUMENTS_KEPT], s.get(DROPPED_PREFIX + DropReason.NO_INSTANCE.value, 0), s[INSTANCES]))


def run_pack(pipeline, docs, cfg, pool_parts=1, tag=""):
    name = f"{cfg.task}{tag}"
    out = (pipeline | f"Docs{name}" >> beam.Create(docs)
           | f"Pack{name}" >> PackInstances(cfg, CLS, SEP, pool_parts=pool_parts))
    rows = out["instances"] | f"Rows{name}" >> beam.Map(lambda i: instance_rows([i])[0])
    return rows, out["stats"]


def test_nsp_pools_partition_the_corpus():
    docs = corpus(40)
    cfg = PackConfig(task="nsp", max_seq_length=128, nsp_pool_size=8)
    buckets = {pool_bucket(cfg.seed, d.doc_id, len(docs), cfg.nsp_pool_size) for d in docs}
    assert buckets <= set(range(5)) and len(buckets) > 1
    assert pool_bucket(cfg.seed, 1001, 3, 1000) == 0  # fewer documents than a pool: one pool


@pytest.mark.parametrize("task", ["nsp", "sop", "none"])
def test_pack_beam_rows_and_counters(task):
    # One document that yields nothing under sop (a single token) to exercise no_instance.
    docs = [*corpus(30), crafted_doc(99, [1])]
    cfg = PackConfig(task=task, max_seq_length=128, dupe_factor=2, nsp_pool_size=6)
    rows = expected_rows(docs, cfg)
    dropped = 1 if task == "sop" else 0
    with TestPipeline(runner="FnApiRunner") as p:
        instances, stats = run_pack(p, docs, cfg)
        assert_that(instances, equal_to(rows))
        totals = stats | beam.CombinePerKey(sum) | beam.combiners.ToDict()
        assert_that(totals | beam.Map(lambda s: (
            s[DOCUMENTS_KEPT], s.get(DROPPED_PREFIX + DropReason.NO_INSTANCE.value, 0),
            s[INSTANCES])), equal_to([(len(docs) - dropped, dropped, len(rows))]), label="Stats")


def test_same_rows_with_two_worker_processes(monkeypatch):
    # Worker processes import the project from the environment, not from pytest's sys.path.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(REPO), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]))
    docs = corpus(60, seed=3)
    configs = [PackConfig(task=task, max_seq_length=128, dupe_factor=2, nsp_pool_size=10)
               for task in ("nsp", "sop")]
    # Two workers share each NSP pool as two parts (`--workers 2`), or three; every counter
    # is the whole pool's, once: the same as one part's in the same pipeline.
    for argv, parts in (([], 1),
                        (["--direct_running_mode=multi_processing", "--direct_num_workers=2"], 2),
                        (["--direct_running_mode=multi_processing", "--direct_num_workers=2"], 3)):
        with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner", *argv])) as p:
            for cfg in configs:
                instances, stats = run_pack(p, docs, cfg, parts)
                assert_that(instances, equal_to(expected_rows(docs, cfg)), label=f"Check{cfg.task}")
                _, whole = run_pack(p, docs, cfg, 1, tag="Whole")
                assert_that(stats | f"Counts{cfg.task}" >> Counts(),
                            equal_to([expected_counts(docs, cfg)]), label=f"Stats{cfg.task}")
                totals = {name: s | f"Sum{name}{cfg.task}" >> beam.CombinePerKey(sum)
                          for name, s in (("parts", stats), ("whole", whole))}
                same = (totals | f"Join{cfg.task}" >> beam.CoGroupByKey()
                        | f"Same{cfg.task}" >> beam.Map(
                            lambda kv: kv[1]["parts"] == kv[1]["whole"]))
                assert_that(same | f"All{cfg.task}" >> beam.combiners.ToList()
                            | f"Every{cfg.task}" >> beam.Map(all),
                            equal_to([True]), label=f"SameCounters{cfg.task}")


def test_nsp_with_no_documents_packs_nothing():
    """No documents: the document count is never read (no pool to key), nothing is packed."""
    cfg = PackConfig(task="nsp", max_seq_length=128, nsp_pool_size=8)
    with TestPipeline(runner="FnApiRunner") as p:
        rows, stats = run_pack(p, [], cfg)
        assert_that(rows, equal_to([]))
        assert_that(stats, equal_to([]), label="stats")
