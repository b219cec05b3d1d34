"""`progress:` lines on stderr (rank 0 only), and the per-step line of the training loop."""

from __future__ import annotations

import os
import sys
import time


def is_rank_zero() -> bool:
    """True outside torchrun and on its rank 0 (read from the environment: no torch needed)."""
    return os.environ.get("RANK", "0") == "0"


def progress(message: str) -> None:
    if is_rank_zero():
        print(f"progress: {message}", file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class StepProgress:
    """One line per optimizer step while steps are slow, else at most one per `interval` s:
    step/total, samples/s, loss, elapsed and ETA. The first step always prints, so a run
    shows life as soon as it trains; reading the loss syncs the device, hence the interval."""

    def __init__(self, first_step: int, total_steps: int, samples_per_step: int,
                 interval: float = 2.0) -> None:
        self.first_step = first_step
        self.total = total_steps
        self.samples_per_step = samples_per_step
        self.interval = interval
        self.started = self.last_time = time.perf_counter()
        self.last_step = first_step

    def due(self, step: int) -> bool:
        return (step == self.first_step + 1 or step == self.total
                or time.perf_counter() - self.last_time >= self.interval)

    def line(self, step: int, loss: float) -> str:
        now = time.perf_counter()
        rate = (step - self.last_step) * self.samples_per_step / max(now - self.last_time, 1e-9)
        per_step = (now - self.started) / (step - self.first_step)
        self.last_time, self.last_step = now, step
        return (f"step {step}/{self.total}, {rate:,.0f} samples/s, loss {loss:.4f}, "
                f"elapsed {_duration(now - self.started)}, "
                f"ETA {_duration(per_step * (self.total - step))}")
