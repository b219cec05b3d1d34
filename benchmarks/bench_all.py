"""What a vocab costs: `vocab` vs the bare trainer, and `all` vs `shards`, on one corpus.

Targets: `vocab` takes at most 1.5x the wall time of the bare
`BertWordPieceTokenizer.train` on the same file, and `all` (clean + vocab + shards in one
pipeline) at most 1.3x `shards` given that vocab. The corpus is `--mb` MB of distinct
English documents (`variant_corpus.py`), JSONL; the bare trainer reads the same file
(JSON syntax included, which only helps it). Each command runs in this process (one
in-memory FnApiRunner worker; the bare trainer uses its own Rust threads), the four
interleaved, best of `--runs`, after one warm-up `clean` that keeps module imports out.

    python benchmarks/bench_all.py [--mb 8] [--runs 3]
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
from variant_corpus import SHARED, write_corpus  # noqa: E402

from pipeline.cli import main as cli_main  # noqa: E402


def _cli(*argv: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        if cli_main(list(argv)) != 0:
            sys.exit(f"failed: {argv}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=8.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not SHARED.exists():
        sys.exit(f"{SHARED} absent: this benchmark reads ../shared/corpora")
    tmp = Path(tempfile.mkdtemp(prefix="bench_all_"))
    corpus = str(write_corpus("en", args.mb, tmp))
    # variants of the same articles are near-duplicates by construction: near-dedup off
    read = ["--input", corpus, "--format", "jsonl", "--no-near-dedup"]
    shard_args = ["--task", "nsp", "--masking", "span", "--max-seq-length", "512"]
    size = dict(vocab_size=30522, min_frequency=2, limit_alphabet=1000)

    def bare() -> None:
        BertWordPieceTokenizer(lowercase=True).train([corpus], show_progress=False, **size)

    def vocab() -> None:
        out = tempfile.mkdtemp(dir=tmp, prefix="vocab_")  # `vocab` never overwrites
        _cli("vocab", *read, "--output", out)

    def everything() -> None:
        _cli("all", *read, *shard_args, "--output", str(tmp / "all"), "--overwrite")

    def shards() -> None:
        _cli("shards", *read, *shard_args, "--vocab", str(tmp / "all" / "vocab"),
             "--output", str(tmp / "shards"), "--overwrite")

    _cli("clean", *read, "--output", str(tmp / "clean"))  # imports, once
    everything()  # the vocab `shards` uses
    steps = {"bare trainer": bare, "vocab": vocab, "all": everything, "shards": shards}
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(args.runs):
        for label, fn in steps.items():
            start = time.perf_counter()
            fn()
            best[label] = min(best[label], time.perf_counter() - start)
    print(f"{Path(corpus).stat().st_size / 1e6:.1f} MB of distinct English JSONL, "
          f"best of {args.runs} (wall)")
    for label, wall in best.items():
        print(f"  {label:<36} {wall:7.2f} s")
    print(f"vocab / bare BertWordPieceTokenizer.train: {best['vocab'] / best['bare trainer']:.2f}x"
          " (target <= 1.5)")
    print(f"all / shards (with all's vocab): {best['all'] / best['shards']:.2f}x (target <= 1.3)")


if __name__ == "__main__":
    main()
