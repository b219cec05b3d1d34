"""`pipeline.worker_main`: a `--workers N` worker imports Beam without its unused integrations,
forked by the zygote of `pipeline.worker_zygote` when there is one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from pipeline.lean_imports import SKIPPED_MODULES
from pipeline.worker_zygote import PRELOAD

REPO = Path(__file__).resolve().parents[1]


def test_beam_and_our_stages_import_without_the_skipped_modules():
    """Beam imports each skipped module inside try/except: it still loads, with gs:// support,
    and none of them is loaded (the whole `--workers 2` runs are in test_shards_pipeline)."""
    code = (
        "import sys, pipeline.worker_main as w; w.skip_optional_imports()\n"
        "import apache_beam.io.gcp.gcsfilesystem, " + ", ".join(PRELOAD) + "\n"
        "print(sorted(n for n in sys.modules if sys.modules[n] is not None and any("
        f"(n + '.').startswith(s + '.') for s in {SKIPPED_MODULES!r})))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_a_worker_asks_the_zygote_which_forks_it_with_the_workers_environment(tmp_path,
                                                                              monkeypatch):
    """`run_in_zygote` (the worker command) hands its environment to the zygote; a child of
    the zygote runs with it and its exit status comes back."""
    from pipeline import worker_zygote

    socket_path, seen = tmp_path / "socket", tmp_path / "seen.json"
    code = (
        "import json, os, sys\n"
        "from pipeline.worker_zygote import serve\n"
        "def run():\n"
        f"    open({str(seen)!r}, 'w').write(json.dumps([os.getppid(), os.environ['PROBE']]))\n"
        "    if os.environ['PROBE'] == 'crash':\n"
        "        raise ValueError('probe crash')\n"
        "    sys.exit(int(os.environ['PROBE']))\n"
        f"serve({str(socket_path)!r}, os.getppid(), run)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    zygote = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE,
                              text=True)
    try:
        monkeypatch.setenv(worker_zygote.ZYGOTE_ENV, str(socket_path))
        for _ in range(600):  # the zygote binds its socket first, then imports
            if socket_path.exists():
                break
            time.sleep(0.05)
        for status in (0, 3):
            monkeypatch.setenv("PROBE", str(status))
            assert worker_zygote.run_in_zygote() == status
            assert json.loads(seen.read_text()) == [zygote.pid, str(status)]
        # A worker that raises: status 1, and its traceback is printed, not swallowed.
        monkeypatch.setenv("PROBE", "crash")
        assert worker_zygote.run_in_zygote() == 1
    finally:
        zygote.terminate()
        _, err = zygote.communicate()
    assert "ValueError: probe crash" in err
    monkeypatch.setenv(worker_zygote.ZYGOTE_ENV, str(tmp_path / "gone"))
    assert worker_zygote.run_in_zygote() is None  # no zygote: the worker runs itself


def test_a_killed_launcher_leaves_no_zygote_socket_dir_behind():
    """The launcher removes the zygote's socket dir when it ends; killed (SIGKILL), it cannot,
    so the orphaned zygote does."""
    code = ("import os, sys, time\n"
            "from pipeline.worker_zygote import ZYGOTE_ENV, zygote\n"
            "with zygote():\n"
            "    print(os.environ[ZYGOTE_ENV], flush=True)\n"
            "    time.sleep(120)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    launcher = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                                text=True)
    socket_dir = Path(launcher.stdout.readline().strip()).parent
    try:
        for _ in range(600):  # the zygote binds its socket first, then imports
            if (socket_dir / "socket").exists():
                break
            time.sleep(0.05)
        assert socket_dir.is_dir()
    finally:
        launcher.kill()
        launcher.wait()
    for _ in range(600):
        if not socket_dir.exists():
            break
        time.sleep(0.1)
    assert not socket_dir.exists()
