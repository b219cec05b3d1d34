"""Small shard dirs (schema v1, or packed v2) from a seeded synthetic corpus, for the trainer
tests and benchmarks/bench_loader.py.

The "text" is a sequence of phrases drawn from a fixed table of Zipf-distributed words, so
an MLM can learn something from context within a few steps, unlike uniform random ids.
Everything after the text is the pipeline's own code, so the dirs are what `shards` would
write for such instances: masking by `transforms.mask.mask_instance` (every word one token),
shard assignment by the sort keys and balanced sizes of `transforms.shard_assign`, encoding
by `transforms.shard_write`, and `manifest.json` (with the vocab entry the trainer checks)
by `transforms.manifest`; the dirs pass `verify`. No torch import: the benchmark writes
shards before loading anything heavy.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.config import MaskConfig, PackConfig, ShardConfig, ShardsJobConfig, output_fields
from transforms.manifest import build_manifest, manifest_bytes, vocab_info
from transforms.mask import MaskVocab, mask_instance
from transforms.pack_rows import pack_rows
from transforms.records import Instance
from transforms.shard_assign import shard_sizes, sort_key
from transforms.shard_write import encode_packed_shard, encode_shard, shard_file_name, shard_info

PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
FIRST_WORD = len(SPECIALS)


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate. `long_fraction` of rows are `max_seq_length` minus 0-32 tokens,
    the rest uniform in [8, `short_max_length` or else max_seq_length] (a phase-2-like
    length mix)."""

    rows: int = 256
    vocab_size: int = 200
    max_seq_length: int = 64
    task: str = "nsp"  # nsp | sop | none
    masking: str = "token"  # token | span
    num_shards: int = 2
    compression: str = "none"
    long_fraction: float = 0.9
    short_max_length: int = 0
    seed: int = 0
    packed: bool = False
    """Schema-v2 rows packed by the pipeline's own `transforms.pack_rows.pack_rows`."""
    max_per_row: int = 3


def vocab_txt(vocab_size: int) -> bytes:
    """vocab.txt with the five BERT specials first, then `w5`, `w6`, ..."""
    words = [f"w{i}" for i in range(FIRST_WORD, vocab_size)]
    return ("\n".join(SPECIALS + tuple(words)) + "\n").encode("utf-8")


def write_vocab(vocab_dir: Path, vocab_size: int) -> None:
    """A vocab dir holding `vocab_txt(vocab_size)`."""
    vocab_dir.mkdir(parents=True, exist_ok=True)
    (vocab_dir / "vocab.txt").write_bytes(vocab_txt(vocab_size))


@functools.lru_cache(maxsize=4)
def _phrases(vocab_size: int) -> np.ndarray:
    """A fixed table of 64 six-token phrases of Zipf-distributed words."""
    words = vocab_size - FIRST_WORD
    rng = np.random.Generator(np.random.Philox(7))
    return np.minimum(rng.zipf(1.3, size=(64, 6)), words) - 1 + FIRST_WORD


def _text(rng: np.random.Generator, vocab_size: int, n: int) -> np.ndarray:
    """n ids made of random phrases: a token is predictable from its phrase neighbours."""
    table = _phrases(vocab_size)
    picks = rng.integers(0, len(table), size=-(-n // table.shape[1]))
    return table[picks].reshape(-1)[:n]


def mask_vocab(vocab_size: int) -> MaskVocab:
    never = np.zeros(vocab_size, dtype=bool)
    never[[PAD, CLS, SEP, MASK]] = True
    return MaskVocab(MASK, never, np.arange(FIRST_WORD, vocab_size, dtype=np.int32))


def job_config(spec: SyntheticSpec) -> ShardsJobConfig:
    """The `shards` config these dirs stand for (what their manifest records)."""
    return ShardsJobConfig(
        pack=PackConfig(task=spec.task, max_seq_length=spec.max_seq_length),
        mask=MaskConfig(masking=spec.masking),
        shard=ShardConfig(num_shards=spec.num_shards, compression=spec.compression,
                          packed=spec.packed, max_sequences_per_row=spec.max_per_row),
        seed=spec.seed)


def make_instance(rng: np.random.Generator, spec: SyntheticSpec, index: int,
                  cfg: MaskConfig, vocab: MaskVocab) -> Instance:
    """Instance `index` of the corpus (its own document), masked by the pipeline's masker."""
    if rng.random() < spec.long_fraction:
        n = spec.max_seq_length - int(rng.integers(0, min(33, spec.max_seq_length - 8)))
    else:
        n = int(rng.integers(8, (spec.short_max_length or spec.max_seq_length) + 1))
    body = _text(rng, spec.vocab_size, n - 3 if spec.task != "none" else n - 2)
    if spec.task == "none":
        ids = np.concatenate([[CLS], body, [SEP]])
        a_len, label = len(ids), -1
    else:
        cut = int(rng.integers(1, len(body)))
        ids = np.concatenate([[CLS], body[:cut], [SEP], body[cut:], [SEP]])
        a_len, label = cut + 2, int(rng.integers(0, 2))
    inst = Instance(doc_id=index, pass_index=0, index=0, input_ids=ids.astype(np.int32),
                    word_starts=np.ones(len(ids), bool), a_len=a_len, sentence_label=label)
    return mask_instance(inst, cfg, vocab)


def write_shard_dir(shard_dir: Path, spec: SyntheticSpec) -> list[Instance]:
    """Write the shards, vocab.txt and manifest.json; return the instances in global row
    order (shard by shard, rows in order; a packed dir's rows hold them in that order too)."""
    shard_dir.mkdir(parents=True, exist_ok=True)
    config = job_config(spec)
    vocab = mask_vocab(spec.vocab_size)
    rng = np.random.Generator(np.random.Philox(spec.seed))
    instances = [make_instance(rng, spec, i, config.mask, vocab) for i in range(spec.rows)]
    instances.sort(key=lambda i: sort_key(spec.seed, i.doc_id, i.pass_index, i.index))
    info = vocab_info(vocab_txt(spec.vocab_size), "synthetic", lowercase=True,
                      zh_segmenter="none")
    (shard_dir / info["file"]).write_bytes(info["vocab_txt"])
    shards, ordered, lo = [], [], 0
    for s, size in enumerate(shard_sizes(spec.rows, spec.num_shards)):
        name = shard_file_name(s, spec.num_shards)
        part = instances[lo:lo + size]
        lo += size
        if spec.packed:
            rows = pack_rows([len(i.input_ids) for i in part], spec.max_seq_length,
                             spec.max_per_row)
            data = encode_packed_shard(part, rows, spec.vocab_size, spec.compression)
            shards.append(shard_info(name, data, part, len(rows)))
            ordered += [part[i] for row in rows for i in row]
        else:
            data = encode_shard(part, spec.vocab_size, spec.compression)
            shards.append(shard_info(name, data, part))
            ordered += part
        (shard_dir / name).write_bytes(data)
    manifest = build_manifest(output_fields(config), info, shards,
                              {"documents_read": spec.rows, "documents_kept": spec.rows})
    (shard_dir / "manifest.json").write_bytes(manifest_bytes(manifest))
    return ordered
