"""Packing throughput per task vs tokenisation of the same documents, one core.

    python benchmarks/bench_pack.py [--max-seq-length 512] [--dupe-factor 1] [--repeat 3]

Corpus: the 1,000 THUCNews articles of ../shared/corpora (sentences split on 。！？ by
transforms/sentences.py), bert-base-chinese vocab. Baseline: `tokenize_document` with the
project encoder (Rust tokenizer, RAYON_RS_NUM_CPUS=1) over all documents. Each task then packs
every document through `pack_documents` (the same call the Beam DoFn makes), NSP with the
whole corpus as one negative pool. Printed: instances/s and the ratio pack time / tokenise
time; the packer must not be the bottleneck (ratio well under 1).
"""

from __future__ import annotations

import os

os.environ["RAYON_RS_NUM_CPUS"] = "1"  # before tokenizers starts its thread pool

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import best_of  # noqa: E402

from core.config import PackConfig  # noqa: E402
from transforms.pack import SpecialIds, pack_documents  # noqa: E402
from transforms.records import Document  # noqa: E402
from transforms.sentences import split_sentences  # noqa: E402
from transforms.tokenize import tokenize_document  # noqa: E402
from vocab.encoder import Encoder  # noqa: E402

CORPORA = REPO.parent / "shared" / "corpora"


def load_documents(path: Path) -> list[Document]:
    docs = []
    with path.open(encoding="utf-8") as f:
        for k, line in enumerate(f):
            text = line.rstrip("\n").split("\t", 1)[1]
            docs.append(Document(f"thucnews-{k}", text, split_sentences(text, presplit=False)))
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPORA / "zh/thucnews_cnews_val_1000.tsv")
    parser.add_argument("--vocab", type=Path, default=CORPORA / "vocab/bert_base_chinese")
    parser.add_argument("--max-seq-length", type=int, default=512)
    parser.add_argument("--dupe-factor", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    docs = load_documents(args.corpus)
    encoder = Encoder.from_dir(str(args.vocab), lowercase=True, use_cache=False)
    base, tokenized = best_of(args.repeat,
                              lambda: [tokenize_document(d, encoder) for d in docs])
    n_tokens = sum(len(t.ids) for t in tokenized)
    print(f"tokenise: {len(docs)} docs, {n_tokens} tokens in {base:.3f} s "
          f"({n_tokens / base:,.0f} tokens/s)")
    specials = SpecialIds(encoder.cls_id, encoder.sep_id)
    for task in ("nsp", "sop", "none"):
        cfg = PackConfig(task=task, max_seq_length=args.max_seq_length,
                         dupe_factor=args.dupe_factor)
        seconds, packed = best_of(args.repeat, lambda cfg=cfg: [
            inst for _, insts in pack_documents(tokenized, cfg, specials) for inst in insts])
        print(f"pack {task:>4}: {len(packed)} instances in {seconds:.3f} s = "
              f"{len(packed) / seconds:,.0f} instances/s/core; "
              f"pack/tokenise time ratio {seconds / base:.3f}")


if __name__ == "__main__":
    main()
