"""Vectorised batch assembly: compact numpy batches in the workers, model tensors on device.

Two steps, so the bytes that cross process boundaries and the PCIe bus stay small
(research: anchors_loader_trainer.md §5.7, §8.5):

1. `collate(columns, cfg)` (DataLoader worker, numpy): token ids padded to the batch's
   longest row rounded up to 8, as int16 when the vocab fits (int32 otherwise), per-row
   `lengths`/`a_len` as int16, masked positions/labels as small [B, P] matrices and, for
   the SBO head, each masked position's span boundaries and offset in the span, also
   [B, P]. No per-row Python: padding is one boolean-mask scatter.
2. `expand(batch, device)` (trainer process, on the device): int64 ids, `attention_mask`,
   `token_type_ids` (0 before `a_len`, 1 from it, 0 on padding), dense `labels` (-100 except
   masked positions), and the SBO boundaries (start-1, end+1), relative positions and
   labels aligned with the MLM targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from trainer.shard_reader import Ragged

IGNORE_INDEX = -100
COLUMNS = ("input_ids", "a_len", "mlm_positions", "mlm_labels", "sentence_label")
SPAN_COLUMNS = ("span_starts", "span_ends")


@dataclass(frozen=True)
class CollateConfig:
    """How batches are padded and typed.

    `sbo_max_targets`: targets per span for the SBO head (SpanBERT: 15-20); 0 disables the
    SBO columns. Tokens past that offset in a longer span are not SBO targets (they stay
    MLM targets), as in SpanBERT's `max_pair_targets`.
    """

    pad_id: int
    vocab_size: int
    pad_multiple: int = 8
    sbo_max_targets: int = 0

    def __post_init__(self) -> None:
        if self.pad_multiple < 1:
            raise ValueError(f"pad_multiple must be >= 1, got {self.pad_multiple}")
        if not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(f"pad_id {self.pad_id} outside vocab of {self.vocab_size}")

    @property
    def id_dtype(self) -> np.dtype:
        return np.dtype(np.int16 if self.vocab_size <= 1 << 15 else np.int32)

    @property
    def columns(self) -> tuple[str, ...]:
        return COLUMNS + (SPAN_COLUMNS if self.sbo_max_targets else ())


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def pad_ragged(rows: Ragged, width: int, fill: int, dtype: np.dtype) -> np.ndarray:
    """[rows, width] matrix of the ragged rows, left-aligned, `fill` after each row."""
    lengths = rows.lengths
    out = np.full((len(lengths), width), fill, dtype=dtype)
    out[np.arange(width) < lengths[:, None]] = rows.values
    return out


def collate(columns: dict, cfg: CollateConfig) -> dict[str, np.ndarray]:
    """Compact batch from `ShardReader.take(rows, cfg.columns)`."""
    ids: Ragged = columns["input_ids"]
    lengths = ids.lengths
    width = _round_up(int(lengths.max(initial=1)), cfg.pad_multiple)
    pos: Ragged = columns["mlm_positions"]
    n_masked = int(pos.lengths.max(initial=1))
    batch = {
        "input_ids": pad_ragged(ids, width, cfg.pad_id, cfg.id_dtype),
        "lengths": lengths.astype(np.int16),
        "a_len": columns["a_len"].astype(np.int16),
        "mlm_positions": pad_ragged(pos, n_masked, 0, np.dtype(np.int16)),
        "mlm_labels": pad_ragged(columns["mlm_labels"], n_masked, IGNORE_INDEX, cfg.id_dtype),
        "sentence_label": columns["sentence_label"].astype(np.int8),
    }
    if cfg.sbo_max_targets:
        batch.update(_sbo_columns(pos, columns["span_starts"], columns["span_ends"], n_masked))
    return batch


def to_torch(batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Zero-copy tensors; the DataLoader pins them (pin_memory=True on CUDA)."""
    return {k: torch.from_numpy(v) for k, v in batch.items()}


def expand(batch: dict[str, torch.Tensor], device: torch.device | str,
           sbo_max_targets: int = 0) -> dict[str, torch.Tensor]:
    """Model inputs on `device` from a compact batch (vectorised, no host sync)."""
    b = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    input_ids = b["input_ids"].long()
    width = input_ids.shape[1]
    col = torch.arange(width, device=input_ids.device)
    attention = col[None, :] < b["lengths"].long()[:, None]
    types = (col[None, :] >= b["a_len"].long()[:, None]) & attention
    positions = b["mlm_positions"].long()
    mlm_labels = b["mlm_labels"].long()
    # Padding entries sit at position 0 ([CLS], never masked) with label -100: a scatter
    # (unlike boolean indexing) needs no host sync.
    labels = torch.full_like(input_ids, IGNORE_INDEX).scatter_(1, positions, mlm_labels)
    out = {
        "input_ids": input_ids,
        "attention_mask": attention.long(),
        "token_type_ids": types.long(),
        "labels": labels,
        "mlm_positions": positions,
        "mlm_labels": mlm_labels,
        "sentence_label": b["sentence_label"].long(),
        "real_tokens": b["lengths"].long().sum(),
    }
    if "sbo_rel" in b:
        rel = b["sbo_rel"].long()
        keep = (rel >= 0) & (rel < sbo_max_targets)
        out.update(sbo_left=b["sbo_left"].long(), sbo_right=b["sbo_right"].long(),
                   sbo_rel=rel.clamp(0, sbo_max_targets - 1),
                   sbo_labels=torch.where(keep, mlm_labels, IGNORE_INDEX))
    return out


def _sbo_columns(pos: Ragged, starts: Ragged, ends: Ragged, width: int) -> dict[str, np.ndarray]:
    """Per masked position: its span's boundaries (start-1, end+1) and offset in the span.

    Every masked position lies in exactly one span (unit), so SBO targets are aligned with
    the MLM targets and need no [B, spans, max_targets] tensor. Rows are made disjoint by
    adding row * 2^16 to positions (< 2^16), so one searchsorted covers the whole batch.
    A position outside every span (not produced by the pipeline) gets relative position -1,
    which the model ignores.
    """
    key = np.int64(1 << 16)
    pos_key = np.repeat(np.arange(len(pos.lengths)), pos.lengths) * key + pos.values
    # A sentinel span (-1, -1) in front keeps every index valid when a batch has no spans.
    span_rows = np.concatenate([[-key], np.repeat(np.arange(len(starts.lengths)), starts.lengths)
                                * key])
    span_starts = np.concatenate([[-1], starts.values.astype(np.int64)])
    span_ends = np.concatenate([[-1], ends.values.astype(np.int64)])
    span = np.searchsorted(span_rows + span_starts, pos_key, side="right") - 1
    inside = pos_key <= span_rows[span] + span_ends[span]
    left, right = span_starts[span] - 1, span_ends[span] + 1
    rel = np.where(inside, pos.values - left - 1, -1)

    def per_position(values: np.ndarray, fill: int) -> np.ndarray:
        return pad_ragged(Ragged(values, pos.offsets), width, fill, np.dtype(np.int16))

    return {"sbo_left": per_position(np.where(inside, left, 0), 0),
            "sbo_right": per_position(np.where(inside, right, 0), 0),
            "sbo_rel": per_position(rel, -1)}
