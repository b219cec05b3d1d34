"""Small shard dirs (schema v1, or packed v2) from a seeded synthetic corpus, for tests and
benchmarks.

The "text" is a sequence of phrases drawn from a fixed table of Zipf-distributed words, so
an MLM can learn something from context within a few steps, unlike uniform random ids.
Instances are masked like the pipeline does (budget round(0.15 n), 80/10/10 per unit,
units = tokens or geometric spans that never cross [SEP]); shards are encoded by the
pipeline's own `transforms.shard_write.encode_shard`. No torch import: the benchmark writes
shards before loading anything heavy.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from transforms.pack_rows import pack_rows
from transforms.records import Instance
from transforms.shard_schema import FORMAT_NAME, PACKED_SCHEMA_VERSION, SCHEMA_VERSION
from transforms.shard_write import encode_packed_shard, encode_shard, shard_file_name

PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
FIRST_WORD = len(SPECIALS)


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate. `long_fraction` of rows are `max_seq_length` minus 0-32 tokens,
    the rest uniform in [8, max_seq_length] (a phase-2-like length mix)."""

    rows: int = 256
    vocab_size: int = 200
    max_seq_length: int = 64
    task: str = "nsp"  # nsp | sop | none
    masking: str = "token"  # token | span
    num_shards: int = 2
    compression: str = "none"
    long_fraction: float = 0.9
    seed: int = 0
    packed: bool = False
    """Schema-v2 rows packed by the pipeline's own `transforms.pack_rows.pack_rows`."""
    max_per_row: int = 3


def write_vocab(vocab_dir: Path, vocab_size: int) -> None:
    """vocab.txt with the five BERT specials first, then `w5`, `w6`, ..."""
    vocab_dir.mkdir(parents=True, exist_ok=True)
    words = [f"w{i}" for i in range(FIRST_WORD, vocab_size)]
    (vocab_dir / "vocab.txt").write_text("\n".join(SPECIALS + tuple(words)) + "\n")


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


def _units(rng: np.random.Generator, candidates: np.ndarray, budget: int, masking: str):
    """Non-overlapping (start, end) units over consecutive candidate positions."""
    if masking == "token":
        chosen = np.sort(rng.choice(candidates, size=min(budget, len(candidates)), replace=False))
        return chosen, chosen
    taken = np.zeros(int(candidates.max()) + 2, bool)
    allowed = np.zeros_like(taken)
    allowed[candidates] = True
    starts, ends, used = [], [], 0
    for _ in range(50 * budget):
        if used >= budget:
            break
        length = min(int(rng.geometric(0.2)), 10, budget - used)
        s = int(rng.choice(candidates))
        e = s + length - 1
        if e >= len(allowed) or not allowed[s:e + 1].all() or taken[s:e + 1].any():
            continue
        taken[s:e + 1] = True
        starts.append(s)
        ends.append(e)
        used += length
    order = np.argsort(starts)
    return np.array(starts)[order], np.array(ends)[order]


def make_instance(rng: np.random.Generator, spec: SyntheticSpec, index: int) -> Instance:
    if rng.random() < spec.long_fraction:
        n = spec.max_seq_length - int(rng.integers(0, min(33, spec.max_seq_length - 8)))
    else:
        n = int(rng.integers(8, spec.max_seq_length + 1))
    body = _text(rng, spec.vocab_size, n - 3 if spec.task != "none" else n - 2)
    if spec.task == "none":
        ids = np.concatenate([[CLS], body, [SEP]])
        a_len, label = len(ids), -1
    else:
        cut = int(rng.integers(1, len(body)))
        ids = np.concatenate([[CLS], body[:cut], [SEP], body[cut:], [SEP]])
        a_len, label = cut + 2, int(rng.integers(0, 2))
    special = np.isin(ids, [CLS, SEP])
    candidates = np.flatnonzero(~special)
    budget = max(1, round(0.15 * len(candidates)))
    starts, ends = _units(rng, candidates, budget, spec.masking)
    masked = ids.copy()
    for s, e in zip(starts, ends, strict=True):
        r = rng.random()
        if r < 0.8:
            masked[s:e + 1] = MASK
        elif r < 0.9:
            masked[s:e + 1] = rng.integers(FIRST_WORD, spec.vocab_size, size=e - s + 1)
    positions = np.concatenate([np.arange(s, e + 1) for s, e in zip(starts, ends, strict=True)])
    return Instance(
        doc_id=index, pass_index=0, index=0, input_ids=masked.astype(np.int32),
        word_starts=np.ones(len(ids), bool), a_len=a_len, sentence_label=label,
        mlm_positions=positions.astype(np.int32), mlm_labels=ids[positions].astype(np.int32),
        span_starts=np.asarray(starts, np.int32), span_ends=np.asarray(ends, np.int32),
    )


def write_shard_dir(shard_dir: Path, spec: SyntheticSpec) -> list[Instance]:
    """Write the shards and manifest.json; return the instances in global row order."""
    shard_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.Generator(np.random.Philox(spec.seed))
    instances = [make_instance(rng, spec, i) for i in range(spec.rows)]
    bounds = np.linspace(0, spec.rows, spec.num_shards + 1).astype(int)
    shards = []
    for s in range(spec.num_shards):
        name = shard_file_name(s, spec.num_shards)
        part = instances[bounds[s]:bounds[s + 1]]
        rows = None
        if spec.packed:
            rows = pack_rows([len(i.input_ids) for i in part], spec.max_seq_length,
                             spec.max_per_row)
            data = encode_packed_shard(part, rows, spec.vocab_size, spec.compression)
        else:
            data = encode_shard(part, spec.vocab_size, spec.compression)
        (shard_dir / name).write_bytes(data)
        shards.append({"file": name, "rows": len(part) if rows is None else len(rows),
                       "instances": len(part), "bytes": len(data),
                       "sha256": hashlib.sha256(data).hexdigest()})
    manifest = {
        "format": FORMAT_NAME,
        "schema_version": PACKED_SCHEMA_VERSION if spec.packed else SCHEMA_VERSION,
        "config": {"pack": {"task": spec.task, "max_seq_length": spec.max_seq_length},
                   "mask": {"masking": spec.masking},
                   "shard": {"num_shards": spec.num_shards, "compression": spec.compression,
                             "packed": spec.packed, "max_sequences_per_row": spec.max_per_row}},
        "special_tokens": dict(zip(SPECIALS, range(len(SPECIALS)), strict=True)),
        "vocab_size": spec.vocab_size,
        "shards": shards,
        "totals": {"instances": spec.rows},
    }
    (shard_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return instances
