"""Vectorised batch assembly: compact numpy batches in the workers, model tensors on device.

Two steps, so the bytes that cross process boundaries and the PCIe bus stay small
(research: anchors_loader_trainer.md §5.7, §8.5):

1. `collate(reader, rows, cfg)` (DataLoader worker, numpy): token ids padded to the batch's
   longest row rounded up to 8, as int16 when the vocab fits (int32 otherwise), per-row
   `lengths`/`a_len` as int16, masked positions/labels as small [B, P] matrices and, for
   the SBO head, each masked position's span boundaries and offset in the span, also
   [B, P]. No per-row Python: each column is one windowed gather per shard
   (`ShardReader.padded`).
2. `expand(batch, device)` (trainer process, on the device): int64 ids, `attention_mask`,
   `token_type_ids` (0 before `a_len`, 1 from it, 0 on padding), dense `labels` (-100 except
   masked positions), and the SBO boundaries (start-1, end+1), relative positions and
   labels aligned with the MLM targets.

Packed shards (schema v2) add per-row `[B, S]` matrices of sequence lengths, `a_len`s and
sentence labels; `expand` turns them into a block-diagonal 4-D attention mask, position and
token-type ids that restart per sequence, and each sequence's [CLS] position. Masked
positions and spans are row-relative already and never cross a sequence, so MLM and SBO
inputs are built exactly as for unpacked rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from trainer.shard_reader import ShardReader

IGNORE_INDEX = -100
IGNORE_SENTENCE = -1
"""Sentence label of single segments and of the empty sequence slots of packed rows."""


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


def collate(reader: ShardReader, rows: np.ndarray, cfg: CollateConfig) -> dict[str, np.ndarray]:
    """Compact batch of `rows` (global row indices), in that order."""
    located = reader.locate(rows)
    ids, lengths = reader.padded(located, "input_ids", cfg.pad_id, cfg.id_dtype,
                                 cfg.pad_multiple)
    int16 = np.dtype(np.int16)
    positions, n_masked = reader.padded(located, "mlm_positions", 0, int16)
    labels, _ = reader.padded(located, "mlm_labels", IGNORE_INDEX, cfg.id_dtype)
    batch = {
        "input_ids": ids,
        "lengths": lengths.astype(np.int16),
        "mlm_positions": positions,
        "mlm_labels": labels,
    }
    if reader.packed:  # [B, S]: one column per sequence of the row, S = most in the batch
        batch["seq_lens"] = reader.padded(located, "seq_lens", 0, int16)[0]
        batch["a_len"] = reader.padded(located, "a_lens", 0, int16)[0]
        batch["sentence_label"] = reader.padded(located, "sentence_labels", IGNORE_SENTENCE,
                                                np.dtype(np.int8))[0]
    else:
        batch["a_len"] = reader.scalar(located, "a_len").astype(np.int16)
        batch["sentence_label"] = reader.scalar(located, "sentence_label").astype(np.int8)
    if cfg.sbo_max_targets:
        starts, n_spans = reader.padded(located, "span_starts", -1, int16)
        ends, _ = reader.padded(located, "span_ends", -1, int16)
        batch.update(_sbo_columns(positions, n_masked, starts, n_spans, ends))
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
    if "seq_lens" in b:
        packed = _packed_inputs(b["seq_lens"].long(), b["a_len"].long(), col, attention)
        attention, types = packed.pop("attention_mask"), packed.pop("token_type_ids")
    else:
        packed = {"instances": torch.full((), len(input_ids), device=input_ids.device)}
        types = (col[None, :] >= b["a_len"].long()[:, None]) & attention
    positions = b["mlm_positions"].long()
    mlm_labels = b["mlm_labels"].long()
    # Padding entries sit at position 0 ([CLS], never masked) with label -100: a scatter
    # (unlike boolean indexing) needs no host sync.
    labels = torch.full_like(input_ids, IGNORE_INDEX).scatter_(1, positions, mlm_labels)
    out = {
        **packed,
        "input_ids": input_ids,
        "attention_mask": attention if attention.dim() == 4 else attention.long(),
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


def _packed_inputs(seq_lens: torch.Tensor, a_len: torch.Tensor, col: torch.Tensor,
                   real: torch.Tensor) -> dict[str, torch.Tensor]:
    """Model inputs that keep the sequences of packed rows apart.

    Token t of a row belongs to sequence `#{k: ends[k] <= t}` (padding gets S, one block of
    its own, so no query row of the mask is empty and SDPA stays finite). From that:
    a [B, 1, T, T] boolean mask, True where query and key are in the same sequence (SDPA
    semantics; transformers passes a 4-D mask through unchanged), position ids and token
    types that restart at each sequence's [CLS], and the [CLS] positions for the NSP/SOP
    head (empty slots point at 0 and carry sentence label -1).
    """
    ends = seq_lens.cumsum(1)
    starts = ends - seq_lens
    rows, slots = seq_lens.shape
    seq_of = torch.searchsorted(ends, col.expand(rows, -1).contiguous(), right=True)
    within = col[None, :] - starts.gather(1, seq_of.clamp(max=slots - 1))
    types = (within >= a_len.gather(1, seq_of.clamp(max=slots - 1))) & real
    return {
        "attention_mask": (seq_of[:, :, None] == seq_of[:, None, :])[:, None],
        "token_type_ids": types,
        "position_ids": torch.where(real, within, 0),
        "cls_positions": torch.where(seq_lens > 0, starts, 0),
        "instances": (seq_lens > 0).sum(),
    }


def _sbo_columns(positions: np.ndarray, n_masked: np.ndarray, starts: np.ndarray,
                 n_spans: np.ndarray, ends: np.ndarray) -> dict[str, np.ndarray]:
    """Per masked position: its span's boundaries (start-1, end+1) and offset in the span.

    Every masked position lies in exactly one span (unit), so SBO targets are aligned with
    the MLM targets and need no [B, spans, max_targets] tensor. Keys row * 2^16 + position
    make the rows' ascending spans one sorted array, so a single searchsorted finds every
    position's span. Padding, and a position outside every span (which the pipeline does
    not produce), get relative position -1, which the model ignores.
    """
    rows, width = positions.shape
    key = np.int64(1 << 16)
    row_key = np.arange(rows, dtype=np.int64)[:, None] * key
    valid_span = np.arange(starts.shape[1]) < n_spans[:, None]
    span_key = np.where(valid_span, row_key + starts, row_key + key - 1).reshape(-1)
    pos_key = row_key + positions
    # A sentinel in front keeps every index valid: index 0 means "no span at or before".
    found = np.searchsorted(np.concatenate([[-1], span_key]), pos_key, side="right") - 1
    span = np.maximum(found - 1, 0)
    span_start = starts.reshape(-1)[span].astype(np.int64)
    span_end = ends.reshape(-1)[span].astype(np.int64)
    inside = ((found > 0) & (span // starts.shape[1] == np.arange(rows)[:, None])
              & valid_span.reshape(-1)[span] & (positions <= span_end)
              & (np.arange(width) < n_masked[:, None]))
    return {"sbo_left": np.where(inside, span_start - 1, 0).astype(np.int16),
            "sbo_right": np.where(inside, span_end + 1, 0).astype(np.int16),
            "sbo_rel": np.where(inside, positions - span_start, -1).astype(np.int16)}
