"""A large benchmark corpus of *distinct* documents, built deterministically from ../shared/corpora.

Plain copies of a small corpus flatter every cache keyed by text (the encoder's word cache
above all: after the first copy every word is a hit) and are removed by dedup. Variant `k`
of a document (k = 0 is the original) therefore differs from it in two ways that keep the
text realistic:

- its rare words (those seen at most `RARE` times in the whole source corpus, i.e. its
  Heaps'-law tail) are respelled by a per-variant letter rotation, so each variant brings
  new words as a larger real corpus would, while frequent words stay frequent;
- its paragraphs (English) or sentences (Chinese articles) are rotated by `k`, and the first
  paragraph (sentence) of the document `k` places further on is appended, so variants of a
  document differ from each other and from every other document, also after dedup's
  case/space folding (the benchmarks check that dedup drops almost nothing).

English: the 36 WikiExtractor articles and the 62 WikiText-2 test articles (its ` @-@ `
style markers undone); Chinese: the 1,000 THUCNews articles.

Written as JSONL `{"id", "text"}` (`--format jsonl`). Use from a script in benchmarks/ (its
directory is on `sys.path`):

    from variant_corpus import write_corpus
    path = write_corpus("en", size_mb=40, out_dir=tmp)

or `python benchmarks/variant_corpus.py en 40 OUT.jsonl`.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora"
RARE = 2
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_DOC_OPEN = re.compile(r"^<doc [^>]*>$")
_ZH_SENTENCE = re.compile(r"(?<=[。！？])")


_WIKITEXT_MARKER = re.compile(r" @(.)@ ")
_WIKITEXT_TITLE = re.compile(r"^ = [^=].* = $")


def _en_documents() -> list[list[str]]:
    """WikiExtractor blocks (the title line dropped, as the reader does) and WikiText-2
    articles (headings dropped), as paragraph lists."""
    docs, block = [], None
    with open(SHARED / "en/enwiki_wikiextractor_wiki_00.txt", encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if _DOC_OPEN.match(line):
                block = []
            elif line == "</doc>":
                if block and block[1:]:
                    docs.append(block[1:])
                block = None
            elif block is not None and line:
                block.append(line)
    article: list[str] = []
    with open(SHARED / "en/wikitext2_raw_test_crlf_noblank.raw", encoding="utf-8",
              newline="") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if _WIKITEXT_TITLE.match(line):
                if article:
                    docs.append(article)
                article = []
            elif not line.startswith(" = "):
                article.append(_WIKITEXT_MARKER.sub(r"\1", line).strip())
    if article:
        docs.append(article)
    return docs


def _zh_documents() -> list[list[str]]:
    """THUCNews articles (one per line) as sentence lists, to be joined without separator."""
    with open(SHARED / "zh/thucnews_cnews_val_1000.tsv", encoding="utf-8") as f:
        return [[s for s in _ZH_SENTENCE.split(line.rstrip("\n").split("\t", 1)[1]) if s]
                for line in f]


SOURCES = {"en": (_en_documents, "\n"), "zh": (_zh_documents, "")}


def _rotate(word: str, k: int) -> str:
    """The word with every letter moved `k` places along the alphabet, case kept."""
    out = []
    for ch in word:
        base = 65 if ch.isupper() else 97
        out.append(chr(base + (ord(ch) - base + k) % 26))
    return "".join(out)


def variant(docs: list[list[str]], n: int, joiner: str, k: int, rare: set[str]) -> str:
    """Variant `k` of document `n` given as paragraphs/sentences (k = 0: the original)."""
    parts = docs[n]
    if k == 0:
        return joiner.join(parts)
    shift = k % len(parts)
    rotated = parts[shift:] + parts[:shift] + docs[(n + k) % len(docs)][:1]
    step = 1 + (k - 1) % 25  # 25 distinct spellings; past that the rotation of parts differs
    text = joiner.join(rotated)
    return _LATIN_WORD.sub(lambda m: _rotate(m[0], step) if m[0] in rare else m[0], text)


def write_corpus(language: str, size_mb: float, out_dir: Path) -> Path:
    """`out_dir/<language>-<size>mb.jsonl`: variants in order until `size_mb` MB are written."""
    documents, joiner = SOURCES[language]
    docs = documents()
    counts = Counter(w for parts in docs for part in parts for w in _LATIN_WORD.findall(part))
    rare = {w for w, n in counts.items() if n <= RARE}
    target = int(size_mb * 1e6)
    out = Path(out_dir) / f"{language}-{size_mb:g}mb.jsonl"
    written, k = 0, 0
    with open(out, "w", encoding="utf-8") as f:
        while written < target:
            for n in range(len(docs)):
                record = {"id": f"{language}:{k}:{n}", "text": variant(docs, n, joiner, k, rare)}
                line = json.dumps(record, ensure_ascii=False) + "\n"
                f.write(line)
                written += len(line.encode("utf-8"))
                if written >= target:
                    break
            k += 1
    return out


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in SOURCES:
        sys.exit("usage: python benchmarks/variant_corpus.py en|zh SIZE_MB OUT_DIR")
    print(write_corpus(sys.argv[1], float(sys.argv[2]), Path(sys.argv[3])))
