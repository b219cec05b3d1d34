"""What a vocab costs: `vocab` vs the bare trainer, and `all` vs `shards`, on one corpus.

Targets: `vocab` takes at most 1.5x the wall time of the bare
`BertWordPieceTokenizer.train` on the same file, and `all` (clean + vocab + shards in one
pipeline) at most 1.3x `shards` given that vocab. The corpus is `--mb` MB of distinct
English (or `--lang zh` Chinese) documents (`variant_corpus.py`), JSONL; the bare trainer
reads the same file (JSON syntax included, which only helps it). Each command runs in this
process (one in-memory FnApiRunner worker; the bare trainer uses its own Rust threads),
interleaved, best of `--runs`, after one warm-up `clean` that keeps module imports out.

The bare trainer runs on every core (tokenizers' default) while `vocab` runs one worker, so
the script also times `vocab --workers N`, N = this machine's cores (CPU time includes its
worker processes), and prints its wall time against the bare trainer's: the two on the same
cores.

Like with like: the bare trainer neither parses JSON nor cleans, deduplicates or splits
sentences, while `vocab` does all of that before counting. So the script also times the
`clean` subcommand (that work, plus writing the cleaned documents) and the bare trainer on
the *cleaned* sentences (one per line, from that `clean` run), and prints
`(vocab - clean) / bare on cleaned text`: what our counting and training cost against the
bare trainer's own counting and training of the same text.

The floor of `all` - `shards`: `tokenizers` has no API to train from counted words, so
`all` must hand the trainer every counted word occurrence again (the re-feed) and then run
its merges, on one Rust thread as in the pipeline (vocab/rust_threads.py). The script times
`train_wordpiece` on the cleaned sentences' counts at vocab size 1 (the re-feed and the
trainer's set-up: alphabet, word splits, pair counts; no merge is made) and at full size (the
difference is the merge loop), and prints the full one as a multiple of `shards`: while it
is above 0.3, `all` / `shards` cannot reach 1.3 with this trainer, whatever the pipeline does
around it.

    python benchmarks/bench_all.py [--mb 8] [--runs 3] [--lang en]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import zstandard  # noqa: E402
from common import scratch_dir  # noqa: E402
from tokenizers import BertWordPieceTokenizer  # noqa: E402
from variant_corpus import SHARED, write_corpus  # noqa: E402

from core.special_tokens import SPECIAL_TOKEN_LIST  # noqa: E402
from pipeline.cli import main as cli_main  # noqa: E402
from vocab.pretokenize import BertWordSplitter  # noqa: E402
from vocab.rust_threads import PARALLELISM_ENV  # noqa: E402
from vocab.train import train_wordpiece  # noqa: E402


def _cli(*argv: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        if cli_main(list(argv)) != 0:
            sys.exit(f"failed: {argv}")


def _write_sentences(clean_dir: Path, out: Path) -> int:
    """The cleaned documents' sentences, one per line, into `out`; returns how many."""
    n = 0
    with open(out, "w", encoding="utf-8") as dst:
        for path in sorted(clean_dir.glob("documents-*.jsonl.zst")):
            with open(path, "rb") as f:
                raw = zstandard.ZstdDecompressor().stream_reader(f).read()
            for line in raw.decode("utf-8").splitlines():
                for sentence in json.loads(line)["sentences"]:
                    dst.write(sentence + "\n")
                    n += 1
    return n


def _cpu() -> float:
    """This process's CPU time plus that of its reaped children: with `--workers`, the
    zygote (its imports included) and the worker processes it forked and waited for."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), _cpu()
    fn()
    return time.perf_counter() - wall, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=8.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lang", choices=("en", "zh"), default="en")
    args = parser.parse_args()
    if not SHARED.exists():
        sys.exit(f"{SHARED} absent: this benchmark reads ../shared/corpora")
    tmp = scratch_dir("bench_all_")
    corpus = str(write_corpus(args.lang, args.mb, tmp))
    # variants of the same articles are near-duplicates by construction: near-dedup off
    read = ["--input", corpus, "--format", "jsonl", "--no-near-dedup"]
    shard_args = ["--task", "nsp", "--masking", "span", "--max-seq-length", "512"]
    size = dict(vocab_size=30522, min_frequency=2, limit_alphabet=1000)

    cleaned = tmp / "cleaned.txt"

    def bare(path: str):
        def run() -> None:
            # The bare trainer as a user runs it, on all cores: our DoFns turn tokenizers'
            # parallelism off in this process (vocab/rust_threads.py) unless it is set.
            os.environ.pop(PARALLELISM_ENV, None)
            BertWordPieceTokenizer(lowercase=True).train([path], show_progress=False, **size)
        return run

    def clean() -> None:
        _cli("clean", *read, "--output", str(tmp / "clean"), "--overwrite")

    def vocab(*extra: str):
        def run() -> None:
            out = tempfile.mkdtemp(dir=tmp, prefix="vocab_")  # `vocab` never overwrites
            _cli("vocab", *read, "--output", out, *extra)
        return run

    def everything() -> None:
        _cli("all", *read, *shard_args, "--output", str(tmp / "all"), "--overwrite")

    def shards() -> None:
        _cli("shards", *read, *shard_args, "--vocab", str(tmp / "all" / "vocab"),
             "--output", str(tmp / "shards"), "--overwrite")

    clean()  # imports, once; and the cleaned sentences for the like-with-like baseline
    n_sentences = _write_sentences(tmp / "clean", cleaned)
    everything()  # the vocab `shards` uses
    counts = BertWordSplitter(lowercase=True).count(
        cleaned.read_text(encoding="utf-8").splitlines())

    def train(vocab_size: int):
        def run() -> None:
            os.environ[PARALLELISM_ENV] = "false"  # one Rust thread, as in the pipeline
            train_wordpiece(counts, vocab_size=vocab_size, min_frequency=size["min_frequency"],
                            limit_alphabet=size["limit_alphabet"], special=SPECIAL_TOKEN_LIST)
        return run

    cores = os.cpu_count() or 1
    steps = {"bare trainer": bare(corpus), "bare trainer, cleaned text": bare(str(cleaned)),
             "clean": clean, "vocab": vocab(), f"vocab --workers {cores}": vocab(
                 "--workers", str(cores)),
             "all": everything, "shards": shards,
             "re-feed + set-up (no merge loop)": train(1),
             "train_wordpiece on the counts": train(size["vocab_size"])}
    wall = dict.fromkeys(steps, float("inf"))
    cpu = dict.fromkeys(steps, float("inf"))
    for _ in range(args.runs):
        for label, fn in steps.items():
            w, c = _timed(fn)
            wall[label], cpu[label] = min(wall[label], w), min(cpu[label], c)
    language = {"en": "English", "zh": "Chinese"}[args.lang]
    print(f"{Path(corpus).stat().st_size / 1e6:.1f} MB of distinct {language} JSONL "
          f"({n_sentences:,} cleaned sentences), best of {args.runs}")
    for label in steps:
        print(f"  {label:<36} wall {wall[label]:7.2f} s   cpu {cpu[label]:7.2f} s")
    for name, t in (("wall", wall), ("cpu", cpu)):
        bare_raw, bare_clean = t["bare trainer"], t["bare trainer, cleaned text"]
        print(f"{name}: vocab / bare BertWordPieceTokenizer.train: "
              f"{t['vocab'] / bare_raw:.2f}x (target <= 1.5); clean alone "
              f"{t['clean'] / bare_raw:.2f}x; (vocab - clean) / bare on cleaned text "
              f"{(t['vocab'] - t['clean']) / bare_clean:.2f}x")
        print(f"{name}: all / shards (with all's vocab): {t['all'] / t['shards']:.2f}x "
              "(target <= 1.3)")
    print(f"wall, both on this machine's {cores} cores: vocab --workers {cores} / bare trainer: "
          f"{wall[f'vocab --workers {cores}'] / wall['bare trainer']:.2f}x (target <= 1.5)")
    feed = round(cpu["re-feed + set-up (no merge loop)"], 2)
    trained = round(cpu["train_wordpiece on the counts"], 2)
    print(f"floor of all - shards with tokenizers' trainer (cpu, one Rust thread): re-feed and "
          f"set-up {feed:.2f} + merge loop {trained - feed:.2f} = {trained:.2f} s = "
          f"{trained / cpu['shards']:.2f}x shards (all / shards <= 1.3 leaves 0.3x for "
          "counting, re-feed and merges together)")


if __name__ == "__main__":
    main()
