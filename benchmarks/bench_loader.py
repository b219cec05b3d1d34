"""Loader throughput at seq 512, batch 256, one core: our shard loader vs Hugging Face.

    python benchmarks/bench_loader.py [--rows 50000] [--hf-batches 20]

Writes a synthetic schema-v1 shard dir (phase-2-like lengths: 90% within 32 tokens of 512,
10% uniform 8-512; vocab 30,522) to a temp dir, plus a zstd copy, then measures samples/s
from a shuffled epoch to ready tensors in one process with one thread, per CPU-second of
the process (`time.process_time`, so a busy machine does not skew the figures):
- ours/compact: `ShardDataset` batches (int16 ids padded to the batch max rounded to 8,
  positions/labels, lengths): what a DataLoader worker hands to the trainer;
- ours/+expand: the same plus `expand` to int64 ids, attention mask, token types and dense
  labels on the CPU (on a GPU run this step happens on the device);
- hf: the same rows (unmasked ids + token types) as a memory-mapped `datasets.Dataset`,
  shuffled DataLoader with `DataCollatorForLanguageModeling` (pads and masks dynamically),
  the common Hugging Face pretraining path. Ratios are ours / hf.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
from tests.synthetic import SyntheticSpec, write_shard_dir, write_vocab  # noqa: E402

VOCAB = 30522
BATCH = 256


def transcode(src: Path, dst: Path, compression: str) -> None:
    """Copy a shard dir with another IPC body compression (same batches, same manifest)."""
    dst.mkdir()
    for path in src.iterdir():
        if path.suffix != ".arrow":
            (dst / path.name).write_bytes(path.read_bytes())
            continue
        reader = pa.ipc.open_file(pa.memory_map(str(path)))
        options = pa.ipc.IpcWriteOptions(compression=compression)
        with pa.OSFile(str(dst / path.name), "wb") as f, \
                pa.ipc.new_file(f, reader.schema, options=options) as w:
            for i in range(reader.num_record_batches):
                w.write_batch(reader.get_batch(i))


def bench_ours(shard_dir: Path, expand_too: bool) -> tuple[float, float]:
    """(samples/s over the first epoch, samples/s over the second epoch)."""
    from trainer.collate import CollateConfig, expand
    from trainer.dataset import ShardDataset

    cfg = CollateConfig(pad_id=0, vocab_size=VOCAB)
    rates = []
    ds = ShardDataset(shard_dir, cfg, batch_size=BATCH, seed=1, rank=0, world_size=1,
                      max_epochs=2)
    stream = iter(ds)
    for _ in range(2):
        start = time.process_time()
        for _ in range(ds.batches_per_epoch):
            batch = next(stream)
            if expand_too:
                expand(batch, "cpu")
        rates.append(ds.batches_per_epoch * BATCH / (time.process_time() - start))
    return rates[0], rates[1]


def hf_columns(table: pa.Table) -> pa.Table:
    """Unmasked input_ids (HF masks dynamically) and token_type_ids, as a HF dataset has."""
    ids = table.column("input_ids").combine_chunks()
    offsets = ids.offsets.to_numpy().astype(np.int64)
    values = ids.values.to_numpy().astype(np.int32)
    pos = table.column("mlm_positions").combine_chunks()
    pos_rows = np.repeat(np.arange(len(pos)), np.diff(pos.offsets.to_numpy()))
    values[offsets[pos_rows] + pos.values.to_numpy()] = (
        table.column("mlm_labels").combine_chunks().values.to_numpy())
    rows = np.repeat(np.arange(len(ids)), np.diff(offsets))
    a_len = table.column("a_len").to_numpy()
    types = ((np.arange(len(values)) - offsets[rows]) >= a_len[rows]).astype(np.int8)
    offsets32 = pa.array(offsets.astype(np.int32))
    return pa.table({"input_ids": pa.ListArray.from_arrays(offsets32, pa.array(values)),
                     "token_type_ids": pa.ListArray.from_arrays(offsets32, pa.array(types))})


def bench_hf(shard_dir: Path, vocab_dir: Path, work: Path, batches: int) -> float:
    import datasets
    import torch
    from torch.utils.data import DataLoader
    from transformers import BertTokenizerFast, DataCollatorForLanguageModeling

    datasets.disable_progress_bars()
    table = pa.concat_tables(pa.ipc.open_file(pa.memory_map(str(p))).read_all()
                             for p in sorted(shard_dir.glob("*.arrow")))
    datasets.Dataset(hf_columns(table)).save_to_disk(str(work / "hf"))
    ds = datasets.load_from_disk(str(work / "hf"))  # memory-mapped Arrow
    tokenizer = BertTokenizerFast.from_pretrained(vocab_dir)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15,
                                               pad_to_multiple_of=8)
    loader = DataLoader(ds, batch_size=BATCH, shuffle=True, collate_fn=collator,
                        generator=torch.Generator().manual_seed(0))
    stream = iter(loader)
    next(stream)  # warm-up
    start = time.process_time()
    for _ in range(batches):
        next(stream)
    return batches * BATCH / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--hf-batches", type=int, default=20)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        start = time.process_time()
        spec = SyntheticSpec(rows=args.rows, vocab_size=VOCAB, max_seq_length=512, num_shards=4)
        write_shard_dir(work / "none", spec)
        write_vocab(work / "vocab", VOCAB)
        transcode(work / "none", work / "zstd", "zstd")
        size = {c: sum(p.stat().st_size for p in (work / c).glob("*.arrow")) / 2**20
                for c in ("none", "zstd")}
        print(f"wrote {args.rows} rows in {time.process_time() - start:.0f} s: "
              f"none {size['none']:.0f} MiB, zstd {size['zstd']:.0f} MiB")
        hf = bench_hf(work / "none", work / "vocab", work, args.hf_batches)
        print(f"{'loader':<28}{'epoch 1 /s':>12}{'epoch 2 /s':>12}{'x hf':>8}")
        print(f"{'hf datasets + collator':<28}{hf:>12,.0f}{'':>12}{1.0:>8.1f}")
        for comp in ("none", "zstd"):
            for expand_too in (False, True):
                first, second = bench_ours(work / comp, expand_too)
                name = f"ours/{comp}/" + ("+expand" if expand_too else "compact")
                print(f"{name:<28}{first:>12,.0f}{second:>12,.0f}{second / hf:>8.1f}")


if __name__ == "__main__":
    main()
