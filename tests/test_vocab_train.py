"""Word counting, pruning and WordPiece training (vocab.train, vocab.pretokenize)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from tokenizers import BertWordPieceTokenizer, pre_tokenizers

from core.cjk import is_bert_chinese_char
from tests.corpora import corpus_path
from tests.vocab_helpers import SPECIALS, enwiki_lines, generated_lines, thucnews_articles
from vocab.pretokenize import _IDEOGRAPH, BertWordSplitter, _mostly_non_ascii, make_normalizer
from vocab.train import (
    _repeated_words,
    count_words,
    pinned_alphabet,
    prune_counts,
    train_wordpiece,
)

REPO = Path(__file__).resolve().parents[1]


def _ours(lines: list[str], vocab_size: int, lowercase: bool = True) -> list[str]:
    counts = count_words(lines, BertWordSplitter(lowercase), jieba=False)
    return train_wordpiece(counts, vocab_size=vocab_size, min_frequency=2, limit_alphabet=1000,
                           special=SPECIALS)


def _bare(lines: list[str], vocab_size: int, lowercase: bool = True) -> dict[str, int]:
    tok = BertWordPieceTokenizer(lowercase=lowercase)
    tok.train_from_iterator(lines, vocab_size=vocab_size, min_frequency=2, limit_alphabet=1000,
                            show_progress=False)
    return tok.get_vocab()


def _shared_fraction(ours: list[str], bare: dict[str, int]) -> float:
    """Share of the bare trainer's tokens that we also learn. The bare trainer is itself not
    deterministic (0.04-0.2% of its tokens change run to run, vocab.train), so the tests ask
    for 99.5%: about twice its own noise, while a different algorithm would miss far more."""
    return len(set(ours) & set(bare)) / len(bare)


def test_pretokenizer_is_bert_basic_tokenization():
    pretok = BertWordSplitter(lowercase=True)
    assert pretok.words(" \tHeLLo!how  \n Are yoU?  ") == ["hello", "!", "how", "are", "you", "?"]
    assert pretok.words("Héllo ah博推zz") == ["hello", "ah", "博", "推", "zz"]
    assert BertWordSplitter(lowercase=False).words("Héllo") == ["Héllo"]
    # jieba mode: CJK characters are not split, jieba's spaces decide.
    assert BertWordSplitter(True, handle_chinese_chars=False).words("今天 天气。") == [
        "今天", "天气", "。"]


@pytest.mark.parametrize("lowercase", [True, False])
def test_ascii_fast_path_equals_rust_normalizer_and_pre_tokenizer(lowercase):
    """20,000 random ASCII strings (control characters included) plus real English lines."""
    pretok = BertWordSplitter(lowercase)
    normalizer = make_normalizer(lowercase, handle_chinese_chars=True)
    rust = pre_tokenizers.BertPreTokenizer()
    rng = np.random.Generator(np.random.Philox(3))
    texts = ["".join(map(chr, rng.integers(0, 128, size=rng.integers(0, 60))))
             for _ in range(20_000)]
    texts += [t for t in generated_lines(500) if t.isascii()]
    for text in texts:
        expected = [w for w, _ in rust.pre_tokenize_str(normalizer.normalize_str(text))]
        assert pretok.words(text) == expected, repr(text)


def _zhwiki_lines() -> list[str]:
    path = corpus_path("zh/zhwiki_wiki_zh_2019_AA_wiki_00.jsonl")
    with path.open(encoding="utf-8") as f:
        return [ln for rec in f for ln in json.loads(rec)["text"].splitlines()]


def _hostile_lines(n: int) -> list[str]:
    """Random mixes of what the batched path must not merge or split differently: every kind
    of whitespace and control character, combining marks at text edges, accents, CJK (with
    compatibility ideographs, which NFD maps to other characters), kana, Unicode punctuation."""
    alphabet = ("aZ9 \t\n\r\x00\x07\x1c\x1f\x7f\x85\xa0\u1680\u2000\u2028\u2029\u3000"
                "\u200b\ufeff\ufffd\u0301\u0308\u0327éÉßİΣσς中文㐀\uf900\ufa0e\U00020000"
                "\U0002f800あア한。，、「」!?.-'—…·\u00ad")
    rng = np.random.Generator(np.random.Philox(11))
    return ["".join(rng.choice(list(alphabet), size=rng.integers(0, 30))) for _ in range(n)]


@pytest.mark.parametrize("lowercase", [True, False])
@pytest.mark.parametrize("handle_chinese_chars", [True, False])
def test_batched_count_equals_word_by_word_on_real_text(lowercase, handle_chinese_chars):
    """`count` (one normaliser call per batch, distinct chunks pre-tokenised once) gives the
    counts of `words` applied text by text: English, Chinese Wikipedia and news, and random
    hostile strings; in batches of 1, 7 and all texts."""
    pretok = BertWordSplitter(lowercase, handle_chinese_chars)
    texts = enwiki_lines(1000) + _zhwiki_lines()[:600] + thucnews_articles(60)
    texts += _hostile_lines(2000)
    expected = Counter(w for text in texts for w in pretok.words(text))
    for size in (1, 5, len(texts)):
        batched: Counter = Counter()
        for start in range(0, len(texts), size):
            batched.update(pretok.count(texts[start:start + size]))
        assert batched == expected, size


@pytest.mark.parametrize("handle_chinese_chars", [True, False])
def test_count_of_english_with_a_few_ideographs_equals_word_by_word(handle_chinese_chars):
    """Mostly ASCII with some CJK: `count` leaves the ideographs to the normaliser of each
    chunk (no pass over the whole text for them); the same counts either way."""
    pretok = BertWordSplitter(lowercase=True, handle_chinese_chars=handle_chinese_chars)
    texts = [f"{line} 中文{line[:5]}㐀。Über" for line in enwiki_lines(300)]
    assert not _mostly_non_ascii("\n".join(texts))  # the case this test is about
    expected = Counter(w for text in texts for w in pretok.words(text))
    assert any("中" in w for w in expected) and expected["uber"]  # accents stripped
    assert pretok.count(texts) == expected


@pytest.mark.parametrize("handle_chinese_chars", [True, False])
def test_count_splits_where_bert_does_for_every_code_point(handle_chinese_chars):
    """`count` splits raw text with `str.split`: each code point between letters must split
    (or join, or vanish) exactly as the Rust normaliser and pre-tokenizer make it. Every
    code point of the BMP (all that `str.split` or BERT call whitespace live there), and
    every 61st beyond it."""
    pretok = BertWordSplitter(lowercase=True, handle_chinese_chars=handle_chinese_chars)
    codes = [*range(0xD800), *range(0xE000, 0x10000), *range(0x10000, 0x110000, 61)]
    chars = [chr(c) for c in codes]
    text = "".join(f"a{ch}b " for ch in chars)
    assert pretok.count([text]) == Counter(pretok.words(text))
    ascii_text = "".join(f"a{chr(c)}b " for c in range(128))  # a batch of ASCII only
    assert pretok.count([ascii_text]) == Counter(pretok.words(ascii_text))


@pytest.mark.parametrize("lowercase", [True, False])
def test_ideographs_counted_directly_are_only_padded_by_the_normalizer(lowercase):
    """Every character `count` takes past the normaliser: the normaliser only pads it."""
    chars = [chr(c) for lo, hi in ((0x3400, 0x4DBF), (0x4E00, 0x9FFF)) for c in range(lo, hi + 1)]
    assert all(_IDEOGRAPH.fullmatch(ch) for ch in chars)
    normalizer = make_normalizer(lowercase, handle_chinese_chars=True)
    assert normalizer.normalize_str("".join(chars)) == "".join(f" {ch} " for ch in chars)


def test_is_bert_chinese_char_ranges():
    assert all(map(is_bert_chinese_char, "中㐀\U00020000"))
    assert not any(is_bert_chinese_char(c) for c in "aあア한。，")


def test_count_words_exact():
    counts = count_words(["The cat, the CAT.", "cat"], BertWordSplitter(True), jieba=False)
    assert counts == Counter({"the": 2, "cat": 3, ",": 1, ".": 1})


def test_prune_counts_halves_by_dropping_rarest_counts():
    counts = {"a": 5, "b": 1, "c": 1, "d": 2, "e": 3}
    assert prune_counts(counts, max_words=4) == (3, 4)  # b, c (count 1) then d (2)
    assert counts == {"a": 5, "e": 3}
    assert prune_counts(counts, max_words=4) == (0, 0)
    assert counts == {"a": 5, "e": 3}


def test_repeated_words_reproduce_the_counts_of_words_with_a_pair():
    counts = {"a": 100_003, "bb": 3, "long" * 30: 70_000, "x": 1}
    rebuilt = Counter(w for s in _repeated_words(counts) for w in s.split(" "))
    assert rebuilt == {"bb": 3, "long" * 30: 70_000}


@pytest.mark.parametrize("corpus, vocab_size, limit_alphabet, digest", [
    ("generated", 1500, 30, "aa925a645aac5312"),
    ("thucnews", 3000, 1000, "4dfb7a75b4faf07b"),
])
def test_vocab_is_the_one_every_word_occurrence_gave(corpus, vocab_size, limit_alphabet,
                                                     digest):
    """One-character words are not re-fed to the trainer: the vocabs are still the ones
    feeding every occurrence gave (digests recorded with that code, main 2026-12-02); the
    Chinese one, split per character, is 98% one-character words."""
    lines = generated_lines() if corpus == "generated" else thucnews_articles(300)
    counts = count_words(lines, BertWordSplitter(True), jieba=False)
    vocab = train_wordpiece(counts, vocab_size=vocab_size, min_frequency=2,
                            limit_alphabet=limit_alphabet, special=SPECIALS)
    assert hashlib.sha256("\n".join(vocab).encode()).hexdigest()[:16] == digest


def test_pinned_alphabet_limit_breaks_ties_by_code_point():
    alphabet, continuations = pinned_alphabet({"ab": 2, "ba": 1, "c": 3, "d": 3}, 3)
    # frequencies a=3 b=3 c=3 d=3: all tie, so the 3 lowest code points win.
    assert alphabet == ["a", "b", "c"]
    assert continuations == ["##a", "##b"]


def test_pinned_alphabet_weighs_characters_by_word_count():
    # z = 10, y = 3, a = b = 1: by occurrences (not by distinct words) z and y are kept.
    alphabet, continuations = pinned_alphabet({"zz": 5, "a": 1, "b": 1, "y": 3}, 2)
    assert alphabet == ["y", "z"]
    assert continuations == ["##z"]


def test_vocab_layout_specials_first():
    tokens = _ours(generated_lines(), vocab_size=600)
    assert tokens[:5] == list(SPECIALS)
    assert len(tokens) == 600 and len(set(tokens)) == 600


def test_matches_bert_wordpiece_tokenizer_on_generated_text():
    lines = generated_lines()
    ours, bare = _ours(lines, 2000), _bare(lines, 2000)
    assert len(ours) == len(bare)
    assert _shared_fraction(ours, bare) >= 0.995


@pytest.mark.parametrize("lowercase", [True, False])
def test_matches_bert_wordpiece_tokenizer_on_enwiki(lowercase):
    lines = enwiki_lines(4000)
    ours, bare = _ours(lines, 8000, lowercase), _bare(lines, 8000, lowercase)
    assert _shared_fraction(ours, bare) >= 0.995


def test_training_is_reproducible_across_processes():
    """Two fresh interpreters (different Rust HashMap seeds) give byte-identical vocabs."""
    code = (
        "import hashlib\n"
        "from tests.vocab_helpers import generated_lines, SPECIALS\n"
        "from vocab.pretokenize import BertWordSplitter\n"
        "from vocab.train import count_words, train_wordpiece\n"
        "c = count_words(generated_lines(), BertWordSplitter(True), False)\n"
        "t = train_wordpiece(c, vocab_size=1500, min_frequency=2, limit_alphabet=30,"
        " special=SPECIALS)\n"
        "print(hashlib.sha256('\\n'.join(t).encode()).hexdigest())\n"
    )
    runs = {subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True,
                           capture_output=True, text=True).stdout for _ in range(3)}
    assert len(runs) == 1
