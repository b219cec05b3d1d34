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

from core.config import CleanConfig, ReadConfig
from core.errors import UserError
from pipeline.launch import launch
from pipeline.stages import CleanCorpus, with_default_inputs
from transforms.accounting import DOCUMENTS_KEPT
from transforms.records import Document, Reject
from transforms.stats import SumStats
from transforms.summary import SUMMARY_FILE, WriteSummary
from transforms.write_jsonl import WriteJsonlShards

DOCUMENT_SHARDS = 4
REJECT_SHARDS = 1
OWN_FILES = {"": ("documents-*-of-*.jsonl.zst", "rejects-*-of-*.jsonl.zst", SUMMARY_FILE)}
"""What `clean` writes (the output-dir policy adds temporary files)."""


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


def run_clean(read_cfg: ReadConfig, clean_cfg: CleanConfig, output: str,
              beam_args: list[str], num_shards: int = DOCUMENT_SHARDS,
              overwrite: bool = False) -> None:
    """The `clean` subcommand."""
    if not 1 <= num_shards <= 99999:
        raise UserError(f"--num-shards must be in [1, 99999]; got {num_shards}")
    read_cfg = with_default_inputs(read_cfg)
    launch(beam_args, read_cfg, output, overwrite, OWN_FILES,
           lambda p: build_clean(p, read_cfg, clean_cfg, output, num_shards))
