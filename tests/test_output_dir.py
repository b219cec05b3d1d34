"""One output-dir policy for clean, vocab, shards and all, on local and remote dirs."""

from __future__ import annotations

import os

import memory_filesystem
import pytest

from pipeline.cli import main
from pipeline.output_dir import prepare_output_dir
from pipeline.shards_pipeline import SHARD_DIR_FILES

SUBCOMMANDS = ("clean", "vocab", "shards", "all")


@pytest.fixture(scope="module")
def vocab_dir(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("vocab")
    (d / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n", encoding="utf-8")
    return str(d)


def _argv(command: str, output: str, vocab_dir: str, overwrite: bool = False) -> list[str]:
    argv = [command, "--output", output]
    if command == "shards":
        argv += ["--vocab", vocab_dir, "--lowercase"]
    return argv + (["--overwrite"] if overwrite else [])


def _refused_in_one_line(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_a_non_empty_local_output_is_refused(command, tmp_path, capsys, vocab_dir):
    (tmp_path / "notes.txt").write_text("mine")
    err = _refused_in_one_line(_argv(command, str(tmp_path), vocab_dir), capsys)
    assert "is not empty; pass --overwrite" in err
    assert os.listdir(tmp_path) == ["notes.txt"]


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_a_non_empty_remote_output_is_refused(command, capsys, vocab_dir):
    out = f"{memory_filesystem.SCHEME}://bucket/{command}"
    memory_filesystem.FILES[f"{out}/sub/notes.txt"] = b"mine"
    err = _refused_in_one_line(_argv(command, out, vocab_dir), capsys)
    assert "is not empty; pass --overwrite" in err
    assert memory_filesystem.FILES[f"{out}/sub/notes.txt"] == b"mine"


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_writing_subcommand_accepts_overwrite(command, tmp_path, monkeypatch, vocab_dir):
    """--overwrite reaches the policy: the run gets past it (stopped there, not run)."""
    seen = []

    def stop(output, overwrite, own_files):
        seen.append(overwrite)
        raise SystemExit(0)

    monkeypatch.setattr("pipeline.launch.prepare_output_dir", stop)
    with pytest.raises(SystemExit):
        main(_argv(command, str(tmp_path), vocab_dir, overwrite=True))
    assert seen == [True]


def test_overwrite_deletes_only_own_files_locally(tmp_path):
    (tmp_path / "shard-00007-of-00099.arrow").write_bytes(b"old")
    (tmp_path / "manifest.json").write_text("{}")
    (tmp_path / ".manifest.json.tmp-0a1b").write_text("{")
    (tmp_path / "notes.txt").write_text("mine")
    prepare_output_dir(str(tmp_path), True, {"": SHARD_DIR_FILES})
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_overwrite_deletes_only_own_files_remotely():
    out = f"{memory_filesystem.SCHEME}://bucket/overwrite"
    files = memory_filesystem.FILES
    for name in ("shards/shard-00000-of-00002.arrow", "shards/manifest.json", "summary.json",
                 "vocab/vocab.txt", "notes.txt", "shards/notes.txt"):
        files[f"{out}/{name}"] = b"x"
    own = {"": ("summary.json",), "shards": SHARD_DIR_FILES, "vocab": ("vocab.txt",)}
    prepare_output_dir(out, True, own)
    assert sorted(p for p in files if p.startswith(out)) == [f"{out}/notes.txt",
                                                          f"{out}/shards/notes.txt"]


def test_an_empty_or_missing_output_needs_no_overwrite(tmp_path):
    prepare_output_dir(str(tmp_path / "new"), False, {"": SHARD_DIR_FILES})
    prepare_output_dir(f"{memory_filesystem.SCHEME}://bucket/nothing-here", False, {})
    assert os.path.isdir(tmp_path / "new")
