"""A full disk while writing shards is one line, and the partial dir stays unfinished (issue 17).

The real case mounts a 24 KB tmpfs as `--output` (needs root, as CI has; skips otherwise).
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from shard_helpers import toy_vocab_txt

from pipeline.launch import no_space_path

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_disk_full_while_writing_shards_is_one_line(tmp_path, tiny_disk):
    vocab = tmp_path / "vocab"
    vocab.mkdir()
    (vocab / "vocab.txt").write_bytes(toy_vocab_txt(300))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(REPO / "beam_runner.py"), "shards", "--vocab", str(vocab),
         "--lowercase", "--output", str(tiny_disk), "--dupe-factor", "5", "--num-shards", "2"],
        env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.strip().splitlines()
             if not line.startswith("progress:")]  # a slow machine prints progress first
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: no space left on device writing {tiny_disk}/shard-")
    assert not (tiny_disk / "manifest.json").exists()


def test_no_space_is_found_in_the_wrapped_errors_of_either_runner_mode():
    direct = OSError(errno.ENOSPC, "No space left on device", "/out/shard-00001-of-00002.arrow")
    assert no_space_path(RuntimeError("stage failed")) is None
    wrapped = RuntimeError("stage failed")
    wrapped.__cause__ = direct
    assert no_space_path(wrapped) == "/out/shard-00001-of-00002.arrow"
    remote = RuntimeError("Traceback ...\nOSError: [Errno 28] No space left on device: "
                          "'/out/manifest.json' [while running 'WriteManifest']")
    assert no_space_path(remote) == "/out/manifest.json"
    assert no_space_path(OSError(errno.EACCES, "Permission denied", "/out")) is None
