"""Packed rows train exactly like the unpacked instances they hold.

For one batch of instances, the unpacked rows (schema v1) and the same instances packed
several per row (schema v2) must give the same MLM, sentence and SBO losses and the same
gradient for every parameter: fp32 on CPU, dropout off. Tolerance: relative 1e-5 on each
loss and on the norm of each parameter's gradient difference, plus 1e-7 of the whole
gradient's norm for parameters whose exact gradient is 0 (attention key biases: softmax
ignores a constant shift), where the relative error is pure rounding. Measured (nsp/span):
losses differ by <= 7e-8 relative, gradients by <= 1.2e-6, from sums taken in another order
over another padding width. Weights are initialised with sd 0.2 instead of 0.02 so that
attention is far from uniform: letting tokens attend across sequences then moves the losses
by 3e-3 to 1e-2 relative and some gradients by 100% (at sd 0.02 only by ~2e-5 on the losses).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs torch: pip install -e '.[trainer]'")

from synthetic import PAD, SyntheticSpec, write_shard_dir, write_vocab  # noqa: E402

from core.config import ShardConfig  # noqa: E402
from trainer.collate import CollateConfig, collate, expand, to_torch  # noqa: E402
from trainer.model import BertPretrainer, SboConfig, bert_config  # noqa: E402
from trainer.shard_reader import ShardReader  # noqa: E402
from trainer.train import main  # noqa: E402

VOCAB = 200
MAX_LEN = 64
RTOL = 1e-5
PER_ROW = ShardConfig.max_sequences_per_row  # what `shards --packed` writes by default


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _dirs(tmp: Path, task: str, masking: str, rows: int) -> tuple[Path, Path]:
    spec = SyntheticSpec(rows=rows, vocab_size=VOCAB, task=task, masking=masking,
                         max_seq_length=MAX_LEN, num_shards=1, long_fraction=0.2,
                         short_max_length=16, max_per_row=PER_ROW)
    write_shard_dir(tmp / "unpacked", spec)
    write_shard_dir(tmp / "packed", SyntheticSpec(**{**vars(spec), "packed": True}))
    return tmp / "unpacked", tmp / "packed"


def _losses_and_grads(model, shard_dir: Path, sbo: SboConfig | None):
    reader = ShardReader(shard_dir)
    cfg = CollateConfig(pad_id=PAD, vocab_size=VOCAB, sbo_max_targets=sbo.max_targets if sbo else 0)
    batch = expand(to_torch(collate(reader, np.arange(reader.num_rows), cfg)), "cpu",
                   cfg.sbo_max_targets)
    model.zero_grad(set_to_none=True)
    losses = model(batch)
    losses["loss"].backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return {k: v.item() for k, v in losses.items()}, grads, batch


@pytest.mark.parametrize("task", ["nsp", "sop"])
@pytest.mark.parametrize("masking", ["token", "span"])
def test_packed_batch_has_the_losses_and_gradients_of_the_unpacked_batch(tmp_path, task,
                                                                         masking):
    unpacked, packed = _dirs(tmp_path, task, masking, rows=24)
    sbo = SboConfig(position_size=32) if masking == "span" else None
    torch.manual_seed(0)
    config = bert_config("tiny", VOCAB, PAD, MAX_LEN)
    config.initializer_range = 0.2  # peaked attention: a leak across sequences shows
    model = BertPretrainer(config, sbo).eval()
    want, want_grads, flat = _losses_and_grads(model, unpacked, sbo)
    got, got_grads, rows = _losses_and_grads(model, packed, sbo)
    assert rows["input_ids"].shape[0] < flat["input_ids"].shape[0]  # really packed
    assert rows["cls_positions"].shape[1] == PER_ROW  # a row holds the most the default allows
    assert rows["instances"].item() == flat["instances"].item() == 24
    assert set(got) == set(want) == {"loss", "mlm_loss", "sentence_loss"} | (
        {"sbo_loss"} if sbo else set())
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=RTOL), key
    assert got_grads.keys() == want_grads.keys()
    total = torch.cat([g.flatten() for g in want_grads.values()]).norm().item()
    for name, grad in want_grads.items():
        diff = (got_grads[name] - grad).norm().item()
        assert diff <= RTOL * grad.norm().item() + 1e-7 * total, (name, diff, grad.norm().item())


def test_packed_inputs_restart_per_sequence():
    """Row 0 holds sequences of 3 and 2 tokens, row 1 one of 4 (its second slot is empty)."""
    batch = {
        "input_ids": torch.tensor([[2, 7, 3, 2, 3, 0, 0, 0], [2, 3, 8, 3, 0, 0, 0, 0]]),
        "lengths": torch.tensor([5, 4]),
        "seq_lens": torch.tensor([[3, 2], [4, 0]]),
        "a_len": torch.tensor([[2, 2], [2, 0]]),
        "mlm_positions": torch.tensor([[1], [2]]),
        "mlm_labels": torch.tensor([[9], [9]]),
        "sentence_label": torch.tensor([[0, -1], [1, -1]], dtype=torch.int8),
    }
    out = expand(batch, "cpu")
    assert out["position_ids"].tolist() == [[0, 1, 2, 0, 1, 0, 0, 0], [0, 1, 2, 3, 0, 0, 0, 0]]
    assert out["token_type_ids"].tolist() == [[0, 0, 1, 0, 0, 0, 0, 0],
                                              [0, 0, 1, 1, 0, 0, 0, 0]]
    assert out["cls_positions"].tolist() == [[0, 3], [0, 0]]
    assert out["instances"].item() == 3
    blocks = [[0, 0, 0, 1, 1, 2, 2, 2], [0, 0, 0, 0, 2, 2, 2, 2]]  # padding is its own block
    want = torch.tensor([[[a == b for b in row] for a in row] for row in blocks])
    assert out["attention_mask"].shape == (2, 1, 8, 8)
    assert torch.equal(out["attention_mask"][:, 0], want)
    assert out["labels"].tolist() == [[-100, 9] + [-100] * 6, [-100, -100, 9] + [-100] * 5]


def test_trainer_learns_from_packed_shards(tmp_path):
    """MLM loss of the last 10 of 80 tiny steps (lr 2e-3) < 0.8 x the first 10's; samples
    per second count instances (several per row), not rows."""
    write_vocab(tmp_path / "vocab", VOCAB)
    write_shard_dir(tmp_path / "shards", SyntheticSpec(rows=1024, vocab_size=VOCAB,
                                                       task="nsp", max_seq_length=MAX_LEN,
                                                       long_fraction=0.2, packed=True,
                                                       max_per_row=PER_ROW))
    out = tmp_path / "out"
    argv = ["--shards", str(tmp_path / "shards"), "--vocab", str(tmp_path / "vocab"),
            "--output", str(out), "--config", "tiny", "--max-steps", "80", "--batch-size", "8",
            "--lr", "2e-3", "--warmup-steps", "5", "--num-workers", "0", "--log-every", "1"]
    assert main(argv) == 0
    m = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(m) == 80
    first = np.mean([r["mlm_loss"] for r in m[:10]])
    last = np.mean([r["mlm_loss"] for r in m[-10:]])
    assert last < 0.8 * first
    assert all(r["sentence_loss"] is not None for r in m)
