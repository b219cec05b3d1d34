"""Run-wide checks: the real corpora must be present in CI; locally their absence is reported.

About 30 tests read `../shared/corpora` (tests/corpora.py). Without it they skip, which is
right on a developer's checkout but would let CI pass while testing much less; so under
`CI=true` a missing corpora dir stops the run at once with one line and exit code 2.
"""

from __future__ import annotations

import os

import pytest
from corpora import CORPORA


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def pytest_configure(config: pytest.Config) -> None:
    if _in_ci() and not CORPORA.is_dir():
        pytest.exit(f"error: {CORPORA} is absent and CI=true: the corpus tests would be skipped; "
                    f"check out ../shared beside the repository", returncode=2)


def pytest_report_header(config: pytest.Config) -> str | None:
    if not CORPORA.is_dir():
        return (f"{CORPORA} absent: the tests that read real corpora will skip "
                f"(CI=true makes this an error)")
    return None


@pytest.fixture
def one_torch_thread():
    """Tiny models run faster on one thread, and far faster on a busy 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
