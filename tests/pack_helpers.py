"""Crafted tokenized documents for the packing tests.

Token ids are unique across the corpus and increase through each document
(`k * DOC_STRIDE + 10 + position`), so every instance segment can be traced back to the
exact document and positions it came from.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.config import PackConfig
from transforms.pack import TASKS, Count, NegativePool, SpecialIds, segment_for
from transforms.records import Instance, TokenizedDocument

DOC_STRIDE = 1_000_000


def crafted_doc(k: int, sentence_lengths, word_every: int = 3) -> TokenizedDocument:
    """Document k (doc_id 1000 + k); a word starts every `word_every` tokens."""
    offsets = np.concatenate([[0], np.cumsum(sentence_lengths)]).astype(np.int64)
    n = int(offsets[-1])
    ids = (k * DOC_STRIDE + 10 + np.arange(n)).astype(np.int32)
    return TokenizedDocument(f"doc-{k}", 1000 + k, ids, np.arange(n) % word_every == 0, offsets)


def corpus(n_docs: int = 12, seed: int = 0) -> list[TokenizedDocument]:
    """Documents of 1-39 sentences of 1-59 tokens."""
    rng = np.random.default_rng(seed)  # test data only; the packer never sees this generator
    return [crafted_doc(k + 1, rng.integers(1, 60, size=rng.integers(1, 40)))
            for k in range(n_docs)]


def instance_rows(instances) -> list[tuple]:
    """Instances as hashable rows, for multiset comparison."""
    return [(i.doc_id, i.pass_index, i.index, i.input_ids.tobytes(), i.word_starts.tobytes(),
             i.a_len, i.sentence_label) for i in instances]


def _ignore(name: str, n: int) -> None:
    """A `Count` for callers that do not look at the side counters."""


def create_instances(doc: TokenizedDocument, pass_index: int, cfg: PackConfig,
                     specials: SpecialIds, pool: Sequence[TokenizedDocument] = (),
                     count: Count = _ignore) -> list[Instance]:
    """The instances of one document pass; `pool` is the NSP negative pool (may include `doc`).

    `pack_documents` packs a whole pool at once; this one-document entry point lets a test
    choose the pool and the pass.
    """
    negatives = NegativePool([segment_for(d, cfg) for d in pool]) if cfg.task == "nsp" else None
    task = TASKS[cfg.task]
    return task(segment_for(doc, cfg, count), pass_index, cfg, specials, negatives, count)
