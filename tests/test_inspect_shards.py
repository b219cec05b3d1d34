"""inspect: decoding with masks shown, and the printed figures of a hand-made shard dir."""

from __future__ import annotations

from shard_helpers import make_instances, write_shard_dir

from pipeline.inspect_shards import decode, inspect_shard_dir

TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "play", "##ing", "中", "国", "the"]


def test_decode_glues_pieces_and_cjk_and_shows_masks():
    ids = [2, 9, 4, 6, 7, 8, 3]
    assert decode(ids, [2], [5], TOKENS) == "[CLS] the [play→[MASK]]ing 中国 [SEP]"
    assert decode(ids[:2] + [5, 6, 7, 9, 3], [3, 4], [6, 8], TOKENS) == (
        "[CLS] the play[##ing→##ing] [国→中] the [SEP]")


def test_inspect_prints_totals_balance_and_samples(tmp_path, capsys):
    instances = make_instances(40)
    write_shard_dir(str(tmp_path), instances, num_shards=4)
    inspect_shard_dir(str(tmp_path), 2)
    out = capsys.readouterr().out
    masked = sum(len(i.mlm_positions) for i in instances)
    assert out.startswith(f"shard dir: 4 shards, 40 instances, "
                          f"{sum(len(i.input_ids) for i in instances):,} tokens, "
                          f"{masked:,} masked tokens")
    assert "rows per shard: 10–10" in out
    assert f"masking units: {masked:,}, mean size 1.00 tokens (1: 100.0%)" in out
    labels = [i.sentence_label for i in instances]
    assert f"-1: {labels.count(-1)} " in out
    assert out.count("--- sample") == 2
