"""`inspect DIR`: what a shard dir holds — totals, lengths, masking, labels, decoded samples.

Decoding uses the `vocab.txt` copied into the shard dir (recorded in the manifest), so a
shard dir is readable on its own. A masked token prints as `[original→shown]`: `shown` is
`[MASK]`, a random replacement, or the original itself (the 10% kept). Packed dirs (schema
v2) also report rows, fill and sequences per row, and print each sequence of a row on its own.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import UserError
from pipeline.verify import read_file, read_manifest
from transforms.manifest import VOCAB_NAME, vocab_tokens
from transforms.pack_rows import fill
from transforms.shard_schema import PACKED_SCHEMA_VERSION

HIST_BINS = 8
BAR_WIDTH = 40


def _load(path: str) -> tuple[dict, list[str], pa.Table]:
    manifest = read_manifest(path, "inspect")
    tokens = vocab_tokens(read_file(path, manifest["vocab"].get("file", VOCAB_NAME), "inspect"))
    tables = []
    for info in manifest["shards"]:
        try:
            tables.append(pa.ipc.open_file(pa.BufferReader(
                read_file(path, info["file"], "inspect"))).read_all())
        except pa.ArrowInvalid as e:
            raise UserError(f"inspect: {info['file']}: not an Arrow IPC file: {e}") from None
    return manifest, tokens, pa.concat_tables(tables)


def _lengths(table: pa.Table, name: str) -> np.ndarray:
    return pc.list_value_length(table.column(name)).to_numpy(zero_copy_only=False)


def _histogram(lengths: np.ndarray, max_len: int) -> list[str]:
    edges = np.linspace(0, max_len, HIST_BINS + 1).round().astype(int)
    counts, _ = np.histogram(lengths, bins=edges)
    top = max(1, counts.max())
    return [f"  {lo + 1:>5}-{hi:<5} {n:>8,}  {'#' * round(BAR_WIDTH * n / top)}"
            for lo, hi, n in zip(edges[:-1], edges[1:], counts, strict=True)]


def _is_cjk(token: str) -> bool:
    return len(token) == 1 and unicodedata.east_asian_width(token) in ("W", "F")


def decode(ids: list[int], positions: list[int], labels: list[int], tokens: list[str]) -> str:
    """WordPiece ids to text; `##` pieces glue on, CJK characters join without spaces."""
    masked = dict(zip(positions, labels, strict=True))
    out: list[str] = []
    prev = ""
    for i, tid in enumerate(ids):
        original = tokens[masked.get(i, tid)]
        glue = original.startswith("##") or (_is_cjk(original) and _is_cjk(prev))
        if i in masked:
            piece = f"[{original}→{tokens[tid]}]"
        else:
            piece = original[2:] if original.startswith("##") else original
        out.append(piece if glue or not out else " " + piece)
        prev = original
    return "".join(out)


def _flat(table: pa.Table, name: str) -> np.ndarray:
    """All values of a list column, concatenated."""
    return table.column(name).combine_chunks().flatten().to_numpy().astype(np.int64)


def _per_instance(table: pa.Table, packed: bool) -> tuple[np.ndarray, ...]:
    """(length, a_len, sentence label) of every instance; a packed row holds several."""
    if packed:
        return tuple(_flat(table, name) for name in ("seq_lens", "a_lens", "sentence_labels"))
    return (_lengths(table, "input_ids"), table.column("a_len").to_numpy(),
            table.column("sentence_label").to_numpy())


def _packing_lines(table: pa.Table, max_len: int) -> list[str]:
    """Rows, fill (non-pad tokens / rows x max length) and sequences per row."""
    rows = _lengths(table, "input_ids")
    per_row = _lengths(table, "seq_lens")
    counts = np.bincount(per_row)
    return [f"packed rows: {len(rows):,}, fill {fill(rows, max_len):.4f} of {max_len}, "
            f"sequences per row: " + ", ".join(
                f"{k}: {c:,}" for k, c in enumerate(counts) if c)]


def _summary_lines(manifest: dict, table: pa.Table) -> list[str]:
    totals = manifest["totals"]
    config = manifest["config"]
    packed = manifest["schema_version"] == PACKED_SCHEMA_VERSION
    lens, a_len, labels = _per_instance(table, packed)
    n_masked = _lengths(table, "mlm_positions")
    specials = np.where(a_len == lens, 2, 3)
    units = _flat(table, "span_ends") - _flat(table, "span_starts") + 1
    lines = [
        f"shard dir: {totals['shards']} shards, {totals['instances']:,} instances, "
        f"{totals['tokens']:,} tokens, {totals['masked_tokens']:,} masked tokens",
        f"task {config['pack']['task']}, masking {config['mask']['masking']}, "
        f"max_seq_length {config['pack']['max_seq_length']}, vocab {manifest['vocab']['size']:,} "
        f"(sha256 {manifest['vocab']['sha256'][:12]}…)",
        f"rows per shard: {min(s['rows'] for s in manifest['shards'])}"
        f"–{max(s['rows'] for s in manifest['shards'])}",
    ]
    if not len(lens):
        return lines
    if packed:
        lines += _packing_lines(table, config["pack"]["max_seq_length"])
    lines += [f"length: mean {lens.mean():.1f}, min {lens.min()}, max {lens.max()}",
              *_histogram(lens, config["pack"]["max_seq_length"])]
    share = n_masked.sum() / max(1, (lens - specials).sum())
    lines.append(f"masked share of non-special tokens: {share:.2%} "
                 f"(mean {n_masked.sum() / len(lens):.1f} per instance)")
    if len(units):
        sizes = np.bincount(np.minimum(units, 10))[1:]
        dist = ", ".join(f"{k + 1}{'+' if k == 9 else ''}: {n / len(units):.1%}"
                         for k, n in enumerate(sizes) if n)
        lines.append(f"masking units: {len(units):,}, mean size {units.mean():.2f} tokens ({dist})")
    values, counts = np.unique(labels, return_counts=True)
    lines.append("sentence_label: " + ", ".join(
        f"{v}: {c:,} ({c / len(labels):.1%})" for v, c in zip(values, counts, strict=True)))
    return lines


def inspect_shard_dir(path: str, n: int = 3) -> None:
    """Print the shard dir's figures and `n` decoded samples spread over the whole dir."""
    manifest, tokens, table = _load(path)
    for line in _summary_lines(manifest, table):
        print(line)
    rows = np.unique(np.linspace(0, table.num_rows - 1, min(n, table.num_rows)).astype(int))
    packed = manifest["schema_version"] == PACKED_SCHEMA_VERSION
    for k, r in enumerate(rows if table.num_rows else []):
        row = table.slice(int(r), 1).to_pylist()[0]
        if packed:
            print(f"\n--- sample {k + 1} (row {r}, {len(row['seq_lens'])} sequences, "
                  f"{len(row['input_ids'])} tokens)")
            for seq in unpack_row(row):
                print(f"  [{seq['sequence']}] doc_id {seq['doc_id']:016x}, pass "
                      f"{seq['pass_index']}, a_len {seq['a_len']}, label "
                      f"{seq['sentence_label']}, {len(seq['mlm_positions'])} masked")
                print("  " + decode(seq["input_ids"], seq["mlm_positions"], seq["mlm_labels"],
                                    tokens))
            continue
        print(f"\n--- sample {k + 1} (row {r}, doc_id {row['doc_id']:016x}, pass "
              f"{row['pass_index']}, a_len {row['a_len']}, label {row['sentence_label']}, "
              f"{len(row['mlm_positions'])} masked)")
        print(decode(row["input_ids"], row["mlm_positions"], row["mlm_labels"], tokens))


def unpack_row(row: dict) -> list[dict]:
    """The sequences of one packed row (`to_pylist` form), positions relative to each."""
    out, start = [], 0
    for k, length in enumerate(row["seq_lens"]):
        end = start + length
        masked = [(p - start, lab) for p, lab in zip(row["mlm_positions"], row["mlm_labels"],
                                                       strict=True) if start <= p < end]
        spans = [(s - start, e - start) for s, e in zip(row["span_starts"], row["span_ends"],
                                                          strict=True) if start <= s < end]
        out.append({
            "sequence": k, "input_ids": row["input_ids"][start:end], "a_len": row["a_lens"][k],
            "sentence_label": row["sentence_labels"][k], "doc_id": row["doc_ids"][k],
            "pass_index": row["pass_indexes"][k], "index": row["indexes"][k],
            "mlm_positions": [p for p, _ in masked], "mlm_labels": [lab for _, lab in masked],
            "span_starts": [s for s, _ in spans], "span_ends": [e for _, e in spans],
        })
        start = end
    return out
