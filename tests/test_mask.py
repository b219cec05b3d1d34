"""Masking: exact rules on crafted instances, statistics on real text, the Beam wrapper."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from core.config import MaskConfig
from transforms import mask_units
from transforms.manifest import vocab_tokens
from transforms.mask import MASKERS, MaskVocab, budget, mask_instance
from transforms.mask_beam import ApplyMasks
from transforms.records import Instance
from vocab.artifacts import VOCAB_TXT, VocabArtifacts

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPORA = SHARED / "corpora"
PAD, UNK, CLS, SEP, MASK = range(5)
MODES = sorted(MASKERS)


def toy_vocab(size: int = 200) -> MaskVocab:
    never = np.zeros(size, dtype=bool)
    never[[PAD, CLS, SEP, MASK]] = True
    return MaskVocab(MASK, never, np.arange(5, size, dtype=np.int32))


def vocab_from_file(path: Path) -> MaskVocab:
    tokens = path.read_text(encoding="utf-8").splitlines()
    ids = {t: i for i, t in enumerate(tokens)}
    never = np.zeros(len(tokens), dtype=bool)
    never[[ids["[CLS]"], ids["[SEP]"], ids["[PAD]"], ids["[MASK]"]]] = True
    bracketed = np.array([t.startswith("[") and t.endswith("]") for t in tokens])
    return MaskVocab(ids["[MASK]"], never, np.flatnonzero(~bracketed).astype(np.int32))


def crafted(rng: np.random.Generator, pair: bool, max_len: int = 64):
    """A random `[CLS] A [SEP] (B [SEP])` with random words of 1-4 pieces; ids >= 5."""
    def segment(n):
        ids = rng.integers(5, 200, size=n).astype(np.int32)
        starts = rng.random(n) < 0.6
        return ids, starts

    n_a = int(rng.integers(1, max_len // 2))
    a_ids, a_ws = segment(n_a)
    parts, flags = [[CLS], a_ids, [SEP]], [[True], a_ws, [True]]
    if pair:
        b_ids, b_ws = segment(int(rng.integers(1, max_len // 2)))
        parts += [b_ids, [SEP]]
        flags += [b_ws, [True]]
    ids = np.concatenate(parts).astype(np.int32)
    return ids, np.concatenate(flags).astype(bool), n_a + 2 if pair else len(ids)


def units_of(result):
    return list(zip(result.span_starts.tolist(), result.span_ends.tolist(), strict=True))


def check_invariants(ids, ws, a_len, cfg, vocab, result):
    length = len(ids)
    specials = {0, length - 1, a_len - 1}
    pos = result.mlm_positions
    assert pos.dtype == np.int32 and result.mlm_labels.dtype == np.int32
    assert np.all(np.diff(pos) > 0), "positions ascending and unique"
    assert not specials & set(pos.tolist()), "specials never masked"
    assert not vocab.never_mask[ids[pos]].any()
    np.testing.assert_array_equal(result.mlm_labels, ids[pos])
    unchanged = np.ones(length, dtype=bool)
    unchanged[pos] = False
    np.testing.assert_array_equal(result.input_ids[unchanged], ids[unchanged])
    n_maskable = length - (3 if a_len < length else 2)
    assert len(pos) <= budget(n_maskable, cfg)
    covered = []
    for s, e in units_of(result):
        assert s <= e
        covered.extend(range(s, e + 1))
        assert (e < a_len - 1) or (s >= a_len), "unit crosses [SEP]"
        new = result.input_ids[s:e + 1]
        assert (new == MASK).all() or not (new == MASK).any(), "80/10/10 is per unit"
        if cfg.masking != "token":
            assert ws[s] or s in (1, a_len), "unit starts at a word start"
            assert ws[e + 1] or e + 1 in specials, "unit ends before the next word"
            words = 1 + int(ws[s + 1:e + 1].sum())
            limit = {"wwm": 1, "span": cfg.span_max, "ngram": cfg.max_ngram}[cfg.masking]
            assert words <= limit
        else:
            assert s == e
    assert covered == pos.tolist(), "units tile the positions, ascending, disjoint"


@pytest.mark.parametrize("mode", MODES)
def test_invariants_on_crafted_instances(mode):
    rng = np.random.default_rng(7)
    vocab = toy_vocab()
    for case in range(400):
        ids, ws, a_len = crafted(rng, pair=case % 3 != 0)
        cfg = MaskConfig(masking=mode, masked_lm_prob=[0.15, 0.5, 1.0][case % 3],
                         max_predictions_per_seq=[77, 5, 1000][case % 3], span_max=4)
        result = MASKERS[mode](ids, ws, a_len, cfg, vocab, np.random.default_rng(case))
        check_invariants(ids, ws, a_len, cfg, vocab, result)


def test_budget_formula_uses_bankers_rounding_and_excludes_specials():
    cfg = MaskConfig()
    assert budget(509, cfg) == 76  # 76.35
    assert budget(510, cfg) == 76  # 76.5 rounds half to even
    assert budget(10, cfg) == 2  # 1.5 -> 2
    assert budget(3, cfg) == 1  # round(0.45) = 0, floor of 1
    assert budget(0, cfg) == 0
    assert budget(10_000, cfg) == 1500  # no cap outside a job config
    assert budget(10_000, MaskConfig(max_predictions_per_seq=77)) == 77
    assert budget(100, dataclasses.replace(cfg, masked_lm_prob=0.0)) == 0


def test_token_mode_fills_the_budget_exactly():
    vocab, rng = toy_vocab(), np.random.default_rng(0)
    for seed in range(50):
        ids, ws, a_len = crafted(rng, pair=True, max_len=512)
        cfg = MaskConfig(masking="token")
        result = MASKERS["token"](ids, ws, a_len, cfg, vocab, np.random.default_rng(seed))
        assert len(result.mlm_positions) == budget(len(ids) - 3, cfg)


def test_token_mode_is_whole_word_mode_with_every_token_a_word():
    # mask_token is a shortcut of the unit path: on the same instance and seed it must give
    # exactly what whole-word masking gives when every token starts a word (special ids
    # inside the text included, at every budget regime).
    vocab, rng = toy_vocab(), np.random.default_rng(5)
    for case in range(600):
        ids, _, a_len = crafted(rng, pair=case % 2 == 0, max_len=[16, 64, 512][case % 3])
        ids[rng.random(len(ids)) < 0.03] = [PAD, CLS, SEP, MASK, UNK][case % 5]
        cfg = MaskConfig(masked_lm_prob=[0.15, 0.5, 1.0, 0.0][case % 4],
                         max_predictions_per_seq=[20, 3, 1000, 77][case % 4])
        seed = int(rng.integers(1 << 30))
        token = MASKERS["token"](ids, rng.random(len(ids)) < 0.5, a_len, cfg, vocab,
                                 np.random.default_rng(seed))
        words = MASKERS["wwm"](ids, np.ones(len(ids), bool), a_len, cfg, vocab,
                               np.random.default_rng(seed))
        for got, want in zip(token, words, strict=True):
            assert got.dtype == want.dtype and got.tolist() == want.tolist(), case


def test_special_ids_inside_text_are_never_masked_nor_crossed():
    ids = np.array([CLS, 10, 11, MASK, 12, PAD, 13, SEP], dtype=np.int32)
    ws = np.array([1, 1, 0, 1, 0, 1, 0, 1], dtype=bool)  # 12 and 13 continue words
    cfg = MaskConfig(masking="wwm", masked_lm_prob=1.0, max_predictions_per_seq=100)
    result = MASKERS["wwm"](ids, ws, len(ids), cfg, toy_vocab(), np.random.default_rng(0))
    assert units_of(result) == [(1, 2), (4, 4), (6, 6)]


@pytest.mark.parametrize("mode", MODES)
def test_nothing_to_mask_gives_empty_columns(mode):
    for ids, a_len in (([CLS, SEP], 2), ([CLS, 10, SEP, SEP], 3), ([CLS, MASK, SEP], 3)):
        ids = np.array(ids, dtype=np.int32)
        ws, cfg = np.ones(len(ids), dtype=bool), MaskConfig(masking=mode)
        result = MASKERS[mode](ids, ws, a_len, cfg, toy_vocab(), np.random.default_rng(0))
        n_maskable = int(ids[1] == 10)  # budget max(1, ...) takes the lone token
        assert len(result.mlm_positions) == len(result.span_starts) == n_maskable
        check_invariants(ids, ws, a_len, cfg, toy_vocab(), result)


@pytest.mark.parametrize("mode", ["wwm", "span", "ngram"])
def test_full_budget_masks_every_word_and_stays_inside_segments(mode):
    # words: A = [1,2] [3] [4,5,6]; B = [8] [9,10]
    ids = np.arange(20, 32, dtype=np.int32)
    ids[[0, 7, 11]] = [CLS, SEP, SEP]
    ws = np.array([1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1], dtype=bool)
    cfg = MaskConfig(masking=mode, masked_lm_prob=1.0, max_predictions_per_seq=100)
    for seed in range(20):
        result = MASKERS[mode](ids, ws, 8, cfg, toy_vocab(), np.random.default_rng(seed))
        assert result.mlm_positions.tolist() == [1, 2, 3, 4, 5, 6, 8, 9, 10]
        check_invariants(ids, ws, 8, cfg, toy_vocab(), result)
        if mode == "wwm":
            assert units_of(result) == [(1, 2), (3, 3), (4, 6), (8, 8), (9, 10)]


def test_wwm_skips_a_word_that_does_not_fit_and_continues():
    # One 3-piece word and three 1-piece words; budget 2 can only ever take 1-piece words.
    ids = np.array([CLS, 10, 11, 12, 13, 14, 15, SEP], dtype=np.int32)
    ws = np.array([1, 1, 0, 0, 1, 1, 1, 1], dtype=bool)
    cfg = MaskConfig(masking="wwm", masked_lm_prob=1.0, max_predictions_per_seq=2)
    for seed in range(30):
        result = MASKERS["wwm"](ids, ws, len(ids), cfg, toy_vocab(), np.random.default_rng(seed))
        assert len(result.mlm_positions) == 2
        assert set(result.mlm_positions.tolist()) <= {4, 5, 6}


def test_ngram_backs_off_to_a_shorter_prefix_at_the_budget():
    ids = np.array([CLS, 10, 11, 12, 13, 14, 15, SEP], dtype=np.int32)  # 6 one-piece words
    ws = np.ones(len(ids), dtype=bool)
    cfg = MaskConfig(masking="ngram", masked_lm_prob=1.0, max_predictions_per_seq=4, max_ngram=3)
    for seed in range(30):
        result = MASKERS["ngram"](ids, ws, len(ids), cfg, toy_vocab(), np.random.default_rng(seed))
        assert len(result.mlm_positions) == 4  # any leftover is filled by a backed-off prefix


def test_chinese_wwm_units_are_jieba_words():
    vocab_txt = CORPORA / "vocab" / "bert_base_chinese" / "vocab.txt"
    if not vocab_txt.exists():
        pytest.skip(f"{vocab_txt} absent (../shared beside the checkout)")
    jieba = pytest.importorskip("jieba")
    tokens = vocab_txt.read_text(encoding="utf-8").splitlines()
    tid = {t: i for i, t in enumerate(tokens)}
    text = "我喜欢自然语言处理和机器学习，北京大学的学生在图书馆里看书。"
    words = jieba.Tokenizer().lcut(text, HMM=False)
    ids = [tid["[CLS]"]] + [tid[ch] for ch in text] + [tid["[SEP]"]]
    ws = [True] + [k == 0 for w in words for k in range(len(w))] + [True]
    bounds, pos = set(), 1
    for w in words:
        bounds.add((pos, pos + len(w) - 1))
        pos += len(w)
    assert any(e > s for s, e in bounds), "the sentence must have multi-character words"
    ids, ws = np.array(ids, dtype=np.int32), np.array(ws)
    vocab = vocab_from_file(vocab_txt)
    everything = MaskConfig(masking="wwm", masked_lm_prob=1.0, max_predictions_per_seq=999)
    result = MASKERS["wwm"](ids, ws, len(ids), everything, vocab, np.random.default_rng(0))
    assert set(units_of(result)) == bounds
    for seed in range(50):
        result = MASKERS["wwm"](ids, ws, len(ids), MaskConfig(masking="wwm"), vocab,
                                np.random.default_rng(seed))
        assert set(units_of(result)) <= bounds


def test_length_laws_exact():
    pmf = mask_units.truncated_geometric(0.2, 10)
    assert pmf.sum() == pytest.approx(1.0)
    assert (pmf * np.arange(1, 11)).sum() == pytest.approx(3.797, abs=5e-4)  # SpanBERT's 3.8
    np.testing.assert_allclose(mask_units.inverse_n(3), [6 / 11, 3 / 11, 2 / 11])


def test_length_samplers():
    rng = np.random.default_rng(1)
    n = 200_000
    spans = mask_units.sample_lengths(mask_units.truncated_geometric(0.2, 10), n, rng)
    # sd of the law is ~2.5, so the standard error of the mean is ~0.006: 0.05 is ~9 se.
    assert abs(spans.mean() - 3.8) < 0.05
    assert spans.min() == 1 and spans.max() == 10
    grams = mask_units.sample_lengths(mask_units.inverse_n(3), n, rng)
    # se of each share is < 0.0012 at 200k draws; the 2 points is very loose.
    share = np.bincount(grams, minlength=4)[1:] / n
    np.testing.assert_allclose(share, [6 / 11, 3 / 11, 2 / 11], atol=0.02)


def make_instance(ids, ws, a_len, index=0):
    return Instance(doc_id=11, pass_index=0, index=index, input_ids=ids, word_starts=ws,
                    a_len=a_len, sentence_label=0)


def test_mask_instance_is_deterministic_and_differs_per_instance_index():
    ids, ws, a_len = crafted(np.random.default_rng(3), pair=True, max_len=512)
    cfg = MaskConfig(masking="span")
    first = mask_instance(make_instance(ids, ws, a_len), cfg, toy_vocab())
    again = mask_instance(make_instance(ids, ws, a_len), cfg, toy_vocab())
    other = mask_instance(make_instance(ids, ws, a_len, index=1), cfg, toy_vocab())
    np.testing.assert_array_equal(first.input_ids, again.input_ids)
    np.testing.assert_array_equal(first.mlm_positions, again.mlm_positions)
    assert first.mlm_positions.tolist() != other.mlm_positions.tolist()
    np.testing.assert_array_equal(first.mlm_labels, ids[first.mlm_positions])


def run_apply_masks(instances, cfg, expected, vocab_txt: bytes):
    def key(inst):
        return (inst.index, inst.input_ids.tolist(), inst.mlm_positions.tolist(),
                inst.mlm_labels.tolist(), inst.span_starts.tolist(), inst.span_ends.tolist())

    artifacts = VocabArtifacts({VOCAB_TXT: vocab_txt}, {})
    with BeamTestPipeline(runner="FnApiRunner") as p:
        vocab = p | "Vocab" >> beam.Create([artifacts])
        out = p | beam.Create(instances) | ApplyMasks(cfg, vocab)
        assert_that(out["instances"] | beam.Map(key), equal_to([key(e) for e in expected]))
        total = out["stats"] | beam.CombinePerKey(sum)
        n_masked = sum(len(e.mlm_positions) for e in expected)
        assert_that(total, equal_to([("masked_tokens", n_masked)]), label="Stats")


def toy_vocab_txt(size: int = 200) -> bytes:
    """A vocab.txt whose MaskVocab is `toy_vocab(size)`."""
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *(f"w{i}" for i in range(5, size))]
    return "".join(t + "\n" for t in tokens).encode()


def test_apply_masks_transform():
    rng, cfg = np.random.default_rng(5), MaskConfig(masking="wwm")
    vocab = MaskVocab.from_tokens(vocab_tokens(toy_vocab_txt()))
    np.testing.assert_array_equal(vocab.never_mask, toy_vocab().never_mask)
    np.testing.assert_array_equal(vocab.replacement_ids, toy_vocab().replacement_ids)
    instances = [make_instance(*crafted(rng, pair=True, max_len=128), index=i) for i in range(6)]
    expected = [mask_instance(dataclasses.replace(i), cfg, vocab) for i in instances]
    run_apply_masks(instances, cfg, expected, toy_vocab_txt())


def test_apply_masks_on_a_real_vocab_matches_its_bracket_rule():
    vocab_dir = CORPORA / "vocab" / "minilm_l6_v2_uncased"
    if not (vocab_dir / "vocab.txt").exists():
        pytest.skip(f"{vocab_dir} absent (../shared beside the checkout)")
    vocab_txt = (vocab_dir / "vocab.txt").read_bytes()
    vocab = MaskVocab.from_tokens(vocab_tokens(vocab_txt))
    by_file = vocab_from_file(vocab_dir / "vocab.txt")
    assert vocab.mask_id == by_file.mask_id == 103
    np.testing.assert_array_equal(vocab.never_mask, by_file.never_mask)
    np.testing.assert_array_equal(vocab.replacement_ids, by_file.replacement_ids)
    rng, cfg = np.random.default_rng(6), MaskConfig(masking="span")
    instances = []
    for i in range(4):
        ids, ws, a_len = crafted(rng, pair=True, max_len=128)
        ids = np.where(ids == CLS, 101, np.where(ids == SEP, 102, ids + 2000)).astype(np.int32)
        instances.append(make_instance(ids, ws, a_len, index=i))
    expected = [mask_instance(dataclasses.replace(i), cfg, vocab) for i in instances]
    run_apply_masks(instances, cfg, expected, vocab_txt)


@pytest.fixture(scope="module")
def english_instances():
    """Full-length `[CLS] A(254) [SEP] B(255) [SEP]` instances cut from two English corpora.

    Two masking passes over ~960 instances give ~146k masked tokens per mode.
    """
    vocab_txt = CORPORA / "vocab" / "bert_base_uncased" / "vocab.txt"
    texts = [CORPORA / "en" / "enwiki_wikiextractor_wiki_00.txt",
             CORPORA / "en" / "wikitext2_raw_test_crlf_noblank.raw"]
    if not all(p.exists() for p in [vocab_txt, *texts]):
        pytest.skip("../shared/corpora (English corpora, bert_base_uncased vocab) absent")
    from tokenizers import BertWordPieceTokenizer

    tokenizer = BertWordPieceTokenizer(str(vocab_txt), lowercase=True)
    lines = [line.strip() for p in texts for line in p.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line and not line.startswith("<")]
    encodings = tokenizer.encode_batch(lines, add_special_tokens=False)
    ids = np.concatenate([np.asarray(e.ids, dtype=np.int32) for e in encodings])
    ws = np.array([not t.startswith("##") for e in encodings for t in e.tokens])
    vocab = vocab_from_file(vocab_txt)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    instances = []
    for k, lo in enumerate(range(0, len(ids) - 509, 509)):
        a, b = slice(lo, lo + 254), slice(lo + 254, lo + 509)
        inst_ids = np.concatenate([[cls_id], ids[a], [sep_id], ids[b], [sep_id]]).astype(np.int32)
        inst_ws = np.concatenate([[True], ws[a], [True], ws[b], [True]])
        for pass_index in range(2):
            instances.append(Instance(doc_id=k, pass_index=pass_index, index=0,
                                      input_ids=inst_ids, word_starts=inst_ws, a_len=256,
                                      sentence_label=0))
    return instances, vocab


@pytest.mark.parametrize("mode", MODES)
def test_statistics_on_real_text(mode, english_instances):
    instances, vocab = english_instances
    cfg = MaskConfig(masking=mode)
    masked = [mask_instance(dataclasses.replace(i), cfg, vocab) for i in instances]
    labels = np.concatenate([m.mlm_labels for m in masked])
    new = np.concatenate([m.input_ids[m.mlm_positions] for m in masked])
    assert len(labels) >= 100_000
    # Budget is deterministic per instance: round(0.15 * 509) = 76 -> 14.93%.
    share = len(labels) / (509 * len(instances))
    assert abs(share - 0.15) <= 0.005
    # 80/10/10 is drawn per unit; with >= 19k units (span mode, ~4.3 tokens per unit) the
    # se of a token share is <= sqrt(.16/19k) * ~1.5 (unit-size variance) < 0.005: 1 point
    # is >= 2 se in the worst mode, ~4 se in token mode.
    is_mask = new == vocab.mask_id
    kept = new == labels
    shares = [is_mask.mean(), (~is_mask & ~kept).mean(), kept.mean()]
    np.testing.assert_allclose(shares, [0.8, 0.1, 0.1], atol=0.01)
    sizes = np.array([1 + int(m.word_starts[s + 1:e + 1].sum())
                      for m in masked for s, e in zip(m.span_starts, m.span_ends, strict=True)])
    hist = np.bincount(sizes)[1:] / len(sizes)
    print(f"\n{mode}: share={share:.4f} mask/random/keep={np.round(shares, 4).tolist()} "
          f"units={len(sizes)} mean_words={sizes.mean():.3f} words_hist={np.round(hist, 3)}")
    if mode == "span":
        assert sizes.mean() >= 3.5 and sizes.max() <= 10
    if mode == "ngram":
        # Realised n-gram sizes: the law's 6:3:2 minus a little mass lost to segment-edge
        # truncation and budget back-off (measured ~0.554/0.270/0.176).
        np.testing.assert_allclose(hist, [6 / 11, 3 / 11, 2 / 11], atol=0.02)


# The realised unit-length laws: what `mask_words` writes, not the sampler alone (issue 12
# item 1).
SPAN_CFG_ALL = MaskConfig(masking="span", masked_lm_prob=1.0, max_predictions_per_seq=1 << 30)


def _long_single_segment(n_words: int, rng: np.random.Generator):
    """`[CLS] X [SEP]` of `n_words` words of 1-3 pieces: one segment, so one edge unit only."""
    pieces = rng.integers(1, 4, size=n_words)
    ws = np.zeros(int(pieces.sum()) + 2, dtype=bool)
    ws[0] = ws[-1] = True
    ws[1 + np.concatenate([[0], np.cumsum(pieces)[:-1]])] = True
    ids = rng.integers(5, 200, size=len(ws)).astype(np.int32)
    ids[0], ids[-1] = CLS, SEP
    return ids, ws


@pytest.mark.parametrize("masking", ["span", "ngram"])
def test_realised_unit_lengths_follow_the_law(masking):
    """>= 100k units written by `mask_words`, lengths in words, against the mode's law:
    span P(k) ∝ p(1-p)^(k-1) on 1..10, ngram P(n) ∝ 1/n on 1..3.

    With the whole segment as budget every unit of the tiling is written, so the realised
    lengths are the law's except the one edge unit. Tolerance per length k: 4.5 binomial sd
    of the count, sqrt(N p_k (1 - p_k)) — each bin fails by chance with p < 7e-6, the ten
    together < 1e-4. Uniform 1..10 (mean 5.5) or clipped geometric (mean 4.46) miss some span
    bin by hundreds of sd, the geometric law some n-gram bin; the mean is checked to 4.5
    standard errors as well.
    """
    rng = np.random.default_rng(2026)
    ids, ws = _long_single_segment(600_000, rng)
    cfg = dataclasses.replace(SPAN_CFG_ALL, masking=masking)
    result = MASKERS[masking](ids, ws, len(ids), cfg, toy_vocab(), rng)
    word_index = np.cumsum(ws) - 1  # word number of each token ([CLS] is word 0)
    assert ws[result.span_starts].all(), "spans start on word starts"
    ends_next = result.span_ends + 1
    assert ws[ends_next].all(), "spans end on word ends"
    lengths = word_index[ends_next] - word_index[result.span_starts]
    n = len(lengths)
    assert n >= 100_000
    pmf = {"span": np.array([0.2 * 0.8 ** (k - 1) for k in range(1, 11)]),
           "ngram": np.array([1, 1 / 2, 1 / 3])}[masking]
    pmf = pmf / pmf.sum()
    k_max = len(pmf)
    counts = np.bincount(lengths, minlength=k_max + 2)[1:]
    assert counts[k_max:].sum() == 0 and counts.sum() == n
    expected = n * pmf
    sd = np.sqrt(n * pmf * (1 - pmf))
    assert np.all(np.abs(counts[:k_max] - expected) <= 4.5 * sd), (counts[:k_max],
                                                                   expected.round())
    law_mean = float((pmf * np.arange(1, k_max + 1)).sum())
    law_sd = float(np.sqrt((pmf * (np.arange(1, k_max + 1) - law_mean) ** 2).sum()))
    assert abs(lengths.mean() - law_mean) <= 4.5 * law_sd / np.sqrt(n)


def test_realised_span_starts_are_uniform_over_word_starts():
    """At the default 15% budget, spans start uniformly over the word starts of a segment.

    The tiling is a stationary renewal process, so every word is a unit start with
    probability 1/mean, and units are visited in random order, so where a unit lies does
    not change its chance to be taken. Seven one-segment instances of 400k words (1-3
    pieces) give > 100k realised starts; split into 100 equal ranges of words, each range's
    count is within 4.5 binomial sd of total/100 (the 100 ranges together fail by chance
    with p < 1e-3). Starts drawn from a sub-range, or over tokens instead of word starts
    (checked directly), fail.
    """
    cfg = MaskConfig(masking="span", max_predictions_per_seq=1 << 30)
    n_words, n_bins = 400_000, 100
    counts = np.zeros(n_bins, dtype=np.int64)
    for seed in range(7):
        rng = np.random.default_rng(seed)
        ids, ws = _long_single_segment(n_words, rng)
        starts = MASKERS["span"](ids, ws, len(ids), cfg, toy_vocab(), rng).span_starts
        assert ws[starts].all(), "spans start on word starts"
        word = (np.cumsum(ws) - 2)[starts]  # 0-based word number within the segment
        counts += np.bincount(word * n_bins // n_words, minlength=n_bins)
    total = int(counts.sum())
    assert total > 100_000
    sd = np.sqrt(total * (1 / n_bins) * (1 - 1 / n_bins))
    assert np.all(np.abs(counts - total / n_bins) <= 4.5 * sd), (counts.min(), counts.max(), sd)
