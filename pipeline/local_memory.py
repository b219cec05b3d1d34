"""Let a local run hand freed memory back to the OS, so its peak RSS is the largest stage's.

FnApiRunner runs the stages one after another in RAM: each shuffle is built, read and
dropped. glibc's malloc raises its mmap threshold dynamically after large frees, so the
buffers of later stages come from the heap, whose freed pages are rarely returned; the peak
RSS then grows with every stage instead of being the largest one. A fixed threshold keeps
allocations >= 64 KB (shuffle batches, token arrays) in their own mappings, which `free`
unmaps at once. Measured with benchmarks/bench_scale.py (README "Corpus scale and memory").

The launching process sets it with `mallopt`; worker processes (`--workers N`) inherit the
same setting through glibc's environment variables. Elsewhere (macOS, musl) nothing changes.

`release_finished_stages` frees what a finished stage still holds. Beam's SDK worker keeps
the bundle processor of every stage it ran for reuse, and drops it only after 60 s idle:
its DoFns (the encoder's piece cache) and, per output, the encode buffer of the stage's
output (grown to ~2x the last flushed 10 MB). One stage after another, these add up to
~100 MB on an 8 MB corpus, all alive at the peak. The threshold is 0.05 s, so they go within
~0.1 s of the next stage's start: the pack stage decodes its NSP pool (the run's peak) in its
first ~0.2 s, and with 0.2 s (freed ~0.4 s after) the tokenize stage's leftovers were still
alive then, ~27 MB at 24 MB of input (peak 285 vs 259 MB, an RSS trace per stage; 1 s was
worse). `bench_scale.py --sizes 1 12 --base-mb 2 --runs 3 --baseline <0.2 s>` (2026-12-02):
peak RSS growth 8.2 against 11.7 bytes per extra output token, CPU unchanged (README
"Corpus scale, memory and local cores"). A stage's bundles run back to back, so a processor
is rarely dropped between two bundles of one stage; if it is, the next bundle builds a new
one (DoFn `setup` again), which costs time, not output.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

MMAP_THRESHOLD = 64 << 10
TRIM_THRESHOLD = 1 << 20
IDLE_STAGE_SECONDS = 0.05
"""How long a finished stage's bundle processor is kept for reuse (Beam's default: 60 s)."""
_M_TRIM_THRESHOLD = -1  # glibc malloc.h
_M_MMAP_THRESHOLD = -3


def return_freed_memory() -> bool:
    """Fix glibc's mmap and trim thresholds here and in child processes; False without glibc."""
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(MMAP_THRESHOLD))
    os.environ.setdefault("MALLOC_TRIM_THRESHOLD_", str(TRIM_THRESHOLD))
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def release_finished_stages() -> None:
    """Shut down bundle processors idle for `IDLE_STAGE_SECONDS` (in-process SDK worker).

    Set before the pipeline starts its worker: the worker's reaper thread wakes at this
    interval. A stage whose processor was dropped and that runs again builds a new one
    (DoFn `setup` again); FnApiRunner runs each stage's bundles back to back.
    """
    from apache_beam.runners.worker import sdk_worker

    sdk_worker.DEFAULT_BUNDLE_PROCESSOR_CACHE_SHUTDOWN_THRESHOLD_S = IDLE_STAGE_SECONDS
