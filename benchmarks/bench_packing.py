"""Packed vs unpacked rows: fill and rows per 1,000 instances on real text; trainer speed.

    python benchmarks/bench_packing.py [--corpora en zh] [--lengths 128 512]
                                       [--per-row 3 4 5 6 7 8] [--steps 15]

1. Fill. For each corpus and max length, runs `shards` (unpacked, nsp, span, dupe 2,
   2 shards) on `../shared/corpora`, then packs each shard's instance lengths with the
   packer `--packed` uses (`transforms.pack_rows.pack_rows`, the rows are a function of
   the lengths alone) and, as a baseline, with SPFHP (Krell et al. 2107.02027, written
   here from the paper) at 3 sequences per row. Prints rows per 1,000 instances and fill
   (non-pad tokens / rows x max length), and for each limit on sequences per row
   (`--per-row`) our packer's rows and fill beside the fewest rows any packer could use
   on the same shards (`fill_bound.lp_rows`, the configuration-LP bound, summed over the
   shards as the pipeline packs per shard) and so the highest fill possible. One
   `shards --packed` run (default limit) per corpus and length checks that the pipeline's
   rows are the ones counted here.
2. Trainer. Synthetic instances (half within 32 tokens of max length, half uniform
   8..max; seq 128, vocab 30,522) written unpacked and packed; the tiny model trains
   `--steps` steps of 32 rows each on CPU (one thread, fp32) from each; prints instances/s,
   best of 3, and the ratio packed / unpacked.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
from benchmarks.fill_bound import lp_rows  # noqa: E402
from core.config import ShardConfig  # noqa: E402
from transforms.pack_rows import fill, pack_rows  # noqa: E402

CORPORA = (Path(__file__).resolve().parents[2] / "shared" / "corpora").resolve()
INPUTS = {
    "en": (CORPORA / "en" / "enwiki_wikiextractor_wiki_00.txt",
           CORPORA / "vocab" / "bert_base_uncased", "--lowercase"),
    "zh": (CORPORA / "zh" / "thucnews_cnews_val_1000.tsv",
           CORPORA / "vocab" / "bert_base_chinese", "--no-lowercase"),
}
SPFHP_PER_ROW = 3


def spfhp_rows(lengths: np.ndarray, max_len: int, max_per_row: int) -> int:
    """Rows SPFHP needs: lengths longest first, each count moved into the open strategy with
    the least space that fits (splitting it when fewer remain), else a new one."""
    histogram = np.bincount(lengths, minlength=max_len + 1)
    open_by_space: dict[int, list[list]] = {}
    rows = 0
    for length in range(max_len, 0, -1):
        todo = int(histogram[length])
        while todo:
            space = next((s for s in range(length, max_len + 1) if open_by_space.get(s)), None)
            if space is None:
                rows += todo
                strategy, moved = [1, todo], todo
                new_space = max_len - length
            else:
                strategy = open_by_space[space][-1]
                moved = min(strategy[1], todo)
                strategy[1] -= moved
                if not strategy[1]:
                    open_by_space[space].pop()
                strategy = [strategy[0] + 1, moved]
                new_space = space - length
            if new_space and strategy[0] < max_per_row:
                open_by_space.setdefault(new_space, []).append(strategy)
            todo -= moved
    return rows


def shard_lengths(shard_dir: Path) -> list[np.ndarray]:
    import pyarrow as pa
    import pyarrow.compute as pc

    return [pc.list_value_length(pa.ipc.open_file(str(p)).read_all()["input_ids"]).to_numpy()
            for p in sorted(shard_dir.glob("shard-*.arrow"))]


def bench_fill(corpus: str, max_len: int, per_row: list[int], work: Path) -> None:
    from pipeline.cli import main

    path, vocab, case = INPUTS[corpus]
    argv = ["shards", "--input", str(path), "--vocab", str(vocab), case, "--max-seq-length",
            str(max_len), "--masking", "span", "--dupe-factor", "2", "--num-shards", "2"]
    flat, packed = work / f"{corpus}{max_len}", work / f"{corpus}{max_len}p"
    assert main([*argv, "--output", str(flat)]) == 0
    assert main([*argv, "--output", str(packed), "--packed"]) == 0
    shards = shard_lengths(flat)
    lengths = np.concatenate(shards)
    n, tokens = len(lengths), int(lengths.sum())
    default = ShardConfig.max_sequences_per_row
    totals = json.loads((packed / "manifest.json").read_text())["totals"]
    assert totals["rows"] == sum(len(pack_rows(part, max_len, default)) for part in shards)
    assert totals["instances"] == n
    spfhp = sum(spfhp_rows(part, max_len, SPFHP_PER_ROW) for part in shards)
    print(f"{corpus} seq {max_len}: {n:,} instances, {tokens:,} tokens, "
          f"{int(np.sum(lengths == max_len)):,} of them full, "
          f"{int(np.sum(lengths > max_len // 2)):,} longer than half a row")
    for name, rows in (("unpacked", n), (f"spfhp {SPFHP_PER_ROW}/row", spfhp)):
        print(f"  {name:<12} rows/1000 instances {1000 * rows / n:7.1f}   "
              f"fill {fill([tokens], rows * max_len):.4f}")
    print("  per row   ours: rows/1000  fill     any packer: rows/1000  max fill")
    for k in per_row:
        ours = [[part[row] for row in pack_rows(part, max_len, k)] for part in shards]
        rows = sum(map(len, ours))
        least = sum(lp_rows(part, max_len, k, packing)
                    for part, packing in zip(shards, ours, strict=True))
        assert least <= rows
        mark = "  (default)" if k == default else ""
        print(f"  {k:>7}   {1000 * rows / n:15.1f}  {fill([tokens], rows * max_len):.4f}"
              f"   {1000 * least / n:21.1f}  {fill([tokens], least * max_len):.4f}{mark}")


def bench_trainer(steps: int, work: Path) -> None:
    import torch

    from tests.synthetic import SyntheticSpec, write_shard_dir
    from trainer.collate import CollateConfig, expand
    from trainer.dataset import ShardDataset
    from trainer.model import BertPretrainer, bert_config

    torch.set_num_threads(1)
    vocab, max_len, batch = 30522, 128, 32
    spec = SyntheticSpec(rows=batch * steps * 4, vocab_size=vocab, max_seq_length=max_len,
                         long_fraction=0.5, num_shards=1)
    rates = {}
    for name, packed in (("unpacked", False), ("packed", True)):
        shard_dir = work / f"train-{name}"
        write_shard_dir(shard_dir, SyntheticSpec(**{**vars(spec), "packed": packed}))
        cfg = CollateConfig(pad_id=0, vocab_size=vocab)
        best = 0.0
        for _ in range(3):
            torch.manual_seed(0)
            model = BertPretrainer(bert_config("tiny", vocab, 0, max_len))
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
            stream = iter(ShardDataset(shard_dir, cfg, batch_size=batch, seed=1, rank=0,
                                       world_size=1, max_epochs=1))
            instances = 0
            start = time.perf_counter()
            for _ in range(steps):
                b = expand(next(stream), "cpu")
                model(b)["loss"].backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
                instances += int(b["instances"])
            best = max(best, instances / (time.perf_counter() - start))
        rates[name] = best
        print(f"trainer tiny seq {max_len} batch {batch} rows: {name:<9} {best:8.1f} "
              f"instances/s (best of 3, {steps} steps)")
    print(f"trainer packed / unpacked: {rates['packed'] / rates['unpacked']:.2f}x")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpora", nargs="*", default=["en", "zh"], choices=sorted(INPUTS))
    p.add_argument("--lengths", nargs="*", type=int, default=[128, 512])
    p.add_argument("--per-row", nargs="*", type=int, default=[3, 4, 5, 6, 7, 8],
                   help="limits on sequences per row to compare with the bound")
    p.add_argument("--steps", type=int, default=15, help="trainer steps; 0 skips the trainer")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for corpus in args.corpora:
            for max_len in args.lengths:
                bench_fill(corpus, max_len, args.per_row, Path(tmp))
        if args.steps:
            bench_trainer(args.steps, Path(tmp))


if __name__ == "__main__":
    main()
