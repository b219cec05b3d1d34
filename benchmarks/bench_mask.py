"""Masking throughput per mode vs tokenisation of the same text, one core, seq 512.

    python benchmarks/bench_mask.py [--corpus FILE] [--vocab VOCAB_TXT] [--repeat 3]

Baseline: bare `tokenizers` `encode_batch` (Rust, RAYON_RS_NUM_CPUS=1) of the corpus lines.
The text is then cut into full-length `[CLS] A(254) [SEP] B(255) [SEP]` instances and each
mode masks all of them through `mask_instance` (per-instance generator included). The
ratio is masking time / tokenisation time for the same text; the target is < 1/3.
Defaults read ../shared/corpora beside the checkout.
"""

from __future__ import annotations

import os

os.environ["RAYON_RS_NUM_CPUS"] = "1"  # before tokenizers starts its thread pool

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import best_of  # noqa: E402

from core.config import MaskConfig  # noqa: E402
from transforms.manifest import vocab_tokens  # noqa: E402
from transforms.mask import MASKERS, MaskVocab, mask_instance  # noqa: E402
from transforms.records import Instance  # noqa: E402

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path,
                    default=CORPORA / "en" / "enwiki_wikiextractor_wiki_00.txt")
    ap.add_argument("--vocab", type=Path,
                    default=CORPORA / "vocab" / "bert_base_uncased" / "vocab.txt")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from tokenizers import BertWordPieceTokenizer

    tokenizer = BertWordPieceTokenizer(str(args.vocab), lowercase=True)
    lines = [ln for ln in args.corpus.read_text(encoding="utf-8").splitlines()
             if ln.strip() and not ln.startswith("<")]
    encodings = tokenizer.encode_batch(lines, add_special_tokens=False)
    tok_s, _ = best_of(args.repeat, lambda: tokenizer.encode_batch(lines, add_special_tokens=False))
    ids = np.concatenate([np.asarray(e.ids, dtype=np.int32) for e in encodings])
    ws = np.array([not t.startswith("##") for e in encodings for t in e.tokens])
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    instances = []
    for k, lo in enumerate(range(0, len(ids) - 509, 509)):
        a, b = slice(lo, lo + 254), slice(lo + 254, lo + 509)
        inst_ids = np.concatenate([[cls_id], ids[a], [sep_id], ids[b], [sep_id]])
        instances.append(Instance(
            doc_id=k, pass_index=0, index=0, input_ids=inst_ids.astype(np.int32),
            word_starts=np.concatenate([[True], ws[a], [True], ws[b], [True]]),
            a_len=256, sentence_label=0))
    # Tokenisation time for exactly the text that fills these instances.
    tok_per_inst = tok_s * (509 * len(instances) / len(ids))
    vocab = MaskVocab.from_tokens(vocab_tokens(args.vocab.read_bytes()))
    print(f"corpus {args.corpus.name}: {len(ids):,} tokens, {len(instances)} instances of 512")
    print(f"tokenisation (encode_batch, 1 core): {len(ids) / tok_s / 1e6:.2f} M tokens/s = "
          f"{len(instances) / tok_per_inst:,.0f} instances/s")
    print(f"{'mode':<6} {'instances/s':>12} {'us/inst':>8} {'mask/tokenise':>14}")
    for mode in MASKERS:
        cfg = MaskConfig(masking=mode, max_predictions_per_seq=77)
        copies = [dataclasses.replace(i) for i in instances]
        secs, _ = best_of(args.repeat, lambda cfg=cfg, copies=copies: [
            mask_instance(dataclasses.replace(i), cfg, vocab) for i in copies])
        print(f"{mode:<6} {len(instances) / secs:>12,.0f} {secs / len(instances) * 1e6:>8.1f} "
              f"{secs / tok_per_inst:>14.3f}")


if __name__ == "__main__":
    main()
