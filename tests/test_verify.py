"""verify: checksums, schema and every row rule, each failing with its own message."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from shard_helpers import CLS, MASK, SEP, make_instances, toy_vocab_txt, write_shard_dir

from core.errors import UserError
from pipeline.verify import Rules, check_batch, verify_shard_dir
from transforms.manifest import vocab_tokens
from transforms.shard_schema import instances_to_batch


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    write_shard_dir(str(out), make_instances(400), num_shards=3)
    return out


@pytest.fixture
def copy_dir(shard_dir, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(shard_dir, dst)
    return dst


def test_ok(shard_dir, capsys):
    manifest = verify_shard_dir(str(shard_dir))
    assert manifest["totals"]["instances"] == 400
    assert capsys.readouterr().out.startswith(f"OK {shard_dir}: 3 shards, 400 instances")


def test_flipping_one_byte_fails(copy_dir):
    path = copy_dir / "shard-00001-of-00003.arrow"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match="shard-00001-of-00003.arrow: sha256 differs"):
        verify_shard_dir(str(copy_dir))


def test_no_manifest_fails(copy_dir):
    (copy_dir / "manifest.json").unlink()
    with pytest.raises(UserError, match="no manifest.json"):
        verify_shard_dir(str(copy_dir))


def test_missing_shard_fails(copy_dir):
    (copy_dir / "shard-00002-of-00003.arrow").unlink()
    with pytest.raises(UserError, match="shard-00002-of-00003.arrow: missing"):
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
    "a masked position lies in no span": _span_on_an_unmasked_token,
}


@pytest.mark.parametrize("message", sorted(CASES))
def test_each_row_rule_fails_with_its_message(message):
    batch = instances_to_batch(_broken(CASES[message]), 300)
    with pytest.raises(UserError, match=re.escape(f"x.arrow row 2: {message}")):
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
