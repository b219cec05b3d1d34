"""How `shards` scales with the corpus: wall time, MB/s and peak memory at 1x / 4x / 12x.

A bigger corpus is made of *distinct* documents, not copies: copies would hit the encoder's
piece cache and the dedup stage would drop them. Variant 0 of each English document of
../shared/corpora (WikiExtractor enwiki sample + WikiText-2 test) is the document itself;
variant v > 0 shuffles its paragraphs (the title stays first) and misspells ~8% of its words
of five or more letters (two inner letters swapped), both from a `random.Random` seeded by
(variant, document), so the corpus is the same on every run and new words keep appearing as
it grows, as they do in a real corpus. `1x` is `--base-variants` variants (default 2, ~4.7 MB
of JSONL).

Each size runs `beam_runner.py shards` (nsp, span masking, seq 512, 1 worker, FnApiRunner)
in a child process, best of `--runs`; the child's peak RSS comes from `wait4`. Printed per
size: input MB, wall s, MB/s, output tokens, peak RSS, RSS bytes per output token; then the
ratios the targets are about: time 12x / 4x (linear: <= 3.3), MB/s at 12x, and the growth
of peak RSS per extra output token between 1x and 12x (target <= 12 bytes).

    python benchmarks/bench_scale.py [--sizes 1 4 12] [--runs 2] [--plot scale.png]
        [--workers N]   # extra: the same sizes with `--workers N`
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpora"
ENWIKI = SHARED / "en/enwiki_wikiextractor_wiki_00.txt"
WIKITEXT = SHARED / "en/wikitext2_raw_test_crlf_noblank.raw"
VOCAB = SHARED / "vocab/bert_base_uncased"
MISSPELL_SHARE = 0.08
_LONG_WORD = re.compile(r"[A-Za-z]{5,}")
_WIKITEXT_TITLE = re.compile(r"^ = [^=].* = $")


def base_documents() -> list[list[str]]:
    """The English documents as lists of paragraph lines, title first."""
    docs = []
    for block in re.findall(r"<doc [^>]*>\n(.*?)</doc>", ENWIKI.read_text(encoding="utf-8"),
                            flags=re.S):
        lines = [ln for ln in block.splitlines() if ln.strip()]
        if len(lines) > 1:
            docs.append(lines)
    current: list[str] = []
    for line in WIKITEXT.read_text(encoding="utf-8").replace("\r", "").splitlines():
        if _WIKITEXT_TITLE.match(line) and current:
            docs.append(current)
            current = []
        if line.strip():
            current.append(line)
    if current:
        docs.append(current)
    return docs


def _misspell(rng: random.Random):
    def swap(m: re.Match) -> str:
        word = m.group(0)
        if rng.random() >= MISSPELL_SHARE:
            return word
        i = rng.randrange(1, len(word) - 2)
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return swap


def variant(lines: list[str], v: int, d: int) -> str:
    """Variant `v` of document `d`: itself for v = 0, else shuffled and misspelled."""
    if v == 0:
        return "\n".join(lines)
    rng = random.Random(f"bench_scale:{v}:{d}")
    body = lines[1:]
    rng.shuffle(body)
    swap = _misspell(rng)
    return "\n".join([lines[0]] + [_LONG_WORD.sub(swap, ln) for ln in body])


def write_corpus(path: Path, n_variants: int, docs: list[list[str]]) -> int:
    """JSONL of `n_variants` variants of every document; returns its size in bytes."""
    with open(path, "w", encoding="utf-8") as f:
        for v in range(n_variants):
            for d, lines in enumerate(docs):
                f.write(json.dumps({"id": f"v{v}:d{d}", "text": variant(lines, v, d)},
                                   ensure_ascii=False) + "\n")
    return path.stat().st_size


@dataclass
class Run:
    wall: float
    peak_rss: int  # bytes
    tokens: int


def run_shards(corpus: Path, out: Path, extra: list[str]) -> Run:
    """One `shards` run in a child process: wall time, the child's peak RSS, output tokens."""
    argv = [sys.executable, str(ROOT / "beam_runner.py"), "shards", "--input", str(corpus),
            "--format", "jsonl", "--vocab", str(VOCAB), "--lowercase", "--task", "nsp",
            "--masking", "span", "--max-seq-length", "512", "--output", str(out),
            "--overwrite", *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false"}
    start = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"failed ({status}): {' '.join(argv)}\n{child.stderr.read().decode()[-3000:]}")
    child.stderr.close()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return Run(wall, usage.ru_maxrss * 1024, int(manifest["totals"]["tokens"]))


def plot(path: Path, rows: list[tuple[int, float, Run]]) -> None:
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
    fig.suptitle("bert-shards `shards` (nsp, span, 512) on distinct English documents")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 12])
    parser.add_argument("--base-variants", type=int, default=2)
    parser.add_argument("--runs", type=int, default=2, help="best of N per size")
    parser.add_argument("--workers", type=int, default=0,
                        help="also run every size with --workers N")
    parser.add_argument("--plot", type=Path, help="write the time/RSS plot (PNG) here")
    args = parser.parse_args()
    if not VOCAB.exists():
        sys.exit(f"skipped: {SHARED} not found (the benchmark reads ../shared/corpora)")
    tmp = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    docs = base_documents()
    configs = [("1 worker", [])]
    if args.workers:
        configs.append((f"--workers {args.workers}", ["--workers", str(args.workers)]))
    results: dict[str, list[tuple[int, float, Run]]] = {}
    for label, extra in configs:
        rows = []
        for size in args.sizes:
            corpus = tmp / f"corpus_{size}x.jsonl"
            if not corpus.exists():
                write_corpus(corpus, size * args.base_variants, docs)
            mb = corpus.stat().st_size / 1e6
            runs = [run_shards(corpus, tmp / "out", extra) for _ in range(args.runs)]
            best = Run(min(r.wall for r in runs), min(r.peak_rss for r in runs), runs[0].tokens)
            rows.append((size, mb, best))
        results[label] = rows
    print(f"\n`shards` (nsp, span, seq 512) on distinct English documents, best of {args.runs}; "
          f"1x = {args.base_variants} variants of {len(docs)} documents")
    for label, rows in results.items():
        print(f"\n{label}:")
        print(f"{'size':>5} {'MB':>7} {'wall s':>8} {'MB/s':>6} {'tokens':>11} {'peak RSS MB':>12} "
              f"{'RSS B/token':>12}")
        for size, mb, r in rows:
            print(f"{size:>4}x {mb:7.1f} {r.wall:8.2f} {mb / r.wall:6.2f} {r.tokens:>11,} "
                  f"{r.peak_rss / 1e6:12.0f} {r.peak_rss / r.tokens:12.1f}")
        by_size = {size: (mb, r) for size, mb, r in rows}
        if 4 in by_size and 12 in by_size:
            print(f"time 12x / 4x: {by_size[12][1].wall / by_size[4][1].wall:.2f} "
                  "(linear: 3.0; target <= 3.3)")
        if 12 in by_size:
            mb, r = by_size[12]
            print(f"throughput at 12x: {mb / r.wall:.2f} MB/s (target >= 1.36)")
        if 1 in by_size and 12 in by_size:
            (_, r1), (_, r12) = by_size[1], by_size[12]
            growth = (r12.peak_rss - r1.peak_rss) / (r12.tokens - r1.tokens)
            print(f"peak RSS growth 1x -> 12x: {growth:.1f} bytes per extra output token "
                  "(target <= 12)")
    if len(results) == 2:
        one, many = results.values()
        for (size, _, r1), (_, _, rn) in zip(one, many, strict=True):
            print(f"{size}x: --workers {args.workers} speed-up {r1.wall / rn.wall:.2f}x")
    if args.plot:
        plot(args.plot, results["1 worker"])
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
