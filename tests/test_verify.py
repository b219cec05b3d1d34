"""verify: checksums, schema and every row rule, each failing with its own message."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from shard_helpers import CLS, MASK, SEP, make_instances, toy_vocab_txt, write_shard_dir

from core.errors import UserError
from pipeline.cli import main
from pipeline.verify import Rules, check_batch, verify_shard_dir
from transforms.manifest import special_ids, vocab_tokens
from transforms.shard_schema import instances_to_batch


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    write_shard_dir(str(out), make_instances(400), num_shards=4)  # 100 rows per shard
    return out


@pytest.fixture
def copy_dir(shard_dir, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(shard_dir, dst)
    return dst


def test_ok(shard_dir, capsys):
    manifest = verify_shard_dir(str(shard_dir))
    assert manifest["totals"]["instances"] == 400
    assert capsys.readouterr().out.startswith(f"OK {shard_dir}: 4 shards, 400 instances")


def test_flipping_one_byte_fails(copy_dir):
    path = copy_dir / "shard-00001-of-00004.arrow"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match="shard-00001-of-00004.arrow: sha256 differs"):
        verify_shard_dir(str(copy_dir))


def test_no_manifest_fails(copy_dir):
    (copy_dir / "manifest.json").unlink()
    with pytest.raises(UserError, match="no manifest.json"):
        verify_shard_dir(str(copy_dir))


def test_missing_shard_fails(copy_dir):
    (copy_dir / "shard-00002-of-00004.arrow").unlink()
    with pytest.raises(UserError, match="shard-00002-of-00004.arrow: missing"):
        verify_shard_dir(str(copy_dir))


def test_changed_vocab_fails(copy_dir):
    (copy_dir / "vocab.txt").write_bytes(toy_vocab_txt(301))
    with pytest.raises(UserError, match="vocab.txt: sha256 differs"):
        verify_shard_dir(str(copy_dir))


def test_manifest_totals_must_match_the_shards(copy_dir):
    path = copy_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["totals"]["tokens"] += 1
    path.write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="totals.tokens"):
        verify_shard_dir(str(copy_dir))


# Row rules, checked on one batch each.
RULES = Rules(
    {"config": {"pack": {"max_seq_length": 64, "dupe_factor": 2},
                "mask": {"max_predictions_per_seq": 20}}},
    vocab_tokens(toy_vocab_txt()),
)


def _broken(edit) -> list:
    instances = make_instances(5, seed=3)
    edit(instances[2])
    return instances


def _paired(inst) -> bool:
    return inst.a_len < len(inst.input_ids)


def _set(name, value):
    def edit(inst):
        setattr(inst, name, value(inst) if callable(value) else value)
    return edit


def _poke(name, index, value):
    def edit(inst):
        arr = getattr(inst, name).copy()
        arr[index(inst) if callable(index) else index] = value(inst) if callable(value) else value
        setattr(inst, name, arr)
    return edit


def _first_masked(inst) -> int:
    return int(inst.mlm_positions[0])


def _special_label(inst) -> None:
    """A [SEP] label while the shown id is a valid [MASK]: only the label rule can fire."""
    _poke("mlm_labels", 0, SEP)(inst)
    _poke("input_ids", _first_masked, MASK)(inst)


def _repeat_first_span(inst) -> None:
    """Span 1 becomes a copy of span 0: the spans still count as many tokens as positions."""
    _poke("span_starts", 1, lambda i: i.span_starts[0])(inst)
    _poke("span_ends", 1, lambda i: i.span_ends[0])(inst)


def _mask_the_middle_sep(inst) -> None:
    """Row 2 (one segment, first masked position 26) becomes a pair whose middle [SEP] is at
    26: the row is valid but for a masked position on that [SEP]."""
    sep = int(inst.mlm_positions[0])
    _poke("input_ids", sep, SEP)(inst)
    inst.a_len, inst.sentence_label = sep + 1, 0


def _span_on_an_unmasked_token(inst) -> None:
    """Span 0 moves to position 1, which row 2 does not mask (its first masked one is 26)."""
    _poke("span_starts", 0, 1)(inst)
    _poke("span_ends", 0, 1)(inst)


CASES = {
    "input_ids[0] is not [CLS]": _poke("input_ids", 0, 7),
    "last token is not [SEP]": _poke("input_ids", -1, 7),
    "length outside [2, 64]": _set("input_ids", lambda i: np.concatenate(
        [[CLS], np.full(70, 9), [SEP]]).astype(np.int32)),
    "a_len outside [2, len(input_ids)]": _set("a_len", 1),
    "a_len outside [2, len(input_ids)] (longer)": _set("a_len", lambda i: len(i.input_ids) + 1),
    "input_ids[a_len-1] is not [SEP]": _set("a_len", lambda i: i.a_len - 1),
    "sentence_label not in {-1, 0, 1}": _set("sentence_label", 2),
    "sentence_label -1 must go with a single segment": _set(
        "sentence_label", lambda i: -1 if _paired(i) else 0),
    "pass_index >= dupe_factor": _set("pass_index", 2),
    "mlm_positions not strictly ascending": _set(
        "mlm_positions", lambda i: i.mlm_positions[::-1].copy()),
    "mlm position out of range or on a special": _poke(
        "mlm_positions", -1, lambda i: len(i.input_ids) - 1),
    "mlm label is a never-masked special": _special_label,
    "masked input id is neither [MASK], the label nor a replacement id": _poke(
        "input_ids", _first_masked, CLS),
    "mlm_labels and mlm_positions differ in length": _set(
        "mlm_labels", lambda i: i.mlm_labels[:-1].copy()),
    "spans do not cover exactly the masked positions": _poke(
        "span_ends", 0, lambda i: i.span_ends[0] + 1),
    "spans overlap": _repeat_first_span,
    "span out of range or start > end": _poke("span_starts", 0, lambda i: i.span_ends[0] + 1),
    "span out of range or start > end (on the last [SEP])": _poke(
        "span_ends", -1, lambda i: len(i.input_ids) - 1),
    "span_starts and span_ends differ in length": _set(
        "span_ends", lambda i: i.span_ends[:-1].copy()),
    "mlm position out of range or on a special (middle [SEP])": _mask_the_middle_sep,
    "a masked position lies in no span": _span_on_an_unmasked_token,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_row_rule_fails_with_its_message(case):
    batch = instances_to_batch(_broken(CASES[case]), 300)
    message = case.split(" (")[0] if case.endswith(")") else case
    with pytest.raises(UserError, match=re.escape(f"x.arrow row 2: {message}") + "$"):
        check_batch(batch, RULES, "x.arrow", 0)


def test_valid_batch_passes_every_rule():
    check_batch(instances_to_batch(make_instances(50, seed=3), 300), RULES, "x.arrow", 0)


def test_more_masked_positions_than_the_config_allows_fail():
    rules = Rules({"config": {"pack": {"max_seq_length": 64, "dupe_factor": 2},
                              "mask": {"max_predictions_per_seq": 7}}},
                  vocab_tokens(toy_vocab_txt()))
    batch = instances_to_batch(make_instances(5, seed=3), 300)  # row 2 has 8 masked positions
    with pytest.raises(UserError, match=re.escape("x.arrow row 2: more than 7 masked positions")):
        check_batch(batch, rules, "x.arrow", 0)


def test_label_outside_the_vocab_fails():
    instances = make_instances(5, seed=3)
    instances[2].mlm_labels[0] = 350  # a valid id for the batch's 400, not for the dir's 300
    batch = instances_to_batch(instances, 400)
    with pytest.raises(UserError, match=re.escape("x.arrow row 2: mlm label >= vocab size")):
        check_batch(batch, RULES, "x.arrow", 0)


# Dir rules: each test breaks one rule and keeps everything else consistent (sizes, sha256,
# counts and totals rewritten), so only that rule can catch it.
def _shard(d: Path, k: int) -> Path:
    return d / f"shard-{k:05d}-of-00004.arrow"


def _manifest(d: Path) -> dict:
    return json.loads((d / "manifest.json").read_text())


def _save_manifest(d: Path, manifest: dict) -> None:
    (d / "manifest.json").write_text(json.dumps(manifest))


def _read(d: Path, k: int) -> pa.Table:
    return pa.ipc.open_file(pa.BufferReader(_shard(d, k).read_bytes())).read_all()


def _put(d: Path, k: int, data: bytes, table: pa.Table | None = None) -> None:
    """Write shard k's bytes and make its manifest entry and the totals agree with them."""
    _shard(d, k).write_bytes(data)
    manifest = _manifest(d)
    info = manifest["shards"][k]
    info.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    if table is not None:
        info.update(rows=table.num_rows,
                    tokens=int(pa.compute.sum(pa.compute.list_value_length(
                        table.column("input_ids"))).as_py() or 0),
                    masked_tokens=int(pa.compute.sum(pa.compute.list_value_length(
                        table.column("mlm_positions"))).as_py() or 0))
    for key, field in (("instances", "rows"), ("tokens", "tokens"),
                       ("masked_tokens", "masked_tokens")):
        manifest["totals"][key] = sum(s[field] for s in manifest["shards"])
    _save_manifest(d, manifest)


def _encode(table: pa.Table, schema: pa.Schema | None = None, batch_rows: int = 1024) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, schema or table.schema) as writer:
        for batch in table.to_batches(max_chunksize=batch_rows):
            writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def _put_table(d: Path, k: int, table: pa.Table, **kw) -> None:
    _put(d, k, _encode(table, **kw), table)


def _fails(d: Path, message: str) -> None:
    with pytest.raises(UserError, match=message):
        verify_shard_dir(str(d))


def test_rewriting_a_shard_unchanged_keeps_the_dir_valid(copy_dir, capsys):
    """The helpers below change nothing else: re-encoding shard 1 as it is still verifies."""
    _put_table(copy_dir, 1, _read(copy_dir, 1))
    verify_shard_dir(str(copy_dir))


def test_format_and_version_are_checked(copy_dir):
    manifest = _manifest(copy_dir)
    manifest["schema_version"] = 7
    _save_manifest(copy_dir, manifest)
    _fails(copy_dir, re.escape("manifest.json: format 'bert-shards-arrow' v7 is not"))


def test_schema_version_must_match_the_packed_setting(copy_dir):
    manifest = _manifest(copy_dir)
    manifest["schema_version"] = 2
    _save_manifest(copy_dir, manifest)
    _fails(copy_dir, re.escape("schema v2 does not match config.shard.packed"))


def test_special_ids_must_match_vocab_txt(copy_dir):
    manifest = _manifest(copy_dir)
    manifest["vocab"]["special_ids"]["mask"] = 7
    _save_manifest(copy_dir, manifest)
    _fails(copy_dir, re.escape("manifest.json: special ids"))


def test_special_ids_are_the_first_line_of_each_special_token():
    tokens = ["a", "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[MASK]"]
    assert special_ids(tokens) == {"pad": 1, "unk": 2, "cls": 3, "sep": 4, "mask": 5}
    with pytest.raises(ValueError, match=re.escape("lacks special tokens: [UNK] [MASK]")):
        special_ids(["[PAD]", "[CLS]", "[SEP]"])


def test_shard_list_must_name_every_shard_in_order(copy_dir):
    manifest = _manifest(copy_dir)
    shards = manifest["shards"]
    shards[1], shards[2] = shards[2], shards[1]
    _save_manifest(copy_dir, manifest)
    _fails(copy_dir, re.escape("manifest.json: shard list is not shard-00000-of-00004.arrow"))


def test_stray_shard_file_fails(copy_dir):
    shutil.copy(_shard(copy_dir, 0), copy_dir / "shard-00000-of-00003.arrow")
    _fails(copy_dir, re.escape("shard-00000-of-00003.arrow: stray shard file"))


def test_byte_count_is_checked(copy_dir):
    data = _shard(copy_dir, 1).read_bytes() + b"\0"
    _put(copy_dir, 1, data)
    manifest = _manifest(copy_dir)
    manifest["shards"][1]["bytes"] -= 1
    _save_manifest(copy_dir, manifest)
    _fails(copy_dir, re.escape(f"shard-00001-of-00004.arrow: {len(data)} bytes, manifest says "
                               f"{len(data) - 1}"))


def test_a_file_that_is_not_arrow_fails(copy_dir):
    _put(copy_dir, 1, b"not an arrow file at all")
    _fails(copy_dir, re.escape("shard-00001-of-00004.arrow: not an Arrow IPC file"))


def test_schema_is_checked(copy_dir):
    table = _read(copy_dir, 1)
    _put_table(copy_dir, 1, table.replace_schema_metadata({"format": "other"}))
    _fails(copy_dir, re.escape("shard-00001-of-00004.arrow: schema differs from v1"))


def test_record_batches_over_1024_rows_fail(tmp_path):
    write_shard_dir(str(tmp_path), make_instances(1100, seed=5), num_shards=1)
    table = pa.ipc.open_file(str(tmp_path / "shard-00000-of-00001.arrow")).read_all()
    data = _encode(table.combine_chunks(), batch_rows=2048)
    (tmp_path / "shard-00000-of-00001.arrow").write_bytes(data)
    manifest = _manifest(tmp_path)
    manifest["shards"][0].update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    _save_manifest(tmp_path, manifest)
    _fails(tmp_path, re.escape("shard-00000-of-00001.arrow batch 0: 1100 rows > 1024"))


@pytest.mark.parametrize("key", ["rows", "tokens", "masked_tokens"])
def test_per_shard_counts_are_checked(copy_dir, key):
    manifest = _manifest(copy_dir)
    manifest["shards"][0][key] += 1
    manifest["totals"][{"rows": "instances"}.get(key, key)] += 1
    _save_manifest(copy_dir, manifest)
    n = manifest["shards"][0][key]
    _fails(copy_dir, re.escape(f"shard-00000-of-00004.arrow: {key} is {n - 1}, manifest says "
                               f"{n}"))


def test_unbalanced_shard_sizes_fail(copy_dir):
    """Shard 0's last row moves to the head of shard 1: order kept, sizes 99/101."""
    t0, t1 = _read(copy_dir, 0), _read(copy_dir, 1)
    _put_table(copy_dir, 0, t0.slice(0, 99))
    _put_table(copy_dir, 1, pa.concat_tables([t0.slice(99), t1]))
    _fails(copy_dir, re.escape("shard-00000-of-00004.arrow: 99 instances; balanced sharding "
                               "gives 100"))


def test_a_shard_replaced_by_a_copy_of_another_fails(copy_dir):
    """Issue 17: shard 1 := shard 0 with its manifest entry and totals updated."""
    _put_table(copy_dir, 1, _read(copy_dir, 0))
    _fails(copy_dir, re.escape("shard-00001-of-00004.arrow row 0: duplicate instance (doc_id"))


def test_a_duplicated_row_inside_a_shard_fails(copy_dir):
    table = _read(copy_dir, 2)
    _put_table(copy_dir, 2, pa.concat_tables([table.slice(0, 51), table.slice(50, 49)]))
    _fails(copy_dir, re.escape("shard-00002-of-00004.arrow row 51: duplicate instance"))


def test_rows_out_of_hash_order_inside_a_shard_fail(copy_dir):
    table = _read(copy_dir, 2)
    swapped = table.take([0, 2, 1, *range(3, table.num_rows)])
    _put_table(copy_dir, 2, swapped)
    _fails(copy_dir, re.escape("shard-00002-of-00004.arrow row 2: rows not sorted by shard "
                               "sort key"))


def test_instances_in_the_wrong_shard_fail(copy_dir):
    """Shard 0's last row and shard 1's first trade places: each shard stays sorted."""
    t0, t1 = _read(copy_dir, 0), _read(copy_dir, 1)
    _put_table(copy_dir, 0, pa.concat_tables([t0.slice(0, 99), t1.slice(0, 1)]))
    _put_table(copy_dir, 1, pa.concat_tables([t0.slice(99), t1.slice(1)]))
    _fails(copy_dir, re.escape("shard-00001-of-00004.arrow row 0: instance (doc_id"))


# A damaged dir: one line `error: verify: ...` (or `error: inspect: ...`), exit 2 (issue 17).
def _damage(d: Path, how: str) -> None:
    manifest = d / "manifest.json"
    if how == "invalid JSON":
        manifest.write_text('{"format": ')
    elif how == "empty":
        manifest.write_text("")
    elif how == "a JSON list":
        manifest.write_text("[]")
    elif how == "no totals":
        m = json.loads(manifest.read_text())
        del m["totals"]
        manifest.write_text(json.dumps(m))
    elif how == "vocab.txt deleted":
        (d / "vocab.txt").unlink()
    elif how == "a shard that is a directory":
        _shard(d, 1).unlink()
        _shard(d, 1).mkdir()


DAMAGE = {
    "invalid JSON": "manifest.json: not valid JSON",
    "empty": "manifest.json: empty",
    "a JSON list": "manifest.json: a JSON list, not an object",
    "no totals": "manifest.json: lacks totals",
    "vocab.txt deleted": "vocab.txt: missing",
    "a shard that is a directory": "shard-00001-of-00004.arrow: cannot be read",
}


@pytest.mark.parametrize("command", ["verify", "inspect"])
@pytest.mark.parametrize("how", sorted(DAMAGE))
def test_damaged_dir_is_one_line_and_exit_2(copy_dir, capsys, command, how):
    _damage(copy_dir, how)
    assert main([command, str(copy_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {command}: {DAMAGE[how]}"), err


def test_damaged_dir_through_the_cli_process(copy_dir):
    _damage(copy_dir, "a JSON list")
    done = subprocess.run([sys.executable, "beam_runner.py", "verify", str(copy_dir)],
                          capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 2
    assert done.stderr == "error: verify: manifest.json: a JSON list, not an object\n"


@pytest.mark.parametrize("packed", [False, True])
def test_the_trainer_tests_synthetic_dirs_pass_verify(tmp_path, packed):
    """tests/synthetic.py writes what `shards` would: masks, order and manifest pass verify."""
    from synthetic import SyntheticSpec
    from synthetic import write_shard_dir as write_synthetic

    write_synthetic(tmp_path, SyntheticSpec(rows=300, num_shards=3, masking="span",
                                            task="sop", packed=packed))
    assert verify_shard_dir(str(tmp_path))["totals"]["instances"] == 300
