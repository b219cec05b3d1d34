"""verify on packed dirs (schema v2): each layout rule, broken alone in a real dir, fails with
its own message; inspect shows the sequences of a row apart and reports the fill."""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import pyarrow as pa
import pytest
from shard_helpers import make_instances, write_shard_dir

from core.errors import UserError
from pipeline.inspect_shards import inspect_shard_dir, unpack_row
from pipeline.verify import verify_shard_dir
from transforms.manifest import totals
from transforms.shard_schema import packed_shard_schema

SHARD = "shard-00000-of-00002.arrow"
N = 300


@pytest.fixture(scope="module")
def packed_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("packed")
    write_shard_dir(str(out), make_instances(N, seed=5), num_shards=2, packed=True)
    return out


@pytest.fixture
def copy_dir(packed_dir, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(packed_dir, dst)
    return dst


def _rows(path) -> list[dict]:
    return pa.ipc.open_file(pa.BufferReader(path.read_bytes())).read_all().to_pylist()


def _join(seqs: list[dict]) -> dict:
    """A packed row (to_pylist form) from sequences with sequence-relative positions."""
    row = {name: [] for name in packed_shard_schema(300).names}
    start = 0
    for seq in seqs:
        row["input_ids"] += seq["input_ids"]
        row["seq_lens"].append(len(seq["input_ids"]))
        for one, many in (("a_len", "a_lens"), ("sentence_label", "sentence_labels"),
                          ("doc_id", "doc_ids"), ("pass_index", "pass_indexes"),
                          ("index", "indexes")):
            row[many].append(seq[one])
        for name in ("mlm_positions", "span_starts", "span_ends"):
            row[name] += [p + start for p in seq[name]]
        row["mlm_labels"] += seq["mlm_labels"]
        start += len(seq["input_ids"])
    return row


def _rewrite(directory, edit) -> None:
    """Apply `edit(rows)` to shard 0 and update its manifest entry and totals to match, so
    checksums, counts and balance stay valid and only the edited rule can fail."""
    path = directory / SHARD
    rows = _rows(path)
    edit(rows)
    sink = pa.BufferOutputStream()
    schema = packed_shard_schema(300)
    with pa.ipc.new_file(sink, schema) as w:
        w.write_table(pa.Table.from_pylist(rows, schema=schema))
    data = sink.getvalue().to_pybytes()
    path.write_bytes(data)
    manifest_path = directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    info = manifest["shards"][0]
    info.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), rows=len(rows),
                instances=sum(len(r["seq_lens"]) for r in rows),
                tokens=sum(len(r["input_ids"]) for r in rows),
                masked_tokens=sum(len(r["mlm_positions"]) for r in rows))
    manifest["totals"] = totals(manifest["shards"], packed=True)
    manifest_path.write_text(json.dumps(manifest))


def _first_row(rows, test) -> int:
    return next(i for i, r in enumerate(rows) if test(r))


def _paired_second(row) -> bool:
    return len(row["seq_lens"]) >= 2 and row["a_lens"][1] < row["seq_lens"][1]


def _edit_seq(test, change):
    """Change sequence 1 of the first row that passes `test`, via unpack/join."""
    def edit(rows):
        i = _first_row(rows, test)
        seqs = unpack_row(rows[i])
        change(seqs[1])
        rows[i] = _join(seqs)
    return edit


def _move(src_test, dst_test):
    """Move the last sequence of the first row passing `src_test` (which keeps >= 1) to the
    end of the first other row passing `dst_test(row, moved_length)`."""
    def edit(rows):
        src = _first_row(rows, lambda r: len(r["seq_lens"]) >= 2 and src_test(r))
        seqs = unpack_row(rows[src])
        moved = seqs.pop()
        dst = _first_row(rows, lambda r: r is not rows[src]
                         and dst_test(r, len(moved["input_ids"])))
        rows[dst] = _join([*unpack_row(rows[dst]), moved])
        rows[src] = _join(seqs)
    return edit


def _shift_cls_mask(seq) -> None:
    """The first masked position of sequence 1 moves onto its own [CLS]."""
    seq["mlm_positions"][0] = 0
    seq["span_starts"][0] = 0
    seq["span_ends"][0] = 0


def _pop(name):
    def edit(rows):
        rows[_first_row(rows, lambda r: len(r["seq_lens"]) >= 2)][name].pop()
    return edit


def _cross(rows) -> None:
    """The last span of sequence 0 is stretched to end inside sequence 1."""
    i = _first_row(rows, lambda r: len(r["seq_lens"]) >= 2 and r["span_ends"])
    row = rows[i]
    k = max(j for j, s in enumerate(row["span_starts"]) if s < row["seq_lens"][0])
    row["span_ends"][k] = row["seq_lens"][0] + 1


def _seq_lens_off(rows) -> None:
    rows[_first_row(rows, lambda r: len(r["seq_lens"]) >= 2)]["seq_lens"][0] -= 1


def _swap_masks(rows) -> None:
    row = rows[_first_row(rows, lambda r: len(r["seq_lens"]) >= 2)]
    row["mlm_positions"][0], row["mlm_positions"][-1] = (row["mlm_positions"][-1],
                                                         row["mlm_positions"][0])


CASES = {
    "seq_lens do not sum to the row length": _seq_lens_off,
    "a_lens and seq_lens differ in length": _pop("a_lens"),
    "doc_ids and seq_lens differ in length": _pop("doc_ids"),
    "sequences per row outside [1, 3]": _move(lambda r: True,
                                              lambda r, n: len(r["seq_lens"]) == 3),
    "row longer than 64 tokens": _move(lambda r: True, lambda r, n: len(r["seq_lens"]) <= 2
                                       and len(r["input_ids"]) + n > 64),
    "mlm_positions not strictly ascending": _swap_masks,
    "span crosses a sequence boundary": _cross,
    "sequence 1: input_ids[0] is not [CLS]": _edit_seq(
        lambda r: len(r["seq_lens"]) >= 2, lambda s: s["input_ids"].__setitem__(0, 7)),
    "sequence 1: input_ids[a_len-1] is not [SEP]": _edit_seq(
        _paired_second, lambda s: s.__setitem__("a_len", s["a_len"] - 1)),
    "sequence 1: mlm position out of range or on a special": _edit_seq(
        lambda r: len(r["seq_lens"]) >= 2 and len(unpack_row(r)[1]["mlm_positions"]) > 0,
        _shift_cls_mask),
}


def test_packed_dir_verifies_with_the_instances_of_the_input(packed_dir, capsys):
    manifest = verify_shard_dir(str(packed_dir))
    assert manifest["schema_version"] == 2
    assert manifest["totals"]["instances"] == N
    assert manifest["totals"]["rows"] < N
    assert capsys.readouterr().out.startswith(f"OK {packed_dir}: 2 shards, {N} instances")


def test_unpacking_the_rows_gives_back_every_instance_unchanged(packed_dir):
    instances = make_instances(N, seed=5)
    want = sorted((i.doc_id, i.pass_index, tuple(i.input_ids.tolist()), i.a_len,
                   i.sentence_label, tuple(i.mlm_positions.tolist()),
                   tuple(i.mlm_labels.tolist()), tuple(i.span_starts.tolist()))
                  for i in instances)
    got = sorted((s["doc_id"], s["pass_index"], tuple(s["input_ids"]), s["a_len"],
                  s["sentence_label"], tuple(s["mlm_positions"]), tuple(s["mlm_labels"]),
                  tuple(s["span_starts"]))
                 for f in sorted(packed_dir.glob("shard-*.arrow"))
                 for row in _rows(f) for s in unpack_row(row))
    assert got == want


@pytest.mark.parametrize("message", sorted(CASES))
def test_each_packed_rule_fails_with_its_message(copy_dir, message):
    _rewrite(copy_dir, CASES[message])
    with pytest.raises(UserError, match=re.escape(message)) as caught:
        verify_shard_dir(str(copy_dir))
    assert re.search(rf"{SHARD} row \d+", str(caught.value))


def test_inspect_reports_fill_and_prints_each_sequence(packed_dir, capsys):
    inspect_shard_dir(str(packed_dir), 2)
    out = capsys.readouterr().out
    manifest = json.loads((packed_dir / "manifest.json").read_text())
    rows, tokens = manifest["totals"]["rows"], manifest["totals"]["tokens"]
    assert f"packed rows: {rows:,}, fill {tokens / (rows * 64):.4f} of 64" in out
    assert out.startswith(f"shard dir: 2 shards, {N} instances")
    assert re.search(r"--- sample 1 \(row 0, \d sequences, \d+ tokens\)", out)
    assert "  [0] doc_id" in out
