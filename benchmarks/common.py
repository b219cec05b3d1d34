"""Helpers shared by the benchmark scripts (run as `python benchmarks/bench_*.py`, so this
directory is on sys.path)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import time
from pathlib import Path


def best_of(repeat: int, fn, clock=time.perf_counter):
    """(smallest time in seconds over `repeat` calls of fn, result of the last call); wall
    time unless `clock` says otherwise (`time.process_time` for CPU time)."""
    times, result = [], None
    for _ in range(repeat):
        start = clock()
        result = fn()
        times.append(clock() - start)
    return min(times), result


def scratch_dir(prefix: str) -> Path:
    """A new temporary directory, removed when the script exits: the corpora and outputs of a
    40 MB benchmark run take hundreds of MB, which must not pile up in /tmp run after run."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, True)
    return path
