"""`vocab` subcommand: read -> clean -> count words -> train WordPiece -> vocab dir.

`build_vocab` only adds transforms (nothing touches storage while the graph is built);
`run_vocab` does the pre-flight checks, runs the pipeline and prints the `summary.json` the
pipeline itself wrote (the vocab dir holds it beside the vocab files). Shards name their
vocab by sha256, so `--overwrite` of a vocab dir never goes unnoticed by a shard dir.
"""

from __future__ import annotations

import apache_beam as beam

from core.config import VocabJobConfig
from pipeline.launch import launch
from pipeline.stages import CleanCorpus, with_default_inputs
from pipeline.summary import warn_vocab_over_size
from transforms.stats import SumStats
from transforms.summary import SUMMARY_FILE, WriteSummary
from transforms.vocab_build import BuildVocab
from vocab.artifacts import VOCAB_DIR_FILES

OWN_FILES = {"": (*VOCAB_DIR_FILES, SUMMARY_FILE)}
"""What `vocab` writes (the output-dir policy adds temporary files)."""


def build_vocab(p: beam.Pipeline, job: VocabJobConfig, spill_dir: str | None = None) -> None:
    """Add the vocab job to `p`; the vocab files and `summary.json` go to `job.output`;
    `spill_dir`: see `CleanCorpus`."""
    output = job.output
    corpus = p | "CleanCorpus" >> CleanCorpus(with_default_inputs(job.read), job.clean,
                                              spill_dir)
    vocab = corpus["documents"] | "BuildVocab" >> BuildVocab(job.vocab, output, count_kept=True)
    (
        (corpus["stats"], vocab["stats"])
        | "SumStats" >> SumStats()
        | "WriteSummary" >> WriteSummary(output)
    )


def run_vocab(job: VocabJobConfig, beam_args: list[str]) -> None:
    """The `vocab` subcommand."""
    summary = launch(beam_args, job.read, job.output, job.overwrite, OWN_FILES,
                     lambda p, spill: build_vocab(p, job, spill))
    if summary is not None:
        warn_vocab_over_size(summary, job.vocab.vocab_size, job.vocab.limit_alphabet)
