"""End-to-end `shards` speed against the bare Hugging Face tokenizer on the same sentences.

The project's speed target (issue 11): `shards` (read -> clean -> dedup -> split -> tokenize
-> pack -> mask -> write) runs at least as fast per core as `BertWordPieceTokenizer.
encode_batch` alone, one thread, on the cleaned sentences. The corpus is
`variant_corpus.py`'s: `--size-mb` MB of *distinct* documents (default 40 MB, so that
start-up is a small part of a run; the start-up share is printed). Both sides run in this
one process, best of `--runs`, interleaved (tokenizer, `shards`, tokenizer, ...) so that both
see the same spells of a noisy machine: the tokenizer with
TOKENIZERS_PARALLELISM=false and RAYON_NUM_THREADS=1, `shards` on the in-memory FnApiRunner
with one worker. Per-core speed is CPU time (process time, all threads), which a machine
shared with other jobs distorts far less than wall time; both are printed.

Run: `python benchmarks/bench_shards_e2e.py [--corpus en|zh] [--size-mb 40] [--workers-too]`
(needs ../shared/corpora beside the checkout).
"""

from __future__ import annotations

import os

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["RAYON_RS_NUM_CPUS"] = "1"

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import zstandard  # noqa: E402
from tokenizers import BertWordPieceTokenizer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import scratch_dir  # noqa: E402
from variant_corpus import SHARED, write_corpus  # noqa: E402

from pipeline.cli import main as cli  # noqa: E402

TOKENIZER_BATCH = 20_000
VOCABS = {"en": (SHARED / "vocab/bert_base_uncased", True),
          "zh": (SHARED / "vocab/bert_base_chinese", False)}


def _sentences(clean_dir: Path) -> list[str]:
    out = []
    for path in sorted(clean_dir.glob("documents-*.jsonl.zst")):
        with open(path, "rb") as f:
            raw = zstandard.ZstdDecompressor().stream_reader(f).read()
        for line in io.StringIO(raw.decode("utf-8")):
            out.extend(json.loads(line)["sentences"])
    return out


def _timed(fn) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


def _best_of(times: list[tuple[float, float]]) -> tuple[float, float]:
    return min(t[0] for t in times), min(t[1] for t in times)


def _cli(argv: list[str]) -> None:
    if cli(argv) != 0:
        sys.exit(f"failed: {argv}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", choices=sorted(VOCABS), default="en")
    parser.add_argument("--size-mb", type=float, default=40.0)
    parser.add_argument("--runs", type=int, default=3, help="best of this many, both sides")
    parser.add_argument("--workers-too", action="store_true", help="also time 2 worker processes")
    args = parser.parse_args()
    vocab_dir, lowercase = VOCABS[args.corpus]
    if not vocab_dir.exists():
        sys.exit(f"skipped: {SHARED} not found (the benchmark reads ../shared/corpora)")
    tmp = scratch_dir("bench_e2e_")
    source = write_corpus(args.corpus, args.size_mb, tmp)
    one_doc = tmp / "one.jsonl"
    with open(source, encoding="utf-8") as f:
        one_doc.write_text(f.readline(), encoding="utf-8")
    # The variant corpus is near-duplicate by construction (rotated parts of the same articles),
    # so near-dedup is off on both sides; its own cost is measured by bench_near_dedup.py.
    _cli(["clean", "--input", str(source), "--format", "jsonl", "--no-near-dedup",
          "--output", str(tmp / "clean")])
    sentences = _sentences(tmp / "clean")

    tokenizer = BertWordPieceTokenizer(str(vocab_dir / "vocab.txt"), lowercase=lowercase)
    counts: list[int] = []

    def tokenize() -> None:  # in batches, so that the encodings of 40 MB need not fit in RAM
        counts.append(sum(len(e.ids) for i in range(0, len(sentences), TOKENIZER_BATCH)
                          for e in tokenizer.encode_batch(sentences[i:i + TOKENIZER_BATCH],
                                                          add_special_tokens=False)))

    case = "--lowercase" if lowercase else "--no-lowercase"
    shards = ["shards", "--format", "jsonl", "--vocab", str(vocab_dir), case, "--max-seq-length",
              "512", "--task", "nsp", "--masking", "token", "--runner", "FnApiRunner",
              "--no-near-dedup", "--overwrite"]
    start_cpu, start_wall = _timed(
        lambda: _cli(shards + ["--input", str(one_doc), "--output", str(tmp / "start")]))
    out = str(tmp / "one")
    tok_runs, one_runs = [], []
    for _ in range(args.runs):
        tok_runs.append(_timed(tokenize))
        one_runs.append(_timed(lambda: _cli(shards + ["--input", str(source), "--output", out])))
    (tok_cpu, tok_wall), (one_cpu, one_wall) = _best_of(tok_runs), _best_of(one_runs)
    n_tokens = counts[0]

    mb = source.stat().st_size / 1e6
    print(f"\ncorpus {args.corpus}: {mb:.1f} MB JSONL ({source.name}), {len(sentences):,} "
          f"cleaned sentences, {n_tokens:,} tokens; best of {args.runs}")
    print(f"bare HF tokenizer encode_batch (1 thread):  CPU {tok_cpu:7.2f} s  wall "
          f"{tok_wall:7.2f} s  {n_tokens / tok_cpu / 1e3:7.0f}k tokens/CPU-s")
    print(f"shards end to end (1 worker):               CPU {one_cpu:7.2f} s  wall "
          f"{one_wall:7.2f} s  {n_tokens / one_cpu / 1e3:7.0f}k tokens/CPU-s  "
          f"{mb / one_cpu:.2f} MB/CPU-s")
    print(f"shards on a 1-document input (start-up):    CPU {start_cpu:7.2f} s  wall "
          f"{start_wall:7.2f} s  ({start_cpu / one_cpu:.0%} of the run's CPU)")
    print(f"ratio shards / tokenizer speed, per core:   {tok_cpu / one_cpu:7.2f}x CPU  "
          f"({tok_wall / one_wall:.2f}x wall; target >= 1.0)")
    pairs = ", ".join(f"{t[0] / o[0]:.2f}x" for t, o in zip(tok_runs, one_runs, strict=True))
    print(f"each run's pair (tokenizer CPU / shards CPU):  {pairs}")
    if args.workers_too:
        two_cpu, two_wall = _timed(lambda: _cli(
            shards + ["--input", str(source), "--output", str(tmp / "two"),
                      "--direct_running_mode=multi_processing", "--direct_num_workers=2"]))
        print(f"shards, 2 worker processes:                 wall {two_wall:7.2f} s  "
              f"speed-up {one_wall / two_wall:.2f}x over 1 worker (wall)")


if __name__ == "__main__":
    main()
