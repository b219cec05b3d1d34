"""The packer's output, pinned: every instance of crafted pools under each task, as hashed
from the code of 2026-12-02 (main f18126b), before the packer kept sentences and pairs as
int token ranges (the part-1-of-3 pins re-hashed when parts became `pack.part_owners`, 2faa26d:
the whole pool's output did not change); a change in any draw, range, special or word start
changes a hash here (the property tests in test_pack.py say what is right, these say it is
unchanged)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from pack_helpers import corpus, crafted_doc

from core.config import PackConfig
from transforms.pack import SpecialIds, pack_documents

SPECIALS = SpecialIds(2, 3)


def _pool():
    """Crafted documents of every shape the packer treats apart: many short sentences,
    sentences longer than the budget (cut at word starts, or hard inside a long word),
    one-token sentences and documents (unsplittable), a single sentence."""
    docs = corpus(30, seed=7)
    docs.append(crafted_doc(40, [300, 5, 90, 1, 1, 200], word_every=4))
    docs.append(crafted_doc(41, [1]))
    docs.append(crafted_doc(42, [1, 1, 1, 1]))
    docs.append(crafted_doc(43, [700], word_every=500))
    docs.append(crafted_doc(44, [60]))
    return docs


def _digest(cfg: PackConfig, part: tuple[int, int]) -> str:
    h = hashlib.sha256()
    counts: dict[str, int] = {}

    def count(name: str, n: int) -> None:
        counts[name] = counts.get(name, 0) + n

    for doc, instances in pack_documents(_pool(), cfg, SPECIALS, count, part):
        h.update(f"{doc.doc_id}:{len(instances)};".encode())
        for inst in instances:
            assert inst.input_ids.dtype == np.int32 and inst.word_starts.dtype == bool
            h.update(repr((inst.doc_id, inst.pass_index, inst.index, inst.a_len,
                           inst.sentence_label, len(inst.mlm_positions))).encode())
            h.update(inst.input_ids.tobytes())
            h.update(inst.word_starts.tobytes())
    h.update(repr(sorted(counts.items())).encode())
    return h.hexdigest()[:16]


PINNED = {  # task-max_seq_length-short_seq_prob-dupe_factor-part k-of n (parts: `part_owners`)
    "nsp-32-0.1-2-0-1": "843959596ccd7b9c",
    "nsp-128-0.5-1-0-1": "0571732330fa5268",
    "nsp-512-0.1-3-0-1": "efbaff3b38929a85",
    "nsp-128-0.1-2-1-3": "773ffdbe76e259cc",
    "sop-32-0.1-2-0-1": "8fc09eddc89ad6c3",
    "sop-128-0.5-1-0-1": "bdb82eb45f1a9aa5",
    "sop-512-0.1-3-0-1": "09b4874fc7f6dd7f",
    "sop-128-0.1-2-1-3": "85dbb0acf14ded38",
    "none-32-0.1-2-0-1": "ebe9f4db19447806",
    "none-128-0.5-1-0-1": "01e39b73a6b6195b",
    "none-512-0.1-3-0-1": "385899591b364ec0",
    "none-128-0.1-2-1-3": "cacd8aff2518cf60",
}


@pytest.mark.parametrize("case", sorted(PINNED))
def test_packed_instances_are_pinned(case):
    task, max_len, short, dupe, k, n = case.split("-")
    cfg = PackConfig(task=task, max_seq_length=int(max_len), short_seq_prob=float(short),
                     dupe_factor=int(dupe), seed=11)
    assert _digest(cfg, (int(k), int(n))) == PINNED[case]
