"""`--workers N`: the worker zygote starts before the launcher imports Beam, and only once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline import worker_zygote

REPO = Path(__file__).resolve().parents[1]


def test_the_cli_starts_the_zygote_before_it_imports_beam(tmp_path):
    """Its imports then overlap with the launcher's own (Beam, the graph) on another core.
    A dry run builds the job only: the zygote started for it is ended unused."""
    code = (
        "import subprocess, sys\n"
        "starts = []\n"
        "class Recording(subprocess.Popen):\n"
        "    def __init__(self, argv, *a, **k):\n"
        "        if '--zygote' in argv:\n"
        "            starts.append('apache_beam' in sys.modules)\n"
        "        super().__init__(argv, *a, **k)\n"
        "subprocess.Popen = Recording\n"
        "from pipeline.cli import main\n"
        f"rc = main(['all', '--output', {str(tmp_path / 'out')!r}, '--workers', '2',\n"
        "            '--dry_run=True'])\n"
        "print(rc, starts)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.stdout.strip().splitlines()[-1:] == ["0 [False]"], out.stdout + out.stderr


class _FakeProcess:
    def __init__(self, argv, *args, **kwargs):
        _FakeProcess.started += 1

    def terminate(self) -> None:
        pass

    def wait(self, timeout: float | None = None) -> int:
        return 0


def test_a_zygote_block_inside_another_reuses_the_running_zygote(monkeypatch):
    """The CLI's block and `launch`'s block: one zygote process, whose socket path both see;
    after the outer block, a new block starts a new one."""
    if not sys.platform.startswith("linux"):
        return
    _FakeProcess.started = 0
    monkeypatch.setattr(worker_zygote.subprocess, "Popen", _FakeProcess)
    with worker_zygote.zygote():
        outer = os.environ[worker_zygote.ZYGOTE_ENV]
        with worker_zygote.zygote():
            assert os.environ[worker_zygote.ZYGOTE_ENV] == outer
        assert os.environ[worker_zygote.ZYGOTE_ENV] == outer
    assert _FakeProcess.started == 1
    assert worker_zygote.ZYGOTE_ENV not in os.environ
    with worker_zygote.zygote():
        pass
    assert _FakeProcess.started == 2


def test_the_zygote_binds_its_socket_before_it_imports_beam(tmp_path):
    """A worker command that asks while the zygote imports must find the socket (and wait in
    its backlog), or it would import and run the worker itself."""
    socket_path = tmp_path / "socket"
    code = (
        "import os, sys\n"
        "from pipeline import worker_zygote\n"
        "def first_import():\n"
        f"    print(os.path.exists({str(socket_path)!r}), 'apache_beam' in sys.modules)\n"
        "    raise worker_zygote._Stop\n"
        "worker_zygote.skip_optional_imports = first_import\n"
        f"worker_zygote.serve({str(socket_path)!r}, os.getppid(), lambda: None)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.split() == ["True", "False"], out.stdout + out.stderr
