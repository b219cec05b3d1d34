"""Encoder throughput vs the bare `Tokenizer.encode_batch` on the same sentences.

    python benchmarks/bench_encode.py            # English + Chinese from ../shared/corpora
    RAYON_RS_NUM_CPUS=1 python benchmarks/bench_encode.py   # one core for the Rust side

Prints sentences per CPU-second (process time, all threads: a per-core figure that a
loaded machine does not distort much) of: the bare tokenizer on one big batch, the bare
tokenizer per document (the batching the pipeline uses), our plain path, our cached path
with a cold cache (a fresh encoder) and warm (the cache filled by the *other* half of the
corpus, then timed on this half: a long-running worker on a large corpus is warmer still),
and each one's speed relative to the bare per-document baseline on the same documents.
Chinese has no spaces, so its chunks are whole sentences and the cache rarely hits.
Best of 3 runs.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import best_of  # noqa: E402

from vocab.encoder import Encoder  # noqa: E402

SHARED = ROOT.parent / "shared" / "corpora"
_SPLIT = re.compile(r"(?<=[.!?。！？])\s*")


def _documents(name: str) -> list[list[str]]:
    if name == "en":
        lines = [ln.strip() for ln in (SHARED / "en/enwiki_wikiextractor_wiki_00.txt").open()
                 if ln.strip() and not ln.startswith("<")]
        return [[s for s in _SPLIT.split(ln) if s] for ln in lines]
    with (SHARED / "zh/thucnews_cnews_val_1000.tsv").open() as f:
        return [[s for s in _SPLIT.split(ln.split("\t", 1)[1].strip()) if s] for ln in f]


def _best(fn) -> float:
    """Smallest CPU time of 3 calls."""
    return best_of(3, fn, clock=time.process_time)[0]


def bench(name: str, vocab: str, zh_word_starts: bool) -> None:
    docs = _documents(name)
    half = len(docs) // 2
    other, docs = docs[:half], docs[half:]
    flat = [s for d in docs for s in d]
    proto = Encoder.from_dir(str(SHARED / vocab), lowercase=True)
    tok = proto.tokenizer

    def make(use_cache: bool) -> Encoder:
        vocab_txt = "".join(t + "\n" for t in proto.id_to_token).encode()
        return Encoder(tok, vocab_txt, lowercase=True, use_cache=use_cache)

    def run_ours(enc: Encoder, documents: list[list[str]]) -> None:
        for d in documents:
            enc.encode_document(d, zh_word_starts)

    def run_warm() -> None:
        enc = make(True)
        run_ours(enc, other)
        start = time.process_time()
        run_ours(enc, docs)
        warm_times.append(time.process_time() - start)

    warm_times: list[float] = []
    results = {
        "bare, one batch": _best(lambda: tok.encode_batch(flat, add_special_tokens=False)),
        "bare, per document": _best(
            lambda: [tok.encode_batch(d, add_special_tokens=False) for d in docs]),
        "ours, plain": _best(lambda: run_ours(make(False), docs)),
        "ours, cached cold": _best(lambda: run_ours(make(True), docs)),
    }
    _best(run_warm)
    results["ours, cached warm"] = min(warm_times)
    base = results["bare, per document"]
    print(f"\n{name}: {len(docs)} documents, {len(flat)} sentences, "
          f"zh_word_starts={zh_word_starts}")
    for label, t in results.items():
        print(f"  {label:<20} {len(flat) / t:>10,.0f} sentences/CPU-s   "
              f"speed vs bare per document: {base / t:5.2f}x")


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    if not SHARED.exists():
        sys.exit(f"{SHARED} absent: this benchmark reads ../shared/corpora")
    bench("en", "vocab/bert_base_uncased", zh_word_starts=False)
    bench("zh", "vocab/bert_base_chinese", zh_word_starts=False)
    bench("zh", "vocab/bert_base_chinese", zh_word_starts=True)


if __name__ == "__main__":
    main()
