"""`inspect DIR --report`: one self-contained HTML file that a real browser renders (issue 16)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from shard_helpers import make_instances, write_shard_dir

from pipeline.report import configured_law

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    pytest.importorskip("matplotlib", reason="the report needs the `report` extra (matplotlib)")
    root = tmp_path_factory.mktemp("report")
    write_shard_dir(str(root / "shards"), make_instances(300), num_shards=2)
    out = root / "report.html"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(REPO / "beam_runner.py"), "inspect",
                           str(root / "shards"), "--n", "0", "--report", str(out)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return out


def test_report_is_self_contained_with_every_plot(report):
    text = report.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=\"(?!data:)", text), "the report links something"
    assert "http://" not in text and "https://" not in text
    for title in ("Row length", "Masked share per row", "Mask unit length", "Label balance",
                  "[UNK] rate", "Top masked tokens", "Documents kept and dropped"):
        assert f"<h2>{title}</h2>" in text, title
    assert text.count('src="data:image/png;base64,') == 6


def test_report_renders_in_headless_chromium(report, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("headless Chromium absent (Debian package `chromium`)")
    import matplotlib.image

    shot = tmp_path / "shot.png"
    done = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           f"--screenshot={shot}", "--window-size=1000,2400",
                           report.as_uri()], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    assert "CONSOLE" not in done.stderr, done.stderr[-2000:]
    pixels = matplotlib.image.imread(str(shot))[..., :3]
    ink = (pixels < 0.9).any(axis=-1).mean()
    colour = (pixels.max(axis=-1) - pixels.min(axis=-1) > 0.25).mean()
    assert ink > 0.02, f"screenshot nearly blank ({ink:.2%} ink)"
    assert colour > 0.01, f"no coloured plot pixels ({colour:.2%}): images did not render"


def test_configured_laws_are_the_masking_laws():
    _, span = configured_law({"masking": "span", "span_p": 0.2, "span_max": 10}, 512)
    assert span.sum() == pytest.approx(1)
    assert span @ np.arange(1, 11) == pytest.approx(3.797, abs=1e-3)  # SpanBERT's mean 3.8
    _, ngram = configured_law({"masking": "ngram", "max_ngram": 3}, 512)
    assert ngram == pytest.approx([6 / 11, 3 / 11, 2 / 11])
    assert configured_law({"masking": "wwm"}, 512) is None
