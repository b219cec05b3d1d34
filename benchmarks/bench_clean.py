"""Front half of the pipeline (read -> clean -> language ID -> sentence split), CPU per MB,
this checkout against a baseline git revision, in one invocation.

    python benchmarks/bench_clean.py [--baseline REV] [--mb 10] [--languages en zh]
        [--runs 3] [--no-job]

Corpus: `--mb` MB of the variant corpus (`variant_corpus.write_corpus`, distinct documents)
per language, as JSONL. The baseline is `git archive REV` unpacked into a temporary
directory (REV defaults to e0c480e, the main of 2026-12-01 before this work).

Stages: each code tree is imported in a child process (`--child`), which times, with
`time.process_time`, `read_records` over the file, `clean_document` over the records,
`detect_language`, `dedup_key` and `split_sentences` over the kept documents; best of
`--runs` for each stage, the children of both trees alternating. The children also hash
what each stage produced, and the script stops if the two trees disagree (the speed-up must
not change a byte). Job: `beam_runner.py clean --format jsonl --no-near-dedup` of each tree
(one worker), user + system CPU of the child from `wait4`, best of `--runs`, and the cleaned
documents and summary compared. Printed: CPU-ms per input MB for both trees and
baseline / this (how many times cheaper this checkout is).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("read", "clean", "language", "dedup", "split")


def _child(code: Path, corpus: Path) -> None:
    """Time the stage functions of the tree `code` on `corpus`; print one JSON line."""
    sys.path.insert(0, str(code))
    from core.config import CleanConfig, ReadConfig
    from transforms.clean import clean_document
    from transforms.dedup import dedup_key
    from transforms.language import detect_language
    from transforms.read import read_records
    from transforms.sentences import split_sentences

    read_cfg, clean_cfg = ReadConfig(), CleanConfig()

    def read():
        with corpus.open("rb") as fh:
            return list(read_records(corpus.name, str(corpus), fh, read_cfg))

    def timed(fn):
        start = time.process_time()
        out = fn()
        return time.process_time() - start, out

    seconds, digests = {}, {}
    t, docs = timed(read)
    seconds["read"], digests["read"] = t, _digest(repr(d) for d in docs)
    t, results = timed(lambda: [clean_document(d, clean_cfg) for d in docs])
    seconds["clean"], digests["clean"] = t, _digest(repr(r) for r in results)
    kept = [r[0] for r in results if r[0] is not None]
    t, langs = timed(lambda: [detect_language(d.text) for d in kept])
    seconds["language"], digests["language"] = t, _digest(langs)
    t, keys = timed(lambda: [dedup_key(d.text) for d in kept])
    seconds["dedup"], digests["dedup"] = t, _digest(k.hex() for k in keys)
    t, sentences = timed(lambda: [split_sentences(d.text, d.presplit) for d in kept])
    seconds["split"], digests["split"] = t, _digest("\n".join(s) for s in sentences)
    print(json.dumps({"seconds": seconds, "digests": digests}))


def _digest(parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def _stage_run(code: Path, corpus: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(code), str(corpus)],
                         check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(code)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def _job_run(code: Path, corpus: Path, out: Path) -> float:
    """CPU seconds of one `clean` job of the tree `code` (child and what it reaped)."""
    argv = [sys.executable, str(code / "beam_runner.py"), "clean", "--input", str(corpus),
            "--format", "jsonl", "--no-near-dedup", "--output", str(out), "--overwrite"]
    env = {**os.environ, "PYTHONPATH": str(code)}
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    err = child.stderr.read().decode()
    child.stderr.close()
    if status != 0:
        sys.exit(f"failed ({status}): {' '.join(argv)}\n{err[-3000:]}")
    return usage.ru_utime + usage.ru_stime


def _job_output(out: Path) -> str:
    """A digest of the cleaned documents, rejects and counts a `clean` job wrote."""
    h = hashlib.sha256()
    for path in sorted(out.glob("documents-*")) + sorted(out.glob("rejects-*")):
        h.update(path.name.encode() + path.read_bytes())
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    h.update(json.dumps(summary.get("counts", summary), sort_keys=True).encode())
    return h.hexdigest()


def _baseline_tree(rev: str, tmp: Path) -> Path:
    tree = tmp / "baseline"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="e0c480e", help="git revision to compare with")
    ap.add_argument("--mb", type=float, default=10)
    ap.add_argument("--languages", nargs="+", default=["en", "zh"], choices=["en", "zh"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-job", action="store_true", help="time the stage functions only")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from variant_corpus import write_corpus

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        trees = {"baseline": _baseline_tree(args.baseline, tmp), "this": ROOT}
        for language in args.languages:
            corpus = write_corpus(language, args.mb, tmp)
            mb = corpus.stat().st_size / 1e6
            best = {name: dict.fromkeys(STAGES, float("inf")) for name in trees}
            digests = {}
            for _ in range(args.runs):
                for name, tree in trees.items():
                    run = _stage_run(tree, corpus)
                    digests[name] = run["digests"]
                    for stage in STAGES:
                        best[name][stage] = min(best[name][stage], run["seconds"][stage])
            for stage in STAGES:
                if digests["baseline"][stage] != digests["this"][stage]:
                    sys.exit(f"{language}: stage {stage} output differs from the baseline")
            print(f"{language}: {mb:.1f} MB, stage functions, CPU-ms per MB, best of {args.runs}"
                  f" (baseline {args.baseline})")
            total = {name: sum(best[name].values()) for name in trees}
            for stage in (*STAGES, "total"):
                base = total["baseline"] if stage == "total" else best["baseline"][stage]
                this = total["this"] if stage == "total" else best["this"][stage]
                print(f"  {stage:9s} baseline {base / mb * 1e3:7.1f}  this {this / mb * 1e3:7.1f}"
                      f"  {base / this:5.2f}x cheaper")
            if args.no_job:
                continue
            job = {name: float("inf") for name in trees}
            outputs = {}
            for _ in range(args.runs):
                for name, tree in trees.items():
                    out = tmp / f"out-{name}"
                    job[name] = min(job[name], _job_run(tree, corpus, out))
                    outputs[name] = _job_output(out)
            if outputs["baseline"] != outputs["this"]:
                sys.exit(f"{language}: the clean job's output differs from the baseline")
            print(f"  clean job baseline {job['baseline'] / mb * 1e3:7.1f}  this "
                  f"{job['this'] / mb * 1e3:7.1f}  {job['baseline'] / job['this']:5.2f}x cheaper"
                  f"  (CPU-ms per MB, whole run incl. start-up)")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
