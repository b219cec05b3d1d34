"""vocab.encoder.Encoder: reference ids, word starts, cached == plain, vocab dir loading."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from tokenizers import normalizers, pre_tokenizers

import vocab.encoder
from core.errors import UserError
from tests.corpora import corpus_path
from tests.vocab_helpers import enwiki_lines, thucnews_articles, write_toy_vocab
from transforms.mask import MaskVocab
from vocab.encoder import Encoder

REFERENCE = "reference/tokenization/bert_expected_tokenization.jsonl"
VOCABS = {"bert-base-uncased": "vocab/bert_base_uncased",
          "bert-base-chinese": "vocab/bert_base_chinese"}


def _reference_cases() -> list[dict]:
    with corpus_path(REFERENCE).open(encoding="utf-8") as f:
        return [c for c in map(json.loads, f) if c["vocab"] in VOCABS]


@pytest.fixture(scope="module")
def encoders() -> dict[str, Encoder]:
    """HF's behaviour for special-token strings in text, as the reference cases expect."""
    return {name: Encoder.from_dir(str(corpus_path(rel)), lowercase=True,
                                   split_special_tokens=False)
            for name, rel in VOCABS.items()}


def test_special_token_strings_in_text_are_plain_text_by_default():
    enc = Encoder.from_dir(str(corpus_path(VOCABS["bert-base-chinese"])), lowercase=True)
    ids, starts, _ = enc.encode_document(["[MASK]天气[SEP]"])
    tokens = ["[", "ma", "##sk", "]", "天", "气", "[", "sep", "]"]
    assert [enc.id_to_token[i] for i in ids] == tokens
    assert enc.mask_id not in ids and enc.sep_id not in ids
    assert starts.tolist() == [not t.startswith("##") for t in tokens]


@pytest.mark.parametrize("use_cache", [True, False])
def test_reproduces_reference_tokenization(encoders, use_cache):
    cases = _reference_cases()
    assert len(cases) >= 20
    for case in cases:
        enc = encoders[case["vocab"]]
        enc.use_cache = use_cache
        texts = [case["text"]] + ([case["text_pair"]] if case.get("text_pair") else [])
        ids, _, offsets = enc.encode_document(texts)
        expected = case["ids"]
        if case["add_special_tokens"]:
            cls, sep = enc.cls_id, enc.sep_id
            expected = [i for i in expected if i not in (cls, sep)]
        assert ids.tolist() == expected, case["text"]
        assert offsets[-1] == len(ids)


def test_google_vocab_needs_case_flag(tmp_path):
    write_toy_vocab(tmp_path, ["a"])
    with pytest.raises(UserError, match="lowercase"):
        Encoder.from_dir(str(tmp_path))
    with pytest.raises(UserError, match="no vocab.txt"):
        Encoder.from_dir(str(tmp_path / "missing"), lowercase=True)


def test_attributes_and_mask_replacement_ids(tmp_path):
    write_toy_vocab(tmp_path, ["[unused0]", "[unused1]", "a", "##b"])
    enc = Encoder.from_dir(str(tmp_path), lowercase=True)
    assert (enc.pad_id, enc.unk_id, enc.cls_id, enc.sep_id, enc.mask_id) == (0, 1, 2, 3, 4)
    assert enc.vocab_size == 9 and enc.id_to_token[7:] == ["a", "##b"]
    assert MaskVocab.from_tokens(enc.id_to_token).replacement_ids.tolist() == [7, 8]
    assert enc.vocab_sha256 == hashlib.sha256((tmp_path / "vocab.txt").read_bytes()).hexdigest()
    assert enc.lowercase and enc.zh_segmenter == "none"


@pytest.mark.parametrize("use_cache", [True, False])
def test_word_starts_follow_wordpiece_continuations(tmp_path, use_cache):
    write_toy_vocab(tmp_path, ["want", "##want", "##ed", "wa", "un", "runn", "##ing", ","])
    enc = Encoder.from_dir(str(tmp_path), lowercase=True, use_cache=use_cache)
    ids, starts, offsets = enc.encode_document(["UNwantéd, running", "", "wa xyz"])
    tokens = [enc.id_to_token[i] for i in ids]
    assert tokens == ["un", "##want", "##ed", ",", "runn", "##ing", "wa", "[UNK]"]
    assert starts.tolist() == [True, False, False, True, True, False, True, True]
    assert offsets.tolist() == [0, 6, 6, 8]
    assert ids.dtype == np.int32 and starts.dtype == bool and offsets.dtype == np.int64


@pytest.mark.parametrize("use_cache", [True, False])
def test_zh_word_starts_group_jieba_words(tmp_path, use_cache):
    write_toy_vocab(tmp_path, list("今天气很好我爱编程") + ["python", "!"])
    enc = Encoder.from_dir(str(tmp_path), lowercase=True, use_cache=use_cache)
    sentences = ["今天天气很好!", "我爱Python编程"]
    # jieba (HMM off): 今天天气 | 很 | 好 ; 我 | 爱 ; 编程
    _, plain, _ = enc.encode_document(sentences)
    ids, starts, _ = enc.encode_document(sentences, zh_word_starts=True)
    assert "".join(enc.id_to_token[i] for i in ids) == "今天天气很好!我爱python编程"
    assert plain.all()
    assert starts.tolist() == [True, False, False, False, True, True, True,
                               True, True, True, True, False]


def _assert_cache_matches_plain(encoder: Encoder, documents: list[list[str]], zh: bool) -> None:
    cached = Encoder(encoder.tokenizer, "".join(t + "\n" for t in encoder.id_to_token).encode(),
                     lowercase=encoder.lowercase, use_cache=True)
    plain = Encoder(encoder.tokenizer, "".join(t + "\n" for t in encoder.id_to_token).encode(),
                    lowercase=encoder.lowercase, use_cache=False)
    for doc in documents:
        a, b = cached.encode_document(doc, zh), plain.encode_document(doc, zh)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("table_min_pieces", [0, 10**9])
def test_cached_path_equals_plain_path_on_english(encoders, monkeypatch, table_min_pieces):
    """Pieces looked up by the byte-keyed table (every document) or by string (none)."""
    monkeypatch.setattr(vocab.encoder, "_TABLE_MIN_PIECES", table_min_pieces)
    lines = enwiki_lines(3000)
    docs = [lines[i:i + 20] for i in range(0, len(lines), 20)]
    _assert_cache_matches_plain(encoders["bert-base-uncased"], docs, zh=False)


def test_large_documents_take_the_table_path(encoders, monkeypatch):
    """The default threshold sends long documents to the table (which then resolves their
    repeated pieces) and short ones to the string lookup."""
    lines = enwiki_lines(3000)
    big, small = lines[:400], lines[400:402]
    assert " ".join(big).count(" ") + 1 >= vocab.encoder._TABLE_MIN_PIECES
    assert " ".join(small).count(" ") + 1 < vocab.encoder._TABLE_MIN_PIECES
    encoder = encoders["bert-base-uncased"]
    cached = Encoder(encoder.tokenizer, "".join(t + "\n" for t in encoder.id_to_token).encode(),
                     lowercase=True)
    cached.encode_document(small)
    assert cached._cache.table.entries == 1  # only the "" entry
    cached.encode_document(big)
    assert cached._cache.table.entries > 1000


def test_cached_path_equals_plain_path_on_chinese_with_jieba_starts(encoders):
    docs = [[a[i:i + 200] for i in range(0, len(a), 200)] for a in thucnews_articles(60)]
    _assert_cache_matches_plain(encoders["bert-base-chinese"], docs, zh=True)
    _assert_cache_matches_plain(encoders["bert-base-uncased"], docs[:20], zh=False)


# Documents for the three ways the cached path finds pieces: split at spaces (no CJK),
# one-character pieces by code point (mostly CJK), all pieces by regex (mostly words with some
# CJK). They mix CJK with Latin runs, single non-CJK characters (punctuation, emoji, Greek,
# a combining mark), code points past the per-character table (U+30000, U+E0041), tabs,
# repeated/leading/trailing spaces, empty texts and special-token strings.
MIXED_DOCUMENTS = [
    ["今天天气很好，我们去公园散步。", "中文abc 𠀀x ,。  def\t中", "", " 天 ",
     "αβγ 中\u0301文 😀中 \U00030000中 \U000E0041 x", "[MASK]中", "我爱编程1234年"],
    [" ".join(["Words", "with", "a", "few", "CJK:"] * 8) + " 中 文 北京大学", "trailing  中  ",
     "", "naïve\tcafé ,x"],
    ["naïve café —  no CJK here", "", "plain ASCII"],
    ["", " "],
    ["abcdefghijklmno abcdefghijklmnop abcdefghijklmnopq naïveté's naïvetés naïveté",
     "Ünïcödé—dashes…and “quotes”  x\x00 x"],
]


@pytest.mark.parametrize("zh", [False, True])
@pytest.mark.parametrize("table_min_pieces", [0, 10**9])
def test_cached_path_equals_plain_path_on_mixed_scripts(encoders, zh, monkeypatch,
                                                        table_min_pieces):
    monkeypatch.setattr(vocab.encoder, "_TABLE_MIN_PIECES", table_min_pieces)
    for encoder in encoders.values():
        _assert_cache_matches_plain(encoder, MIXED_DOCUMENTS, zh)


def test_cached_path_equals_plain_path_when_the_cache_overflows(encoders, monkeypatch):
    """A full cache keeps its oldest pieces and forgets the rest (per-character slots too)."""
    monkeypatch.setattr(vocab.encoder, "_MAX_CACHE", 60)
    monkeypatch.setattr(vocab.encoder, "_KEEP", 25)
    monkeypatch.setattr(vocab.encoder, "_TABLE_MIN_PIECES", 0)  # byte table forgets too
    lines = enwiki_lines(400)
    _assert_cache_matches_plain(encoders["bert-base-uncased"],
                                [lines[i:i + 5] for i in range(0, len(lines), 5)], zh=False)
    docs = [[a[i:i + 100] for i in range(0, len(a), 100)] for a in thucnews_articles(12)]
    for zh in (True, False):
        _assert_cache_matches_plain(encoders["bert-base-chinese"], docs + MIXED_DOCUMENTS, zh)


def test_documents_with_a_few_cjk_characters_take_the_space_separated_pieces(encoders):
    """Mostly words: the CJK run is one piece of the split at spaces; mostly CJK, or with
    jieba word starts: one piece per CJK character (its per-code-point slot)."""
    encoder = encoders["bert-base-uncased"]
    vocab_txt = "".join(t + "\n" for t in encoder.id_to_token).encode()
    words = ["Peking University (北京大学) is in Beijing, as everyone knows."]
    for doc, zh_word_starts, split_at_spaces in ((words, False, True), (words, True, False),
                                                 (["北京大学 is"], False, False)):
        cached = Encoder(encoder.tokenizer, vocab_txt, lowercase=True)
        cached.encode_document(doc, zh_word_starts)
        assert ("北" not in cached._cache.index) == split_at_spaces
        assert ("(北京大学)" in cached._cache.index) == split_at_spaces


class _RecordingTokenizer:
    """A tokenizer that notes the texts it is asked to encode."""

    def __init__(self, tokenizer, sent: list[str]) -> None:
        self._tokenizer, self._sent = tokenizer, sent

    def encode_batch(self, texts, **kwargs):
        self._sent.extend(texts)
        return self._tokenizer.encode_batch(texts, **kwargs)


def test_printable_ascii_pieces_skip_the_normaliser_only_where_that_is_exact(tmp_path):
    """Unseen pieces of printable ASCII go to the tokenizer without its normaliser, lowercased
    in Python only if the normaliser lowercases; not at all when an added token could match
    (special tokens not split), or the normaliser or pre-tokenizer is not BERT's. A control
    character keeps a piece on the full path (the normaliser drops it), also among many ASCII
    pieces."""
    write_toy_vocab(tmp_path, ["Hello", "hello", "WORLD", "##S", "!", "x", "##y", "w", "##1"])
    many = " ".join(f"w{i}" for i in range(vocab.encoder._BARE_MIN)) + " x\x00y naïve"
    for lowercase, tokens in ((False, ["Hello", "hello", "WORLD", "##S", "!"]),
                              (True, ["hello", "hello", "[UNK]", "!"])):
        cached = Encoder.from_dir(str(tmp_path), lowercase=lowercase)
        plain = Encoder.from_dir(str(tmp_path), lowercase=lowercase, use_cache=False)
        assert cached._bare is not None and cached._bare_lower == lowercase
        sent_bare: list[str] = []
        cached._bare = _RecordingTokenizer(cached._bare, sent_bare)
        ids, _, _ = cached.encode_document(["Hello hello WORLDS!"])
        assert [cached.id_to_token[i] for i in ids] == tokens
        for doc in (["Hello hello WORLDS!"], [many]):
            for x, y in zip(cached.encode_document(doc), plain.encode_document(doc),
                            strict=True):
                np.testing.assert_array_equal(x, y)
        assert "x\x00y" in cached._cache.index
        # The many ASCII pieces went to the tokenizer without its normaliser, x\x00y did not.
        assert any("w0 w1" in text for text in sent_bare)
        assert not any("\x00" in text for text in sent_bare)
    assert Encoder.from_dir(str(tmp_path), lowercase=True,
                            split_special_tokens=False)._bare is None
    tokenizer = Encoder.from_dir(str(tmp_path), lowercase=True).tokenizer
    tokenizer.normalizer = normalizers.Sequence([normalizers.Lowercase()])
    vocab_txt = (tmp_path / "vocab.txt").read_bytes()
    assert Encoder(tokenizer, vocab_txt, lowercase=True)._bare is None
    tokenizer = Encoder.from_dir(str(tmp_path), lowercase=True).tokenizer
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()  # "..." is one word, not three
    assert Encoder(tokenizer, vocab_txt, lowercase=True)._bare is None
