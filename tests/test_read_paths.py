"""Shards do not depend on how input paths are spelled or on the byte-range size.

Document ids are `<name below the input base>:<byte offset>` (README "Reading"), so the
same files give byte-identical shards given as absolute or relative paths, through a
symbolic link, from another working directory, or read in tiny byte ranges.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from pipeline.cli import main
from tests.corpora import corpus_path


def _digests(shard_dir: Path) -> dict[str, str]:
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
               for p in sorted(shard_dir.glob("shard-*.arrow"))}
    assert digests
    return digests


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """BERT text (CR line ends) at the top, WikiExtractor articles one directory down."""
    root = tmp_path_factory.mktemp("paths")
    top = root / "corpus"
    (top / "wiki").mkdir(parents=True)
    sample = corpus_path("bert_sample/sample_text.txt").read_bytes()
    (top / "sample.txt").write_bytes(sample.replace(b"\n", b"\r"))
    wiki = corpus_path("en/enwiki_wikiextractor_wiki_00.txt").read_bytes()
    cut = wiki.index(b'<doc id="', 150_000)
    (top / "wiki" / "wiki_00").write_bytes(wiki[:cut])
    (root / "link").symlink_to(top)
    return root


def _shards(out: Path, inputs: list[str], *extra: str) -> dict[str, str]:
    argv = ["shards", "--vocab", str(corpus_path("vocab/bert_base_uncased")),
            "--output", str(out), "--num-shards", "2", "--lowercase", "--min-words", "5"]
    for pattern in inputs:
        argv += ["--input", pattern]
    assert main([*argv, *extra]) == 0
    summary = (out / "summary.json").read_text()  # counts only: files and documents read too
    return {**_digests(out), "summary.json": hashlib.sha256(summary.encode()).hexdigest()}


def test_same_shards_for_every_spelling_and_range_size(corpus, tmp_path, monkeypatch):
    top = corpus / "corpus"
    reference = _shards(tmp_path / "absolute", [str(top / "*.txt"), str(top / "wiki" / "wiki_*")])
    monkeypatch.chdir(corpus)
    assert _shards(tmp_path / "relative", ["corpus/*.txt", "./corpus/wiki/wiki_*"]) == reference
    assert _shards(tmp_path / "symlink", ["link/*.txt", "link/wiki/wiki_*"]) == reference
    monkeypatch.chdir(top / "wiki")
    assert _shards(tmp_path / "other-cwd", ["../*.txt", "wiki_*"]) == reference
    assert _shards(tmp_path / "ranges", [str(top / "*.txt"), str(top / "wiki" / "*")],
                   "--input-split-bytes", "1024") == reference
    assert os.path.getsize(top / "wiki" / "wiki_00") > 100 * 1024
