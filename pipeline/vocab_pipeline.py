"""`vocab` subcommand: read -> clean -> count words -> train WordPiece -> vocab dir.

`build_vocab` only adds transforms (nothing touches storage while the graph is built);
`run_vocab` does the pre-flight checks, runs the pipeline and prints the `summary.json` the
pipeline itself wrote (the vocab dir holds it beside the vocab files). Shards name their
vocab by sha256, so `--overwrite` of a vocab dir never goes unnoticed by a shard dir.
"""

from __future__ import annotations

import apache_beam as beam

from core.config import CleanConfig, ReadConfig, VocabConfig
from pipeline.launch import launch
from pipeline.stages import CleanCorpus, with_default_inputs
from transforms.stats import SumStats
from transforms.summary import SUMMARY_FILE, WriteSummary
from transforms.vocab_build import BuildVocab
from vocab.artifacts import VOCAB_DIR_FILES

OWN_FILES = {"": (*VOCAB_DIR_FILES, SUMMARY_FILE)}
"""What `vocab` writes (the output-dir policy adds temporary files)."""


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


def run_vocab(read_cfg: ReadConfig, clean_cfg: CleanConfig, vocab_cfg: VocabConfig,
              output: str, beam_args: list[str], overwrite: bool = False) -> None:
    """The `vocab` subcommand."""
    read_cfg = with_default_inputs(read_cfg)
    launch(beam_args, read_cfg, output, overwrite, OWN_FILES,
           lambda p: build_vocab(p, read_cfg, clean_cfg, vocab_cfg, output))
