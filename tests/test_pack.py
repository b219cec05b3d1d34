"""Packing on crafted documents (transforms/pack.py): exact rules, layout, invariants."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from pack_helpers import DOC_STRIDE, corpus, crafted_doc, create_instances, instance_rows

from core.config import PackConfig
from transforms.accounting import NSP_NEGATIVE_UNAVAILABLE, PAIR_UNSPLITTABLE, SENTENCES_SPLIT
from transforms.pack import (
    NegativePool,
    SpecialIds,
    _random_b,
    pack_documents,
    part_owners,
    segment,
    segment_for,
    truncation_counts,
)
from transforms.records import TokenizedDocument

CLS, SEP = 2, 3
SPECIALS = SpecialIds(CLS, SEP)


def tally():
    """A counts dict and the `(name, n)` callable that fills it."""
    counts: dict[str, int] = {}

    def count(name: str, n: int) -> None:
        counts[name] = counts.get(name, 0) + n

    return counts, count


def split_segments(inst):
    """(A ids, B ids or None) without the specials."""
    ids = inst.input_ids
    if inst.a_len == len(ids):
        return ids[1:-1], None
    return ids[1:inst.a_len - 1], ids[inst.a_len:-1]


def collect(docs, cfg, pool=None):
    return [inst for doc in docs for p in range(cfg.dupe_factor)
            for inst in create_instances(doc, p, cfg, SPECIALS, pool or docs)]


def test_truncation_counts_match_googles_loop():
    def loop(la, lb, limit):
        ra = rb = 0
        while la + lb > limit:
            if la > lb:
                la, ra = la - 1, ra + 1
            else:
                lb, rb = lb - 1, rb + 1
        return ra, rb

    for la in range(1, 30):
        for lb in range(1, 30):
            for limit in range(2, 40):
                assert truncation_counts(la, lb, limit) == loop(la, lb, limit)


@pytest.mark.parametrize("task", ["nsp", "sop", "none"])
@pytest.mark.parametrize("max_seq_length", [128, 512])
def test_layout_and_lengths(task, max_seq_length):
    docs = corpus() + [crafted_doc(50, [3 * max_seq_length, 7, 900])]
    cfg = PackConfig(task=task, max_seq_length=max_seq_length, dupe_factor=3)
    instances = collect(docs, cfg)
    assert instances
    for inst in instances:
        ids = inst.input_ids
        assert ids.dtype == np.int32 and len(ids) <= max_seq_length
        assert ids[0] == CLS and ids[inst.a_len - 1] == SEP and ids[-1] == SEP
        specials = np.flatnonzero((ids == CLS) | (ids == SEP))
        if task == "none":
            assert inst.a_len == len(ids) and inst.sentence_label == -1
            assert specials.tolist() == [0, len(ids) - 1]
        else:
            assert 3 <= inst.a_len <= len(ids) - 2 and inst.sentence_label in (0, 1)
            assert specials.tolist() == [0, inst.a_len - 1, len(ids) - 1]
        assert inst.word_starts.dtype == bool and len(inst.word_starts) == len(ids)
        assert inst.word_starts[specials].all()
        assert inst.word_starts[1] and (task == "none" or inst.word_starts[inst.a_len])


def test_index_is_ordinal_within_document_pass():
    docs = corpus()
    cfg = PackConfig(task="nsp", max_seq_length=128, dupe_factor=2)
    for doc in docs:
        for p in range(2):
            instances = create_instances(doc, p, cfg, SPECIALS, docs)
            assert [i.index for i in instances] == list(range(len(instances)))
            assert {(i.doc_id, i.pass_index) for i in instances} == {(doc.doc_id, p)}


@pytest.mark.parametrize("max_seq_length", [128, 512])
def test_none_task_conserves_every_token(max_seq_length):
    docs = corpus() + [crafted_doc(60, [5, 2000, 1, max_seq_length - 2, max_seq_length - 1])]
    cfg = PackConfig(task="none", max_seq_length=max_seq_length, dupe_factor=1)
    for doc in docs:
        instances = create_instances(doc, 0, cfg, SPECIALS)
        rebuilt = np.concatenate([inst.input_ids[1:-1] for inst in instances])
        np.testing.assert_array_equal(rebuilt, doc.ids)


def test_none_task_packs_whole_sentences_greedily():
    doc = crafted_doc(1, [50, 50, 30, 100, 126, 1])
    cfg = PackConfig(task="none", max_seq_length=128)
    lengths = [len(i.input_ids) - 2 for i in create_instances(doc, 0, cfg, SPECIALS)]
    assert lengths == [100, 30, 100, 126, 1]
    exact = crafted_doc(2, [60, 66, 5, 121, 5, 1])  # chunks that fill the budget exactly
    lengths = [len(i.input_ids) - 2 for i in create_instances(exact, 0, cfg, SPECIALS)]
    assert lengths == [126, 126, 6]


def test_random_b_is_the_shortest_run_of_whole_sentences_reaching_its_target():
    other = segment(crafted_doc(2, [3, 4, 5, 6, 7]), 125)
    segments = _segments(other)
    for seed in range(20):
        for target_b in (-1, 1, 4, 5, 9, 12, 30):
            start = int(np.random.default_rng(seed).integers(5))
            lo, hi = _random_b(other, target_b, np.random.default_rng(seed))
            assert lo == other.starts[start] and hi in other.ends[start:]
            taken = segments[start:other.ends.index(hi) + 1]
            lengths = [b - a for a, b in taken]
            reached = sum(lengths) >= target_b
            # At least one sentence; no sentence more than needed; short only at the end.
            assert len(taken) == 1 or sum(lengths[:-1]) < target_b
            assert reached or taken[-1] == segments[-1]


def _segments(sd):
    return list(zip(sd.starts, sd.ends, strict=True))


def test_long_sentence_is_cut_at_word_starts_not_dropped():
    doc = crafted_doc(1, [400], word_every=7)
    counts, count = tally()
    sd = segment(doc, 125, count)
    assert counts == {SENTENCES_SPLIT: 1}
    # Greedy: each piece ends at the last word start that keeps it within 125 tokens.
    assert _segments(sd) == [(0, 119), (119, 238), (238, 357), (357, 400)]
    assert _segments(segment(crafted_doc(2, [125]), 125)) == [(0, 125)]


def test_cut_without_word_start_is_hard():
    doc = crafted_doc(1, [300], word_every=1000)  # one 300-token "word"
    assert _segments(segment(doc, 125)) == [(0, 125), (125, 250), (250, 300)]


def test_sop_keeps_every_token_of_a_long_sentence():
    # Pieces of exactly the 125-token target (a word start everywhere) each form a one-segment
    # chunk, which SOP splits without truncation. (Shorter pieces, cut at an earlier word
    # start, join the next piece and lose Google's usual truncation overshoot.)
    doc = crafted_doc(1, [1000], word_every=1)
    cfg = PackConfig(task="sop", max_seq_length=128, short_seq_prob=0.0)
    for p in range(5):
        instances = create_instances(doc, p, cfg, SPECIALS)
        kept = np.concatenate([np.sort(np.concatenate(split_segments(i))) for i in instances])
        np.testing.assert_array_equal(kept, doc.ids)


def test_nsp_negatives_never_come_from_the_same_document():
    docs = corpus(20)
    cfg = PackConfig(task="nsp", max_seq_length=128, dupe_factor=5)
    labels = []
    for inst in collect(docs, cfg):
        a, b = split_segments(inst)
        own = inst.doc_id - 1000
        assert (a // DOC_STRIDE == own).all()
        if inst.sentence_label == 1:
            assert len(set((b // DOC_STRIDE).tolist())) == 1 and b[0] // DOC_STRIDE != own
        else:  # real next: B continues A inside the same document
            assert (b // DOC_STRIDE == own).all() and b.min() > a.max()
        labels.append(inst.sentence_label)
    # Fixed seeds give 744 labels (share 0.497): the binomial sd is 0.018, so +-0.1 is > 5 sd.
    assert 0.4 < np.mean(labels) < 0.6


def test_a_random_b_reaches_its_target_or_the_end_of_its_document():
    """Without short targets, A + a random B fill `max_seq_length - 3` (Google's loop takes
    B's sentences until the target, then truncates the pair to it), unless B ran to the end
    of the other document first."""
    docs = corpus(20)
    last_id = {d.doc_id - 1000: int(d.ids[-1]) for d in docs}
    cfg = PackConfig(task="nsp", max_seq_length=128, short_seq_prob=0.0, dupe_factor=5)
    randoms = 0
    for inst in collect(docs, cfg):
        a, b = split_segments(inst)
        if inst.sentence_label == 1:
            randoms += 1
            assert len(a) + len(b) == 125 or b[-1] == last_id[b[0] // DOC_STRIDE]
    assert randoms > 100


def test_nsp_without_other_document_falls_back_to_real_next():
    doc = crafted_doc(1, [30] * 20)
    counts, count = tally()
    cfg = PackConfig(task="nsp", max_seq_length=64)
    instances = create_instances(doc, 0, cfg, SPECIALS, [doc], count)
    assert instances and {i.sentence_label for i in instances} == {0}
    assert counts[NSP_NEGATIVE_UNAVAILABLE] > 0


def test_sop_pairs_are_the_two_halves_of_one_chunk():
    docs = corpus(20)
    cfg = PackConfig(task="sop", max_seq_length=128, dupe_factor=5)
    labels = []
    for inst in collect(docs, cfg):
        a, b = split_segments(inst)
        own = inst.doc_id - 1000
        assert (a // DOC_STRIDE == own).all() and (b // DOC_STRIDE == own).all()
        # Each side is one contiguous run of the document (truncation only trims its ends).
        assert (np.diff(a) == 1).all() and (np.diff(b) == 1).all()
        first, second = (b, a) if inst.sentence_label == 1 else (a, b)
        assert first.max() < second.min()
        labels.append(inst.sentence_label)
    # Fixed seeds give 559 labels (share 0.483): the binomial sd is 0.021, so +-0.1 is > 4 sd.
    assert 0.4 < np.mean(labels) < 0.6


def test_sop_one_segment_chunk_is_split_at_a_word_start():
    doc = crafted_doc(1, [40], word_every=4)
    cfg = PackConfig(task="sop", max_seq_length=128)
    for p in range(20):
        (inst,) = create_instances(doc, p, cfg, SPECIALS)
        a, b = split_segments(inst)
        first, second = (b, a) if inst.sentence_label == 1 else (a, b)
        np.testing.assert_array_equal(np.concatenate([first, second]), doc.ids)
        assert doc.word_starts[len(first)]


def test_one_token_document_cannot_pair():
    doc = crafted_doc(1, [1])
    counts, count = tally()
    cfg = PackConfig(task="sop", max_seq_length=128)
    assert create_instances(doc, 0, cfg, SPECIALS, (), count) == []
    assert counts == {PAIR_UNSPLITTABLE: 1}
    # NSP still pairs it with a random B when another document exists.
    (inst,) = create_instances(doc, 0, PackConfig(task="nsp"), SPECIALS, [doc, crafted_doc(2, [9])])
    assert inst.sentence_label == 1 and inst.a_len == 3


def test_short_targets_make_short_instances():
    docs = corpus(10)
    cfg = PackConfig(task="sop", max_seq_length=512, short_seq_prob=1.0, dupe_factor=3)
    lengths = [len(i.input_ids) for i in collect(docs, cfg)]
    full = [len(i.input_ids) for i in collect(docs, PackConfig(task="sop", max_seq_length=512,
                                                               short_seq_prob=0.0, dupe_factor=3))]
    # A short target is uniform on [2, 509] (mean ~256, half the full target), and a document
    # pass keeps packing to it, so the mean length roughly halves (measured 0.37 on these
    # fixed seeds); without short targets the ratio would be 1.
    assert np.mean(lengths) < 0.6 * np.mean(full)


@pytest.mark.parametrize("task", ["nsp", "sop", "none"])
def test_deterministic_and_independent_of_pool_order(task):
    docs = corpus(15)
    cfg = PackConfig(task=task, max_seq_length=128, dupe_factor=2)
    shuffled = [docs[k] for k in np.random.default_rng(1).permutation(len(docs))]
    assert instance_rows(collect(docs, cfg)) == instance_rows(collect(docs, cfg, pool=shuffled))
    other_seed = PackConfig(task=task, max_seq_length=128, dupe_factor=2, seed=7)
    if task != "none":  # `none` has no randomness at all
        assert instance_rows(collect(docs, cfg)) != instance_rows(collect(docs, other_seed))


def test_negative_pool_excludes_all_copies_of_the_doc_id():
    docs = [crafted_doc(1, [5]), crafted_doc(2, [5]), crafted_doc(3, [5])]
    twin = TokenizedDocument("doc-2-copy", docs[1].doc_id, docs[1].ids, docs[1].word_starts,
                             docs[1].offsets)
    cfg = PackConfig(task="nsp")
    pool = NegativePool([segment_for(d, cfg) for d in [*docs, twin]])
    rng = np.random.default_rng(0)  # drives only the draw under test
    drawn = {pool.draw(rng, docs[1].doc_id).doc.id for _ in range(200)}
    assert drawn == {"doc-1", "doc-3"}
    assert NegativePool([segment_for(docs[0], cfg)]).draw(rng, docs[0].doc_id) is None


def test_part_owners_give_each_document_to_the_least_loaded_part():
    """Big and small documents alternating: every n-th would put all the big ones in part 0."""
    assert part_owners([100, 1, 100, 1, 100, 1], 2) == [0, 1, 1, 0, 0, 1]
    assert part_owners([5, 5, 5], 3) == [0, 1, 2]  # ties: the lowest part
    assert part_owners([7, 3], 1) == [0, 0]


def test_parts_of_a_pool_pack_about_equal_tokens():
    """`--workers 3` on one pool of 10 long and 20 one-sentence documents, every third one
    long (every third in the pool's order too, so every n-th would give part 0 all the long
    ones): the tokens of the documents each part packs differ by at most one document's."""
    docs = [crafted_doc(k, [50] * 10 if k % 3 == 0 else [1]) for k in range(30)]
    cfg = PackConfig(task="nsp", max_seq_length=64)
    loads = [sum(len(doc.ids) for doc, _ in pack_documents(docs, cfg, SPECIALS, part=(k, 3)))
             for k in range(3)]
    assert sum(loads) == 10 * 500 + 20
    assert max(loads) - min(loads) <= 500, loads


@pytest.mark.parametrize("n_parts", [2, 3])
def test_parts_of_a_pool_give_the_instances_and_counts_of_the_whole(n_parts):
    """`--workers n` packs one NSP pool as n parts: together exactly the whole pool's output."""
    docs = [*corpus(20, seed=5), crafted_doc(40, [200, 3])]  # one sentence to split
    cfg = PackConfig(task="nsp", max_seq_length=64, dupe_factor=2)

    def packed(part):
        counts = Counter()
        rows = sorted(row for _, insts in pack_documents(
            docs, cfg, SPECIALS, lambda name, n: counts.update({name: n}), part)
            for row in instance_rows(insts))
        return rows, counts

    whole_rows, whole_counts = packed((0, 1))
    parts = [packed((k, n_parts)) for k in range(n_parts)]
    assert sorted(row for rows, _ in parts for row in rows) == whole_rows
    assert sum((counts for _, counts in parts), Counter()) == whole_counts
    assert whole_counts[SENTENCES_SPLIT] == 1  # counted by its own part only
    assert all(rows for rows, _ in parts)
