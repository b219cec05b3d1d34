"""The real corpora beside the checkout (`../shared/corpora`, see its SOURCES.md).

Tests only read them, and skip with one clear message when a checkout has none beside it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


def corpus_path(rel: str) -> Path:
    """`CORPORA / rel`; skips the calling test when it is absent."""
    path = CORPORA / rel
    if not path.exists():
        pytest.skip(f"{path} absent (../shared/corpora beside the checkout)")
    return path
