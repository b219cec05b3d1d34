"""`--zh-segmenter jieba`: segmentation of CJK runs and a word-level Chinese vocab on THUCNews."""

from __future__ import annotations

from core.cjk import is_bert_chinese_char
from core.config import VocabConfig
from tests.vocab_helpers import thucnews_articles
from transforms.vocab_build import WordCounts, train_vocab
from vocab.encoder import Encoder
from vocab.jieba_segmenter import presegment, word_start_chars
from vocab.pretokenize import BertWordSplitter
from vocab.train import count_words


def test_presegment_touches_only_cjk_runs():
    assert presegment("Hello, world! 3.14") == "Hello, world! 3.14"
    assert presegment("abc今天天气很好def") == "abc 今天天气 很 好 def"
    assert presegment("我爱Python编程。") == " 我 爱 Python 编程 。"


def test_word_start_chars_are_jieba_word_starts():
    assert word_start_chars("今天天气很好!中华人民共和国") == {0, 4, 5, 7}
    assert word_start_chars("no cjk here") == set()


def _tokens_per_char(encoder: Encoder, articles: list[str]) -> float:
    tokens = sum(len(encoder.encode_document([a])[0]) for a in articles)
    return tokens / sum(len(a.replace(" ", "")) for a in articles)


def _train(articles: list[str], zh_segmenter: str, vocab_size: int) -> Encoder:
    jieba = zh_segmenter == "jieba"
    counts = count_words(articles, BertWordSplitter(True, handle_chinese_chars=not jieba), jieba)
    cfg = VocabConfig(vocab_size=vocab_size, zh_segmenter=zh_segmenter, limit_alphabet=8000)
    return Encoder.from_artifacts(train_vocab(WordCounts(counts=dict(counts)), cfg))


def _multi_char_words(encoder: Encoder) -> list[str]:
    return [t for t in encoder.id_to_token if len(t) >= 2 and all(map(is_bert_chinese_char, t))]


def _check_jieba_beats_char_level(n_train: int, vocab_size: int, min_words: int,
                                  max_ratio: float) -> None:
    articles = thucnews_articles()
    train, held_back = articles[:n_train], articles[-50:]
    words = _train(train, "jieba", vocab_size)
    chars = _train(train, "none", vocab_size)
    assert words.zh_segmenter == "jieba" and chars.zh_segmenter == "none"
    multi = _multi_char_words(words)
    assert len(multi) >= min_words and "我们" in multi
    assert _multi_char_words(chars) == []
    jieba_ratio = _tokens_per_char(words, held_back)
    char_ratio = _tokens_per_char(chars, held_back)
    assert jieba_ratio < max_ratio * char_ratio


def test_jieba_vocab_thucnews():
    """~10 s on 2 cores, so not slow-marked. Measured: 950 training articles, vocab 30522 ->
    19,109 multi-character words; held-back 50 articles: 0.644 (jieba) vs 0.959 (char-level)
    tokens per character."""
    _check_jieba_beats_char_level(950, 30522, min_words=15000, max_ratio=0.75)
