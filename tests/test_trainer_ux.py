"""The trainer talks early and refuses clearly (issues 16 and 17): progress from the first
step, a safe --resume, one line for every user mistake or damaged checkpoint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="needs torch: pip install -e '.[trainer]'")

from synthetic import SyntheticSpec, write_shard_dir, write_vocab  # noqa: E402

from trainer.train import main  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VOCAB = 200


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _data(tmp: Path, rows: int = 64, seed: int = 0, max_seq_length: int = 64,
          name: str = "shards") -> tuple[Path, Path]:
    if not (tmp / "vocab").exists():
        write_vocab(tmp / "vocab", VOCAB)
    write_shard_dir(tmp / name, SyntheticSpec(rows=rows, vocab_size=VOCAB, seed=seed,
                                              max_seq_length=max_seq_length))
    return tmp / name, tmp / "vocab"


def _argv(shards: Path, vocab: Path, out: Path, steps: int, *extra: str) -> list[str]:
    return ["--shards", str(shards), "--vocab", str(vocab), "--output", str(out),
            "--config", "tiny", "--max-steps", str(steps), "--batch-size", "8",
            "--num-workers", "0", "--log-every", "100", *extra]


def _one_error(capsys, *fragments: str) -> str:
    """The run's stderr holds progress lines and exactly one other line: the error."""
    err = capsys.readouterr().err
    other = [line for line in err.splitlines() if not line.startswith("progress: ")]
    assert len(other) == 1 and other[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in other[0], other[0]
    return other[0]


def test_progress_starts_before_torch_and_shows_every_early_step(tmp_path):
    shards, vocab = _data(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    lazy = subprocess.run([sys.executable, "-c", "import sys, trainer.train; "
                           "print(sorted({'torch', 'transformers'} & set(sys.modules)))"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert lazy.stdout.strip() == "[]", lazy.stderr
    done = subprocess.run([sys.executable, "-m", "trainer.train",
                           *_argv(shards, vocab, tmp_path / "out", 3)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "progress: importing torch and transformers"
    steps = [line for line in lines if line.startswith("progress: step ")]
    assert [s.split(",")[0] for s in steps][0] == "progress: step 1/3"
    assert steps[-1].startswith("progress: step 3/3,")
    for part in ("samples/s", "loss ", "elapsed ", "ETA "):
        assert all(part in s for s in steps), steps


def _checkpoint_at_4(tmp_path) -> tuple[Path, Path, Path]:
    shards, vocab = _data(tmp_path)
    out = tmp_path / "out"
    assert main(_argv(shards, vocab, out, 4)) == 0
    state = torch.load(out / "checkpoint-final" / "trainer_state.pt", weights_only=False)
    assert state["step"] == 4 and state["global_batch"] == 8
    assert len(state["shards_manifest_sha256"]) == 64
    return shards, vocab, out


def test_resume_refuses_other_shards_other_batch_and_says_when_done(tmp_path, capsys):
    shards, vocab, out = _checkpoint_at_4(tmp_path)
    other, _ = _data(tmp_path, rows=64, seed=1, name="other")
    capsys.readouterr()
    assert main(_argv(other, vocab, out, 8, "--resume")) == 2
    _one_error(capsys, "different shard dir")
    assert main(_argv(shards, vocab, out, 8, "--resume", "--grad-accum", "2")) == 2
    _one_error(capsys, "different global batch", "8 there, 16 now")

    final = out / "checkpoint-final" / "trainer_state.pt"
    before = (final.stat().st_mtime_ns, final.read_bytes())
    assert main(_argv(shards, vocab, out, 3, "--resume")) == 0
    err = capsys.readouterr().err
    assert "nothing left to train" in err and "step 4" in err
    assert (final.stat().st_mtime_ns, final.read_bytes()) == before
    assert not (out / "checkpoint-final.tmp").exists()


def test_damaged_checkpoint_files_are_one_line(tmp_path, capsys):
    shards, vocab, out = _checkpoint_at_4(tmp_path)
    final = out / "checkpoint-final"
    shutil.copytree(final, tmp_path / "good")
    weights = final / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    capsys.readouterr()
    assert main(_argv(shards, vocab, out, 6, "--resume")) == 2
    _one_error(capsys, "model in", "is damaged")

    shutil.rmtree(final)
    shutil.copytree(tmp_path / "good", final)
    (final / "trainer_state.pt").write_bytes(b"not a pickle at all" * 10)
    assert main(_argv(shards, vocab, out, 6, "--resume")) == 2
    _one_error(capsys, "trainer_state.pt is damaged")


def test_batch_larger_than_the_rows_is_one_line(tmp_path, capsys):
    shards, vocab = _data(tmp_path, rows=32)
    argv = _argv(shards, vocab, tmp_path / "out", 2)
    argv[argv.index("--batch-size") + 1] = "64"
    assert main(argv) == 2
    _one_error(capsys, "--batch-size 64", "32 rows")


def test_position_embeddings_follow_the_shards_max_seq_length(tmp_path):
    """Shards longer than BERT's 512 positions train; the model is sized from the manifest."""
    shards, vocab = _data(tmp_path, rows=16, max_seq_length=640)
    manifest = json.loads((shards / "manifest.json").read_text())
    assert manifest["config"]["pack"]["max_seq_length"] == 640
    out = tmp_path / "out"
    assert main(_argv(shards, vocab, out, 1, "--batch-size", "4")) == 0
    config = json.loads((out / "checkpoint-final" / "config.json").read_text())
    assert config["max_position_embeddings"] >= 640


def test_step_progress_prints_the_first_and_last_step_whatever_the_interval():
    from trainer.progress import StepProgress

    steps = StepProgress(first_step=4, total_steps=100, samples_per_step=16, interval=3600)
    assert steps.due(5)
    line = steps.line(5, 2.5)
    assert line.startswith("step 5/100, ") and "loss 2.5000" in line and "ETA " in line
    assert not steps.due(6) and not steps.due(99)
    assert steps.due(100)


@pytest.mark.parametrize("argv, code", [(["--help"], 0), (["--bogus"], 2)])
def test_help_and_argparse_errors_exit_without_a_traceback(argv, code, capsys):
    # argparse exits (SystemExit) before trainer.loop is imported; main() must not touch the
    # not-yet-imported NothingToTrain on the way out (it raised UnboundLocalError).
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == code
    assert "Traceback" not in capsys.readouterr().err
