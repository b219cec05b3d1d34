"""trainer: the loss falls for every task/masking mode, checkpoints load in transformers,
and --resume continues exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs torch: pip install -e '.[trainer]'")

from synthetic import PAD, SyntheticSpec, write_shard_dir, write_vocab  # noqa: E402
from transformers import BertForPreTraining, BertTokenizerFast  # noqa: E402

from trainer.collate import CollateConfig, collate, expand, to_torch  # noqa: E402
from trainer.loop import Trainer  # noqa: E402
from trainer.model import BertPretrainer  # noqa: E402
from trainer.shard_reader import ShardReader  # noqa: E402
from trainer.train import main, parse_args  # noqa: E402

VOCAB = 200


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _data(tmp: Path, task: str, masking: str, rows: int = 512) -> tuple[Path, Path]:
    write_vocab(tmp / "vocab", VOCAB)
    write_shard_dir(tmp / "shards", SyntheticSpec(rows=rows, vocab_size=VOCAB, task=task,
                                                  masking=masking, max_seq_length=64))
    return tmp / "shards", tmp / "vocab"


def _argv(shards: Path, vocab: Path, out: Path, steps: int, *extra: str) -> list[str]:
    return ["--shards", str(shards), "--vocab", str(vocab), "--output", str(out),
            "--config", "tiny", "--max-steps", str(steps), "--batch-size", "16", "--lr", "2e-3",
            "--warmup-steps", "5", "--num-workers", "0", "--log-every", "1", *extra]


def _metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("task,masking", [("nsp", "token"), ("sop", "span"), ("none", "token")])
def test_tiny_model_lowers_mlm_loss(tmp_path, task, masking):
    """Threshold: mean MLM loss of the last 10 of 100 steps < 0.8 x that of the first 10.

    ln(200) = 5.3 at init; the phrase corpus lets a model reach ~2.5-3 within 100 steps,
    so 0.8 leaves a wide margin while a broken loss/label path (stuck near 5) fails.
    """
    shards, vocab = _data(tmp_path, task, masking)
    assert main(_argv(shards, vocab, tmp_path / "out", 100)) == 0
    m = _metrics(tmp_path / "out")
    assert [r["step"] for r in m] == list(range(1, 101))

    def drop(key: str) -> float:
        return np.mean([r[key] for r in m[-10:]]) / np.mean([r[key] for r in m[:10]])

    assert drop("mlm_loss") < 0.8
    if masking == "span":  # SBO is on automatically for span-masked shards
        assert drop("sbo_loss") < 0.8
    else:
        assert all(r["sbo_loss"] is None for r in m)
    assert all((r["sentence_loss"] is None) == (task == "none") for r in m)
    assert all(r["tokens_per_s"] > 0 and r["samples_per_s"] > 0 for r in m)


def test_checkpoint_loads_in_transformers_with_same_logits(tmp_path):
    shards, vocab = _data(tmp_path, "sop", "span", rows=64)
    trainer = Trainer(parse_args(_argv(shards, vocab, tmp_path / "out", 3)))
    trainer.train()
    ckpt = tmp_path / "out" / "checkpoint-final"
    cfg = CollateConfig(pad_id=PAD, vocab_size=VOCAB, sbo_max_targets=15)
    batch = expand(to_torch(collate(ShardReader(shards), np.arange(8), cfg)), "cpu", 15)
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    ours = trainer.model.eval()
    hf = BertForPreTraining.from_pretrained(ckpt).eval()
    with torch.no_grad():
        hidden = ours.bert.bert(**inputs).last_hidden_state
        expected = ours.mlm_logits(hidden, batch["mlm_positions"])
        full = hf(**inputs).prediction_logits
        got = full.gather(1, batch["mlm_positions"][..., None].expand(-1, -1, full.shape[-1]))
        sbo_before = ours(batch)["sbo_loss"]
        sbo_after = BertPretrainer.load(ckpt).eval()(batch)["sbo_loss"]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(sbo_after, sbo_before, atol=1e-5, rtol=0)
    tok = BertTokenizerFast.from_pretrained(ckpt)
    assert tok.convert_tokens_to_ids(["[PAD]", "[MASK]", "w7"]) == [0, 4, 7]


def test_resume_continues_exactly(tmp_path):
    shards, vocab = _data(tmp_path, "nsp", "token", rows=96)  # 6 batches/epoch: crosses epochs
    assert main(_argv(shards, vocab, tmp_path / "straight", 10)) == 0
    assert main(_argv(shards, vocab, tmp_path / "split", 10, "--save-every", "4")) == 0
    state = torch.load(tmp_path / "split" / "checkpoint-8" / "trainer_state.pt",
                       weights_only=False)
    assert state["step"] == 8 and state["loader"] == {
        "epoch": 1, "consumed_samples": 32, "seed": 0, "global_batch": 16}
    # Restart from the step-8 checkpoint (the final one removed) and compare steps 9-10.
    import shutil
    shutil.rmtree(tmp_path / "split" / "checkpoint-final")
    (tmp_path / "split" / "metrics.jsonl").unlink()
    assert main(_argv(shards, vocab, tmp_path / "split", 10, "--resume")) == 0
    resumed = _metrics(tmp_path / "split")
    straight = _metrics(tmp_path / "straight")[-2:]
    keys = ("step", "loss", "mlm_loss", "sentence_loss", "lr")
    assert [[r[k] for k in keys] for r in resumed] == [[r[k] for k in keys] for r in straight]


RANK_DUMP = """
import sys
from pathlib import Path

import torch

from trainer.loop import Trainer
from trainer.train import parse_args

trainer = Trainer(parse_args(sys.argv[1:]))
trainer.train()
params = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
torch.save(params, Path(sys.argv[sys.argv.index("--output") + 1]) / f"rank{trainer.rank}.pt")
"""


def test_torchrun_two_ranks_gloo(tmp_path):
    """DDP on CPU: two ranks, gradient accumulation, one loader worker each.

    The ranks read different rows, so their parameters stay equal after 6 steps only if the
    gradients really are all-reduced; each rank dumps its parameters (a script in this test,
    around the trainer's own Trainer) and they must be identical, and moved from the init.
    """
    import os
    import subprocess
    import sys

    shards, vocab = _data(tmp_path, "sop", "span", rows=128)
    argv = _argv(shards, vocab, tmp_path / "out", 6, "--grad-accum", "2", "--num-workers", "1",
                 "--save-every", "3")
    script = tmp_path / "rank_dump.py"
    script.write_text(RANK_DUMP)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                    str(script), *argv], check=True, env=env, timeout=600,
                   cwd=Path(__file__).resolve().parents[1])
    m = _metrics(tmp_path / "out")
    assert [r["step"] for r in m] == list(range(1, 7))
    state = torch.load(tmp_path / "out" / "checkpoint-final" / "trainer_state.pt",
                       weights_only=False)
    # 6 steps x 2 micro-batches x 16 rows x 2 ranks = 384 rows = 3 epochs of 128.
    assert state["loader"]["epoch"] == 3 and state["loader"]["consumed_samples"] == 0
    rank0, rank1 = (torch.load(tmp_path / "out" / f"rank{r}.pt") for r in (0, 1))
    assert rank0.keys() == rank1.keys()
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), f"{name} differs between ranks"
    torch.manual_seed(0)  # the trainer's --seed: the initial weights
    init = Trainer(parse_args(_argv(shards, vocab, tmp_path / "init", 1))).model.state_dict()
    assert not torch.equal(init["bert.bert.embeddings.word_embeddings.weight"],
                           rank0["bert.bert.embeddings.word_embeddings.weight"])


def test_vocab_other_than_the_shards_own_is_refused(tmp_path, capsys):
    shards, vocab = _data(tmp_path, "nsp", "token", rows=32)
    other = tmp_path / "other"
    write_vocab(other, VOCAB + 1)
    assert main(_argv(shards, other, tmp_path / "out", 1)) == 2
    errors = [line for line in capsys.readouterr().err.splitlines()
              if not line.startswith("progress:")]
    assert errors == [f"error: {other / 'vocab.txt'} is not the vocab the shards were built with "
                      f"(sha256 differs)"]


@pytest.mark.parametrize("flag,value,message", [
    ("--seed", "-1", "--seed must be >= 0"), ("--num-workers", "-1", "--num-workers must be >= 0"),
    ("--save-every", "-3", "--save-every must be >= 0"),
    ("--warmup-steps", "-1", "--warmup-steps must be >= 0"),
    ("--group-by-length", "-1", "--group-by-length must be >= 0"),
    ("--keep-checkpoints", "0", "--keep-checkpoints must be >= 1"),
    ("--lr", "0", "--lr must be > 0"), ("--lr", "nan", "--lr must be > 0"),
    ("--weight-decay", "-0.1", "--weight-decay must be >= 0"),
    ("--grad-accum", "0", "--grad-accum must be >= 1"),
])
def test_trainer_numeric_flags_are_checked(tmp_path, capsys, flag, value, message):
    argv = _argv(tmp_path / "shards", tmp_path / "vocab", tmp_path / "out", 1, flag, value)
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith(f"error: {message}")
