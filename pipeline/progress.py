"""`progress:` lines on stderr while a local run works (DESIGN.md: at least every 5 s).

The launcher names a fresh temp dir in the environment before the pipeline starts; every
process that runs DoFns (the launcher itself in-memory, or FnApiRunner's worker processes,
which inherit the environment) writes its running totals there (`transforms/progress.py`),
and a daemon thread here sums them and prints a line every `interval` seconds:

    progress: packing and masking — 1,234 documents read, 12.3 MB read (4.1 MB/s),
              5,678 instances, elapsed 0:00:15

The stage is the furthest one in the pipeline whose counter moved since the last line.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from transforms.accounting import DOCUMENTS_READ, INSTANCES, SHARDS, VOCAB_DISTINCT_WORDS
from transforms.progress import DOCUMENTS_TOKENIZED, INPUT_BYTES, PROGRESS_DIR_ENV, restart_progress

PRINT_INTERVAL_S = 4.0
STAGES = ((DOCUMENTS_READ, "reading and cleaning"), (VOCAB_DISTINCT_WORDS, "training the vocab"),
          (DOCUMENTS_TOKENIZED, "tokenizing"), (INSTANCES, "packing and masking"),
          (SHARDS, "writing shards"))
"""Counters in pipeline order and the stage each one shows is running."""


def read_totals(directory: Path) -> dict[str, int]:
    """The sum of every process's totals (a file being replaced is read next time)."""
    totals: dict[str, int] = {}
    for path in directory.glob("*.json"):
        with contextlib.suppress(OSError, ValueError):
            for name, n in json.loads(path.read_text()).items():
                totals[name] = totals.get(name, 0) + n
    return totals


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class ProgressLines:
    """Formats one line from the totals, remembering the previous ones for stage and rate."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.previous: dict[str, int] = {}
        self.stage = "starting"

    def line(self, totals: dict[str, int], now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        for name, stage in STAGES:
            if totals.get(name, 0) > self.previous.get(name, 0):
                self.stage = stage
        self.previous = dict(totals)
        mb = totals.get(INPUT_BYTES, 0) / 1e6
        parts = [f"{totals.get(DOCUMENTS_READ, 0):,} documents read",
                 f"{mb:,.2f} MB read ({mb / elapsed:,.2f} MB/s)"]
        if INSTANCES in totals:
            parts.append(f"{totals[INSTANCES]:,} instances")
        if SHARDS in totals:
            parts.append(f"{totals[SHARDS]:,} shards written")
        return f"progress: {self.stage} — {', '.join(parts)}, elapsed {_clock(elapsed)}"


@contextlib.contextmanager
def progress_lines(interval: float = PRINT_INTERVAL_S) -> Iterator[None]:
    """Print progress lines on stderr every `interval` seconds while the body runs."""
    directory = Path(tempfile.mkdtemp(prefix="bert-shards-progress-"))
    before = os.environ.get(PROGRESS_DIR_ENV)
    os.environ[PROGRESS_DIR_ENV] = str(directory)
    restart_progress()
    lines = ProgressLines()
    stop = threading.Event()

    def report() -> None:
        while not stop.wait(interval):
            print(lines.line(read_totals(directory)), file=sys.stderr, flush=True)

    thread = threading.Thread(target=report, name="progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        if before is None:
            os.environ.pop(PROGRESS_DIR_ENV, None)
        else:
            os.environ[PROGRESS_DIR_ENV] = before
        restart_progress()
        shutil.rmtree(directory, ignore_errors=True)
