"""`launch` freezes the heap for the run (its objects are skipped by the garbage collector's
full collections) and unfreezes it when the run ends, failed or not."""

from __future__ import annotations

import gc
import json

import apache_beam as beam
import pytest

from core.config import ReadConfig
from core.errors import UserError
from pipeline.launch import launch


def _read(tmp_path) -> ReadConfig:
    (tmp_path / "in.jsonl").write_text('{"text": "a"}\n', encoding="utf-8")
    return ReadConfig(inputs=(str(tmp_path / "in.jsonl"),), format="jsonl")


def test_the_run_sees_a_frozen_heap_and_leaves_it_unfrozen(tmp_path):
    out = tmp_path / "out"
    seen = tmp_path / "frozen.json"

    def record(_):
        seen.write_text(json.dumps(gc.get_freeze_count()))

    def build(p, _spill):
        p | beam.Create([1]) | beam.Map(record)
        out.mkdir(exist_ok=True)
        (out / "summary.json").write_text("{}", encoding="utf-8")

    launch(["--runner=FnApiRunner"], _read(tmp_path), str(out), True,
           {"": ("summary.json",)}, build)
    assert json.loads(seen.read_text()) > 10_000  # the imports, at least
    assert gc.get_freeze_count() == 0


def test_a_failed_run_leaves_the_heap_unfrozen(tmp_path):
    def fail(_):
        raise UserError("stop")

    def build(p, _spill):
        p | beam.Create([1]) | beam.Map(fail)

    with pytest.raises(Exception, match="stop"):
        launch(["--runner=FnApiRunner"], _read(tmp_path), str(tmp_path / "out"), True,
               {"": ("summary.json",)}, build)
    assert gc.get_freeze_count() == 0
