"""Start-up CPU of a `--workers N` worker process: Beam's entry point against ours.

A worker process spends its first seconds importing: `python -m
apache_beam.runners.worker.sdk_worker_main` imports all of `apache_beam`, with every optional
integration installed; `pipeline.worker_main` first marks the unused ones missing
(`SKIPPED_MODULES`). Each child process here imports what a worker imports before its first
bundle (Beam's SDK worker, and the modules of our DoFns), with or without the skip, the two
alternating; printed: best CPU seconds (user + sys, from `wait4`) of each, and the ratio.

    python benchmarks/bench_worker_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.worker_zygote import PRELOAD  # noqa: E402

IMPORTS = "import " + ", ".join(PRELOAD)
SKIP = "import pipeline.worker_main as w; w.skip_optional_imports(); "


def cpu_of(code: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", code], env=env)
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        sys.exit(f"failed: {code}")
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="best of N")
    args = parser.parse_args()
    beam, ours = [], []
    for _ in range(args.runs):
        beam.append(cpu_of(IMPORTS))
        ours.append(cpu_of(SKIP + IMPORTS))
    print(f"a worker's imports (the zygote's PRELOAD), best of {args.runs} (CPU s): all of "
          f"Beam {min(beam):.2f}, with SKIPPED_MODULES skipped {min(ours):.2f} (what the "
          f"zygote, or a worker without one, imports); ratio {min(ours) / min(beam):.2f}")


if __name__ == "__main__":
    main()
