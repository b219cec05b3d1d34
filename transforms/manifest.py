"""The shard dir's `manifest.json` and `vocab.txt` (DESIGN.md "Shard dir").

`manifest.json` is what readers trust: it is written last, atomically, only after every
shard file is in place, so a killed run leaves none and `verify` refuses the dir. Keys:

- `format`, `schema_version` (1, or 2 for `--packed` rows), `schema` (column -> Arrow type
  string);
- `config`: the job's output-defining fields (`core.config.output_fields`: no input paths,
  vocab dir or output dir) and `config_sha256` over it;
- `vocab`: `file` (a copy of `vocab.txt` beside the shards, so the dir is self-contained for
  `inspect` and the trainer), `source` (the vocab dir used), `sha256`, `size`,
  `special_ids` (`pad unk cls sep mask`), `lowercase`, `zh_segmenter`;
- `shards`: `[{file, rows, bytes, sha256, tokens, masked_tokens}]` in shard order (packed
  shards add `instances`: their sequences, while `rows` counts packed rows);
- `totals`: `shards`, `instances`, `tokens`, `masked_tokens` (summed over the shard files;
  packed dirs add `rows`);
- `counters`: the summed stage counters in `summary.json` shape (documents read / kept /
  dropped by reason / rejected, and every other counter).
"""

from __future__ import annotations

import hashlib
import json

from core.special_tokens import SPECIAL_TOKENS
from transforms.shard_schema import (
    FORMAT_NAME,
    PACKED_SCHEMA_VERSION,
    SCHEMA_VERSION,
    schema_for,
)
from transforms.stats import documents_summary

MANIFEST_NAME = "manifest.json"
VOCAB_NAME = "vocab.txt"


def vocab_tokens(vocab_txt: bytes) -> list[str]:
    """Tokens of a `vocab.txt` (one per line; id = line number)."""
    text = vocab_txt.decode("utf-8")
    if text.endswith("\n"):
        text = text[:-1]
    return [line.rstrip("\r") for line in text.split("\n")]


def special_ids(tokens: list[str]) -> dict[str, int]:
    """Ids (first lines) of the five BERT special tokens; ValueError naming a missing one.
    A scan per token (`list.index`, in C) rather than a dict of the whole vocab: the
    specials come first in BERT vocabs, and this runs in several stages' set-up."""
    missing = [tok for tok in SPECIAL_TOKENS.values() if tok not in tokens]
    if missing:
        raise ValueError(f"vocab.txt lacks special tokens: {' '.join(missing)}")
    return {name: tokens.index(tok) for name, tok in SPECIAL_TOKENS.items()}


def vocab_info(vocab_txt: bytes, source: str, lowercase: bool, zh_segmenter: str) -> dict:
    """The manifest's `vocab` entry, plus the raw `vocab.txt` bytes under `vocab_txt`."""
    tokens = vocab_tokens(vocab_txt)
    return {
        "file": VOCAB_NAME,
        "source": source,
        "sha256": hashlib.sha256(vocab_txt).hexdigest(),
        "size": len(tokens),
        "special_ids": special_ids(tokens),
        "lowercase": bool(lowercase),
        "zh_segmenter": zh_segmenter,
        "vocab_txt": vocab_txt,
    }


def config_sha256(config: dict) -> str:
    """Hash of the output-defining config: same hash, same shards."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def is_packed(config: dict) -> bool:
    """True for a `--packed` run's config (schema v2 rows)."""
    return bool(config.get("shard", {}).get("packed"))


def shard_instances(info: dict) -> int:
    """Instances in one shard's manifest entry (a packed row holds several)."""
    return info.get("instances", info["rows"])


def totals(shards: list[dict], packed: bool = False) -> dict:
    out = {
        "shards": len(shards),
        "instances": sum(shard_instances(s) for s in shards),
        "tokens": sum(s["tokens"] for s in shards),
        "masked_tokens": sum(s["masked_tokens"] for s in shards),
    }
    if packed:
        out["rows"] = sum(s["rows"] for s in shards)
    return out


def build_manifest(config: dict, vocab: dict, shards: list[dict], stats: dict) -> dict:
    """The manifest dict; `shards` in any order (sorted here by file name)."""
    shards = sorted(shards, key=lambda s: s["file"])
    packed = is_packed(config)
    schema = schema_for(vocab["size"], packed)
    return {
        "format": FORMAT_NAME,
        "schema_version": PACKED_SCHEMA_VERSION if packed else SCHEMA_VERSION,
        "schema": {f.name: str(f.type) for f in schema},
        "config": config,
        "config_sha256": config_sha256(config),
        "vocab": {k: v for k, v in vocab.items() if k != "vocab_txt"},
        "shards": shards,
        "totals": totals(shards, packed),
        "counters": documents_summary(stats),
    }


def manifest_bytes(manifest: dict) -> bytes:
    return (json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")
