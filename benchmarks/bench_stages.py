"""CPU per token of tokenize -> pack -> mask -> shard keying, against a baseline checkout.

The stage functions of `shards` after cleaning, without Beam: `tokenize_document` with a
fresh encoder per run (a pipeline sees each document once, so the piece cache starts cold),
`pack_documents` over pools of `--pool` documents, masking (`mask_instances` in batches as
`ApplyMasks` does, or `mask_instance` per instance where the code has no batch path), and
`sort_key` + `encode_rows` in batches of 256 (what `KeyBySortKey` does; `encode_row` per
instance where the code has no batch path). The corpus is `variant_corpus.py`'s (distinct
documents), cleaned once by this checkout's `clean`.

Each checkout runs in its own child process (PYTHONPATH = that checkout), alternately, best
of `--runs` per stage; CPU time is process time. Printed per stage: baseline CPU s, this
checkout's CPU s, and the speed-up (baseline / this). The bare HF tokenizer on the same
sentences is printed for scale.

    python benchmarks/bench_stages.py --baseline-src /path/to/old/checkout \\
        [--corpus en|zh] [--size-mb 5] [--runs 3] [--task nsp] [--masking token]
"""

from __future__ import annotations

import os

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["RAYON_RS_NUM_CPUS"] = "1"

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

STAGES = ("tokenize", "pack", "mask", "key")
VOCABS = {"en": ("bert_base_uncased", True), "zh": ("bert_base_chinese", True)}
ROOT = Path(__file__).resolve().parents[1]


def _documents(clean_dir: Path) -> list:
    import zstandard

    from transforms.records import Document

    docs = []
    for path in sorted(clean_dir.glob("documents-*.jsonl.zst")):
        with open(path, "rb") as f:
            raw = zstandard.ZstdDecompressor().stream_reader(f).read()
        for line in io.StringIO(raw.decode("utf-8")):
            d = json.loads(line)
            docs.append(Document(d["id"], d["text"], d["sentences"], d.get("lang", "")))
    return docs


def _worker(args) -> None:
    """Times the stages of the checkout on sys.path; prints {stage: best CPU s} as JSON."""
    import numpy as np
    from tokenizers import BertWordPieceTokenizer

    import transforms.mask as mask_module
    from core.config import MaskConfig, PackConfig
    from transforms import shard_rows
    from transforms.manifest import vocab_tokens
    from transforms.pack import SpecialIds, pack_documents
    from transforms.shard_assign import bucket_of_key, sort_key
    from transforms.tokenize import tokenize_document
    from vocab.encoder import Encoder

    docs = _documents(Path(args.worker))
    vocab_dir = ROOT.parent / "shared" / "corpora" / "vocab" / VOCABS[args.corpus][0]
    vocab_txt = (vocab_dir / "vocab.txt").read_bytes()
    mask_vocab = mask_module.MaskVocab.from_tokens(vocab_tokens(vocab_txt))
    pack_cfg = PackConfig(task=args.task)
    mask_cfg = MaskConfig(masking=args.masking, max_predictions_per_seq=77)
    batched = getattr(mask_module, "mask_instances", None)
    encode_row = shard_rows.encode_row
    encode_rows = getattr(shard_rows, "encode_rows", None)  # absent from older checkouts

    def mask(instances):
        if batched is None:
            return [mask_module.mask_instance(i, mask_cfg, mask_vocab) for i in instances]
        return [m for k in range(0, len(instances), 256)
                for m in batched(instances[k:k + 256], mask_cfg, mask_vocab)]

    def run() -> tuple[dict[str, float], int]:
        encoder = Encoder.from_dir(str(vocab_dir), lowercase=VOCABS[args.corpus][1])
        specials = SpecialIds(encoder.cls_id, encoder.sep_id)
        times = [time.process_time()]
        tokenized = [t for t in (tokenize_document(d, encoder) for d in docs) if t is not None]
        times.append(time.process_time())
        instances = [i for k in range(0, len(tokenized), args.pool)
                     for _, ins in pack_documents(tokenized[k:k + args.pool], pack_cfg,
                                                  specials) for i in ins]
        times.append(time.process_time())
        instances = mask(instances)
        times.append(time.process_time())
        rows = []
        for k in range(0, len(instances), 256):  # as KeyBySortKey does (`encode_rows`)
            batch = instances[k:k + 256]
            keys = [sort_key(1, inst.doc_id, inst.pass_index, inst.index) for inst in batch]
            for key in keys:
                bucket_of_key(key)
            rows += (encode_rows(keys, batch) if encode_rows is not None
                     else [encode_row(key, inst) for key, inst in zip(keys, batch, strict=True)])
        times.append(time.process_time())
        n_tokens = sum(len(t.ids) for t in tokenized)
        return dict(zip(STAGES, np.diff(times).tolist(), strict=True)), n_tokens

    best: dict[str, float] = {}
    for _ in range(args.runs):
        times, n_tokens = run()
        best = {s: min(best.get(s, 1e9), t) for s, t in times.items()}
    sentences = [s for d in docs for s in d.sentences]
    tokenizer = BertWordPieceTokenizer(str(vocab_dir / "vocab.txt"),
                                       lowercase=VOCABS[args.corpus][1])
    bare = 1e9
    for _ in range(args.runs):
        start = time.process_time()
        tokenizer.encode_batch(sentences, add_special_tokens=False)
        bare = min(bare, time.process_time() - start)
    print(json.dumps({"stages": best, "tokens": n_tokens, "bare": bare}))


def _child(src: Path, clean_dir: Path, args) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src))
    argv = [sys.executable, __file__, "--worker", str(clean_dir), "--corpus", args.corpus,
            "--runs", "1", "--task", args.task, "--masking", args.masking,
            "--pool", str(args.pool)]
    out = subprocess.run(argv, env=env, cwd=src, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline-src", type=Path, help="checkout to compare against")
    parser.add_argument("--corpus", choices=sorted(VOCABS), default="en")
    parser.add_argument("--size-mb", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--task", default="nsp")
    parser.add_argument("--masking", default="token")
    parser.add_argument("--pool", type=int, default=1000, help="documents per NSP pool")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from variant_corpus import write_corpus

    from pipeline.cli import main as cli

    tmp = Path(tempfile.mkdtemp(prefix="bench_stages_"))
    source = write_corpus(args.corpus, args.size_mb, tmp)
    if cli(["clean", "--input", str(source), "--format", "jsonl", "--no-near-dedup",
            "--output", str(tmp / "clean")]) != 0:
        sys.exit("clean failed")
    checkouts = {"this": ROOT} | ({"baseline": args.baseline_src} if args.baseline_src else {})
    best: dict[str, dict[str, float]] = {name: {} for name in checkouts}
    bare = 1e9
    for _ in range(args.runs):  # alternate, so that load changes hit both sides alike
        for name, src in checkouts.items():
            result = _child(src, tmp / "clean", args)
            best[name] = {s: min(best[name].get(s, 1e9), t) for s, t in result["stages"].items()}
            bare = min(bare, result["bare"])
            n_tokens = result["tokens"]
    print(f"\n{args.corpus} {args.size_mb:g} MB, {n_tokens:,} tokens, {args.task}/{args.masking},"
          f" best of {args.runs}; bare HF tokenizer {bare:.2f} CPU-s")
    print(f"{'stage':10} {'baseline s':>11} {'this s':>8} {'speed-up':>9}")
    for stage in (*STAGES, "total"):
        this = sum(best["this"].values()) if stage == "total" else best["this"][stage]
        if "baseline" in best:
            base = (sum(best["baseline"].values()) if stage == "total"
                    else best["baseline"][stage])
            print(f"{stage:10} {base:11.3f} {this:8.3f} {base / this:8.2f}x")
        else:
            print(f"{stage:10} {'':11} {this:8.3f}")
    print(f"this checkout: {n_tokens / sum(best['this'].values()) / 1e3:.0f}k tokens/CPU-s "
          f"over the four stages; bare tokenizer {n_tokens / bare / 1e3:.0f}k")


if __name__ == "__main__":
    main()
