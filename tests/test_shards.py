"""WriteShards + WriteManifest on hand-made instances: layout, order, determinism, failures."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pyarrow as pa
import pytest
from shard_helpers import assign_shards, make_instances, write_shard_dir

from transforms import shard_write
from transforms.shard_assign import shard_hash


def _digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.glob("shard-*.arrow"))}


def _rows(path: Path) -> list[dict]:
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all().to_pylist()


@pytest.fixture(scope="module")
def instances():
    return make_instances(600)


def test_layout_balance_order_and_manifest(tmp_path, instances):
    manifest = write_shard_dir(str(tmp_path), instances, num_shards=4, seed=7)
    names = sorted(os.listdir(tmp_path))
    assert names == ["manifest.json", "shard-00000-of-00004.arrow", "shard-00001-of-00004.arrow",
                     "shard-00002-of-00004.arrow", "shard-00003-of-00004.arrow", "summary.json",
                     "vocab.txt"]
    assert [s["rows"] for s in manifest["shards"]] == [150, 150, 150, 150]
    keys = [(shard_hash(7, i.doc_id, i.pass_index, i.index), i.doc_id, i.pass_index, i.index)
            for i in instances]
    expected = assign_shards(keys, 4)
    by_identity = {(i.doc_id, i.pass_index): s for i, s in zip(instances, expected, strict=True)}
    for info in manifest["shards"]:
        path = tmp_path / info["file"]
        data = path.read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (info["bytes"], info["sha256"])
        rows = _rows(path)
        shard = int(info["file"][6:11])
        assert {by_identity[(r["doc_id"], r["pass_index"])] for r in rows} == {shard}
        assert info["tokens"] == sum(len(r["input_ids"]) for r in rows)
        assert info["masked_tokens"] == sum(len(r["mlm_positions"]) for r in rows)
    assert manifest["totals"] == {
        "shards": 4, "instances": 600,
        "tokens": sum(len(i.input_ids) for i in instances),
        "masked_tokens": sum(len(i.mlm_positions) for i in instances)}
    assert manifest["counters"]["documents_read"] == 1
    assert manifest["vocab"]["special_ids"] == {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}


def test_rows_inside_a_shard_follow_the_hash(tmp_path, instances):
    write_shard_dir(str(tmp_path), instances, num_shards=2, seed=7)
    index = {(i.doc_id, i.pass_index): i.index for i in instances}
    rows = _rows(tmp_path / "shard-00001-of-00002.arrow")
    hashes = [shard_hash(7, r["doc_id"], r["pass_index"], index[(r["doc_id"], r["pass_index"])])
              for r in rows]
    assert hashes == sorted(hashes)


def test_more_shards_than_rows_gives_empty_valid_files(tmp_path, instances):
    manifest = write_shard_dir(str(tmp_path), instances[:3], num_shards=5)
    assert [s["rows"] for s in manifest["shards"]] == [1, 1, 0, 1, 0]
    assert _rows(tmp_path / "shard-00002-of-00005.arrow") == []


def test_same_input_same_bytes_any_input_order(tmp_path, instances):
    a = _digests_of(tmp_path / "a", instances)
    b = _digests_of(tmp_path / "b", list(reversed(instances)))
    assert a == b


def test_different_seed_changes_the_bytes(tmp_path, instances):
    assert _digests_of(tmp_path / "a", instances, seed=1) != _digests_of(
        tmp_path / "b", instances, seed=2)


def _digests_of(out: Path, instances, seed: int = 1, beam_args=()) -> dict[str, str]:
    write_shard_dir(str(out), instances, num_shards=3, seed=seed, beam_args=beam_args)
    return _digests(out)


def test_same_bytes_with_one_worker_and_two_processes(tmp_path, instances):
    one = _digests_of(tmp_path / "one", instances, beam_args=("--direct_num_workers=1",))
    two = _digests_of(tmp_path / "two", instances, beam_args=(
        "--direct_running_mode=multi_processing", "--direct_num_workers=2"))
    assert one == two


def test_same_bytes_whatever_the_batches_crossing_the_shuffles(tmp_path, instances,
                                                               monkeypatch):
    """One row (and one key) per shuffled batch gives the files of one batch per bundle."""
    import transforms.batching

    whole = _digests_of(tmp_path / "whole", instances)
    monkeypatch.setattr(transforms.batching, "BATCH_BYTES", 1)
    assert _digests_of(tmp_path / "single", instances) == whole


def test_a_failing_shard_leaves_no_manifest(tmp_path, instances, monkeypatch):
    real = shard_write.encode_shard_columns

    def encode_or_die(columns, vocab_size, compression):
        doc_ids = columns.scalars["doc_id"]
        if len(doc_ids) and doc_ids[0] % 3 == 0:
            raise RuntimeError("simulated worker death")
        return real(columns, vocab_size, compression)

    monkeypatch.setattr(shard_write, "encode_shard_columns", encode_or_die)
    with pytest.raises(Exception, match="simulated worker death"):
        write_shard_dir(str(tmp_path), instances, num_shards=4)
    assert not (tmp_path / "manifest.json").exists()


def test_no_instances_gives_every_shard_empty_and_valid(tmp_path):
    """A corpus with nothing left still gets its `num_shards` files, a manifest and a
    summary: the bucket offsets of no instances are the side input's default."""
    manifest = write_shard_dir(str(tmp_path), [], num_shards=3)
    assert [s["rows"] for s in manifest["shards"]] == [0, 0, 0]
    assert all(_rows(tmp_path / f"shard-0000{i}-of-00003.arrow") == [] for i in range(3))
    assert json.loads((tmp_path / "summary.json").read_text())["documents_read"] == 1
