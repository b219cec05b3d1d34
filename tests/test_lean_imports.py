"""pipeline/lean_imports.py: a local run's launcher imports Beam without the optional
integrations it never uses; other runners, and processes that imported Beam already, keep
them."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.lean_imports import runner_flag

REPO = Path(__file__).resolve().parents[1]
_MISSING = "[n for n in SKIPPED_MODULES if n in sys.modules and sys.modules[n] is None]"
_LOADED = ("[n for n in sys.modules if sys.modules[n] is not None and any("
           "(n + '.').startswith(s + '.') for s in SKIPPED_MODULES)]")


def _python(code: str) -> list:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("args, runner", [
    ([], None),
    (["--runner", "DataflowRunner"], "DataflowRunner"),
    (["--runner=FnApiRunner", "--project", "p"], "FnApiRunner"),
    (["--runner", "DirectRunner", "--runner=DataflowRunner"], "DataflowRunner"),
])
def test_runner_flag(args, runner):
    assert runner_flag(args) == runner


def test_a_local_run_loads_none_of_the_skipped_modules_nor_pandas(tmp_path):
    """`all` (Beam, pyarrow shards): none of them is loaded, pandas neither (`HIDDEN_FROM_BEAM`,
    and the shard writer's arrays do not probe for it), nor the remote filesystems (no
    argument names a remote path); pandas is still importable after, as pyarrow needs it."""
    text = " ".join(f"Sentence {i} is about the topic number {i * 7} here." for i in range(60))
    (tmp_path / "in.txt").write_text(text + "\n", encoding="utf-8")
    code = (
        "import json, sys\nfrom pipeline.cli import main\n"
        "from pipeline.lean_imports import REMOTE_FILESYSTEMS, SKIPPED_MODULES\n"
        f"assert main(['all', '--input', {str(tmp_path / 'in.txt')!r}, '--output', "
        f"{str(tmp_path / 'out')!r}, '--vocab-size', '200']) == 0\n"
        "loaded = " + _LOADED + " + [n for n in ('pandas', *REMOTE_FILESYSTEMS) "
        "if sys.modules.get(n)]\n"
        f"assert json.load(open({str(tmp_path / 'out' / 'summary.json')!r}))['instances']\n"
        "import pyarrow\nassert len(pyarrow.array([1, 2]).to_pandas()) == 2\n"
        "print(json.dumps(loaded))\n")
    assert _python(code) == []


def test_other_runners_and_processes_with_beam_imported_keep_the_modules():
    """After `import apache_beam` (a test session, a notebook) the process may go on to a
    Dataflow job, which may import one of them lazily: the module dropped here stands for
    one not imported yet."""
    code = (
        "import json, sys\nfrom pipeline.lean_imports import SKIPPED_MODULES, "
        "skip_optional_imports_for_local_run\n"
        "skip_optional_imports_for_local_run(['--runner', 'DataflowRunner'], [])\n"
        "import apache_beam\n"
        "del sys.modules['google.cloud.dataflow_v1beta3']\n"
        "skip_optional_imports_for_local_run([], [])\n"
        f"print(json.dumps({_MISSING}))\n")
    assert _python(code) == []


@pytest.mark.skipif(importlib.util.find_spec("google.cloud.storage") is None,
                    reason="the gcp extra (Beam's gs:// filesystem) is not installed")
def test_remote_filesystems_are_hidden_only_from_jobs_that_name_no_remote_path():
    """A local job naming no `://` path imports Beam without its gs:// and s3:// filesystems;
    a later job in the same process that names one gets them; a job naming one from the
    start, even only in a Beam flag, has them at once."""
    probe = ("from apache_beam.io.filesystems import FileSystems\n"
             "def fs():\n"
             "    try:\n"
             "        return type(FileSystems.get_filesystem('gs://bucket/x')).__name__\n"
             "    except ValueError:\n"
             "        return None\n")
    code = (
        "import json\nfrom pipeline.lean_imports import skip_optional_imports_for_local_run\n"
        "skip_optional_imports_for_local_run([], ['shards', '--input', 'in.txt'])\n" + probe +
        "first = fs()\n"
        "skip_optional_imports_for_local_run([], ['shards', '--input', 'gs://bucket/in.txt'])\n"
        "print(json.dumps([first, fs()]))\n")
    assert _python(code) == [None, "GCSFileSystem"]
    code = (
        "import json\nfrom pipeline.lean_imports import skip_optional_imports_for_local_run\n"
        "skip_optional_imports_for_local_run(['--temp_location=gs://bucket/t'], "
        "['vocab', '--output', 'v', '--temp_location=gs://bucket/t'])\n"
        + probe + "print(json.dumps([fs()]))\n")
    assert _python(code) == ["GCSFileSystem"]
