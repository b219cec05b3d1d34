"""The CLI never surprises (issue 16): every input read, one-line errors, defaults in --help,
a summary named and indented the same way on screen and in summary.json."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from shard_helpers import make_instances, write_shard_dir

from pipeline.cli import CLOSED_PIPE_LINE, build_parser

REPO = Path(__file__).resolve().parents[1]
WORDS = " ".join(f"word{i}" for i in range(30))


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, str(REPO / "beam_runner.py"), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)


def _one_error_line(done: subprocess.CompletedProcess, *fragments: str) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_shell_expanded_inputs_are_all_read_and_summary_reads_like_the_json(tmp_path):
    """`--input a.txt b.jsonl` (what the shell makes of `--input dir/*`) reads both files;
    dropped and rejected reasons print as indented bare names under their totals, exactly
    the keys of summary.json."""
    (tmp_path / "a.txt").write_text(f"{WORDS}.\n\nshort doc.\n")
    other_words = " ".join(f"term{i}" for i in range(30))  # not a near-duplicate of a.txt
    (tmp_path / "b.jsonl").write_text(json.dumps({"text": other_words}) + "\n{not json\n")
    done = _cli("clean", "--input", str(tmp_path / "a.txt"), str(tmp_path / "b.jsonl"),
                "--output", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["files_read"] == 2
    assert summary["documents_read"] == 4
    assert summary["documents_dropped"] == {"too_few_words": 1}
    assert summary["documents_rejected"] == 1
    assert summary["documents_rejected_by_reason"] == {"invalid_json": 1}
    lines = [line.split() for line in done.stdout.splitlines()]
    at = lines.index(["documents_dropped", "1"])
    assert lines[at + 1:at + 4] == [["too_few_words", "1"], ["documents_rejected", "1"],
                                    ["invalid_json", "1"]]
    printed = done.stdout.splitlines()
    assert printed[at + 1].startswith("    too_few_words")
    assert printed[at + 2].startswith("documents_rejected")
    assert printed[at + 3].startswith("    invalid_json")


def test_a_stray_positional_is_one_line(tmp_path):
    (tmp_path / "a.txt").write_text(f"{WORDS}.\n")
    done = _cli("clean", "--output", str(tmp_path / "out"), "--input", str(tmp_path / "a.txt"),
                "--format", "text", str(tmp_path / "b.txt"))
    _one_error_line(done, "unexpected argument", "b.txt")
    assert not (tmp_path / "out").exists()


def test_an_output_that_cannot_be_created_is_one_line(tmp_path):
    done = _cli("clean", "--output", "/proc/bert-shards-test/out")
    _one_error_line(done, "/proc/bert-shards-test/out", "cannot be created")


def test_an_unknown_runner_is_one_line(tmp_path):
    done = _cli("clean", "--output", str(tmp_path / "out"), "--runner", "NoSuchRunner")
    _one_error_line(done, "unknown --runner 'NoSuchRunner'")


def test_inspect_into_a_closed_pipe_is_one_line(tmp_path):
    """`inspect DIR | head -1`: the reader leaves early; one line saying so, no traceback,
    exit 0 (the reader's choice is not a failure of the run)."""
    write_shard_dir(str(tmp_path), make_instances(400), num_shards=2)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(REPO / "beam_runner.py"), "inspect",
                             str(tmp_path), "--n", "400"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("shard dir:")
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, stderr
    assert stderr.splitlines() == [CLOSED_PIPE_LINE]


def _options(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                for option, help_text in _options(sub):
                    yield f"{name} {option}", help_text
        elif action.option_strings and not action.required and action.dest != "help":
            formatter = parser._get_formatter()
            yield action.option_strings[0], (
                formatter._expand_help(action) if action.help else "")


def test_help_states_every_default():
    missing = [option for option, help_text in _options(build_parser())
               if "default" not in help_text]
    assert missing == [], f"options whose --help hides the default: {missing}"
    done = _cli("shards", "--help")
    assert done.returncode == 0
    assert re.search(r"--max-seq-length MAX_SEQ_LENGTH\s+default: 512\s", done.stdout)


def test_vocab_smaller_than_its_alphabet_warns(tmp_path):
    """`vocab --vocab-size 10` cannot hold the alphabet: one warning line, counted entries."""
    (tmp_path / "a.txt").write_text(f"{WORDS}.\n\n{WORDS} again.\n")
    done = _cli("vocab", "--input", str(tmp_path / "a.txt"), "--output", str(tmp_path / "v"),
                "--vocab-size", "10", "--min-frequency", "1")
    assert done.returncode == 0, done.stderr
    entries = len((tmp_path / "v" / "vocab.txt").read_text().splitlines())
    assert entries > 10
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [line for line in done.stderr.splitlines()
                        if line.strip() and not line.startswith("progress:")]  # slow machines
    assert len(warnings) == 1 and f"has {entries:,} entries" in warnings[0]
    assert "--vocab-size 10:" in warnings[0]
    summary = json.loads((tmp_path / "v" / "summary.json").read_text())
    assert summary["vocab_entries"] == entries
    done = _cli("vocab", "--input", str(tmp_path / "a.txt"), "--output", str(tmp_path / "v2"),
                "--vocab-size", str(entries), "--min-frequency", "1")
    assert done.returncode == 0 and "warning" not in done.stderr, done.stderr
