"""Every numeric flag is checked at the CLI: one `error:` line and exit 2 before any work.

Config fields are checked in the config dataclasses' `__post_init__` (core/config.py), so a
bad value can never reach a worker; flags that are not config fields are checked in the CLI.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from apache_beam.io.localfilesystem import LocalFileSystem

from pipeline.cli import main

BAD = {  # argv after the subcommand -> the start of the error message
    ("shards", "--seed", "-1"): "--seed must be an integer in [0, ",
    ("all", "--seed", str(1 << 63)): "--seed must be an integer in [0, ",
    ("shards", "--seed", "1.5"): "invalid int value: '1.5'",
    ("shards", "--max-seq-length", "7"): "--max-seq-length must be in [8, 65535]",
    ("shards", "--dupe-factor", "0"): "--dupe-factor must be in [1, 255]",
    # pass_index < dupe_factor must fit the uint32 word `rng.stream_keys` gives it.
    ("shards", "--dupe-factor", str(1 << 32)): "--dupe-factor must be in [1, 255]",
    ("shards", "--short-seq-prob", "1.5"): "--short-seq-prob must be in [0.0, 1.0]",
    ("shards", "--masked-lm-prob", "nan"): "--masked-lm-prob must be in [0.0, 1.0]",
    ("shards", "--max-predictions-per-seq", "0"): "--max-predictions-per-seq must be >= 1",
    ("shards", "--span-p", "0"): "--span-p must be in",
    ("shards", "--span-max", "0"): "--span-max and --max-ngram must be >= 1",
    ("shards", "--nsp-pool-size", "1"): "--nsp-pool-size must be >= 2",
    ("shards", "--num-shards", "0"): "--num-shards must be in [1, 99999]",
    ("shards", "--max-sequences-per-row", "0"): "--max-sequences-per-row must be in",
    ("shards", "--min-words", "-1"): "--min-words/--max-words out of order",
    ("shards", "--min-sentences", "-1"): "--min-sentences must be an integer >= 0",
    ("shards", "--min-line-words", "-2"): "--min-line-words must be an integer >= 0",
    ("shards", "--max-symbol-ratio", "2"): "--max-symbol-ratio must be in [0.0, 1.0]",
    ("all", "--vocab-size", "3"): "--vocab-size too small",
    ("all", "--min-frequency", "0"): "--min-frequency must be >= 1",
    ("all", "--limit-alphabet", "-1"): "--limit-alphabet must be an integer >= 0",
    ("all", "--num-unused", "-1"): "--num-unused must be an integer >= 0",
    ("all", "--max-input-chars-per-word", "0"): "--max-input-chars-per-word must be an integer",
    ("all", "--max-words-in-memory", "10"): "--max-words-in-memory must be >= 100",
    ("clean", "--num-shards", "0"): "--num-shards must be in [1, 99999]",
}


def _argv(cmd: tuple[str, ...], tmp: Path) -> list[str]:
    sub, *flags = cmd
    argv = [sub, "--output", str(tmp / "out"), *flags]
    if sub == "shards":
        argv += ["--vocab", str(tmp / "no-vocab")]
    return argv


@pytest.mark.parametrize("cmd", sorted(BAD), ids=" ".join)
def test_bad_numeric_flag_is_one_line_and_exit_2(cmd, tmp_path, capsys):
    assert main(_argv(cmd, tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and BAD[cmd] in err, err
    assert not (tmp_path / "out").exists()


def test_inspect_negative_n(tmp_path, capsys):
    assert main(["inspect", str(tmp_path), "--n", "-1"]) == 2
    assert capsys.readouterr().err == "error: --n must be >= 0; got -1\n"


def test_negative_seed_through_the_cli_process(tmp_path):
    """Issue 12: `--seed -1` used to pass the CLI and fail inside workers with a ValueError."""
    done = subprocess.run([sys.executable, "beam_runner.py", *_argv(("all", "--seed", "-1"),
                                                                     tmp_path)],
                          capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 2
    assert done.stderr.startswith("error: --seed must be an integer in [0, ")
    assert done.stderr.count("\n") == 1


class _RemoteDirs(LocalFileSystem):
    """`trustfake://` paths served from a local dir: a remote filesystem for Beam's
    FileSystems (found by scheme), without a network."""

    root = Path("/nonexistent")

    @classmethod
    def scheme(cls) -> str:
        return "trustfake"

    def match(self, patterns, limits=None):
        local = [str(self.root) + p[len("trustfake://") - 1:] for p in patterns]
        return super().match(local, limits)


@pytest.mark.parametrize("occupied", [False, True])
def test_remote_vocab_output_must_be_empty(tmp_path, capsys, monkeypatch, occupied):
    monkeypatch.setattr(_RemoteDirs, "root", tmp_path)
    (tmp_path / "vocab-out").mkdir()
    if occupied:
        (tmp_path / "vocab-out" / "vocab.txt").write_text("[PAD]\n")
        assert main(["vocab", "--output", "trustfake://vocab-out"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: --output 'trustfake://vocab-out' is not empty") and \
            err.count("\n") == 1, err
    else:
        from pipeline.output_dir import is_occupied

        assert not is_occupied("trustfake://vocab-out")
