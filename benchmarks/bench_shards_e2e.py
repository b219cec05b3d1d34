"""End-to-end `shards` speed against the bare Hugging Face tokenizer on the same sentences.

The project's speed target: `shards` (read -> clean -> tokenize -> pack -> mask -> write)
runs at least as fast per core as `tokenizers.Tokenizer.encode_batch` alone on the cleaned
sentences. Both run in this one
process, one core each (TOKENIZERS_PARALLELISM=false, in-memory FnApiRunner, 1 worker), so
the printed ratio is robust to a noisy machine; the 2-worker run gives the scaling figure.

Run: `python benchmarks/bench_shards_e2e.py [--corpus zh|en] [--workers-too]`
(needs ../shared/corpora beside the checkout).
"""

from __future__ import annotations

import os

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("RAYON_NUM_THREADS", "1")

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import zstandard  # noqa: E402
from tokenizers import BertWordPieceTokenizer  # noqa: E402

from pipeline.cli import main as cli  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora"
CORPORA = {
    "zh": (SHARED / "zh/thucnews_cnews_val_1000.tsv", SHARED / "vocab/bert_base_chinese", False),
    "en": (SHARED / "en/enwiki_wikiextractor_wiki_00.txt", SHARED / "vocab/bert_base_uncased",
           True),
}


def _input_file(corpus: str, tmp: Path, repeat: int) -> tuple[Path, str]:
    """The corpus as a file `shards` reads; `repeat` > 1 copies it under new ids (run with
    --no-dedup) to measure the steady state, where start-up costs no longer dominate."""
    source, _, _ = CORPORA[corpus]
    if corpus == "en" and repeat == 1:
        return source, "wikiextractor"
    if corpus == "en":
        sys.exit("--repeat is only implemented for the zh corpus")
    out = tmp / "thucnews.jsonl"
    with open(source, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as g:
        lines = f.readlines()
        for copy in range(repeat):
            for n, line in enumerate(lines):
                _, text = line.rstrip("\n").split("\t", 1)
                record = {"id": f"thucnews:{copy}:{n}", "text": text}
                g.write(json.dumps(record, ensure_ascii=False) + "\n")
    return out, "jsonl"


def _sentences(clean_dir: Path) -> list[str]:
    out = []
    for path in sorted(clean_dir.glob("documents-*.jsonl.zst")):
        with open(path, "rb") as f:
            raw = zstandard.ZstdDecompressor().stream_reader(f).read()
        for line in io.StringIO(raw.decode("utf-8")):
            out.extend(json.loads(line)["sentences"])
    return out


def _timed(argv: list[str]) -> float:
    start = time.perf_counter()
    if cli(argv) != 0:
        sys.exit(f"failed: {argv}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="zh")
    parser.add_argument("--workers-too", action="store_true", help="also time 2 worker processes")
    parser.add_argument("--repeat", type=int, default=1,
                        help="copies of the zh corpus under new ids (dedup off), for steady state")
    args = parser.parse_args()
    _, vocab_dir, lowercase = CORPORA[args.corpus]
    if not vocab_dir.exists():
        sys.exit(f"skipped: {SHARED} not found (the benchmark reads ../shared/corpora)")
    tmp = Path(tempfile.mkdtemp(prefix="bench_e2e_"))
    source, fmt = _input_file(args.corpus, tmp, args.repeat)
    dedup = ["--no-dedup"] if args.repeat > 1 else []
    clean_dir = tmp / "clean"
    _timed(["clean", "--input", str(source), "--format", fmt, "--output", str(clean_dir)] + dedup)
    sentences = _sentences(clean_dir)

    tokenizer = BertWordPieceTokenizer(str(vocab_dir / "vocab.txt"), lowercase=lowercase)
    start = time.perf_counter()
    encodings = tokenizer.encode_batch(sentences, add_special_tokens=False)
    t_tok = time.perf_counter() - start
    n_tokens = sum(len(e.ids) for e in encodings)

    case = "--lowercase" if lowercase else "--no-lowercase"
    shards = ["shards", "--input", str(source), "--format", fmt, "--vocab", str(vocab_dir), case,
              "--max-seq-length", "512", "--task", "nsp", "--masking", "token"] + dedup
    cli(shards + ["--output", str(tmp / "warmup"), "--runner", "FnApiRunner"])  # imports, caches
    t_one = _timed(shards + ["--output", str(tmp / "one"), "--runner", "FnApiRunner"])

    print(f"\ncorpus {args.corpus}: {len(sentences):,} sentences, {n_tokens:,} tokens")
    print(f"bare HF tokenizer encode_batch (1 thread):  {t_tok:7.2f} s  "
          f"{n_tokens / t_tok / 1e3:8.0f}k tokens/s")
    print(f"shards end to end (1 worker):               {t_one:7.2f} s  "
          f"{n_tokens / t_one / 1e3:8.0f}k tokens/s")
    print(f"ratio shards / tokenizer speed:             {t_tok / t_one:7.2f}x "
          f"(target >= 1.0)")
    if args.workers_too:
        t_two = _timed(shards + ["--output", str(tmp / "two"), "--runner", "FnApiRunner",
                                 "--direct_running_mode=multi_processing",
                                 "--direct_num_workers=2"])
        print(f"shards, 2 worker processes:                 {t_two:7.2f} s  "
              f"speed-up {t_one / t_two:.2f}x over 1 worker")


if __name__ == "__main__":
    main()
