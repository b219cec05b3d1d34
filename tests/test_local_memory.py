"""A local run frees what a finished stage holds while later stages run."""

from __future__ import annotations

import ctypes.util
import os
import threading
import time

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.local_memory import (
    IDLE_STAGE_SECONDS,
    TRIM_SECONDS,
    release_finished_stages,
    trim_heap_every_second,
)

_TORN_DOWN = threading.Event()


class _SignalTeardown(beam.DoFn):
    """Stands for a stage's DoFns (an encoder and its cache): signals when Beam drops it."""

    def process(self, element):
        yield element

    def teardown(self):
        _TORN_DOWN.set()


def _first_stage_gone(_) -> bool:
    return _TORN_DOWN.wait(timeout=10 * IDLE_STAGE_SECONDS + 5)


def test_a_finished_stage_is_torn_down_while_the_next_stage_runs():
    release_finished_stages()
    _TORN_DOWN.clear()
    with BeamTestPipeline(runner="FnApiRunner") as p:
        gone = (
            p
            | beam.Create([1, 2, 3])
            | "First" >> beam.ParDo(_SignalTeardown())
            | "Break" >> beam.GroupBy(lambda _: 0)  # a second stage
            | "Second" >> beam.Map(_first_stage_gone)
        )
        assert_that(gone, equal_to([True]))


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm") or ctypes.util.find_library("c") is None,
                    reason="Linux with glibc only")
def test_free_pages_inside_the_heap_go_back_to_the_os():
    """48 MB of 4 KB buffers freed below a live one stay in the process (the heap's top is in
    use) until the trim thread returns them."""
    assert trim_heap_every_second()
    held = [bytearray(4000) for _ in range(12_000)]
    keep = bytearray(4000)  # above the others: the heap cannot shrink from its top
    before = _rss()
    del held
    time.sleep(3 * TRIM_SECONDS)
    assert before - _rss() > 30e6
    del keep
