"""`vocab` subcommand: read -> clean -> count words -> train WordPiece -> vocab dir.

`build_vocab` only adds transforms (nothing touches storage while the graph is built);
`run_vocab` does the local pre-flight checks, runs the pipeline and prints the
`summary.json` the pipeline itself wrote.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import time
from importlib import resources

import apache_beam as beam

from pipeline.beam_options import make_pipeline_options
from pipeline.errors import UserError
from pipeline.options import CleanConfig, ReadConfig, VocabConfig
from pipeline.stats import SumStats, documents_summary

SUMMARY = "summary.json"


def demo_corpus_pattern() -> str:
    """The bundled demo corpus, used when no `--input` is given."""
    return str(resources.files("pipeline") / "demo_corpus" / "*")


class _WriteSummaryFn(beam.DoFn):
    def __init__(self, output: str) -> None:
        self._output = output

    def process(self, stats: dict):
        from apache_beam.io.filesystems import FileSystems

        data = json.dumps(documents_summary(stats), indent=2, sort_keys=True) + "\n"
        with FileSystems.create(FileSystems.join(self._output, SUMMARY)) as f:
            f.write(data.encode("utf-8"))
        yield stats


def build_vocab(p: beam.Pipeline, read_cfg: ReadConfig, clean_cfg: CleanConfig,
                vocab_cfg: VocabConfig, output: str) -> None:
    """Add the vocab stages to `p`; the vocab dir and `summary.json` go to `output`."""
    from pipeline.stages import CleanCorpus
    from transforms.vocab_build import BuildVocab

    if not read_cfg.inputs:
        read_cfg = dataclasses.replace(read_cfg, inputs=(demo_corpus_pattern(),))
    cleaned = p | "CleanCorpus" >> CleanCorpus(read_cfg, clean_cfg)
    vocab = cleaned["documents"] | "BuildVocab" >> BuildVocab(vocab_cfg, output, count_kept=True)
    (
        (cleaned["stats"], vocab["stats"])
        | "SumStats" >> SumStats()
        | "WriteSummary" >> beam.ParDo(_WriteSummaryFn(output))
    )


def preflight(read_cfg: ReadConfig, output: str) -> None:
    """Fail fast, before building, on missing local inputs or a non-empty local output dir."""
    for pattern in read_cfg.inputs:
        if "://" not in pattern and not glob.glob(pattern):
            raise UserError(f"--input {pattern!r} matches no file")
    if "://" not in output and os.path.isdir(output) and os.listdir(output):
        raise UserError(f"--output {output!r} is not empty")


def run_vocab(read_cfg: ReadConfig, clean_cfg: CleanConfig, vocab_cfg: VocabConfig,
              output: str, beam_args: list[str]) -> dict:
    """Run `vocab` end to end; returns (and prints) the summary with wall time added."""
    options = make_pipeline_options(beam_args)
    preflight(read_cfg, output)
    start = time.monotonic()
    p = beam.Pipeline(options=options)
    build_vocab(p, read_cfg, clean_cfg, vocab_cfg, output)
    p.run().wait_until_finish()
    summary_path = os.path.join(output, SUMMARY)
    summary = json.loads(open(summary_path, encoding="utf-8").read()) if os.path.exists(
        summary_path) else {}
    summary["wall_time_s"] = round(time.monotonic() - start, 2)
    print(json.dumps(summary, indent=2, sort_keys=True))
    return summary
