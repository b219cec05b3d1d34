"""`vocab` vs the bare `BertWordPieceTokenizer.train` on the same files, and jieba's share.

    python benchmarks/bench_vocab.py [--vocab-size 30522]

Inputs: the English WikiExtractor sample and the Chinese Wikipedia JSONL sample of
../shared/corpora. Timed, each in this process (FnApiRunner runs in-process, so CPU time
covers its workers):
- bare: `BertWordPieceTokenizer().train(files)` on the raw files (markup included);
- core: our count + deterministic train, no Beam, on the lines of the same files;
- vocab: the whole `vocab` subcommand (read, clean, dedup, split, count, train, write);
- vocab jieba: the same with `--zh-segmenter jieba`;
- clean: the `clean` subcommand alone (the read/clean/dedup/split part of `vocab`, plus
  writing the cleaned documents), to show how much of `vocab` is cleaning and Beam;
- jieba alone: `presegment` over every line, i.e. jieba's share of the jieba run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tokenizers import BertWordPieceTokenizer  # noqa: E402

from core.special_tokens import SPECIAL_TOKEN_LIST  # noqa: E402
from pipeline.cli import main as cli_main  # noqa: E402
from vocab.jieba_segmenter import get_jieba, presegment  # noqa: E402
from vocab.pretokenize import BertWordSplitter  # noqa: E402
from vocab.train import count_words, train_wordpiece  # noqa: E402

SHARED = ROOT.parent / "shared" / "corpora"
FILES = ("en/enwiki_wikiextractor_wiki_00.txt", "zh/zhwiki_wiki_zh_2019_AA_wiki_00.jsonl")


def _timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab-size", type=int, default=30522)
    parser.add_argument("--limit-alphabet", type=int, default=6000)
    args = parser.parse_args()
    if not SHARED.exists():
        sys.exit(f"{SHARED} absent: this benchmark reads ../shared/corpora")
    files = [str(SHARED / f) for f in FILES]
    lines = [ln for f in files for ln in Path(f).read_text(encoding="utf-8").splitlines()]
    size = dict(vocab_size=args.vocab_size, min_frequency=2, limit_alphabet=args.limit_alphabet)

    def bare() -> None:
        BertWordPieceTokenizer(lowercase=True).train(files, show_progress=False, **size)

    def core() -> None:
        counts = count_words(lines, BertWordSplitter(True), jieba=False)
        train_wordpiece(counts, special=SPECIAL_TOKEN_LIST, **size)

    def subcommand(*argv: str):
        def run() -> None:
            with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
                full = [*argv, "--output", f"{tmp}/out"]
                for f in files:
                    full += ["--input", f]
                assert cli_main(full) == 0
        return run

    def vocab(segmenter: str):
        return subcommand("vocab", "--vocab-size", str(args.vocab_size), "--limit-alphabet",
                          str(args.limit_alphabet), "--zh-segmenter", segmenter)

    get_jieba()  # dictionary load (~1 s) is per worker, not per corpus: keep it out
    subcommand("clean")()  # first Beam run imports ~1.5 s of modules: keep that out too
    results = {
        "bare BertWordPieceTokenizer.train": _timed(bare),
        "core (count + train, no Beam)": _timed(core),
        "vocab subcommand": _timed(vocab("none")),
        "vocab subcommand, jieba": _timed(vocab("jieba")),
        "clean subcommand": _timed(subcommand("clean")),
        "jieba alone (presegment)": _timed(lambda: [presegment(ln) for ln in lines]),
    }
    base_wall, base_cpu = results["bare BertWordPieceTokenizer.train"]
    mb = sum(Path(f).stat().st_size for f in files) / 1e6
    print(f"{mb:.1f} MB in {len(files)} files, vocab size {args.vocab_size}")
    for label, (wall, cpu) in results.items():
        print(f"  {label:<36} wall {wall:6.2f}s ({wall / base_wall:5.2f}x bare)   "
              f"cpu {cpu:6.2f}s ({cpu / base_cpu:5.2f}x bare)")
    jieba_cpu = results["jieba alone (presegment)"][1]
    jieba_run_cpu = results["vocab subcommand, jieba"][1]
    print(f"  jieba's share of the jieba vocab run: {jieba_cpu / jieba_run_cpu:.0%} of CPU time")


if __name__ == "__main__":
    main()
