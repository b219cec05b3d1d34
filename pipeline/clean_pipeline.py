"""`clean`: read -> clean -> dedup -> split; writes documents, rejects and summary.json.

Output dir (local or gs://):
- `documents-SSSSS-of-NNNNN.jsonl.zst`: `{"id", "text", "sentences"}` per line, rows sorted
  by id, shard = stable hash of id;
- `rejects-00000-of-00001.jsonl.zst`: `{"source", "reason", "raw"}` per line;
- `summary.json`.
Re-running into the same dir replaces these files (stale shards of an earlier run with a
different shard count are deleted first); any other file there is left alone.
"""

from __future__ import annotations

import time

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline.beam_options import make_pipeline_options
from pipeline.errors import UserError
from pipeline.options import CleanConfig, ReadConfig
from pipeline.stages import CleanCorpus, check_local_inputs, with_default_inputs
from pipeline.stats import SumStats
from pipeline.summary import SUMMARY_FILE, WriteSummary, print_summary
from transforms.accounting import DOCUMENTS_KEPT
from transforms.records import Document, Reject
from transforms.write_jsonl import WriteJsonlShards

DOCUMENT_SHARDS = 4
REJECT_SHARDS = 1
OWN_FILE_PATTERNS = ("documents-*-of-*.jsonl.zst", "rejects-*-of-*.jsonl.zst", SUMMARY_FILE)


def _document_row(doc: Document) -> tuple[str, dict]:
    return doc.id, doc.to_json_dict()


def _reject_row(reject: Reject) -> tuple[str, dict]:
    return f"{reject.source}\x1f{reject.reason}\x1f{reject.raw}", reject.to_json_dict()


def build_clean(p: beam.Pipeline, read_cfg: ReadConfig, clean_cfg: CleanConfig, output: str,
                num_shards: int = DOCUMENT_SHARDS) -> None:
    """Add the clean job to `p` (no file-system access while building)."""
    corpus = p | "CleanCorpus" >> CleanCorpus(read_cfg, clean_cfg)
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


def prepare_output_dir(output: str) -> None:
    """Create the dir and delete this subcommand's own files from an earlier run."""
    if "://" not in output:
        import os

        if os.path.exists(output) and not os.path.isdir(output):
            raise UserError(f"--output {output!r} exists and is not a directory")
        os.makedirs(output, exist_ok=True)
    stale = []
    for pattern in OWN_FILE_PATTERNS:
        for result in FileSystems.match([FileSystems.join(output, pattern)]):
            stale.extend(m.path for m in result.metadata_list)
    if stale:
        FileSystems.delete(stale)


def run_clean(read_cfg: ReadConfig, clean_cfg: CleanConfig, output: str,
              beam_args: list[str], num_shards: int = DOCUMENT_SHARDS) -> None:
    if not 1 <= num_shards <= 99999:
        raise UserError(f"--num-shards must be in [1, 99999]; got {num_shards}")
    options = make_pipeline_options(beam_args)
    read_cfg = with_default_inputs(read_cfg)
    check_local_inputs(read_cfg)
    prepare_output_dir(output)
    start = time.monotonic()
    with beam.Pipeline(options=options) as p:
        build_clean(p, read_cfg, clean_cfg, output, num_shards)
    print_summary(output, time.monotonic() - start)
