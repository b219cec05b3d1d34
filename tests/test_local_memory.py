"""A local run frees what a finished stage holds while later stages run."""

from __future__ import annotations

import threading

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.local_memory import IDLE_STAGE_SECONDS, release_finished_stages

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


def test_every_local_run_releases_finished_stages(tmp_path, monkeypatch):
    """The CLI's launcher sets the release up before the pipeline starts its worker."""
    from apache_beam.runners.worker import sdk_worker

    from pipeline.cli import main

    monkeypatch.setattr(sdk_worker, "DEFAULT_BUNDLE_PROCESSOR_CACHE_SHUTDOWN_THRESHOLD_S", 60)
    assert main(["clean", "--output", str(tmp_path / "out")]) == 0
    assert sdk_worker.DEFAULT_BUNDLE_PROCESSOR_CACHE_SHUTDOWN_THRESHOLD_S == IDLE_STAGE_SECONDS
