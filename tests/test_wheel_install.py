"""The built wheel carries everything a worker imports, demo corpus included (issue 8).

Dataflow installs the project from a package built by `python -m build`, not from this
checkout; so a wheel installed into a fresh venv must run `all` from an unrelated directory.
The venv sees the site-packages of the interpreter running the tests for the heavy
dependencies (no network here) through a `.pth` file — not `--system-site-packages`, which
inside a virtualenv would give the base interpreter's packages instead of the virtualenv's
(issue 12 item 8). The project itself comes only from the wheel: the test runs outside the
repo and checks where `pipeline` was imported from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], cwd: Path, env: dict | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{cmd}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_wheel_in_fresh_venv_runs_all_on_packaged_demo_corpus(tmp_path):
    pytest.importorskip("build", reason="needs the `build` module (gcp extra)")
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(dist),
          str(REPO)], cwd=tmp_path)
    wheel = next(dist.glob("bert_shards-*.whl"))

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                   cwd=tmp_path).strip()
    ours = [p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages"))]
    (Path(purelib) / "test_environment.pth").write_text("\n".join(ours) + "\n")
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
         cwd=tmp_path)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    origin = _run([str(python), "-c", "import pipeline; print(pipeline.__file__)"], work, env)
    assert str(venv) in origin, f"pipeline imported from {origin.strip()}, not the wheel"
    import apache_beam

    beam = _run([str(python), "-c", "import apache_beam; print(apache_beam.__file__)"], work, env)
    assert beam.strip() == apache_beam.__file__, "dependencies must come from this environment"

    _run([str(venv / "bin" / "bert-shards"), "all", "--output", "out/demo"], work, env)
    summary = json.loads((work / "out/demo/summary.json").read_text())
    assert summary["documents_read"] > 50 and summary["instances"] > 0
    _run([str(python), "-m", "beam_runner", "verify", "out/demo/shards"], work, env)
    # inspect, too, runs from the wheel in a fresh interpreter
    shown = _run([str(python), "-m", "beam_runner", "inspect", "out/demo/shards", "--n", "1"],
                 work, env)
    assert shown.startswith("shard dir: 16 shards")
