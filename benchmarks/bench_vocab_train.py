"""Where `all` - `shards` goes: our word counting, re-feeding the counts, the trainer's merges.

`all` costs `shards` plus counting the words of the cleaned text and training WordPiece on
the counts. This splits that cost on `--mb` MB of distinct English documents
(`variant_corpus.py`), without Beam, each part best of `--runs` (CPU time, the trainer's
Rust threads included):
- count: `BertWordSplitter.count` over the documents' text;
- feed: `train_wordpiece` with a vocab no larger than its initial tokens (no merges), i.e.
  the re-feeding of every counted word occurrence (tokenizers has no train-from-counts API);
- train: `train_wordpiece` at `--vocab-size`; train - feed is the merge phase.

    python benchmarks/bench_vocab_train.py [--mb 4] [--runs 2] [--vocab-size 30522]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import best_of, scratch_dir  # noqa: E402
from variant_corpus import SHARED, write_corpus  # noqa: E402

from core.special_tokens import SPECIAL_TOKEN_LIST  # noqa: E402
from vocab.pretokenize import BertWordSplitter  # noqa: E402
from vocab.train import train_wordpiece  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=4.0)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--vocab-size", type=int, default=30522)
    args = parser.parse_args()
    if not SHARED.exists():
        sys.exit(f"{SHARED} absent: this benchmark reads ../shared/corpora")
    corpus = write_corpus("en", args.mb, scratch_dir("bench_vocab_train_"))
    with open(corpus, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    counts = BertWordSplitter(lowercase=True).count(texts)

    def train(vocab_size: int):
        return lambda: train_wordpiece(counts, vocab_size=vocab_size, min_frequency=2,
                                       limit_alphabet=1000, special=SPECIAL_TOKEN_LIST)

    def best_cpu(fn) -> float:
        return best_of(args.runs, fn, time.process_time)[0]

    count = best_cpu(lambda: BertWordSplitter(lowercase=True).count(texts))
    feed = best_cpu(train(1))  # never above the initial tokens: no merges
    full = best_cpu(train(args.vocab_size))
    print(f"{args.mb:g} MB of distinct English JSONL: {len(counts):,} distinct words, "
          f"{sum(counts.values()):,} occurrences; CPU s, best of {args.runs}")
    print(f"  count words                 {count:6.2f}")
    print(f"  re-feed counts (no merges)  {feed:6.2f}")
    print(f"  train, vocab {args.vocab_size:<6}         {full:6.2f}  (merges: {full - feed:.2f})")


if __name__ == "__main__":
    main()
