"""The element types that flow between stages (DESIGN.md data flow).

Elements are documents or instances, never single tokens: Beam's per-element cost is
~10-40 us. Token arrays are numpy so that every stage can work vectorised and pickling
between workers stays compact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TextDocument:
    """A document as one text, before sentence splitting: what a reader produces and what
    cleaning and dedup pass on (cleaned text, same type).

    `presplit` is True when the format already gives one sentence per line (BERT text
    format); the sentence splitter then keeps the lines as they are. `lang` is set by
    language identification after cleaning (ISO 639-1, `und` when undetermined).
    """

    id: str
    text: str
    source: str
    presplit: bool = False
    lang: str = ""


@dataclass
class Document:
    """A cleaned document: the `documents-*.jsonl.zst` record of `clean`."""

    id: str
    text: str
    sentences: list[str]
    lang: str = ""

    def to_json_dict(self) -> dict:
        return {"id": self.id, "text": self.text, "sentences": self.sentences, "lang": self.lang}


@dataclass
class Reject:
    """A record that could not be decoded or parsed: the `rejects-*.jsonl.zst` record."""

    source: str
    reason: str
    raw: str = ""
    detail: str = ""
    """Where a damaged compressed stream failed and resumed (compressed byte offsets)."""

    def to_json_dict(self) -> dict:
        row = {"source": self.source, "reason": self.reason, "raw": self.raw}
        if self.detail:
            row["detail"] = self.detail
        return row


@dataclass
class TokenizedDocument:
    """A document's sentences as token ids, flattened.

    Sentence `k` is `ids[offsets[k]:offsets[k+1]]`. `word_starts[i]` is True when token `i`
    begins a whole word (a WordPiece start, or the first CJK token of a jieba word).
    """

    id: str
    doc_id: int
    ids: np.ndarray  # int32 (as stored, uint16 or int32, in the NSP pool: coders.py)
    word_starts: np.ndarray  # bool
    offsets: np.ndarray  # int64, len = n_sentences + 1


@dataclass
class Instance:
    """One training row, before and after masking.

    `input_ids` is `[CLS] A [SEP] B [SEP]` or `[CLS] X [SEP]`; `a_len` is the length of
    `[CLS] A [SEP]` (equal to len(input_ids) for single segments). `index` is the ordinal
    of the instance within its (doc_id, pass_index), which together name it uniquely.
    The mask fields stay empty until the masking stage fills them.
    """

    doc_id: int
    pass_index: int
    index: int
    input_ids: np.ndarray  # int32
    word_starts: np.ndarray  # bool; specials are True
    a_len: int
    sentence_label: int  # NSP: 1 random B; SOP: 1 swapped; -1 single segment
    mlm_positions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    mlm_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    span_starts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    span_ends: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
