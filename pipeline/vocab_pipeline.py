"""`vocab` subcommand: read -> clean -> count words -> train WordPiece -> vocab dir.

`build_vocab` only adds transforms (nothing touches storage while the graph is built);
`run_vocab` does the local pre-flight checks, runs the pipeline and prints the
`summary.json` the pipeline itself wrote (the vocab dir holds it beside the vocab files).
"""

from __future__ import annotations

import os

import apache_beam as beam

from core.config import CleanConfig, ReadConfig, VocabConfig
from core.errors import UserError
from pipeline.launch import launch
from pipeline.stages import CleanCorpus, with_default_inputs
from pipeline.summary import warn_vocab_over_size
from transforms.stats import SumStats
from transforms.summary import WriteSummary
from transforms.vocab_build import BuildVocab


def build_vocab(p: beam.Pipeline, read_cfg: ReadConfig, clean_cfg: CleanConfig,
                vocab_cfg: VocabConfig, output: str) -> None:
    """Add the vocab job to `p`; the vocab files and `summary.json` go to `output`."""
    corpus = p | "CleanCorpus" >> CleanCorpus(read_cfg, clean_cfg)
    vocab = corpus["documents"] | "BuildVocab" >> BuildVocab(vocab_cfg, output, count_kept=True)
    (
        (corpus["stats"], vocab["stats"])
        | "SumStats" >> SumStats()
        | "WriteSummary" >> WriteSummary(output)
    )


def check_output_dir(output: str) -> None:
    """A vocab dir is never overwritten: shards name their vocab by its sha256."""
    if "://" in output:
        return
    if os.path.exists(output) and (not os.path.isdir(output) or os.listdir(output)):
        raise UserError(f"--output {output!r} exists and is not an empty directory")


def run_vocab(read_cfg: ReadConfig, clean_cfg: CleanConfig, vocab_cfg: VocabConfig,
              output: str, beam_args: list[str]) -> None:
    """The `vocab` subcommand; refuses an occupied local output dir before any work."""
    read_cfg = with_default_inputs(read_cfg)
    summary = launch(beam_args, read_cfg, lambda: check_output_dir(output),
                     lambda p: build_vocab(p, read_cfg, clean_cfg, vocab_cfg, output), output)
    if summary is not None:
        warn_vocab_over_size(summary, vocab_cfg.vocab_size, vocab_cfg.limit_alphabet)
