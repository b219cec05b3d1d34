"""How much two busy cores of this machine deliver: the ceiling of any `--workers 2` speed-up.

Runs the same CPU-bound work (a `shards` stage's kind: Python loops, dict lookups, numpy and
the Rust tokenizer on English sentences) once in one process alone, then in two processes at
once, interleaved, best of `--runs`; prints each one's wall time and the speed-up two processes
get, `2 x alone / together` (2.0 on two real, idle cores). On a VM whose two vCPUs share a
physical core, or a host that is oversubscribed, it is lower, and no local engine can beat it.

    python benchmarks/bench_cores.py [--runs 5] [--seconds 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from variant_corpus import SHARED  # noqa: E402

VOCAB = SHARED / "vocab/bert_base_uncased"


def _sentences() -> list[str]:
    path = SHARED / "en/enwiki_wikiextractor_wiki_00.txt"
    with path.open(encoding="utf-8") as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.startswith("<")][:2000]


def _work(rounds: int) -> None:
    """Mixed CPU work: tokenizing, counting words in a dict, numpy gathers."""
    from tokenizers import BertWordPieceTokenizer

    tok = BertWordPieceTokenizer(str(VOCAB / "vocab.txt"), lowercase=True)
    sentences = _sentences()
    table = np.arange(1 << 16, dtype=np.int32)
    for _ in range(rounds):
        counts: dict[str, int] = {}
        for enc in tok.encode_batch(sentences, add_special_tokens=False):
            for t in enc.tokens:
                counts[t] = counts.get(t, 0) + 1
            table[np.asarray(enc.ids, dtype=np.int64) % len(table)].sum()


def _timed(rounds: int, start: mp.Barrier, out: mp.Queue) -> None:
    _work(0)  # imports and set-up outside the timing
    start.wait()
    t = time.perf_counter()
    _work(rounds)
    out.put(time.perf_counter() - t)


def _run(n: int, rounds: int) -> float:
    """Wall time of the slowest of `n` processes doing the same work at once."""
    ctx = mp.get_context("fork")
    start, out = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_timed, args=(rounds, start, out)) for _ in range(n)]
    for p in procs:
        p.start()
    times = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0, help="rough length of one run")
    args = parser.parse_args()
    if not VOCAB.exists():
        sys.exit(f"skipped: {SHARED} not found (the benchmark reads ../shared/corpora)")
    t = time.perf_counter()
    _work(1)
    rounds = max(1, round(args.seconds / (time.perf_counter() - t)))
    alone, together = [], []
    for _ in range(args.runs):
        alone.append(_run(1, rounds))
        together.append(_run(2, rounds))
    print(f"same work ({rounds} rounds), best of {args.runs}, interleaved:")
    print(f"  one process alone          {min(alone):6.2f} s   (runs: "
          + " ".join(f"{x:.2f}" for x in alone) + ")")
    print(f"  two processes at once      {min(together):6.2f} s   (runs: "
          + " ".join(f"{x:.2f}" for x in together) + ")")
    print(f"speed-up two processes get: {2 * min(alone) / min(together):.2f}x best-of "
          f"(each pair: " + " ".join(f"{2 * a / b:.2f}" for a, b in zip(alone, together,
                                                                        strict=True)) + ")")


if __name__ == "__main__":
    main()
