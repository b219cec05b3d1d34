"""BERT with MLM, NSP/SOP and SpanBERT SBO heads, saved as a plain BertForPreTraining.

The encoder, the MLM head (decoder tied to the word embeddings, own bias) and the
NSP/SOP head are `transformers.BertForPreTraining` itself, so `save()` writes a checkpoint
that `BertForPreTraining.from_pretrained` loads unchanged. The SBO head (Joshi et al. 2020,
SpanBERT §3.2; facebookresearch/SpanBERT `pair_bert.py`) is a separate module saved next to
it in `sbo_head.pt`.

Packed batches (trainer.collate `_packed_inputs`) pass a block-diagonal 4-D boolean mask
and per-sequence position ids to the encoder, and the NSP/SOP head pools each sequence's
[CLS] state with the pretrained pooler's own weights, so a packed batch computes the same
losses as the unpacked batch of the same instances (tests/test_trainer_packed.py).

Training forward differs from `BertForPreTraining.forward` only in what it computes: the
MLM head runs on the masked positions only (gathered first, NVIDIA DLE "dense sequence
output"), skipping the H x V decoder on ~85% of tokens, and the losses are
- MLM: cross-entropy, mean over masked tokens (computed in fp32);
- sentence (NSP/SOP): cross-entropy over rows (packed: sequences) with label >= 0 (0 when
  there are none, still connected to the graph so DDP sees every parameter used);
- SBO: cross-entropy of each span token predicted from the span's outer boundary states
  x_{s-1}, x_{e+1} and its relative position, mean over targets, weighted by `sbo_weight`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertForPreTraining
from transformers.utils import logging as hf_logging

from trainer.collate import IGNORE_INDEX
from trainer.sizes import SIZES

SBO_FILE = "sbo_head.pt"


def bert_config(size: str, vocab_size: int, pad_id: int, max_positions: int = 512) -> BertConfig:
    """BertConfig of a named size; the vocab is padded to a multiple of 8 for tensor cores
    (the extra rows are never targets) and attention uses PyTorch SDPA."""
    if size not in SIZES:
        raise ValueError(f"unknown config {size!r}; choose from {sorted(SIZES)}")
    return BertConfig(vocab_size=-(-vocab_size // 8) * 8, pad_token_id=pad_id,
                      max_position_embeddings=max(512, max_positions),
                      attn_implementation="sdpa", **SIZES[size])


@dataclass(frozen=True)
class SboConfig:
    """SpanBERT's recipe: `--max-pair-targets 15 --pair-positional-embedding-size 200
    --pair-loss-weight 1.0` (research §7.3); smaller embeddings for tiny models."""

    max_targets: int = 15
    position_size: int = 200
    weight: float = 1.0


class SpanBoundaryHead(nn.Module):
    """y_i = LN(GeLU(W2 · LN(GeLU(W1 · [x_{s-1}; x_{e+1}; p_i])))), scored against the
    (tied) word embeddings plus an own bias."""

    def __init__(self, config: BertConfig, sbo: SboConfig) -> None:
        super().__init__()
        h, eps = config.hidden_size, config.layer_norm_eps
        self.position_embeddings = nn.Embedding(sbo.max_targets, sbo.position_size)
        self.mlp = nn.Sequential(
            nn.Linear(2 * h + sbo.position_size, h), nn.GELU(), nn.LayerNorm(h, eps=eps),
            nn.Linear(h, h), nn.GELU(), nn.LayerNorm(h, eps=eps),
        )
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden: torch.Tensor, left: torch.Tensor, right: torch.Tensor,
                rel: torch.Tensor, word_embeddings: torch.Tensor) -> torch.Tensor:
        x = torch.cat([_gather(hidden, left), _gather(hidden, right),
                       self.position_embeddings(rel)], dim=-1)
        return F.linear(self.mlp(x), word_embeddings, self.bias)


def _gather(hidden: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """hidden[b, positions[b, j]] as [B, P, H]."""
    return hidden.gather(1, positions[..., None].expand(-1, -1, hidden.shape[-1]))


def _ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.float().flatten(0, -2), labels.flatten(),
                           ignore_index=IGNORE_INDEX)


class BertPretrainer(nn.Module):
    """`bert` is a BertForPreTraining; `sbo` is None unless SBO is trained."""

    def __init__(self, config: BertConfig, sbo: SboConfig | None = None) -> None:
        super().__init__()
        self.bert = BertForPreTraining(config)
        self.sbo_config = sbo
        self.sbo = SpanBoundaryHead(config, sbo) if sbo else None

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Losses of one expanded batch (`trainer.collate.expand`)."""
        out = self.bert.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                             token_type_ids=batch["token_type_ids"],
                             position_ids=batch.get("position_ids"))
        hidden, pooled = out.last_hidden_state, out.pooler_output
        if "cls_positions" in batch:  # packed rows: the pooler reads each sequence's [CLS]
            pooler = self.bert.bert.pooler
            pooled = pooler.activation(pooler.dense(_gather(hidden, batch["cls_positions"])))
        heads = self.bert.cls
        mlm_logits = self.mlm_logits(hidden, batch["mlm_positions"])
        losses = {"mlm_loss": _ce(mlm_logits, batch["mlm_labels"])}
        label = batch["sentence_label"]
        valid = label >= 0
        per_row = F.cross_entropy(heads.seq_relationship(pooled).float().flatten(0, -2),
                                  label.clamp(min=0).flatten(), reduction="none")
        losses["sentence_loss"] = (per_row * valid.flatten()).sum() / valid.sum().clamp(min=1)
        loss = losses["mlm_loss"] + losses["sentence_loss"]
        if self.sbo is not None:
            emb = self.bert.bert.embeddings.word_embeddings.weight
            sbo_logits = self.sbo(hidden, batch["sbo_left"], batch["sbo_right"],
                                  batch["sbo_rel"], emb)
            losses["sbo_loss"] = _ce(sbo_logits, batch["sbo_labels"])
            loss = loss + self.sbo_config.weight * losses["sbo_loss"]
        losses["loss"] = loss
        return losses

    def mlm_logits(self, hidden: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """[B, P, V] MLM logits at `positions` only (the decoder never sees other tokens)."""
        return self.bert.cls.predictions(_gather(hidden, positions))

    def save(self, directory: Path) -> None:
        """HF files (config.json + weights) plus `sbo_head.pt` when SBO is trained."""
        hf_logging.disable_progress_bar()
        self.bert.save_pretrained(directory)
        if self.sbo is not None:
            torch.save({"config": vars(self.sbo_config), "state": self.sbo.state_dict()},
                       Path(directory) / SBO_FILE)

    @classmethod
    def load(cls, directory: Path) -> BertPretrainer:
        hf_logging.disable_progress_bar()
        bert = BertForPreTraining.from_pretrained(directory, attn_implementation="sdpa")
        sbo_path = Path(directory) / SBO_FILE
        saved = torch.load(sbo_path, weights_only=True) if sbo_path.exists() else None
        model = cls(bert.config, SboConfig(**saved["config"]) if saved else None)
        model.bert = bert
        if saved:
            model.sbo.load_state_dict(saved["state"])
        return model
