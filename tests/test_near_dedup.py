"""Near-duplicate removal: shingles, MinHash estimates, clusters, survivors, determinism."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from core.config import CleanConfig
from pipeline.cli import main
from tests.test_clean_pipeline import assert_accounting, rows, summary
from transforms.near_dedup import (
    NearDeduplicate,
    band_keys,
    estimated_jaccard,
    minhash,
    permutations,
    shingle_hashes,
)
from transforms.records import TextDocument

REPO = Path(__file__).resolve().parents[1]


def block_words(block: int, n: int = 30) -> list[str]:
    """`n` words that occur in no other block."""
    return [f"w{block}x{i}" for i in range(n)]


def doc_of_blocks(first: int, last: int) -> str:
    return " ".join(w for b in range(first, last + 1) for w in block_words(b))


def test_shingles_ignore_case_punctuation_and_spacing():
    a = shingle_hashes("The quick brown fox jumps over the lazy dog.", 5)
    b = shingle_hashes("the  QUICK, brown fox -- jumps over the lazy dog", 5)
    assert np.array_equal(a, b) and len(a) == 5


def test_cjk_characters_are_tokens_and_mix_with_words():
    assert len(shingle_hashes("数学是一门学科", 5)) == 3  # 7 characters, 3 five-grams
    assert len(shingle_hashes("数学", 5)) == 1  # shorter than one n-gram: one shingle
    mixed = shingle_hashes("我们用 Python 写代码", 2)  # 我们 们用 用python python写 写代 代码
    assert len(mixed) == 6
    assert len(shingle_hashes("... !!! ---", 5)) == 0


def test_hashes_are_the_same_in_another_process():
    """No salted hash(): a fresh interpreter with another PYTHONHASHSEED gives equal bytes."""
    text = "数学是利用符号语言研究数量 and structure of space, 变化以及空间等概念的一门学科。"
    a, b = permutations(128)
    here = minhash(shingle_hashes(text, 5), a, b).tobytes().hex()
    code = (
        "from transforms.near_dedup import minhash, permutations, shingle_hashes\n"
        "a, b = permutations(128)\n"
        f"print(minhash(shingle_hashes({text!r}, 5), a, b).tobytes().hex())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True, cwd=REPO)
    assert out.stdout.strip() == here


@pytest.mark.parametrize("jaccard_target", [0.2, 0.5, 0.8, 0.95])
def test_minhash_estimates_jaccard_within_its_sampling_error(jaccard_target):
    """1024 values: the estimate's standard error is sqrt(J(1-J)/1024) <= 0.016; 4 sigma."""
    rng = np.random.Generator(np.random.PCG64(7))
    universe = rng.integers(0, 2**63, 4000, dtype=np.uint64)
    shared = int(round(2 * 2000 * jaccard_target / (1 + jaccard_target)))  # |A|=|B|=2000
    a_set = universe[:2000]
    b_set = np.concatenate([universe[:shared], universe[2000:4000 - shared]])
    true_j = len(np.intersect1d(a_set, b_set)) / len(np.union1d(a_set, b_set))
    a, b = permutations(1024)
    est = estimated_jaccard(minhash(a_set, a, b), minhash(b_set, a, b))
    assert abs(est - true_j) <= 4 * np.sqrt(true_j * (1 - true_j) / 1024)


def test_band_keys_differ_by_band_and_content():
    sig = np.arange(16, dtype=np.uint32)
    keys = band_keys(sig, 4, 4)
    assert len(set(keys)) == 4 and keys[1] == bytes((1,)) + sig[4:8].tobytes()


CFG = dataclasses.replace(CleanConfig(), near_dedup_threshold=0.75, near_dedup_bands=32)


def expect(docs: list[TextDocument], survivors: list[str], cfg: CleanConfig = CFG) -> None:
    """NearDeduplicate keeps exactly `survivors` and counts every other document."""
    dropped = len(docs) - len(survivors)
    with BeamTestPipeline() as p:
        out = p | beam.Create(docs) | NearDeduplicate(cfg)
        ids = out["documents"] | beam.Map(lambda d: d.id)
        stats = out["stats"] | beam.CombinePerKey(sum)
        assert_that(ids, equal_to(survivors), label="Survivors")
        expected = [("documents_dropped/near_duplicate", dropped)] if dropped else []
        assert_that(stats, equal_to(expected), label="Stats")


def raw(doc_id: str, text: str) -> TextDocument:
    return TextDocument(id=doc_id, text=text, source="t")


def chain() -> list[TextDocument]:
    """a~c and c~b but not a~b (Jaccard about 0.67 < 0.75): b leaves through c, in two hops."""
    return [raw("a", doc_of_blocks(0, 19)), raw("c", doc_of_blocks(2, 21)),
            raw("b", doc_of_blocks(4, 23))]


def test_the_chain_is_linked_only_through_its_middle():
    a, b = permutations(256)
    sig = {d.id: minhash(shingle_hashes(d.text, 5), a, b) for d in chain()}
    assert estimated_jaccard(sig["a"], sig["b"]) < 0.75 <= estimated_jaccard(sig["a"], sig["c"])
    assert estimated_jaccard(sig["b"], sig["c"]) >= 0.75


def verification_pair() -> list[TextDocument]:
    """Jaccard about 0.67: they share LSH buckets, but the estimate is under 0.75."""
    return [raw("v1", doc_of_blocks(400, 419)), raw("v2", doc_of_blocks(404, 423))]


def test_the_verification_pair_shares_a_bucket_below_the_threshold():
    a, b = permutations(256)
    x, y = (minhash(shingle_hashes(d.text, 5), a, b) for d in verification_pair())
    assert set(band_keys(x, 32, 8)) & set(band_keys(y, 32, 8))
    assert estimated_jaccard(x, y) < 0.75


def test_clusters_keep_their_smallest_id_and_dissimilar_documents_all_survive():
    """One pipeline, shuffled input, three cases (one Beam run each would cost ~15 s):
    - the chain a-c-b is one cluster: only `a` survives;
    - 60 copies differing in one word each (one bucket per band holds them all): `copy00`;
    - six unrelated documents and one sharing a third of its text with d0 all survive;
    - the verification pair (candidates, but under the threshold) both survive."""
    base = doc_of_blocks(300, 309).split()
    copies = []
    for i in range(60):
        words = list(base)
        words[i * 5] = f"edit{i}"
        copies.append(raw(f"copy{i:02d}", " ".join(words)))
    unrelated = [raw(f"d{i}", doc_of_blocks(10 * i + 100, 10 * i + 109)) for i in range(6)]
    unrelated.append(raw("half", doc_of_blocks(100, 104) + " " + doc_of_blocks(200, 204)))
    docs = chain() + copies + unrelated + verification_pair()
    random.Random(5).shuffle(docs)
    expect(docs, ["a", "copy00", "v1", "v2"] + [d.id for d in unrelated])


def write_near_dup_corpus(path: Path) -> None:
    """Forty documents in ten clusters of four near-copies, shuffled, as JSONL."""
    records = []
    for cluster in range(10):
        base = doc_of_blocks(20 * cluster, 20 * cluster + 9).split()
        for copy in range(4):
            words = list(base)
            words[copy * 7] = f"edit{copy}"
            records.append({"id": f"c{cluster}-{copy}", "text": " ".join(words) + "."})
    random.Random(3).shuffle(records)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_clean_removes_near_duplicates_same_with_two_processes_and_any_order(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    write_near_dup_corpus(corpus)
    reversed_corpus = tmp_path / "reversed" / "corpus.jsonl"
    reversed_corpus.parent.mkdir()
    reversed_corpus.write_text("".join(reversed(corpus.read_text().splitlines(True))))
    args = ["--id-field", "id", "--min-line-words", "1"]
    one, two, rev, off = (tmp_path / n for n in ("one", "two", "rev", "off"))
    assert main(["clean", "--input", str(corpus), "--output", str(one), *args]) == 0
    assert main(["clean", "--input", str(corpus), "--output", str(two), *args,
                 "--direct_running_mode=multi_processing", "--direct_num_workers=2"]) == 0
    assert main(["clean", "--input", str(reversed_corpus), "--output", str(rev), *args]) == 0
    assert main(["clean", "--input", str(corpus), "--output", str(off), *args,
                 "--no-near-dedup"]) == 0
    s = summary(one)
    assert s["documents_dropped"] == {"near_duplicate": 30} and s["documents_kept"] == 10
    assert_accounting(s)
    assert sorted(d["id"] for d in rows(one, "documents")) == [f"c{k}-0" for k in range(10)]
    for f in sorted(one.iterdir()):
        assert f.read_bytes() == (two / f.name).read_bytes(), f.name
        assert f.read_bytes() == (rev / f.name).read_bytes(), f.name
    assert summary(off)["documents_kept"] == 40
