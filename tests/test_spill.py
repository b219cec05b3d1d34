"""Local runs move the bulk of a job through spill files (transforms/spill.py).

Claims: the spilled path writes the same bytes as the in-memory one; a payload is readable
as soon as `put` returns; bundles never share a file, so a retried or duplicated bundle
neither loses nor repeats rows; the spill dir is gone when a run ends, failed or not; a job
that does not run locally never spills.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from shard_helpers import make_instances

from core.errors import UserError
from pipeline.cli import main
from pipeline.launch import launch
from pipeline.output_dir import OwnFiles
from transforms import batching, shard_write
from transforms.shard_rows import decode_row, split_rows
from transforms.shards import KeyBySortKey
from transforms.spill import SPILL_DIR_PREFIX, Payloads, SpillElements, spilled_elements

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
ENWIKI = CORPORA / "en" / "enwiki_wikiextractor_wiki_00.txt"
VOCAB_EN = CORPORA / "vocab" / "bert_base_uncased"


def _need_corpora() -> None:
    if not (ENWIKI.exists() and VOCAB_EN.exists()):
        pytest.skip("../shared/corpora not present beside the checkout")


# Payloads


def test_a_payload_is_readable_as_soon_as_put_returns_and_stays_small(tmp_path):
    rng = np.random.default_rng(0)
    batches = [rng.bytes(n) for n in (0, 1, 4095, 70_000, 3)]
    writer, reader = Payloads(str(tmp_path)), Payloads(str(tmp_path))
    refs = []
    for batch in batches:
        refs.append(writer.put(batch))
        assert reader.get(refs[-1]) == batch  # before the bundle's file is closed
    writer.close()
    assert [reader.get(ref) for ref in refs] == batches
    assert max(len(ref) for ref in refs) < 64
    assert len(list(tmp_path.iterdir())) == 1  # one file per bundle


def test_without_a_spill_dir_the_batch_is_its_own_payload(tmp_path):
    inline = Payloads(None)
    assert inline.put(b"rows") == b"rows" and inline.get(b"rows") == b"rows"


def test_interleaved_bundles_write_their_own_files(tmp_path):
    """Two bundles at once (another worker thread, or a duplicate attempt of the same bundle):
    each reads back exactly its own batches."""
    a, b = Payloads(str(tmp_path)), Payloads(str(tmp_path))
    data_a = [bytes([1]) * n for n in (10, 20, 30)]
    data_b = [bytes([2]) * n for n in (5, 25, 45)]
    refs_a, refs_b = [], []
    for x, y in zip(data_a, data_b, strict=True):
        refs_a.append(a.put(x))
        refs_b.append(b.put(y))
    a.close()
    b.close()
    reader = Payloads(str(tmp_path))
    assert [reader.get(r) for r in refs_a] == data_a
    assert [reader.get(r) for r in refs_b] == data_b
    assert len(list(tmp_path.iterdir())) == 2


# Retried and duplicated bundles, driven the way a runner drives a DoFn


def _outputs(results) -> list:
    """Main outputs of a DoFn call (TaggedOutputs dropped, windowed values unwrapped)."""
    out = []
    for item in results or ():
        if hasattr(item, "tag"):
            continue
        out.append(item.value if hasattr(item, "windows") else item)
    return out


def _bundle(fn, elements, fail_after: int | None = None) -> list:
    """One attempt of a bundle; with `fail_after`, it fails after that many elements and the
    runner discards what it emitted (no `finish_bundle`)."""
    fn.start_bundle()
    emitted = []
    for i, element in enumerate(elements):
        if fail_after is not None and i == fail_after:
            return []
        emitted += _outputs(fn.process(element))
    return emitted + _outputs(fn.finish_bundle())


def _rows_of(payloads: list[bytes], spill_dir: str) -> list[bytes]:
    reader = Payloads(spill_dir)
    return [row for payload in payloads for row in split_rows(reader.get(payload))]


def test_a_retried_bundle_neither_repeats_nor_loses_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(batching, "BATCH_BYTES", 2_000)  # several payloads per bundle
    instances = make_instances(60, seed=4)
    fn = KeyBySortKey(seed=7, spill_dir=str(tmp_path))
    fn.setup()
    assert _bundle(fn, instances, fail_after=37) == []  # what it spilled stays unreferenced
    committed = _bundle(fn, instances)  # the retry, on the same DoFn instance
    assert len(committed) > 3
    rows = _rows_of(committed, str(tmp_path))
    assert sorted((r.doc_id, r.pass_index, r.index) for r in map(decode_row, rows)) == sorted(
        (i.doc_id, i.pass_index, i.index) for i in instances)


def test_a_duplicated_bundle_gives_the_same_rows_from_either_attempt(tmp_path, monkeypatch):
    """Speculative execution: two workers complete the same bundle; the runner keeps one."""
    monkeypatch.setattr(batching, "BATCH_BYTES", 2_000)
    instances = make_instances(40, seed=5)
    first, second = (KeyBySortKey(seed=7, spill_dir=str(tmp_path)) for _ in range(2))
    first.setup()
    second.setup()
    first.start_bundle()
    second.start_bundle()
    out_first, out_second = [], []
    for inst in instances:  # interleaved, as two workers would write
        out_first += _outputs(first.process(inst))
        out_second += _outputs(second.process(inst))
    out_first += _outputs(first.finish_bundle())
    out_second += _outputs(second.finish_bundle())
    rows_first = _rows_of(out_first, str(tmp_path))
    assert len(rows_first) == len(instances)
    assert rows_first == _rows_of(out_second, str(tmp_path))


def test_spilled_elements_round_trip_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(batching, "BATCH_BYTES", 100)
    elements = [("k", i, "x" * (i % 7)) for i in range(50)]
    fn = SpillElements(str(tmp_path))
    payloads = _bundle(fn, elements)
    assert len(payloads) > 1
    reader = Payloads(str(tmp_path))
    assert [e for p in payloads for e in spilled_elements(reader, p)] == elements


# Whole runs


def _left(tmp: Path) -> list[Path]:
    """Spill dirs still under `tmp` (Beam keeps its own temp dirs there too)."""
    return [p for p in tmp.iterdir() if p.name.startswith(SPILL_DIR_PREFIX)]


def _digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.glob("shard-*.arrow"))}


def _shards_argv(out: Path) -> list[str]:
    return ["shards", "--input", str(ENWIKI), "--vocab", str(VOCAB_EN), "--lowercase",
            "--output", str(out), "--task", "nsp", "--max-seq-length", "128",
            "--nsp-pool-size", "20", "--num-shards", "3", "--overwrite"]


@pytest.fixture
def spill_dirs(tmp_path, monkeypatch):
    """Spill dirs go under tmp_path/tmp; records what each held when it was removed."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    held: dict[str, list[str]] = {}
    rmtree = shutil.rmtree

    def recording_rmtree(path, *args, **kwargs):
        if os.path.basename(path).startswith(SPILL_DIR_PREFIX):
            held[path] = sorted(os.listdir(path))
        rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", recording_rmtree)
    return tmp, held


def test_spilled_and_in_memory_runs_write_the_same_shards(tmp_path, monkeypatch, spill_dirs):
    """The CLI spills (local run); the same job built without a spill dir keeps every payload
    in memory. Small batches: many payloads per bundle, at offsets > 0 in their files."""
    _need_corpora()
    import pipeline.launch as launch_module

    monkeypatch.setattr(batching, "BATCH_BYTES", 64 << 10)
    tmp, held = spill_dirs
    assert main(_shards_argv(tmp_path / "spilled")) == 0
    assert len(held) == 1 and sum(name.endswith(".spill") for name in next(
        iter(held.values()))) >= 5

    monkeypatch.setattr(launch_module, "spill_dir", _no_spill_dir)
    assert main(_shards_argv(tmp_path / "in_memory")) == 0
    assert len(held) == 1  # nothing spilled the second time
    spilled = _digests(tmp_path / "spilled")
    assert len(spilled) == 3 and spilled == _digests(tmp_path / "in_memory")
    assert _left(tmp) == []


def _no_spill_dir(enabled: bool):
    from transforms.spill import spill_dir

    return spill_dir(False)


def test_a_failed_run_removes_its_spill_files(tmp_path, monkeypatch, spill_dirs):
    """The shard writer fails after the spill files exist: the run fails, the dir goes."""
    _need_corpora()
    tmp, held = spill_dirs

    def disk_error(path, data):
        raise OSError(5, "Input/output error", path)

    monkeypatch.setattr(shard_write, "write_atomically", disk_error)
    with pytest.raises(Exception, match="Input/output error"):
        main(_shards_argv(tmp_path / "out"))
    assert len(held) == 1 and any(name.endswith(".spill") for name in next(
        iter(held.values())))
    assert _left(tmp) == []


def test_only_a_local_run_gets_a_spill_dir(tmp_path, spill_dirs):
    """FnApiRunner: a fresh dir that exists while the job is built and run; a dry run (the
    Dataflow path) gets none."""
    tmp, _ = spill_dirs
    seen = []

    def build(p, spill_dir):
        seen.append(spill_dir if spill_dir is None else os.path.isdir(spill_dir))
        raise UserError("stop here")

    own: OwnFiles = {"": ("summary.json",)}
    from core.config import ReadConfig

    read = ReadConfig(inputs=(str(tmp_path / "in.jsonl"),), format="jsonl")
    (tmp_path / "in.jsonl").write_text('{"text": "a"}\n', encoding="utf-8")
    with pytest.raises(UserError):
        launch(["--runner=FnApiRunner"], read, str(tmp_path / "out"), True, own, build)
    assert seen == [True] and _left(tmp) == []
    pytest.importorskip("apache_beam.runners.dataflow.dataflow_runner")
    pytest.importorskip("google.cloud.dataflow_v1beta3")
    read = ReadConfig(inputs=("gs://example-bucket/in.jsonl",), format="jsonl")
    with pytest.raises(UserError):
        launch(["--runner=DataflowRunner", "--dry_run=True", "--no_auth",
                "--project=example-project", "--region=us-central1",
                "--temp_location=gs://example-bucket/tmp"],
               read, "gs://example-bucket/out", False, own, build)
    assert seen == [True, None]
