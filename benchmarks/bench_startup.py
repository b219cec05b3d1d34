"""Start-up cost of a job: `shards` (and `vocab`, `all`) on a 1-document input, against a
baseline checkout, plus the size of each job's graph.

A 1-document run is nearly all fixed cost: building the graph (Beam inspects every DoFn's
signature and re-parses the options for each applied transform), translating it, and
setting up each fused stage. Each checkout runs in its own child process (PYTHONPATH = that
checkout), the two alternating; a child runs the job once to warm up (imports, caches) and
then `--repeat` times, and reports its best CPU time (process time) per job. Printed per
job: leaf transforms and ParDos in the graph, best CPU s of each checkout, and the ratio
(baseline / this). The `cold` row is what a fresh `beam_runner.py` process pays: the child's
CPU from its start through its first job (interpreter, imports, one run), best of `--runs`.

    python benchmarks/bench_startup.py --baseline-src /path/to/main [--runs 3] [--repeat 3]
        [--jobs shards vocab all]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpora"
JOBS = ("shards", "vocab", "all")
DOCUMENT = {"id": "one", "text": (
    "The pipeline reads raw text and writes training shards. It cleans each document first. "
    "Then it splits the sentences, and a tokenizer turns them into word pieces.\n"
    "A second paragraph follows here. It holds a few more sentences of plain English text. "
    "Nothing in it is special, which is the point of a start-up benchmark.")}


def _argv(job: str, tmp: Path, vocab_dir: Path) -> list[str]:
    common = ["--input", str(tmp / "one.jsonl"), "--format", "jsonl", "--no-near-dedup",
              "--overwrite", "--runner", "FnApiRunner", "--output", str(tmp / job)]
    if job == "vocab":
        return ["vocab", *common, "--vocab-size", "200"]
    shard_args = ["--max-seq-length", "128", "--task", "nsp", "--masking", "token"]
    if job == "all":
        return ["all", *common, "--vocab-size", "200", *shard_args]
    return ["shards", *common, "--vocab", str(vocab_dir), "--lowercase", *shard_args]


def _graph_size(job: str, argv: list[str]) -> tuple[int, int]:
    """(leaf transforms, ParDos) of the job's graph, built and not run."""
    import apache_beam as beam

    from core.config import VocabJobConfig
    from pipeline.cli import build_parser, clean_config, read_config, shards_config, vocab_config

    args, _ = build_parser().parse_known_args(argv)
    p = beam.Pipeline()
    if job == "shards":
        from pipeline.shards_pipeline import build_shards

        build_shards(p, shards_config(args, vocab_dir=args.vocab), spill_dir="unused")
    elif job == "all":
        from pipeline.shards_pipeline import build_all

        build_all(p, shards_config(args, vocab=vocab_config(args)), spill_dir="unused")
    else:
        from pipeline.vocab_pipeline import build_vocab

        build_vocab(p, VocabJobConfig(read_config(args), clean_config(args),
                                      vocab_config(args), args.output, False), "unused")
    leaves: list = []

    class _Leaves(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node) -> None:
            leaves.append(node.transform)

    p.visit(_Leaves())
    return len(leaves), sum(isinstance(t, beam.ParDo) for t in leaves)


def _child(args) -> None:
    """Runs in the checkout on sys.path; prints {job: [leaves, pardos, best CPU s]} as JSON."""
    from pipeline.cli import main as cli

    tmp = Path(args.tmp)
    result = {}
    cold = None
    for job in args.jobs:
        argv = _argv(job, tmp, SHARED / "vocab" / "bert_base_uncased")
        times = []
        for _ in range(args.repeat + 1):  # the first run warms up imports and caches
            start = time.process_time()
            with contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                if cli(argv) != 0:
                    sys.exit(f"failed: {argv}")
            times.append(time.process_time() - start)
            if cold is None:
                cold = time.process_time()  # since the process started
        result[job] = [*_graph_size(job, argv), min(times[1:])]
    print(json.dumps({"jobs": result, "cold": cold}))


def _run_child(src: Path, tmp: Path, args) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src))
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", "--tmp", str(tmp),
            "--repeat", str(args.repeat), "--jobs", *args.jobs]
    out = subprocess.run(argv, env=env, cwd=src, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline-src", type=Path, help="checkout to compare against")
    parser.add_argument("--runs", type=int, default=3, help="child processes per checkout")
    parser.add_argument("--repeat", type=int, default=3, help="timed jobs per child")
    parser.add_argument("--jobs", nargs="+", choices=JOBS, default=["shards"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    if not SHARED.exists():
        sys.exit(f"skipped: {SHARED} not found (the benchmark reads ../shared/corpora)")
    tmp = Path(tempfile.mkdtemp(prefix="bench_startup_"))
    (tmp / "one.jsonl").write_text(json.dumps(DOCUMENT) + "\n", encoding="utf-8")
    checkouts = {"this": ROOT} | ({"baseline": args.baseline_src} if args.baseline_src else {})
    best: dict[str, dict] = {}
    cold: dict[str, float] = {}
    for _ in range(args.runs):
        for name, src in checkouts.items():
            child = _run_child(src, tmp, args)
            cold[name] = min(cold.get(name, child["cold"]), child["cold"])
            for job, (leaves, pardos, cpu) in child["jobs"].items():
                old = best.setdefault(name, {}).get(job)
                best[name][job] = (leaves, pardos, cpu if old is None else min(cpu, old[2]))
    print(f"1-document jobs, best of {args.runs} x {args.repeat} per checkout (CPU s)")
    print(f"{'job':7} {'graph (leaves/ParDos)':>24} {'baseline s':>11} {'this s':>8} "
          f"{'speed-up':>9}")
    for job in args.jobs:
        leaves, pardos, cpu = best["this"][job]
        graph = f"{leaves}/{pardos}"
        if "baseline" in best:
            b_leaves, b_pardos, b_cpu = best["baseline"][job]
            print(f"{job:7} {f'{b_leaves}/{b_pardos} -> {graph}':>24} {b_cpu:11.2f} {cpu:8.2f} "
                  f"{b_cpu / cpu:8.2f}x")
        else:
            print(f"{job:7} {graph:>24} {'':>11} {cpu:8.2f}")
    label = f"cold {args.jobs[0]} (new process)"
    if "baseline" in cold:
        print(f"{label:32} {cold['baseline']:11.2f} {cold['this']:8.2f} "
              f"{cold['baseline'] / cold['this']:8.2f}x")
    else:
        print(f"{label:32} {'':>11} {cold['this']:8.2f}")


if __name__ == "__main__":
    main()
