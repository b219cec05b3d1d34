"""Shared corpora and small generated text for the vocab tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.corpora import corpus_path

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def enwiki_lines(limit: int | None = None) -> list[str]:
    """Paragraph lines of the WikiExtractor sample (doc markup lines dropped)."""
    lines = [ln.strip() for ln in corpus_path("en/enwiki_wikiextractor_wiki_00.txt").open(
        encoding="utf-8") if ln.strip() and not ln.startswith("<")]
    return lines[:limit]


def thucnews_articles(limit: int | None = None) -> list[str]:
    """THUCNews articles (`label<TAB>article` lines)."""
    with corpus_path("zh/thucnews_cnews_val_1000.tsv").open(encoding="utf-8") as f:
        return [ln.split("\t", 1)[1].strip() for ln in f][:limit]


def generated_lines(n_lines: int = 3000, seed: int = 7) -> list[str]:
    """English-like text: Zipf-distributed words built from syllables, with punctuation."""
    rng = np.random.Generator(np.random.Philox(seed))
    syllables = ["an", "ber", "cal", "do", "el", "fin", "gra", "hol", "in", "jo", "ket", "lu",
                 "mar", "no", "or", "pel", "qui", "ros", "sta", "tur", "ul", "ven", "wes", "zy"]
    words = ["".join(rng.choice(syllables, size=rng.integers(1, 4))) for _ in range(2000)]
    weights = 1.0 / np.arange(1, len(words) + 1)
    weights /= weights.sum()
    lines = []
    for _ in range(n_lines):
        picks = rng.choice(len(words), size=rng.integers(5, 25), p=weights)
        text = " ".join(words[i].capitalize() if rng.random() < 0.1 else words[i] for i in picks)
        lines.append(text + rng.choice([".", "!", "?", ", ok."]))
    return lines


def write_toy_vocab(directory: Path, tokens: list[str]) -> Path:
    """A Google-style vocab dir holding only vocab.txt: specials first, then `tokens`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("".join(t + "\n" for t in (*SPECIALS, *tokens)),
                                         encoding="utf-8")
    return directory
