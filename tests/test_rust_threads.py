"""The DoFns that call into `tokenizers` turn its own thread pool off unless the user set it."""

from __future__ import annotations

import os

import pytest

from core.config import VocabConfig
from transforms.tokenize import _TokenizeFn
from transforms.vocab_build import _TrainVocabFn
from vocab.rust_threads import PARALLELISM_ENV

DOFNS = [lambda: _TokenizeFn(zh_word_starts=False), lambda: _TrainVocabFn(VocabConfig(), None)]


@pytest.mark.parametrize("make_dofn", DOFNS, ids=["tokenize", "train"])
def test_setup_runs_tokenizers_on_one_thread(make_dofn, monkeypatch):
    monkeypatch.delenv(PARALLELISM_ENV, raising=False)
    make_dofn().setup()
    assert os.environ[PARALLELISM_ENV] == "false"


@pytest.mark.parametrize("make_dofn", DOFNS, ids=["tokenize", "train"])
def test_the_users_own_setting_wins(make_dofn, monkeypatch):
    monkeypatch.setenv(PARALLELISM_ENV, "true")
    make_dofn().setup()
    assert os.environ[PARALLELISM_ENV] == "true"
