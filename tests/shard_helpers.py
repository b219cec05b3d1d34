"""Hand-made, valid masked instances and a toy vocab for the shard writer tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from transforms.manifest import vocab_info
from transforms.records import Instance

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CLS, SEP, MASK = 2, 3, 4


def toy_vocab_txt(size: int = 300) -> bytes:
    words = [f"w{i}" for i in range(size - len(SPECIALS))]
    return ("\n".join(SPECIALS + words) + "\n").encode("utf-8")


def toy_vocab(size: int = 300) -> dict:
    return vocab_info(toy_vocab_txt(size), "toy", lowercase=True, zh_segmenter="none")


def make_instance(rng: np.random.Generator, doc_id: int, pass_index: int, index: int,
                  vocab_size: int = 300, max_len: int = 64) -> Instance:
    """A valid instance: [CLS] A [SEP] (B [SEP]), ~15% token-masked with 80/10/10."""
    paired = bool(rng.integers(2))
    n = int(rng.integers(6, max_len - 2))
    ids = rng.integers(len(SPECIALS), vocab_size, size=n + 3 if paired else n + 2).astype(np.int32)
    ids[0] = CLS
    ids[-1] = SEP
    a_len = len(ids)
    if paired:
        a_len = int(rng.integers(2, n)) + 2
        ids[a_len - 1] = SEP
    candidates = np.flatnonzero((ids != CLS) & (ids != SEP))
    k = max(1, round(0.15 * len(candidates)))
    positions = np.sort(rng.choice(candidates, size=k, replace=False)).astype(np.int32)
    labels = ids[positions].copy()
    roll = rng.random(k)
    ids[positions[roll < 0.8]] = MASK
    rand = (roll >= 0.8) & (roll < 0.9)
    ids[positions[rand]] = rng.integers(len(SPECIALS), vocab_size, size=int(rand.sum()))
    return Instance(
        doc_id=doc_id, pass_index=pass_index, index=index, input_ids=ids,
        word_starts=np.ones(len(ids), bool), a_len=a_len,
        sentence_label=int(rng.integers(2)) if paired else -1,
        mlm_positions=positions, mlm_labels=labels.astype(np.int32),
        span_starts=positions.copy(), span_ends=positions.copy(),
    )


def make_instances(n: int, seed: int = 0, vocab_size: int = 300) -> list[Instance]:
    rng = np.random.default_rng(seed)
    return [make_instance(rng, doc_id=int(rng.integers(1 << 63)) * 2 + 1, pass_index=i % 2,
                          index=i, vocab_size=vocab_size) for i in range(n)]


def write_shard_dir(out: str, instances: list[Instance], *, num_shards: int = 4, seed: int = 1,
                    compression: str = "none", beam_args: tuple[str, ...] = (),
                    packed: bool = False) -> dict:
    """Run WriteShards + WriteManifest + WriteSummary on `instances`, as the `shards` job does
    (a hand-made shard dir); the manifest. `packed`: rows of up to 64 tokens holding up to 3
    instances (schema v2)."""
    import json
    import os

    import apache_beam as beam

    from core.config import PackConfig, ShardConfig, ShardsJobConfig, output_fields
    from pipeline.beam_options import make_pipeline_options
    from transforms.shards import RowPacking, WriteManifest, WriteShards
    from transforms.summary import WriteSummary

    config = output_fields(ShardsJobConfig(
        pack=PackConfig(dupe_factor=2, max_seq_length=64),
        shard=ShardConfig(num_shards=num_shards, compression=compression, packed=packed,
                          max_sequences_per_row=3),
        seed=seed, output=out))
    with beam.Pipeline(options=make_pipeline_options(list(beam_args))) as p:
        vocab = p | "Vocab" >> beam.Create([toy_vocab()])
        stats = p | "Stats" >> beam.Create([("documents_read", 1), ("documents_kept", 1)])
        written = p | "Instances" >> beam.Create(instances) | WriteShards(
            out, num_shards, compression, seed, vocab, RowPacking(64, 3) if packed else None)
        written["shards"] | WriteManifest(out, config, vocab, stats)
        stats | WriteSummary(out)
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        return json.load(f)


def shard_of_rank(rank: int, total: int, num_shards: int) -> int:
    """The reference rule: shard of the instance at global `rank` (sizes differ by <= 1)."""
    return rank * num_shards // total


def assign_shards(sort_keys: Sequence[tuple], num_shards: int) -> np.ndarray:
    """Reference (single-process) assignment: shard of each key by its rank in sorted order.

    The Beam path computes the same thing bucket by bucket; tests compare the two.
    """
    order = sorted(range(len(sort_keys)), key=sort_keys.__getitem__)
    shards = np.empty(len(sort_keys), dtype=np.int64)
    for rank, i in enumerate(order):
        shards[i] = shard_of_rank(rank, len(sort_keys), num_shards)
    return shards
