"""Let a local run hand freed memory back to the OS, so its peak RSS is the largest stage's.

FnApiRunner runs the stages one after another in RAM: each shuffle is built, read and
dropped. glibc's malloc raises its mmap threshold dynamically after large frees, so the
buffers of later stages come from the heap, whose freed pages are rarely returned; the peak
RSS then grows with every stage instead of being the largest one. A fixed threshold keeps
allocations >= 64 KB (shuffle batches, token arrays) in their own mappings, which `free`
unmaps at once. Measured with benchmarks/bench_scale.py (README "Corpus scale and memory").

The launching process sets it with `mallopt`; worker processes (`--workers N`) inherit the
same setting through glibc's environment variables. Elsewhere (macOS, musl) nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

MMAP_THRESHOLD = 64 << 10
TRIM_THRESHOLD = 1 << 20
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
