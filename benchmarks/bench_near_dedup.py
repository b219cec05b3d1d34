"""Near-dedup accuracy against datasketch's MinHashLSH, and the cost of near-dedup in `clean`.

Accuracy: base documents are cut from ../shared/corpora (English: WikiExtractor and
WikiText-2 articles in chunks of 300 words; Chinese: THUCNews articles in chunks of 600
characters); each base gets one copy edited at a rate from RATES (per token: a word, or a
CJK character; each edit substitutes, deletes or inserts a random token of the same
language, seeded). The true Jaccard of a pair is computed exactly on the shingle sets the
pipeline uses. Our `NearDeduplicate` runs in a Beam pipeline over all documents; a pair is
*reduced to one* when exactly one of its two documents survives. datasketch's MinHashLSH
(same shingles, same threshold, 128 permutations) is the reference: a pair counts as found
when the copy is a query result of the original. Targets (issue 14): recall >= 0.95 for
pairs of Jaccard >= 0.85, >= 98% of pairs of Jaccard <= 0.3 keep both, and no pair loses
both documents.

Cost: `clean` on the real corpora (distinct documents) with and without near-dedup, best
of `--runs` each, in this invocation; the ratio is printed.

    python benchmarks/bench_near_dedup.py [--runs 3] [--skip-cost]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import apache_beam as beam
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from variant_corpus import SHARED, _en_documents  # noqa: E402

from core.config import CleanConfig  # noqa: E402
from transforms.near_dedup import NearDeduplicate, shingle_hashes  # noqa: E402
from transforms.records import TextDocument  # noqa: E402

RATES = (0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.4)
EN_CHUNK_WORDS = 300
ZH_CHUNK_CHARS = 600
SEED = 14


def base_documents() -> list[tuple[str, str, list[str]]]:
    """(id, language, tokens) chunks of the real corpora."""
    out = []
    words = [w for doc in _en_documents() for para in doc for w in para.split()]
    for k in range(0, len(words) - EN_CHUNK_WORDS, EN_CHUNK_WORDS):
        out.append((f"en{k // EN_CHUNK_WORDS:05d}", "en", words[k:k + EN_CHUNK_WORDS]))
    with open(SHARED / "zh/thucnews_cnews_val_1000.tsv", encoding="utf-8") as f:
        text = "".join(line.rstrip("\n").split("\t", 1)[1] for line in f)
    for k in range(0, min(len(text), 400 * ZH_CHUNK_CHARS) - ZH_CHUNK_CHARS, ZH_CHUNK_CHARS):
        out.append((f"zh{k // ZH_CHUNK_CHARS:05d}", "zh", list(text[k:k + ZH_CHUNK_CHARS])))
    return out


def edit(tokens: list[str], rate: float, vocab: list[str], rng: random.Random) -> list[str]:
    """Each token is substituted, deleted or followed by an insertion with probability `rate`."""
    out = []
    for t in tokens:
        if rng.random() >= rate:
            out.append(t)
            continue
        op = rng.randrange(3)
        if op == 0:
            out.append(rng.choice(vocab))
        elif op == 2:
            out += [t, rng.choice(vocab)]
    return out


def join(tokens: list[str], lang: str) -> str:
    return " ".join(tokens) if lang == "en" else "".join(tokens)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return len(np.intersect1d(a, b)) / len(np.union1d(a, b))


def build_pairs(cfg: CleanConfig):
    rng = random.Random(SEED)
    bases = base_documents()
    vocab = {lang: [t for _, lg, toks in bases if lg == lang for t in toks]
             for lang in ("en", "zh")}
    docs, pairs = [], []
    for i, (doc_id, lang, tokens) in enumerate(bases):
        rate = RATES[i % len(RATES)]
        copy = edit(tokens, rate, vocab[lang], rng)
        a, b = join(tokens, lang), join(copy, lang)
        docs += [TextDocument(id=doc_id + "a", text=a, source=lang),
                 TextDocument(id=doc_id + "b", text=b, source=lang)]
        n = cfg.near_dedup_ngram
        j = jaccard(shingle_hashes(a, n), shingle_hashes(b, n))
        pairs.append((doc_id, lang, rate, j))
    return docs, pairs


def our_survivors(docs: list[TextDocument], cfg: CleanConfig) -> set[str]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ids.txt"
        with beam.Pipeline() as p:
            kept = p | beam.Create(docs) | NearDeduplicate(cfg)
            (kept["documents"] | beam.Map(lambda d: d.id)
             | beam.io.WriteToText(str(out), shard_name_template=""))
        return set(out.read_text().split())


def datasketch_found(docs: list[TextDocument], cfg: CleanConfig) -> set[str]:
    """Pair ids whose copy is a MinHashLSH query result of the original."""
    from datasketch import MinHash, MinHashLSH

    num_perm = cfg.near_dedup_bands * cfg.near_dedup_rows
    lsh = MinHashLSH(threshold=cfg.near_dedup_threshold, num_perm=num_perm)
    sigs = {}
    for d in docs:
        m = MinHash(num_perm=num_perm, seed=1)
        m.update_batch([int(h).to_bytes(8, "little") for h in shingle_hashes(d.text, 5)])
        sigs[d.id] = m
        lsh.insert(d.id, m)
    found = set()
    for d in docs:
        if d.id.endswith("a"):
            copy = d.id[:-1] + "b"
            if copy in lsh.query(sigs[d.id]):
                found.add(d.id[:-1])
    return found


def report(pairs, reduced: set[str], both_lost: set[str], found_ref: set[str]) -> None:
    print(f"{'lang':<5}{'edit rate':>10}{'pairs':>7}{'mean J':>8}{'ours: one left':>16}"
          f"{'datasketch found':>18}")
    for lang in ("en", "zh"):
        for rate in RATES:
            sel = [p for p in pairs if p[1] == lang and p[2] == rate]
            if not sel:
                continue
            ours = sum(p[0] in reduced for p in sel) / len(sel)
            ref = sum(p[0] in found_ref for p in sel) / len(sel)
            mean_j = sum(p[3] for p in sel) / len(sel)
            print(f"{lang:<5}{rate:>10}{len(sel):>7}{mean_j:>8.3f}{ours:>16.3f}{ref:>18.3f}")
    high = [p for p in pairs if p[3] >= 0.85]
    low = [p for p in pairs if p[3] <= 0.3]
    mid = [p for p in pairs if 0.3 < p[3] < 0.85]
    print(f"pairs with J >= 0.85: {len(high)}; recall (one left): ours "
          f"{sum(p[0] in reduced for p in high) / len(high):.4f}, datasketch "
          f"{sum(p[0] in found_ref for p in high) / len(high):.4f}")
    print(f"pairs with J <= 0.3: {len(low)}; both kept: ours "
          f"{sum(p[0] not in reduced for p in low) / len(low):.4f}, datasketch "
          f"{sum(p[0] not in found_ref for p in low) / len(low):.4f}")
    print(f"pairs with 0.3 < J < 0.85: {len(mid)}; one left: ours "
          f"{sum(p[0] in reduced for p in mid) / max(1, len(mid)):.4f}")
    print(f"pairs that lost both documents: {len(both_lost)}")


def write_real_corpus(path: Path) -> None:
    """The real corpora as JSONL of distinct documents (cost input)."""
    records = [{"text": "\n".join(doc)} for doc in _en_documents()]
    with open(SHARED / "zh/thucnews_cnews_val_1000.tsv", encoding="utf-8") as f:
        records += [{"text": line.rstrip("\n").split("\t", 1)[1]} for line in f]
    with open(SHARED / "zh/zhwiki_wiki_zh_2019_AA_wiki_00.jsonl", encoding="utf-8") as f:
        records += [{"text": json.loads(line)["text"]} for line in f]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def clean_seconds(corpus: Path, out: Path, extra: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, str(REPO / "beam_runner.py"), "clean", "--input", str(corpus),
                    "--output", str(out), *extra], check=True,
                   capture_output=True, cwd=REPO)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-cost", action="store_true")
    args = ap.parse_args()
    cfg = CleanConfig()
    docs, pairs = build_pairs(cfg)
    print(f"{len(docs)} documents, {len(pairs)} pairs; threshold {cfg.near_dedup_threshold}, "
          f"{cfg.near_dedup_ngram}-gram shingles, {cfg.near_dedup_bands} bands x "
          f"{cfg.near_dedup_rows} rows")
    survivors = our_survivors(docs, cfg)
    reduced = {p[0] for p in pairs if (p[0] + "a" in survivors) != (p[0] + "b" in survivors)}
    both_lost = {p[0] for p in pairs
                 if p[0] + "a" not in survivors and p[0] + "b" not in survivors}
    report(pairs, reduced, both_lost, datasketch_found(docs, cfg))
    if args.skip_cost:
        return
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "real.jsonl"
        write_real_corpus(corpus)
        with_nd, without = [], []
        for _ in range(args.runs):
            without.append(clean_seconds(corpus, Path(tmp) / "off", ["--no-near-dedup"]))
            with_nd.append(clean_seconds(corpus, Path(tmp) / "on", []))
        size = corpus.stat().st_size / 1e6
        print(f"clean on {size:.1f} MB of real corpora, best of {args.runs}: "
              f"without near-dedup {min(without):.1f}s, with {min(with_nd):.1f}s, "
              f"ratio {min(with_nd) / min(without):.2f}")


if __name__ == "__main__":
    main()
