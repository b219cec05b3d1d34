"""A progress side channel from the DoFns to the launcher of a local run.

FnApiRunner runs DoFns either in the launching process (in-memory) or in worker processes
(multi_processing), and neither hands Beam metrics to the launcher before the run ends. So
every `Counters.inc` also adds to this process's running totals, which are written at most
once a second, atomically, to `<dir>/<pid>.json` when the launcher has named a dir in the
environment (`BERT_SHARDS_PROGRESS_DIR`; worker processes inherit it). The launcher sums
the files (`pipeline/progress.py`). Without the variable (Dataflow, tests) nothing is
written; Dataflow shows the same counters as Beam metrics in its UI.
"""

from __future__ import annotations

import json
import os
import time

PROGRESS_DIR_ENV = "BERT_SHARDS_PROGRESS_DIR"
INPUT_BYTES = "input_bytes"
"""Bytes of input files consumed: reported to the progress lines only (not a Beam counter)."""
DOCUMENTS_TOKENIZED = "documents_tokenized"
"""Progress only: shows the tokenizer at work before the first instance is counted."""
WRITE_INTERVAL_S = 1.0


class _ProcessProgress:
    """Running totals of this process, flushed to the launcher's dir on a timer."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.totals: dict[str, int] = {}
        self.directory = os.environ.get(PROGRESS_DIR_ENV)
        self.next_write = time.monotonic() + WRITE_INTERVAL_S

    def add(self, name: str, n: int) -> None:
        self.totals[name] = self.totals.get(name, 0) + n
        if self.directory and time.monotonic() >= self.next_write:
            self.write()

    def flush(self) -> None:
        """Write now (end of a bundle), so a worker's last counts are never left unsent."""
        if self.directory:
            self.write()

    def write(self) -> None:
        self.next_write = time.monotonic() + WRITE_INTERVAL_S
        path = os.path.join(self.directory, f"{os.getpid()}.json")
        try:
            with open(path + ".tmp", "w") as f:
                json.dump(self.totals, f)
            os.replace(path + ".tmp", path)
        except OSError:  # the launcher removed its dir (run over) or the disk is full
            self.directory = None


PROCESS_PROGRESS = _ProcessProgress()


def restart_progress() -> None:
    """Start this process's totals afresh (a launcher running DoFns in-process calls it)."""
    PROCESS_PROGRESS.reset()
