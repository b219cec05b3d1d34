"""tests/conftest.py: under CI=true a missing ../shared/corpora fails the run with one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _run_copy(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess:
    """The real conftest.py and corpora.py in a checkout with no ../shared beside it."""
    tests = tmp_path / "repo" / "tests"
    tests.mkdir(parents=True)
    for name in ("conftest.py", "corpora.py"):
        shutil.copy(TESTS / name, tests / name)
    (tests / "test_trivial.py").write_text("def test_ok():\n    pass\n")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(tests)], cwd=tests.parent, env=env, capture_output=True,
                          text=True, timeout=300)


def test_ci_without_shared_corpora_fails_with_one_line(tmp_path):
    done = _run_copy(tmp_path, "true")
    assert done.returncode == 2
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "error:" in line]
    assert len(lines) == 1 and "CI=true" in lines[0] and "corpora is absent" in lines[0]
    assert "Traceback" not in done.stdout + done.stderr


def test_local_run_without_shared_corpora_proceeds(tmp_path):
    done = _run_copy(tmp_path, None)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
