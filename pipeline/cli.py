"""Argument parsing for `beam_runner.py`: flags → frozen configs; leftovers → Beam options.

The subcommand modules are imported lazily so that `--help` and bad-flag errors stay fast.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys

from core.config import (
    COMPRESSIONS,
    FORMATS,
    MASKINGS,
    TASKS,
    ZH_SEGMENTERS,
    CleanConfig,
    CleanJobConfig,
    MaskConfig,
    PackConfig,
    ReadConfig,
    ShardConfig,
    ShardsJobConfig,
    VocabConfig,
    VocabJobConfig,
)
from core.errors import UserError
from pipeline.lean_imports import (
    DEFAULT_LOCAL_RUNNER,
    runner_flag,
    skip_optional_imports_for_local_run,
)
from pipeline.worker_zygote import zygote


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so errors are one line."""

    def error(self, message: str):  # type: ignore[override]
        raise UserError(f"{self.prog}: {message}")


_JOBS = ("clean", "vocab", "shards", "all")
"""The subcommands that run a Beam pipeline."""
CLOSED_PIPE_LINE = "stopped: the output pipe was closed (e.g. by head)"

def _add_read_clean(p: argparse.ArgumentParser, output_required: bool = True) -> None:
    g = p.add_argument_group("input and cleaning")
    g.add_argument("--input", action="extend", nargs="+", default=[], metavar="GLOB",
                   help="one or more files or patterns (local or gs://; a shell-expanded "
                   "wildcard reads every file); repeatable; default: the bundled demo corpus")
    g.add_argument("--output", required=output_required, metavar="DIR", help="output directory")
    g.add_argument("--overwrite", action="store_true",
                   help="replace this subcommand's own files in a non-empty --output")
    g.add_argument("--format", default=ReadConfig.format, choices=FORMATS,
                   help="input format; auto decides from the file name")
    g.add_argument("--text-field", default=ReadConfig.text_field,
                   help="JSONL/Parquet text field")
    g.add_argument("--id-field", default=None,
                   help="JSONL/Parquet id field (default: name:byte offset, see README)")
    g.add_argument("--input-split-bytes", type=int, default=None,
                   metavar="N", help="read uncompressed text/JSONL/WikiExtractor files in "
                   "byte ranges of N, in parallel; output does not depend on N "
                   "(default: 64 MiB; 256 KiB with --workers above 1)")
    g.add_argument("--normalization", default=CleanConfig.normalization, choices=("NFC", "NFKC"))
    g.add_argument("--min-words", type=int, default=CleanConfig.min_words,
                   help="Gopher minimum words per document; CJK characters count as words")
    g.add_argument("--max-words", type=int, default=CleanConfig.max_words)
    g.add_argument("--min-sentences", type=int, default=CleanConfig.min_sentences)
    g.add_argument("--max-symbol-ratio", type=float, default=CleanConfig.max_symbol_ratio)
    g.add_argument("--min-alpha-ratio", type=float, default=CleanConfig.min_alpha_ratio)
    g.add_argument("--max-repeated-line-fraction", type=float,
                   default=CleanConfig.max_repeated_line_fraction)
    g.add_argument("--drop-code", action="store_true",
                   help="C4 rule: drop documents containing '{'")
    g.add_argument("--min-line-words", type=int, default=CleanConfig.min_line_words,
                   help="drop shorter paragraph lines (headings); not applied to text format")
    g.add_argument("--require-end-mark", action="store_true",
                   help="C4 rule: drop paragraph lines not ending in . ! ? \" or a CJK end mark")
    g.add_argument("--no-dedup", action="store_true", help="skip exact document deduplication")
    g.add_argument("--languages", default="", metavar="CODES",
                   help="keep documents detected as these ISO 639-1 languages, e.g. en,zh "
                   "(default: keep all)")
    g.add_argument("--no-near-dedup", action="store_true",
                   help="skip MinHash LSH near-duplicate removal")
    g.add_argument("--near-dedup-threshold", type=float, default=CleanConfig.near_dedup_threshold,
                   help="Jaccard similarity of word/CJK-character shingles (default: 0.8)")
    g.add_argument("--near-dedup-ngram", type=int, default=CleanConfig.near_dedup_ngram,
                   help="shingle length in words or CJK characters (default: 5)")
    g.add_argument("--near-dedup-bands", type=int, default=CleanConfig.near_dedup_bands,
                   help="LSH bands (default: 16)")
    g.add_argument("--near-dedup-rows", type=int, default=CleanConfig.near_dedup_rows,
                   help="MinHash values per LSH band (default: 8)")


def _add_workers(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local runner: N worker processes (FnApiRunner multi_processing); "
                   "default: 1, in the launching process")


def _add_vocab(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("vocabulary")
    g.add_argument("--vocab-size", type=int, default=VocabConfig.vocab_size)
    g.add_argument("--min-frequency", type=int, default=VocabConfig.min_frequency)
    g.add_argument("--limit-alphabet", type=int, default=VocabConfig.limit_alphabet)
    g.add_argument("--num-unused", type=int, default=VocabConfig.num_unused,
                   help="reserve [unused0..N-1] entries")
    g.add_argument("--max-input-chars-per-word", type=int,
                   default=VocabConfig.max_input_chars_per_word)
    g.add_argument("--max-words-in-memory", type=int, default=VocabConfig.max_words_in_memory,
                   help="distinct words one counting accumulator keeps before pruning rare ones")


def _add_case_and_segmenter(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lowercase", dest="lowercase", action="store_true", default=None,
                   help="lowercase and strip accents "
                   "(default: on for vocab; from the vocab dir for shards)")
    p.add_argument("--no-lowercase", dest="lowercase", action="store_false",
                   help="keep case and accents (default: see --lowercase)")
    p.add_argument("--zh-segmenter", default=ShardsJobConfig.zh_segmenter, choices=ZH_SEGMENTERS,
                   help="jieba: segment Chinese into words "
                   "(vocab: word-level; shards: wwm boundaries)")


def _add_shards(p: argparse.ArgumentParser, vocab_required: bool) -> None:
    g = p.add_argument_group("instances, masking and shards")
    if vocab_required:
        g.add_argument("--vocab", required=True, metavar="DIR",
                       help="vocab dir (ours, or one holding Google's vocab.txt)")
    g.add_argument("--max-seq-length", type=int, default=PackConfig.max_seq_length)
    g.add_argument("--task", default=PackConfig.task, choices=TASKS)
    g.add_argument("--masking", default=MaskConfig.masking, choices=MASKINGS)
    g.add_argument("--masked-lm-prob", type=float, default=MaskConfig.masked_lm_prob)
    g.add_argument("--max-predictions-per-seq", type=int, default=None,
                   help="default: round(0.15 * max-seq-length)")
    g.add_argument("--short-seq-prob", type=float, default=PackConfig.short_seq_prob)
    g.add_argument("--dupe-factor", type=int, default=PackConfig.dupe_factor)
    g.add_argument("--span-p", type=float, default=MaskConfig.span_p)
    g.add_argument("--span-max", type=int, default=MaskConfig.span_max)
    g.add_argument("--max-ngram", type=int, default=MaskConfig.max_ngram)
    g.add_argument("--nsp-pool-size", type=int, default=PackConfig.nsp_pool_size,
                   help="documents per corpus-wide NSP negative pool")
    g.add_argument("--num-shards", type=int, default=ShardConfig.num_shards)
    g.add_argument("--compression", default=ShardConfig.compression, choices=COMPRESSIONS)
    g.add_argument("--seed", type=int, default=ShardsJobConfig.seed)
    g.add_argument("--packed", action="store_true",
                   help="pack several complete instances per row (schema v2, less padding)")
    g.add_argument("--max-sequences-per-row", type=int,
                   default=ShardConfig.max_sequences_per_row,
                   help="with --packed: instances per row at most "
                   f"(default {ShardConfig.max_sequences_per_row})")


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Append `(default: …)` to every option's help that does not already state its default.

    argparse's ArgumentDefaultsHelpFormatter skips options without help text, so `--help`
    would hide some defaults; options whose default is None describe it in their help.
    """
    for action in parser._actions:  # noqa: SLF001 - argparse has no public walk
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for subparser in action.choices.values():
                _show_defaults(subparser)
            continue
        if (not action.option_strings or action.default in (None, argparse.SUPPRESS)
                or "default" in (action.help or "")):
            continue
        shown = "%(default)s" if action.default != [] else "none"
        action.help = f"{action.help} (default: {shown})" if action.help else f"default: {shown}"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="beam_runner.py",
        description="Raw text corpora -> deterministic BERT pretraining shards, on Apache Beam. "
        "Arguments not listed here are passed to Beam as pipeline options "
        "(e.g. --runner DataflowRunner --project P --region R --temp_location gs://...).",
    )
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("clean", help="read, clean, dedup and sentence-split a corpus")
    _add_read_clean(p)
    _add_workers(p)
    p.add_argument("--num-shards", type=int, default=CleanJobConfig.num_shards,
                   help="documents-*.jsonl.zst files; each is built in one worker's memory")

    p = sub.add_parser("vocab", help="train a WordPiece vocabulary dir")
    _add_read_clean(p)
    _add_workers(p)
    _add_vocab(p)
    _add_case_and_segmenter(p)

    p = sub.add_parser("shards", help="tokenize, pack, mask and write Arrow shards")
    _add_read_clean(p)
    _add_workers(p)
    _add_case_and_segmenter(p)
    _add_shards(p, vocab_required=True)

    p = sub.add_parser("all",
                       help="clean + vocab + shards in one pipeline (demo corpus by default)")
    _add_read_clean(p)
    _add_workers(p)
    _add_vocab(p)
    _add_case_and_segmenter(p)
    _add_shards(p, vocab_required=False)

    p = sub.add_parser("verify", help="check a shard dir against its manifest")
    p.add_argument("shard_dir", metavar="DIR")

    p = sub.add_parser("inspect", help="print stats and decoded samples of a shard dir")
    p.add_argument("shard_dir", metavar="DIR")
    p.add_argument("--n", type=int, default=3, help="decoded samples to print")
    p.add_argument("--report", metavar="FILE.html", default=None,
                   help="also write a self-contained HTML report with plots (needs the "
                   "`report` extra, matplotlib; default: no report)")
    _show_defaults(parser)
    return parser


WORKERS_SPLIT_BYTES = 256 << 10
"""Default byte-range size with `--workers` > 1: a file under 64 MiB (the usual default) would
otherwise be read and cleaned by one worker while the others wait. The documents then keep
the split of the ranges through dedup and tokenizing (FnApiRunner deals the ranges out in
turn), so ranges are small enough for an even one: 24 MB of JSONL in 1 MiB ranges is 23
ranges, 12:11 over two workers, and the workers' documents differed by 8% of their text; in
256 KiB ranges by 3%."""


def read_config(a: argparse.Namespace) -> ReadConfig:
    split = a.input_split_bytes
    if split is None:
        many = (getattr(a, "workers", None) or 1) > 1
        split = WORKERS_SPLIT_BYTES if many else ReadConfig.split_bytes
    return ReadConfig(inputs=tuple(a.input), format=a.format, text_field=a.text_field,
                      id_field=a.id_field, split_bytes=split)


def clean_config(a: argparse.Namespace) -> CleanConfig:
    return CleanConfig(
        normalization=a.normalization, min_words=a.min_words, max_words=a.max_words,
        min_sentences=a.min_sentences, max_symbol_ratio=a.max_symbol_ratio,
        min_alpha_ratio=a.min_alpha_ratio, max_repeated_line_fraction=a.max_repeated_line_fraction,
        drop_code=a.drop_code, dedup=not a.no_dedup, min_line_words=a.min_line_words,
        require_end_mark=a.require_end_mark,
        languages=tuple(code.strip() for code in a.languages.split(",") if code.strip()),
        near_dedup=not a.no_near_dedup, near_dedup_threshold=a.near_dedup_threshold,
        near_dedup_ngram=a.near_dedup_ngram, near_dedup_bands=a.near_dedup_bands,
        near_dedup_rows=a.near_dedup_rows,
    )


def vocab_config(a: argparse.Namespace) -> VocabConfig:
    return VocabConfig(
        vocab_size=a.vocab_size, min_frequency=a.min_frequency, limit_alphabet=a.limit_alphabet,
        lowercase=True if a.lowercase is None else a.lowercase, zh_segmenter=a.zh_segmenter,
        num_unused=a.num_unused, max_input_chars_per_word=a.max_input_chars_per_word,
        max_words_in_memory=a.max_words_in_memory,
    )


def shards_config(a: argparse.Namespace, vocab: VocabConfig | None = None,
                  vocab_dir: str = "") -> ShardsJobConfig:
    return ShardsJobConfig(
        read=read_config(a),
        clean=clean_config(a),
        pack=PackConfig(task=a.task, max_seq_length=a.max_seq_length,
                        short_seq_prob=a.short_seq_prob, dupe_factor=a.dupe_factor,
                        nsp_pool_size=a.nsp_pool_size),
        mask=MaskConfig(masking=a.masking, masked_lm_prob=a.masked_lm_prob,
                        max_predictions_per_seq=a.max_predictions_per_seq, span_p=a.span_p,
                        span_max=a.span_max, max_ngram=a.max_ngram),
        shard=ShardConfig(num_shards=a.num_shards, compression=a.compression, packed=a.packed,
                          max_sequences_per_row=a.max_sequences_per_row),
        seed=a.seed,
        vocab=vocab,
        vocab_dir=vocab_dir,
        lowercase=a.lowercase,
        zh_segmenter=a.zh_segmenter,
        output=a.output,
        overwrite=a.overwrite,
    )


def run(argv: list[str]) -> int:
    args, beam_args = build_parser().parse_known_args(argv)
    if args.command in ("verify", "inspect") and beam_args:
        raise UserError(f"{args.command}: unrecognized arguments: {' '.join(beam_args)}")
    if args.command == "clean" and not 1 <= args.num_shards <= 99999:
        raise UserError(f"--num-shards must be in [1, 99999]; got {args.num_shards}")
    if args.command == "inspect" and args.n < 0:
        raise UserError(f"--n must be >= 0; got {args.n}")
    with zygote() if _forks_local_workers(args, beam_args) else contextlib.nullcontext():
        skip_optional_imports_for_local_run(beam_args, argv)  # imports Beam
        _run_command(args, beam_args)
    return 0


def _forks_local_workers(args: argparse.Namespace, beam_args: list[str]) -> bool:
    """Whether this job runs FnApiRunner's worker processes (`--workers N`, N > 1, on the
    default local runner). Their zygote then starts here, before this process imports Beam:
    its ~3 CPU-s of imports take the other core while this one imports Beam and builds the
    graph, instead of starting after them (`launch` reuses it; pipeline/worker_zygote.py).
    """
    return (args.command in _JOBS and (args.workers or 1) > 1
            and runner_flag(beam_args) in (None, DEFAULT_LOCAL_RUNNER))


def _run_command(args: argparse.Namespace, beam_args: list[str]) -> None:
    if beam_args:  # a stray value or unknown runner fails before any file is read
        from pipeline.beam_options import make_pipeline_options

        make_pipeline_options(beam_args)
    if args.command in _JOBS:
        from pipeline.beam_options import worker_args

        beam_args = beam_args + worker_args(args.workers, beam_args)
    if args.command == "clean":
        from pipeline.clean_pipeline import run_clean

        run_clean(CleanJobConfig(read_config(args), clean_config(args), args.num_shards,
                                 args.output, args.overwrite), beam_args)
    elif args.command == "vocab":
        from pipeline.vocab_pipeline import run_vocab

        run_vocab(VocabJobConfig(read_config(args), clean_config(args), vocab_config(args),
                                 args.output, args.overwrite), beam_args)
    elif args.command == "shards":
        from pipeline.shards_pipeline import run_shards

        run_shards(shards_config(args, vocab_dir=args.vocab), beam_args)
    elif args.command == "all":
        from pipeline.shards_pipeline import run_all

        run_all(shards_config(args, vocab=vocab_config(args)), beam_args)
    elif args.command == "verify":
        from pipeline.verify import verify_shard_dir

        verify_shard_dir(args.shard_dir)
    elif args.command == "inspect":
        from pipeline.inspect_shards import inspect_shard_dir

        inspect_shard_dir(args.shard_dir, args.n)
        if args.report:
            from pipeline.report import write_report

            write_report(args.shard_dir, args.report)


class _IrrelevantBeamWarningsFilter(logging.Filter):
    """Drops two warnings Beam logs that say nothing about our jobs: `import apache_beam`'s
    when the GCP client libraries are absent (the base install: only gs:// paths and
    Dataflow need them, and those fail with their own message when they are used), and each
    `--workers` process's "No semi_persistent_directory found" (no pickled main session to
    load: our stages live in importable modules and need none), forwarded to the launcher."""

    MESSAGES = ("apitools not found", "No semi_persistent_directory found")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(m in message for m in self.MESSAGES)


_BEAM_WARNINGS_FILTER = _IrrelevantBeamWarningsFilter()
_WORKER_LOG_FORWARDER = "apache_beam.runners.portability.local_job_service"
"""The logger that re-logs the `--workers` processes' log lines in the launcher (a filter on
the root logger does not see a child logger's records)."""


def main(argv: list[str] | None = None) -> int:
    for name in ("", _WORKER_LOG_FORWARDER):  # once each, however often main() runs
        logging.getLogger(name).addFilter(_BEAM_WARNINGS_FILTER)
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `inspect DIR | head`: the reader is gone, which is not an error of this run; say in one
        # line why the output stops. Point stdout at /dev/null so the interpreter's final flush
        # does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(CLOSED_PIPE_LINE, file=sys.stderr)
        return 0
    except OSError as e:  # the machine, not the code: disk full, permissions, a vanished file
        where = f" ({e.filename})" if e.filename else ""
        print(f"error: {e.strerror or e}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
