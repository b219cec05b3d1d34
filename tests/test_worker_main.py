"""`pipeline.worker_main`: a `--workers N` worker imports Beam without its unused integrations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline.worker_main import SKIPPED_MODULES

REPO = Path(__file__).resolve().parents[1]


def test_beam_and_our_stages_import_without_the_skipped_modules():
    """Beam imports each skipped module inside try/except: it still loads, with gs:// support,
    and none of them is loaded (the whole `--workers 2` runs are in test_shards_pipeline)."""
    code = (
        "import sys, pipeline.worker_main as w; w.skip_optional_imports()\n"
        "import apache_beam.runners.worker.sdk_worker_main, apache_beam.io.gcp.gcsfilesystem\n"
        "import transforms.tokenize, transforms.pack_beam, transforms.mask_beam, "
        "transforms.shards, pipeline.stages\n"
        "print(sorted(n for n in sys.modules if sys.modules[n] is not None and any("
        f"(n + '.').startswith(s + '.') for s in {SKIPPED_MODULES!r})))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]", out.stdout
    assert "IPython" in SKIPPED_MODULES
