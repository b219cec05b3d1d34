"""jieba segmentation of CJK runs only (`--zh-segmenter jieba`).

Only maximal runs of BERT CJK characters (`core.cjk.BERT_CHINESE_RANGES`) are given to jieba;
every other character is left exactly where it was, so English, digits and punctuation are
tokenised as without jieba. jieba runs in dictionary mode (`HMM=False`, as WoBERT does): the
HMM guesses unseen words, which inflates a vocabulary with one-off strings.

Two uses:
- a word-level Chinese vocab: `presegment` puts a space between jieba words (and around each
  run) *before* the BERT normalizer, whose `handle_chinese_chars` is then off. This is the
  exact input the saved `tokenizer.json` expects from Hugging Face tooling.
- whole-word boundaries over a char-level vocab (Chinese-BERT-wwm): `word_start_chars`.

jieba is built once per process (`get_jieba`, called from `DoFn.setup`), never per element.
"""

from __future__ import annotations

import functools
import logging
import re

from core.cjk import BERT_CHINESE_CLASS

_CJK_RUN = re.compile(f"[{BERT_CHINESE_CLASS}]+")


@functools.lru_cache(maxsize=1)
def get_jieba():
    """The process-wide, initialised `jieba.Tokenizer` (dictionary load ~1 s, once)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)  # its "Building prefix dict..." lines are noise
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def segment_run(run: str) -> list[str]:
    """jieba words of one CJK run; they concatenate back to `run`."""
    return get_jieba().lcut(run, HMM=False)


def presegment(text: str) -> str:
    """`text` with every CJK run replaced by its jieba words separated by single spaces.

    The run is also padded with a space on both sides, like BERT pads a CJK character,
    so `abc中文def` becomes `abc 中文 def`. Text without CJK comes back unchanged.
    """
    if _CJK_RUN.search(text) is None:
        return text
    return _CJK_RUN.sub(lambda m: " " + " ".join(segment_run(m.group())) + " ", text)


def word_start_chars(text: str) -> set[int]:
    """Character indices of `text` where a jieba word starts inside a CJK run."""
    starts: set[int] = set()
    for m in _CJK_RUN.finditer(text):
        pos = m.start()
        for word in segment_run(m.group()):
            starts.add(pos)
            pos += len(word)
    return starts
