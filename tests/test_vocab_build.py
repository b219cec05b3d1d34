"""transforms.vocab_build.BuildVocab on beam.Create, and the vocab dir it writes."""

from __future__ import annotations

import json

import apache_beam as beam
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to
from tokenizers import Tokenizer
from transformers import BertTokenizerFast

from core.config import VocabConfig
from tests.vocab_helpers import generated_lines, thucnews_articles
from transforms.accounting import DOCUMENTS_KEPT, VOCAB_DISTINCT_WORDS, VOCAB_PRUNED_WORDS
from transforms.mask import MaskVocab
from transforms.records import Document
from transforms.vocab_build import (
    BuildVocab,
    WordCountCombineFn,
    WordCounts,
    train_vocab,
)
from vocab.artifacts import MANIFEST, VOCAB_TXT, sha256_hex
from vocab.encoder import Encoder
from vocab.jieba_segmenter import presegment

ENGLISH = ["Hello World, this is a test of the vocab stage.", "Whole-word masking needs starts!",
           "Literal [MASK] and [SEP] strings stay text."]
CHINESE = ["今天天气很好，我们去公园散步。", "北京大学的学生在2024年参加了比赛。"]


def _documents(lines: list[str], per_doc: int = 5) -> list[Document]:
    return [Document(id=f"d{i}", text=" ".join(lines[i:i + per_doc]),
                     sentences=lines[i:i + per_doc]) for i in range(0, len(lines), per_doc)]


_SINK: dict = {}
"""Outputs captured by `_put`: the FnApiRunner runs its worker in this process and pickles
module-level functions by reference, so `_put` writes here."""


def _put(value, key: str) -> None:
    _SINK[key] = value


def _run(docs: list[Document], cfg: VocabConfig, out: str, count_kept: bool = True):
    """Runs BuildVocab; returns (artifacts, {stat: total})."""
    _SINK.clear()
    with test_pipeline.TestPipeline(runner="FnApiRunner") as p:
        vocab = p | beam.Create(docs) | BuildVocab(cfg, out, count_kept=count_kept)
        stats = vocab["stats"] | beam.CombinePerKey(sum) | beam.combiners.ToDict()
        assert_that(vocab["artifacts"] | beam.Map(lambda a: a.vocab_sha256 is not None),
                    equal_to([True]), label="OneArtifact")
        vocab["artifacts"] | "KeepArtifacts" >> beam.Map(_put, "artifacts")
        stats | "KeepStats" >> beam.Map(_put, "stats")
    return _SINK["artifacts"], _SINK["stats"]


def test_build_vocab_counts_documents_and_writes_dir(tmp_path):
    docs = _documents(generated_lines(400))
    cfg = VocabConfig(vocab_size=500)
    artifacts, stats = _run(docs, cfg, str(tmp_path))
    assert stats[DOCUMENTS_KEPT] == len(docs)
    assert stats[VOCAB_PRUNED_WORDS] == 0 and stats[VOCAB_DISTINCT_WORDS] > 100
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest == artifacts.manifest
    assert manifest["corpus"]["documents"] == len(docs)
    assert manifest["vocab_sha256"] == sha256_hex((tmp_path / VOCAB_TXT).read_bytes())
    assert manifest["config"]["vocab_size"] == 500 and manifest["lowercase"] is True
    assert manifest["zh_segmenter"] == "none" and manifest["vocab_size"] == 500
    assert {p.name for p in tmp_path.iterdir()} == set(artifacts.files)


def test_build_vocab_without_kept_counter_and_without_output():
    artifacts, stats = _run(_documents(generated_lines(50)), VocabConfig(vocab_size=200), "",
                            count_kept=False)
    assert DOCUMENTS_KEPT not in stats
    assert Encoder.from_artifacts(artifacts).vocab_size == 200


def test_pruning_is_bounded_and_reported(tmp_path):
    docs = _documents(generated_lines(400), per_doc=1)
    artifacts, stats = _run(docs, VocabConfig(vocab_size=300, max_words_in_memory=200),
                            str(tmp_path))
    corpus = artifacts.manifest["corpus"]
    assert 0 < corpus["distinct_words"] <= 200
    assert corpus["pruned_entries"] == stats[VOCAB_PRUNED_WORDS] > 0
    assert corpus["pruned_occurrences"] >= corpus["pruned_entries"]


def test_combiner_merge_sums_and_prunes():
    fn = WordCountCombineFn(max_words=4)
    a = fn.add_input(fn.create_accumulator(), WordCounts({"x": 3, "y": 1}, documents=1))
    b = fn.add_input(fn.add_input(fn.create_accumulator(), WordCounts({"x": 1, "z": 1}, 1)),
                     WordCounts({"w": 2, "v": 1}, documents=1))
    merged = fn.merge_accumulators([a, b])
    # x=4 y=1 z=1 w=2 v=1: 5 > 4 distinct -> drop count<=1 (3 entries) -> 2 left
    assert fn.extract_output(merged) == WordCounts(counts={"x": 4, "w": 2}, documents=3,
                                                   pruned_entries=3, pruned_occurrences=3)


def _assert_hf_agrees(vocab_dir: str, texts: list[str], jieba: bool) -> None:
    encoder = Encoder.from_dir(vocab_dir)
    plain = Encoder.from_dir(vocab_dir, use_cache=False)
    hf = BertTokenizerFast.from_pretrained(vocab_dir, split_special_tokens=True)
    core = Tokenizer.from_file(f"{vocab_dir}/tokenizer.json")
    core.encode_special_tokens = True
    for text in texts:
        ids = encoder.encode_document([text])[0].tolist()
        assert plain.encode_document([text])[0].tolist() == ids
        hf_input = presegment(text) if jieba else text
        assert hf(hf_input, add_special_tokens=False)["input_ids"] == ids, text
        assert core.encode(hf_input, add_special_tokens=False).ids == ids, text
        with_specials = hf(hf_input)["input_ids"]
        assert with_specials == [encoder.cls_id, *ids, encoder.sep_id]


@pytest.mark.parametrize("lowercase", [True, False])
def test_vocab_dir_loads_in_hf_with_identical_ids(tmp_path, lowercase):
    lines = generated_lines(300) + [a[:300] for a in thucnews_articles(40)] + ENGLISH + CHINESE
    cfg = VocabConfig(vocab_size=3000, limit_alphabet=3000, lowercase=lowercase)
    _run(_documents(lines), cfg, str(tmp_path))
    _assert_hf_agrees(str(tmp_path), ENGLISH + CHINESE + lines[::37], jieba=False)


def test_jieba_vocab_dir_hf_expects_presegmented_text(tmp_path):
    lines = [a[:400] for a in thucnews_articles(80)] + CHINESE
    cfg = VocabConfig(vocab_size=4000, limit_alphabet=3000, zh_segmenter="jieba")
    artifacts, _ = _run(_documents(lines), cfg, str(tmp_path))
    assert artifacts.manifest["zh_segmenter"] == "jieba"
    tokens = set(artifacts.files[VOCAB_TXT].decode().split("\n"))
    assert {"今天", "我们"} & tokens
    _assert_hf_agrees(str(tmp_path), ENGLISH + CHINESE + lines[::9], jieba=True)


def test_unused_tokens_follow_specials_and_are_never_replacements():
    counts = {"hello": 5, "world": 3, "help": 2}
    artifacts = train_vocab(WordCounts(counts=counts), VocabConfig(vocab_size=40, num_unused=3))
    encoder = Encoder.from_artifacts(artifacts)
    assert encoder.id_to_token[:8] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                                       "[unused0]", "[unused1]", "[unused2]"]
    replacements = MaskVocab.from_tokens(encoder.id_to_token).replacement_ids
    assert replacements.tolist() == list(range(8, encoder.vocab_size))
    assert encoder.encode_document(["hello help"])[0].tolist() == [
        encoder.id_to_token.index("hello"), encoder.id_to_token.index("help")]


def test_empty_corpus_gives_specials_only_vocab():
    artifacts = train_vocab(WordCounts(), VocabConfig())
    assert artifacts.manifest["vocab_size"] == 5
    assert artifacts.manifest["corpus"]["word_occurrences"] == 0


def test_build_vocab_on_no_documents_trains_the_specials_only_vocab():
    """The summed counts of no documents are the side input's default (empty counts): the
    vocab is still trained, written and counted."""
    from transforms.vocab_build import BuildVocab

    with test_pipeline.TestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create([]) | BuildVocab(VocabConfig(), None)
        assert_that(out["artifacts"] | beam.Map(lambda a: a.manifest["vocab_size"]),
                    equal_to([5]))
        assert_that(out["stats"] | beam.CombinePerKey(sum),
                    equal_to([("vocab_distinct_words", 0), ("vocab_entries", 5),
                              ("vocab_pruned_words", 0)]), label="stats")
