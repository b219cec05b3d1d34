"""Helpers shared by the benchmark scripts (run as `python benchmarks/bench_*.py`, so this
directory is on sys.path)."""

from __future__ import annotations

import time


def best_of(repeat: int, fn):
    """(smallest wall time in seconds over `repeat` calls of fn, result of the last call)."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result
