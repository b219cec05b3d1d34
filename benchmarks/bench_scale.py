"""How `shards` (or `all`) scales with the corpus: wall time, MB/s and peak RSS at 1x / 4x / 12x.

A bigger corpus is made of *distinct* documents, not copies (copies would hit the encoder's
piece cache and be dropped by dedup): `variant_corpus.write_corpus("en", ...)` respells the
rare words and rotates the paragraphs of the English documents of ../shared/corpora per
variant. `1x` is `--base-mb` MB of JSONL (default 4, so 12x is 48 MB).

Each size runs `beam_runner.py shards` (nsp, span masking, seq 512, FnApiRunner) in a child
process, best of `--runs`, the configurations interleaved run by run; the child's peak RSS
and CPU time come from `wait4` (with `--workers`, CPU time adds the worker processes it
reaped, and the peak is the largest one).
Printed per size: input MB, wall s, MB/s, CPU s and MB per CPU-second (for one worker, the
wall figure of an idle machine, robust to other load), output tokens, peak RSS and RSS bytes
per output token; then what the targets are about: time 12x / 4x (linear: 3.0, target
<= 3.3), MB/s at 12x (target >= 1.36), and the growth of peak RSS per extra output token
between 1x and 12x (target <= 12 bytes).

A `--workers N` speed-up is fixed start-up (~1 s here: imports, graph, the first stage's
set-up, the same in both modes) plus N-way stages, so it grows with the corpus: the
README quotes it at 40 MB (20x of 2 MB), the corpus size the per-core target uses.

`--job all` runs `all` instead (clean + vocab + shards; its own vocab), for the peak RSS of
the vocab job's extra stages (the targets above are about `shards`).

    python benchmarks/bench_scale.py [--sizes 1 4 12] [--runs 2] [--plot scale.png]
        [--workers N]   # also each size with `--workers N`, and the speed-up
        [--job all] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from common import scratch_dir  # noqa: E402
from variant_corpus import SHARED, write_corpus

ROOT = Path(__file__).resolve().parents[1]
VOCAB = SHARED / "vocab/bert_base_uncased"


@dataclass
class Run:
    wall: float
    cpu: float  # user + system seconds of the child and the processes it reaped
    peak_rss: int  # bytes
    tokens: int


def run_job(corpus: Path, out: Path, extra: list[str], code: Path = ROOT, job: str = "shards"
            ) -> Run:
    """One `shards` (bert-base-uncased vocab) or `all` (its own vocab) run of the checkout
    `code` in a child process: wall time, the child's peak RSS, output tokens."""
    vocab = ["--vocab", str(VOCAB), "--lowercase"] if job == "shards" else []
    argv = [sys.executable, str(code / "beam_runner.py"), job, "--input", str(corpus),
            "--format", "jsonl", *vocab, "--task", "nsp",
            "--masking", "span", "--max-seq-length", "512", "--output", str(out),
            "--overwrite", *extra]
    # Variants are near-duplicates by construction; checkouts older than the flag lack it.
    if "no-near-dedup" in (code / "pipeline" / "cli.py").read_text(encoding="utf-8"):
        argv.append("--no-near-dedup")
    env = {**os.environ, "PYTHONPATH": str(code), "TOKENIZERS_PARALLELISM": "false"}
    start = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"failed ({status}): {' '.join(argv)}\n{child.stderr.read().decode()[-3000:]}")
    child.stderr.close()
    shard_dir = out if job == "shards" else out / "shards"
    manifest = json.loads((shard_dir / "manifest.json").read_text(encoding="utf-8"))
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024,
               int(manifest["totals"]["tokens"]))


def plot(path: Path, rows: list[tuple[int, float, Run]], job: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mb = [r[1] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    ax1.plot(mb, [r[2].wall for r in rows], "o-")
    ax1.set_xlabel("input JSONL (MB)")
    ax1.set_ylabel("wall time (s), 1 worker")
    ax1.grid(alpha=0.3)
    ax2.plot(mb, [r[2].peak_rss / 1e9 for r in rows], "o-", color="C1")
    ax2.set_xlabel("input JSONL (MB)")
    ax2.set_ylabel("peak RSS (GB)")
    ax2.grid(alpha=0.3)
    fig.suptitle(f"bert-shards `{job}` (nsp, span, 512) on distinct English documents")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 12])
    parser.add_argument("--base-mb", type=float, default=4.0, help="size of 1x")
    parser.add_argument("--runs", type=int, default=2, help="best of N per size")
    parser.add_argument("--workers", type=int, default=0,
                        help="also run every size with --workers N")
    parser.add_argument("--baseline", type=Path,
                        help="also run every size with the checkout at this path (1 worker)")
    parser.add_argument("--plot", type=Path, help="write the time/RSS plot (PNG) here")
    parser.add_argument("--job", choices=("shards", "all"), default="shards",
                        help="all: clean + vocab + shards, its peak RSS and time")
    args = parser.parse_args()
    if not VOCAB.exists():
        sys.exit(f"skipped: {SHARED} not found (the benchmark reads ../shared/corpora)")
    tmp = scratch_dir("bench_scale_")
    configs = [("1 worker", [], ROOT)]
    if args.baseline:
        configs.append((f"baseline {args.baseline}", [], args.baseline.resolve()))
    if args.workers:
        configs.append((f"--workers {args.workers}", ["--workers", str(args.workers)], ROOT))
    results: dict[str, list[tuple[int, float, Run]]] = {label: [] for label, _, _ in configs}
    corpora = {size: write_corpus("en", size * args.base_mb, tmp) for size in args.sizes}
    for size in args.sizes:
        corpus = corpora[size]
        mb = corpus.stat().st_size / 1e6
        # Interleaved (each run of every config, then the next run): a slow spell of this
        # noisy machine then costs every config alike instead of one config's best-of.
        runs: dict[str, list[Run]] = {label: [] for label, _, _ in configs}
        for _ in range(args.runs):
            for label, extra, code in configs:
                runs[label].append(run_job(corpus, tmp / "out", extra, code, args.job))
        for label, done in runs.items():
            best = Run(min(r.wall for r in done), min(r.cpu for r in done),
                       min(r.peak_rss for r in done), done[0].tokens)
            results[label].append((size, mb, best))
    def target(text: str) -> str:
        """The issue's targets are about `shards`; `--job all` prints none."""
        return text if args.job == "shards" else ""

    print(f"\n`{args.job}` (nsp, span, seq 512) on distinct English documents, best of "
          f"{args.runs}; 1x = {args.base_mb:g} MB of JSONL")
    for label, rows in results.items():
        print(f"\n{label}:")
        print(f"{'size':>5} {'MB':>7} {'wall s':>8} {'MB/s':>6} {'cpu s':>8} {'MB/cpu-s':>8} "
              f"{'tokens':>11} {'peak RSS MB':>12} {'RSS B/token':>12}")
        for size, mb, r in rows:
            print(f"{size:>4}x {mb:7.1f} {r.wall:8.2f} {mb / r.wall:6.2f} {r.cpu:8.2f} "
                  f"{mb / r.cpu:8.2f} {r.tokens:>11,} {r.peak_rss / 1e6:12.0f} "
                  f"{r.peak_rss / r.tokens:12.1f}")
        by_size = {size: (mb, r) for size, mb, r in rows}
        if 4 in by_size and 12 in by_size:
            (_, r4), (_, r12) = by_size[4], by_size[12]
            print(f"time 12x / 4x: wall {r12.wall / r4.wall:.2f}, cpu {r12.cpu / r4.cpu:.2f} "
                  f"(linear: 3.0{target('; target <= 3.3')})")
        if 12 in by_size:
            mb, r = by_size[12]
            print(f"throughput at 12x: {mb / r.wall:.2f} MB/s wall, {mb / r.cpu:.2f} MB per "
                  f"cpu-second{target(' (target >= 1.36 MB/s)')}")
        lo = min(by_size)
        for hi in sorted({12, max(by_size)}.intersection(by_size) - {lo}):
            (_, r_lo), (_, r_hi) = by_size[lo], by_size[hi]
            growth = (r_hi.peak_rss - r_lo.peak_rss) / (r_hi.tokens - r_lo.tokens)
            print(f"peak RSS growth {lo}x -> {hi}x: {growth:.1f} bytes per extra output token "
                  f"{target('(target <= 12, 1x -> 12x)')}")
    one = results["1 worker"]
    for label, rows in results.items():
        if label == "1 worker":
            continue
        for (size, _, r1), (_, _, r) in zip(one, rows, strict=True):
            target = "; target >= 1.6 on 2 cores" if label == "--workers 2" else ""
            print(f"{size}x: {label}: wall {r.wall / r1.wall:.2f}x of 1 worker's "
                  f"(speed-up {r1.wall / r.wall:.2f}x{target}), "
                  f"peak RSS {r.peak_rss / r1.peak_rss:.2f}x")
    if args.plot:
        plot(args.plot, results["1 worker"], args.job)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
