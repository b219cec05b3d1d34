"""Cost of the progress lines: `shards` with them against `shards` without, same process.

The baseline swaps the progress side channel for no-ops (no per-count bookkeeping, no file
writes, no printing thread); the measured run is the CLI as shipped. Runs alternate and
the best of `--runs` each is compared (this machine is noisy). Target: < 2% slower.

Run: `python benchmarks/bench_progress.py [--runs 3] [--dupe-factor 5]`
(needs ../shared/corpora beside the checkout).
"""

from __future__ import annotations

import os

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("RAYON_NUM_THREADS", "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from unittest import mock  # noqa: E402

import pipeline.launch  # noqa: E402
from pipeline.cli import main as cli  # noqa: E402
from transforms.progress import PROCESS_PROGRESS  # noqa: E402

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
CORPUS = CORPORA / "en" / "enwiki_wikiextractor_wiki_00.txt"
VOCAB = CORPORA / "vocab" / "bert_base_uncased"


def _timed(argv: list[str], progress: bool) -> float:
    patches = contextlib.ExitStack()
    if not progress:
        patches.enter_context(mock.patch.object(pipeline.launch, "progress_lines",
                                                contextlib.nullcontext))
        patches.enter_context(mock.patch.object(PROCESS_PROGRESS, "add", lambda name, n: None))
        patches.enter_context(mock.patch.object(PROCESS_PROGRESS, "flush", lambda: None))
    with patches, open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        start = time.perf_counter()
        if cli(argv) != 0:
            sys.exit(f"failed: {argv}")
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dupe-factor", type=int, default=5)
    args = parser.parse_args()
    if not CORPUS.exists():
        sys.exit(f"{CORPUS} absent (../shared/corpora beside the checkout)")
    out = Path(tempfile.mkdtemp(prefix="bench-progress-"))
    argv = ["shards", "--input", str(CORPUS), "--vocab", str(VOCAB), "--lowercase",
            "--dupe-factor", str(args.dupe_factor), "--output", str(out), "--overwrite"]
    times: dict[bool, list[float]] = {False: [], True: []}
    try:
        for _ in range(args.runs):
            for progress in (False, True):
                times[progress].append(_timed(argv, progress))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    base, with_progress = min(times[False]), min(times[True])
    print(f"shards, enwiki, dupe {args.dupe_factor}, best of {args.runs}: "
          f"without progress {base:.2f} s, with progress {with_progress:.2f} s, "
          f"ratio {with_progress / base:.3f}")


if __name__ == "__main__":
    main()
