"""`verify DIR`: a shard dir against its manifest — checksums, schema, balance, row invariants.

The checks are independent of the code that wrote the shards: the vocab is re-read from the
dir's `vocab.txt`, the replacement set is recomputed from it, and every row rule of
DESIGN.md is checked vectorised per record batch. The first failure raises a `UserError`
naming the file, row and rule, so the CLI exits non-zero with one line.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable
from typing import NoReturn

import numpy as np
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from core.errors import UserError
from transforms.manifest import (
    MANIFEST_NAME,
    is_packed,
    shard_instances,
    special_ids,
    vocab_tokens,
)
from transforms.shard_assign import shard_sizes, sort_key
from transforms.shard_schema import (
    FORMAT_NAME,
    MAX_BATCH_ROWS,
    PACKED_SCHEMA_VERSION,
    SCHEMA_VERSION,
    schema_for,
)
from transforms.shard_write import read_bytes, shard_file_name

_UNUSED = re.compile(r"\[unused\d+\]")


class Rules:
    """What every row must satisfy, from the manifest and the dir's vocab.txt."""

    def __init__(self, manifest: dict, tokens: list[str]) -> None:
        config = manifest["config"]
        self.max_len = int(config["pack"]["max_seq_length"])
        self.max_preds = int(config["mask"]["max_predictions_per_seq"])
        self.dupe_factor = int(config["pack"]["dupe_factor"])
        self.max_per_row = int(config.get("shard", {}).get("max_sequences_per_row", 1))
        self.special = special_ids(tokens)
        self.vocab_size = len(tokens)
        replaceable = np.array([not _UNUSED.fullmatch(t) for t in tokens], dtype=bool)
        replaceable[list(self.special.values())] = False
        self.replaceable = replaceable
        never = np.zeros(len(tokens), dtype=bool)
        never[[self.special[k] for k in ("pad", "cls", "sep", "mask")]] = True
        self.never_masked = never


def _fail(where: str, message: str) -> NoReturn:
    raise UserError(f"verify: {where}: {message}")


def _list(batch: pa.RecordBatch, name: str) -> tuple[np.ndarray, np.ndarray]:
    col = batch.column(name)
    offsets = col.offsets.to_numpy().astype(np.int64)
    values = col.values.to_numpy().astype(np.int64)[offsets[0]:offsets[-1]]
    return offsets - offsets[0], values


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def not_ascending(prow: np.ndarray, pos: np.ndarray, n: int) -> np.ndarray:
    """Per row of `n`: whether its positions (`pos`, row of each in `prow`) fail to ascend."""
    bad = np.zeros(n, bool)
    bad[prow[1:][(prow[1:] == prow[:-1]) & (pos[1:] <= pos[:-1])]] = True
    return bad


def check_batch(batch: pa.RecordBatch, rules: Rules, where: str, row0: int,
                row_name: Callable[[int], str] | None = None) -> None:
    """Every v1 row rule; `row_name(i)` names row i in messages (default `row {row0 + i}`;
    packed dirs check each sequence as a row and name it by row and sequence)."""
    name = row_name or (lambda i: f"row {row0 + i}")
    io, ids = _list(batch, "input_ids")
    n = batch.num_rows
    lens = np.diff(io)
    a_len = batch.column("a_len").to_numpy().astype(np.int64)
    label = batch.column("sentence_label").to_numpy().astype(np.int64)
    sp = rules.special

    def check(bad: np.ndarray, what: str) -> None:
        if bad.any():
            _fail(f"{where} {name(_first(bad))}", what)

    check((lens < 2) | (lens > rules.max_len), f"length outside [2, {rules.max_len}]")
    check(ids[io[:-1]] != sp["cls"], "input_ids[0] is not [CLS]")
    check(ids[io[1:] - 1] != sp["sep"], "last token is not [SEP]")
    check((a_len < 2) | (a_len > lens), "a_len outside [2, len(input_ids)]")
    check(ids[io[:-1] + np.clip(a_len, 1, lens) - 1] != sp["sep"],
          "input_ids[a_len-1] is not [SEP]")
    check(~np.isin(label, (-1, 0, 1)), "sentence_label not in {-1, 0, 1}")
    check((label == -1) != (a_len == lens), "sentence_label -1 must go with a single segment")
    check(batch.column("pass_index").to_numpy() >= rules.dupe_factor, "pass_index >= dupe_factor")

    po, pos = _list(batch, "mlm_positions")
    lo, labels = _list(batch, "mlm_labels")
    check(np.diff(po) != np.diff(lo), "mlm_labels and mlm_positions differ in length")
    check(np.diff(po) > rules.max_preds, f"more than {rules.max_preds} masked positions")
    prow = np.repeat(np.arange(n), np.diff(po))
    if len(pos):
        check(not_ascending(prow, pos, n), "mlm_positions not strictly ascending")
        bad_pos = (pos < 1) | (pos >= lens[prow] - 1) | (pos == a_len[prow] - 1)
        check(np.bincount(prow[bad_pos], minlength=n) > 0,
              "mlm position out of range or on a special")
        bad_lab = labels >= rules.vocab_size
        check(np.bincount(prow[bad_lab], minlength=n) > 0, "mlm label >= vocab size")
        bad_lab = rules.never_masked[labels]
        check(np.bincount(prow[bad_lab], minlength=n) > 0, "mlm label is a never-masked special")
        shown = ids[io[prow] + pos]
        ok = (shown == sp["mask"]) | (shown == labels) | rules.replaceable[shown]
        check(np.bincount(prow[~ok], minlength=n) > 0,
              "masked input id is neither [MASK], the label nor a replacement id")
    _check_spans(batch, n, prow, pos, lens, check)


def _check_spans(batch, n, prow, pos, lens, check) -> None:
    """Spans are inclusive, in range, non-overlapping and tile exactly the masked positions."""
    so, starts = _list(batch, "span_starts")
    eo, ends = _list(batch, "span_ends")
    check(np.diff(so) != np.diff(eo), "span_starts and span_ends differ in length")
    srow = np.repeat(np.arange(n), np.diff(so))
    check(np.bincount(srow[(starts > ends) | (starts < 1) | (ends >= lens[srow] - 1)],
                      minlength=n) > 0, "span out of range or start > end")
    covered = np.bincount(srow, weights=ends - starts + 1, minlength=n)
    check(covered != np.diff(np.concatenate([[0], np.cumsum(np.bincount(prow, minlength=n))])),
          "spans do not cover exactly the masked positions")
    if not len(pos):
        return
    key = srow * (1 << 17) + starts
    order = np.argsort(key, kind="stable")
    key, s_end, s_row = key[order], ends[order], srow[order]
    overlap = (s_row[1:] == s_row[:-1]) & (key[1:] - s_row[1:] * (1 << 17) <= s_end[:-1])
    check(np.bincount(s_row[1:][overlap], minlength=n) > 0, "spans overlap")
    k = np.searchsorted(key, prow * (1 << 17) + pos, side="right") - 1
    inside = (k >= 0) & (s_row[np.maximum(k, 0)] == prow) & (s_end[np.maximum(k, 0)] >= pos)
    check(np.bincount(prow[~inside], minlength=n) > 0, "a masked position lies in no span")


MANIFEST_KEYS = ("format", "schema_version", "config", "vocab", "shards", "totals")
SHARD_KEYS = ("file", "rows", "bytes", "sha256", "tokens", "masked_tokens")


def read_file(path: str, name: str, command: str = "verify") -> bytes:
    """The bytes of `name` in the dir; a missing or unreadable file is one-line UserError."""
    full = FileSystems.join(path, name)
    if not FileSystems.exists(full):
        raise UserError(f"{command}: {name}: missing")
    try:
        return read_bytes(full)
    except OSError as e:  # a directory in a file's place, permissions, ...
        raise UserError(f"{command}: {name}: cannot be read ({e})") from None


def read_manifest(path: str, command: str = "verify") -> dict:
    """A shard dir's manifest.json with its top-level shape checked, for verify and inspect.

    A damaged manifest (empty, not JSON, not an object, a key or shard field missing) is one
    line naming the problem, never a traceback.
    """
    if not FileSystems.exists(FileSystems.join(path, MANIFEST_NAME)):
        raise UserError(f"{command}: no {MANIFEST_NAME} in {path!r} (not a shard dir, or the "
                        f"run did not finish)")
    data = read_file(path, MANIFEST_NAME, command)

    def bad(message: str) -> NoReturn:
        raise UserError(f"{command}: {MANIFEST_NAME}: {message}")

    if not data.strip():
        bad("empty")
    try:
        manifest = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        bad(f"not valid JSON ({e})")
    if not isinstance(manifest, dict):
        bad(f"a JSON {type(manifest).__name__}, not an object")
    missing = [k for k in MANIFEST_KEYS if k not in manifest]
    if missing:
        bad(f"lacks {', '.join(missing)}")
    if not isinstance(manifest["shards"], list) or not all(
            isinstance(s, dict) and all(k in s for k in SHARD_KEYS) for s in manifest["shards"]):
        bad(f"shards must be a list of objects with {', '.join(SHARD_KEYS)}")
    for key in ("config", "vocab", "totals"):
        if not isinstance(manifest[key], dict):
            bad(f"{key} is not an object")
    return manifest


def _shard_seed(config: dict) -> int:
    """The seed that keyed shard assignment (job-level, or the shard stage's own)."""
    seed = config.get("seed", config.get("shard", {}).get("seed"))
    if not isinstance(seed, int):
        _fail(MANIFEST_NAME, "config has no integer seed: shard order cannot be checked")
    return seed


def _rules(manifest: dict, tokens: list[str]) -> Rules:
    try:
        return Rules(manifest, tokens)
    except (KeyError, TypeError, ValueError) as e:
        _fail(MANIFEST_NAME, f"config or vocab unusable: {e!r}")


def verify_shard_dir(path: str) -> dict:
    """Check the dir; returns the manifest. Prints a one-line OK summary."""
    manifest = read_manifest(path)
    version = manifest.get("schema_version")
    if manifest.get("format") != FORMAT_NAME or version not in (SCHEMA_VERSION,
                                                                 PACKED_SCHEMA_VERSION):
        _fail(MANIFEST_NAME, f"format {manifest.get('format')!r} v{version} is not "
              f"{FORMAT_NAME} v{SCHEMA_VERSION} or v{PACKED_SCHEMA_VERSION}")
    if (version == PACKED_SCHEMA_VERSION) != is_packed(manifest["config"]):
        _fail(MANIFEST_NAME, f"schema v{version} does not match config.shard.packed")
    vocab = manifest["vocab"]
    vocab_txt = read_file(path, vocab.get("file", "vocab.txt"))
    if hashlib.sha256(vocab_txt).hexdigest() != vocab.get("sha256"):
        _fail(vocab.get("file", "vocab.txt"), "sha256 differs from the manifest")
    tokens = vocab_tokens(vocab_txt)
    rules = _rules(manifest, tokens)
    if rules.special != vocab.get("special_ids"):
        _fail(MANIFEST_NAME, f"special ids {vocab.get('special_ids')} differ from vocab.txt")
    shards = manifest["shards"]
    n_shards = manifest["config"].get("shard", {}).get("num_shards")
    if not isinstance(n_shards, int) or n_shards < 1:
        _fail(MANIFEST_NAME, f"config.shard.num_shards is {n_shards!r}")
    expected = [shard_file_name(i, n_shards) for i in range(n_shards)]
    if [s["file"] for s in shards] != expected:
        _fail(MANIFEST_NAME, f"shard list is not {expected[0]} .. {expected[-1]}")
    _check_no_stray_shards(path, expected)
    packed = version == PACKED_SCHEMA_VERSION
    schema = schema_for(rules.vocab_size, packed)
    sizes = shard_sizes(sum(shard_instances(s) for s in shards), n_shards)
    order = ShardOrder(_shard_seed(manifest["config"]))
    totals = {"instances": 0, "tokens": 0, "masked_tokens": 0}
    for info, size in zip(shards, sizes, strict=True):
        _verify_shard(path, info, schema, rules, order)
        if shard_instances(info) != size:
            _fail(info["file"], f"{shard_instances(info)} instances; balanced sharding gives "
                  f"{size}")
        totals["instances"] += shard_instances(info)
        totals["tokens"] += info["tokens"]
        totals["masked_tokens"] += info["masked_tokens"]
    for key, value in totals.items():
        if manifest["totals"].get(key) != value:
            _fail(MANIFEST_NAME,
                  f"totals.{key} is {manifest['totals'].get(key)}, shards sum to {value}")
    print(f"OK {path}: {len(shards)} shards, {totals['instances']} instances, "
          f"{totals['tokens']} tokens, {totals['masked_tokens']} masked; checksums, schema, "
          f"row invariants, unique instances and shard order verified")
    return manifest


def _check_no_stray_shards(path: str, expected: list[str]) -> None:
    """A `shard-*.arrow` the manifest does not list (e.g. left by an earlier run) fails."""
    listed = set(expected)
    for result in FileSystems.match([FileSystems.join(path, "shard-*.arrow")]):
        for meta in result.metadata_list:
            name = FileSystems.split(meta.path)[1]
            if name not in listed:
                _fail(name, "stray shard file: not listed in the manifest")


class ShardOrder:
    """Instance identity and shard-assignment order across the shards, in shard order.

    Each instance is named by (doc_id, pass_index, index); its sort key
    (`transforms.shard_assign.sort_key`) orders the whole dir. Shard s must hold a contiguous
    range of that order: every key of shard s above every key of the shards before it (with
    the balanced sizes, that is exactly rank-based assignment), and inside a v1 shard the
    rows are sorted by key. Keys ascending strictly across the dir also proves that no
    instance appears twice, with memory for one shard's keys at a time.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.last: tuple[str, bytes] | None = None  # (file, largest key) of the shards so far
        self.previous: dict[bytes, int] = {}  # the last non-empty shard's key -> row

    def check(self, name: str, doc_ids: np.ndarray, passes: np.ndarray, indexes: np.ndarray,
              rows_sorted: bool) -> None:
        keys = [sort_key(self.seed, int(d), int(p), int(i))
                for d, p, i in zip(doc_ids.tolist(), passes.tolist(), indexes.tolist(),
                                   strict=True)]
        if not keys:
            return

        def who(row: int) -> str:
            return (f"instance (doc_id {doc_ids[row]}, pass {passes[row]}, index "
                    f"{indexes[row]})")

        by_key = sorted(range(len(keys)), key=keys.__getitem__)
        for a, b in itertools.pairwise(by_key):
            if keys[a] == keys[b]:
                _fail(f"{name} row {max(a, b)}", f"duplicate {who(b)}, also row {min(a, b)}")
        if rows_sorted:
            for row in range(1, len(keys)):
                if keys[row] < keys[row - 1]:
                    _fail(f"{name} row {row}", "rows not sorted by shard sort key")
        first = by_key[0]
        if self.last is not None and keys[first] <= self.last[1]:
            if keys[first] in self.previous:
                _fail(f"{name} row {first}", f"duplicate {who(first)}, also in {self.last[0]} "
                      f"row {self.previous[keys[first]]}")
            _fail(f"{name} row {first}", f"{who(first)} sorts before the last instance of "
                  f"{self.last[0]}: not in shard-assignment order")
        self.last = (name, keys[by_key[-1]])
        self.previous = {key: row for row, key in enumerate(keys)}


def _identity(batch: pa.RecordBatch, packed: bool) -> tuple[np.ndarray, ...]:
    """(doc_id, pass_index, index) of each instance of the batch, in row (and sequence) order."""
    if packed:
        # Not `_list`: it widens to int64, and doc ids use all 64 bits.
        return tuple(batch.column(name).flatten().to_numpy()
                     for name in ("doc_ids", "pass_indexes", "indexes"))
    return tuple(batch.column(name).to_numpy() for name in ("doc_id", "pass_index", "index"))


def _verify_shard(path: str, info: dict, schema: pa.Schema, rules: Rules,
                  order: ShardOrder) -> None:
    name = info["file"]
    data = read_file(path, name)
    if len(data) != info["bytes"]:
        _fail(name, f"{len(data)} bytes, manifest says {info['bytes']}")
    if hashlib.sha256(data).hexdigest() != info["sha256"]:
        _fail(name, "sha256 differs from the manifest")
    try:
        reader = pa.ipc.open_file(pa.BufferReader(data))
    except pa.ArrowInvalid as e:
        _fail(name, f"not an Arrow IPC file: {e}")
    version = schema.metadata[b"schema_version"].decode()
    if not reader.schema.equals(schema, check_metadata=True):
        _fail(name, f"schema differs from v{version}: {reader.schema}")
    packed = int(version) == PACKED_SCHEMA_VERSION
    from pipeline.verify_packed import check_packed_batch  # builds on this module's rules

    rows = tokens = masked = instances = 0
    identity: list[tuple[np.ndarray, ...]] = []
    for b in range(reader.num_record_batches):
        batch = reader.get_batch(b)
        if batch.num_rows > MAX_BATCH_ROWS:
            _fail(f"{name} batch {b}", f"{batch.num_rows} rows > {MAX_BATCH_ROWS}")
        if packed:
            instances += check_packed_batch(batch, rules, name, rows)
        else:
            check_batch(batch, rules, name, rows)
            instances += batch.num_rows
        identity.append(_identity(batch, packed))
        rows += batch.num_rows
        tokens += int(_list(batch, "input_ids")[0][-1])
        masked += int(_list(batch, "mlm_positions")[0][-1])
    counted = (("rows", rows), ("tokens", tokens), ("masked_tokens", masked))
    if packed:
        counted += (("instances", instances),)
    for key, value in counted:
        if info.get(key) != value:
            _fail(name, f"{key} is {value}, manifest says {info.get(key)}")
    if identity:
        order.check(name, *(np.concatenate(cols) for cols in zip(*identity, strict=True)),
                    rows_sorted=not packed)
