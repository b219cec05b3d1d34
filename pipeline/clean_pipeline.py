"""`clean`: read -> clean -> dedup -> split; writes documents, rejects and summary.json.

Output dir (local or gs://):
- `documents-SSSSS-of-NNNNN.jsonl.zst`: `{"id", "text", "sentences"}` per line, rows sorted
  by id, shard = stable hash of id;
- `rejects-00000-of-00001.jsonl.zst`: `{"source", "reason", "raw"}` per line;
- `summary.json`.
A non-empty dir is refused unless `--overwrite`, which deletes only these files (stale shards
of an earlier run with a different shard count included) and leaves any other file alone.
"""

from __future__ import annotations

import apache_beam as beam

from core.config import CleanJobConfig
from pipeline.launch import launch
from pipeline.stages import CleanCorpus, with_default_inputs
from transforms.accounting import DOCUMENTS_KEPT
from transforms.records import Document, Reject
from transforms.stats import SumStats
from transforms.summary import SUMMARY_FILE, WriteSummary
from transforms.write_jsonl import WriteJsonlShards

REJECT_SHARDS = 1
OWN_FILES = {"": ("documents-*-of-*.jsonl.zst", "rejects-*-of-*.jsonl.zst", SUMMARY_FILE)}
"""What `clean` writes (the output-dir policy adds temporary files)."""


def _document_row(doc: Document) -> tuple[str, dict]:
    return doc.id, doc.to_json_dict()


def _reject_row(reject: Reject) -> tuple[str, dict]:
    return f"{reject.source}\x1f{reject.reason}\x1f{reject.raw}", reject.to_json_dict()


def build_clean(p: beam.Pipeline, job: CleanJobConfig, spill_dir: str | None = None) -> None:
    """Add the clean job to `p` (no file-system access while building); `spill_dir`: see
    `CleanCorpus`."""
    output, num_shards = job.output, job.num_shards
    corpus = p | "CleanCorpus" >> CleanCorpus(with_default_inputs(job.read), job.clean,
                                              spill_dir)
    docs = (
        corpus["documents"]
        | "DocumentRows" >> beam.Map(_document_row)
        | "WriteDocuments" >> WriteJsonlShards(output, "documents", num_shards, DOCUMENTS_KEPT)
    )
    rejects = (
        corpus["rejects"]
        | "RejectRows" >> beam.Map(_reject_row)
        | "WriteRejects" >> WriteJsonlShards(output, "rejects", REJECT_SHARDS)
    )
    (
        (corpus["stats"], docs["stats"], rejects["stats"])
        | "SumStats" >> SumStats()
        | "WriteSummary" >> WriteSummary(output)
    )


def run_clean(job: CleanJobConfig, beam_args: list[str]) -> None:
    """The `clean` subcommand."""
    launch(beam_args, job.read, job.output, job.overwrite, OWN_FILES,
           lambda p, spill: build_clean(p, job, spill))
