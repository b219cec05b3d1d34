"""trainer: shard reader, permutation, collate and dataset (ranks, workers, resume)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs torch: pip install -e '.[trainer]'")

from synthetic import PAD, SyntheticSpec, write_shard_dir  # noqa: E402

from trainer.collate import IGNORE_INDEX, CollateConfig, collate, expand  # noqa: E402
from trainer.dataset import ShardDataset, ShardLoader  # noqa: E402
from trainer.permutation import global_order  # noqa: E402
from trainer.shard_reader import ShardReader  # noqa: E402


@pytest.fixture(scope="module")
def span_dir(tmp_path_factory) -> tuple[Path, list]:
    d = tmp_path_factory.mktemp("span")
    spec = SyntheticSpec(rows=240, num_shards=3, masking="span", task="sop", long_fraction=0.5)
    return d, write_shard_dir(d, spec)


@pytest.mark.parametrize("compression", ["none", "zstd", "lz4"])
def test_reader_returns_shard_rows(tmp_path, compression):
    spec = SyntheticSpec(rows=2100, num_shards=2, compression=compression, max_seq_length=32)
    instances = write_shard_dir(tmp_path, spec)  # 1050 rows per shard: two record batches each
    reader = pickle.loads(pickle.dumps(ShardReader(tmp_path)))
    rows = np.array([2099, 0, 1049, 1050, 1024, 5, 1023, 2074])
    located = reader.locate(rows)
    for name in ("input_ids", "mlm_positions", "mlm_labels", "span_starts", "span_ends"):
        matrix, lengths = reader.padded(located, name, -7, np.dtype(np.int32))
        for i, r in enumerate(rows):
            expected = getattr(instances[r], name)
            assert matrix[i, :lengths[i]].tolist() == expected.tolist()
            assert (matrix[i, lengths[i]:] == -7).all()
    for name in ("a_len", "sentence_label", "doc_id"):
        got = reader.scalar(located, name)
        assert got.tolist() == [getattr(instances[r], name) for r in rows]
    assert np.array_equal(reader.lengths(rows), [len(instances[r].input_ids) for r in rows])


def test_reader_pickles_without_open_maps(span_dir):
    reader = ShardReader(span_dir[0])
    reader.scalar(reader.locate(np.array([0, 239])), "a_len")
    assert reader._open and not pickle.loads(pickle.dumps(reader))._open


def test_permutation_is_pure_and_keyed_by_seed_and_epoch():
    a = global_order(1000, 10, seed=1, epoch=2)
    assert np.array_equal(a, global_order(1000, 10, seed=1, epoch=2))
    assert sorted(a) == list(range(1000))
    assert not np.array_equal(a, global_order(1000, 10, seed=2, epoch=1))  # not seed + epoch
    assert len(global_order(1005, 10, seed=1, epoch=0)) == 1000  # last partial batch dropped


def test_length_grouping_cuts_padding_and_keeps_a_permutation():
    lengths = np.random.Generator(np.random.Philox(3)).integers(8, 513, size=4096)
    plain = global_order(4096, 64, 0, 0).reshape(-1, 64)
    grouped = global_order(4096, 64, 0, 0, group_windows=16, lengths_of=lambda r: lengths[r])
    assert sorted(grouped) == list(range(4096))
    padded = lambda order: lengths[order].max(axis=1).sum() * 64  # noqa: E731
    assert padded(grouped.reshape(-1, 64)) < 0.6 * padded(plain)


def test_batches_equal_shard_contents(span_dir):
    shard_dir, instances = span_dir
    cfg = CollateConfig(pad_id=PAD, vocab_size=200, sbo_max_targets=4)
    rows = np.array([3, 100, 239, 7])
    compact = collate(ShardReader(shard_dir), rows, cfg)
    assert compact["input_ids"].dtype == np.int16 and compact["lengths"].dtype == np.int16
    batch = expand({k: torch.from_numpy(v) for k, v in compact.items()}, "cpu", sbo_max_targets=4)
    width = batch["input_ids"].shape[1]
    assert width % 8 == 0 and width - 8 < max(len(instances[r].input_ids) for r in rows) <= width
    for i, r in enumerate(rows):
        inst, n = instances[r], len(instances[r].input_ids)
        assert batch["input_ids"][i, :n].tolist() == inst.input_ids.tolist()
        assert (batch["input_ids"][i, n:] == PAD).all()
        assert batch["attention_mask"][i].tolist() == [1] * n + [0] * (width - n)
        types = [0] * inst.a_len + [1] * (n - inst.a_len) + [0] * (width - n)
        assert batch["token_type_ids"][i].tolist() == types
        labels = np.full(width, IGNORE_INDEX)
        labels[inst.mlm_positions] = inst.mlm_labels
        assert batch["labels"][i].tolist() == labels.tolist()
        assert batch["sentence_label"][i] == inst.sentence_label
        # SBO: each masked position's span boundaries and offset; targets past 4 ignored.
        for j, p in enumerate(inst.mlm_positions):
            k = np.flatnonzero((inst.span_starts <= p) & (p <= inst.span_ends))[0]
            s, e = inst.span_starts[k], inst.span_ends[k]
            assert (batch["sbo_left"][i, j], batch["sbo_right"][i, j]) == (s - 1, e + 1)
            expected = inst.mlm_labels[j] if p - s < 4 else IGNORE_INDEX
            assert batch["sbo_labels"][i, j] == expected
            assert batch["sbo_rel"][i, j] == min(p - s, 3)
    assert batch["input_ids"].dtype == torch.int64


def _row_ids(batches) -> list[int]:
    """The doc_id (= global row) of each row of each batch, identified by its token ids."""
    return [tuple(b["input_ids"][i][: int(b["lengths"][i])].tolist())
            for b in batches for i in range(len(b["input_ids"]))]


def _dataset(shard_dir, rank, world, **kw) -> ShardDataset:
    cfg = CollateConfig(pad_id=PAD, vocab_size=200)
    return ShardDataset(shard_dir, cfg, batch_size=8, seed=5, rank=rank, world_size=world, **kw)


def test_two_ranks_two_workers_see_every_row_once_per_epoch(span_dir):
    shard_dir, instances = span_dir  # 240 rows = 15 global batches of 2 x 8
    seen = []
    for rank in range(2):
        loader = ShardLoader(_dataset(shard_dir, rank, 2, max_epochs=1), num_workers=2)
        batches = list(loader)
        assert len(batches) == 15
        seen += _row_ids(batches)
    assert sorted(seen) == sorted(tuple(inst.input_ids.tolist()) for inst in instances)


def test_stream_is_independent_of_workers_and_ranks_slice_global_batches(span_dir):
    shard_dir = span_dir[0]
    one = list(ShardLoader(_dataset(shard_dir, 0, 1, max_epochs=1), num_workers=0))
    two = list(ShardLoader(_dataset(shard_dir, 0, 1, max_epochs=1), num_workers=2))
    assert [b["input_ids"].tolist() for b in one] == [b["input_ids"].tolist() for b in two]
    # Global batch 16 as 1 rank x 16 rows or 2 ranks x 8 rows: same rows per step.
    big = ShardDataset(shard_dir, CollateConfig(pad_id=PAD, vocab_size=200), batch_size=16,
                       seed=5, rank=0, world_size=1, max_epochs=1)
    halves = [list(_dataset(shard_dir, r, 2, max_epochs=1)) for r in range(2)]
    for k, whole in enumerate(big):
        assert _row_ids([whole]) == _row_ids([halves[0][k]]) + _row_ids([halves[1][k]])


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_mid_epoch_reproduces_remaining_batches(span_dir, workers):
    shard_dir = span_dir[0]
    full = [b["input_ids"].tolist() for b in
            ShardLoader(_dataset(shard_dir, 1, 2, max_epochs=3), num_workers=workers)]
    assert len(full) == 45
    first = ShardLoader(_dataset(shard_dir, 1, 2, max_epochs=3), num_workers=workers)
    stream = iter(first)
    head = [next(stream)["input_ids"].tolist() for _ in range(20)]  # crosses epoch 0 -> 1
    state = first.state_dict()
    assert state["epoch"] == 1 and state["consumed_samples"] == 5 * 16
    resumed = ShardLoader(_dataset(shard_dir, 1, 2, max_epochs=3), num_workers=workers)
    resumed.load_state_dict(state)
    assert head + [b["input_ids"].tolist() for b in resumed] == full


def test_epochs_differ_and_grouped_batches_are_tighter(span_dir):
    shard_dir = span_dir[0]
    epochs = [_row_ids(list(_dataset(shard_dir, 0, 1, max_epochs=2)))[i * 240:(i + 1) * 240]
              for i in range(2)]
    assert epochs[0] != epochs[1] and sorted(epochs[0]) == sorted(epochs[1])
    widths = [sum(b["input_ids"].shape[1] for b in _dataset(shard_dir, 0, 1, max_epochs=1,
                                                             group_windows=g)) for g in (0, 30)]
    assert widths[1] < widths[0]


@pytest.mark.parametrize("vocab_size,dtype", [(40_000, np.int32), (70_000, np.int32)])
def test_large_vocab_ids_are_widened_not_wrapped(tmp_path, vocab_size, dtype):
    """uint16 ids above 32767 (and uint32 shards) must come out as int32, unchanged."""
    instances = write_shard_dir(tmp_path, SyntheticSpec(rows=16, vocab_size=vocab_size,
                                                        max_seq_length=32, num_shards=1))
    cfg = CollateConfig(pad_id=PAD, vocab_size=vocab_size)
    batch = collate(ShardReader(tmp_path), np.arange(16), cfg)
    assert batch["input_ids"].dtype == dtype
    for i, inst in enumerate(instances):
        assert batch["input_ids"][i, :len(inst.input_ids)].tolist() == inst.input_ids.tolist()
        assert batch["mlm_labels"][i, :len(inst.mlm_labels)].tolist() == inst.mlm_labels.tolist()
