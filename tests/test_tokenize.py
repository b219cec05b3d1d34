"""Tokenizing documents (transforms/tokenize.py): exact ids, dropped empties, both vocab sources."""

from __future__ import annotations

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.accounting import DROPPED_PREFIX, DropReason
from transforms.records import Document
from transforms.rng import doc_id_hash
from transforms.tokenize import TokenizeDocuments, tokenize_document
from vocab.artifacts import TOKENIZER_JSON, VOCAB_TXT, VocabArtifacts
from vocab.encoder import Encoder
from vocab.train import build_tokenizer

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "cat", "sat", "on", "mat", "##s", "dog", ".", "a"]
ID = {t: i for i, t in enumerate(SPECIALS + WORDS)}
NO_TOKENS = DROPPED_PREFIX + DropReason.NO_TOKENS.value


@pytest.fixture()
def vocab_dir(tmp_path):
    (tmp_path / VOCAB_TXT).write_text("".join(t + "\n" for t in SPECIALS + WORDS),
                                      encoding="utf-8")
    return str(tmp_path)


def artifacts() -> VocabArtifacts:
    tokenizer = build_tokenizer(ID, lowercase=True)
    files = {VOCAB_TXT: "".join(t + "\n" for t in SPECIALS + WORDS).encode("utf-8"),
             TOKENIZER_JSON: tokenizer.to_str().encode("utf-8")}
    return VocabArtifacts(files=files, manifest={"lowercase": True, "zh_segmenter": "none"})


DOCS = [
    Document("d1", "", ["The cats sat.", "", "   ", "A dog sat on the mat."]),
    Document("d2", "", ["", " "]),
    Document("d3", "", ["dogs"]),
]


def expected_d1():
    ids = [ID[t] for t in ["the", "cat", "##s", "sat", ".", "a", "dog", "sat", "on", "the",
                           "mat", "."]]
    starts = [True, True, False, True, True, True, True, True, True, True, True, True]
    return ids, starts, [0, 5, 12]


def test_tokenize_document_drops_empty_sentences(vocab_dir):
    enc = Encoder.from_dir(vocab_dir, lowercase=True)
    doc = tokenize_document(DOCS[0], enc)
    ids, starts, offsets = expected_d1()
    assert doc.id == "d1" and doc.doc_id == doc_id_hash("d1")
    assert doc.ids.dtype == np.int32 and doc.ids.tolist() == ids
    assert doc.word_starts.dtype == bool and doc.word_starts.tolist() == starts
    assert doc.offsets.dtype == np.int64 and doc.offsets.tolist() == offsets
    assert tokenize_document(DOCS[1], enc) is None


def _rows(docs):
    return [(d.id, d.doc_id, d.ids.tolist(), d.word_starts.tolist(), d.offsets.tolist())
            for d in docs]


def test_tokenize_documents_transform(vocab_dir):
    enc = Encoder.from_dir(vocab_dir, lowercase=True)
    expected = _rows([tokenize_document(DOCS[0], enc), tokenize_document(DOCS[2], enc)])
    with TestPipeline(runner="FnApiRunner") as p:
        docs = p | "Docs" >> beam.Create(DOCS)
        vocab = p | "Vocab" >> beam.Create([artifacts()])
        out = docs | TokenizeDocuments(vocab)
        assert_that(out["documents"] | beam.Map(lambda d: _rows([d])[0]), equal_to(expected))
        assert_that(out["stats"], equal_to([(NO_TOKENS, 1)]), label="Stats")


def test_zh_word_starts_reach_the_tokenized_document(tmp_path):
    chars = list("我们喜欢自然语言处理")
    (tmp_path / VOCAB_TXT).write_text("".join(t + "\n" for t in SPECIALS + chars),
                                      encoding="utf-8")
    enc = Encoder.from_dir(str(tmp_path), lowercase=True)
    doc = Document("zh", "", ["我们喜欢自然语言处理"])
    per_char = tokenize_document(doc, enc)
    per_word = tokenize_document(doc, enc, zh_word_starts=True)
    np.testing.assert_array_equal(per_char.ids, per_word.ids)
    assert per_char.word_starts.all()
    # jieba: 我们 / 喜欢 / 自然语言 / 处理 (or a finer cut), never one start per character.
    assert per_word.word_starts[0] and 2 <= per_word.word_starts.sum() < len(chars)
