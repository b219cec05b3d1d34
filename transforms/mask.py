"""Static masking (DESIGN.md Algorithms): BERT token, whole-word, SpanBERT span, ALBERT n-gram.

Every mode shares one signature `(input_ids, word_starts, a_len, cfg, vocab, rng) ->
MaskResult` and is dispatched by `MASKERS[cfg.masking]`; the modes differ only in what a
masking *unit* is (transforms/mask_units.py):

- `token` (BERT): one token.
- `wwm` (BERT whole-word, Chinese-BERT-wwm): one word, a WordPiece start plus its `##`
  continuations, or a jieba word over CJK tokens (the encoder sets `word_starts` so).
- `span` (SpanBERT, arXiv:1907.10529): 1..span_max consecutive words, length from a
  geometric(span_p) truncated to [1, span_max] and renormalised (mean 3.797 at 0.2).
- `ngram` (ALBERT, arXiv:1909.11942): 1..max_ngram consecutive words, P(n) ∝ 1/n.

Shared rules, chosen explicitly where the references differ (anchors_bert.md §3):

- Budget `min(max_predictions_per_seq, max(1, round(masked_lm_prob · n)))` tokens, `n` the
  maskable tokens (specials excluded, as SpanBERT; Google counts them). `round` is
  Python's round-half-to-even, as Google's script under Python 3. `masked_lm_prob = 0`
  masks nothing (ALBERT's early return) instead of the formula's 1.
- Units never contain a special token and never cross [SEP]; they never overlap. Span and
  n-gram units are a random tiling of each segment's words (a stationary renewal process),
  so starts are uniform over word starts and lengths follow the law exactly except where a
  segment edge truncates a unit (SpanBERT and ALBERT resample overlapping candidates).
- Each instance has its own generator, keyed by (seed, doc_id, pass_index, MASK, index).
- A unit that would exceed the budget is cut to its longest whole-word prefix that fits,
  or skipped, and later units still fill the rest (Google's `continue`, ALBERT's back-off).
  SpanBERT instead cuts the last span mid-word; here units always end on a word boundary.
- 80/10/10 is one draw per unit (SpanBERT's `replacement=span`; Google and ALBERT draw per
  token, google-research/bert #910): all of the unit's tokens become [MASK], or each gets an
  independent uniform id from `replacement_ids` (no special or [unused] ids), or all stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from core.config import MaskConfig
from transforms import mask_units
from transforms.manifest import special_ids
from transforms.ranges import concat_ranges
from transforms.records import Instance
from transforms.rng import (
    Stage,
    Streams,
    StreamTails,
    bounded_from_uint32,
    make_rng,
    stream_keys,
)

_UNUSED = re.compile(r"\[unused\d+\]")
MASK_SHARE, RANDOM_SHARE = 0.8, 0.1
"""Per unit: P([MASK]) and P(random ids); the remaining 0.1 keeps the original tokens."""


@dataclass(frozen=True)
class MaskVocab:
    """The little of a vocab that masking needs; small and picklable (no tokenizer).

    `never_mask` is a bool table over ids: [CLS], [SEP], [PAD] and [MASK] are never masked
    wherever they occur. [UNK] stands for a real word and is masked like any token (Google).
    """

    mask_id: int
    never_mask: np.ndarray
    replacement_ids: np.ndarray

    @classmethod
    def from_tokens(cls, tokens: list[str]) -> MaskVocab:
        """From the tokens of a `vocab.txt` in id order (`transforms.manifest.vocab_tokens`).

        Random replacements are every id but the five specials and `[unusedN]`."""
        ids = special_ids(tokens)
        never = np.zeros(len(tokens), dtype=bool)
        never[[ids["cls"], ids["sep"], ids["pad"], ids["mask"]]] = True
        special = set(ids.values())
        keep = [i for i, t in enumerate(tokens) if i not in special and not _UNUSED.fullmatch(t)]
        return cls(mask_id=ids["mask"], never_mask=never,
                   replacement_ids=np.asarray(keep, dtype=np.int32))


class MaskResult(NamedTuple):
    """Masked ids plus the shard columns; all int32, positions and units ascending."""

    input_ids: np.ndarray
    mlm_positions: np.ndarray
    mlm_labels: np.ndarray
    span_starts: np.ndarray
    span_ends: np.ndarray


def budget(n_maskable: int, cfg: MaskConfig) -> int:
    """Tokens to mask: min(max_predictions_per_seq, max(1, round(p · n))); 0 if nothing can.

    A cap of None (a MaskConfig outside a job config) caps nothing."""
    if n_maskable == 0 or cfg.masked_lm_prob == 0.0:
        return 0
    wanted = max(1, round(cfg.masked_lm_prob * n_maskable))
    cap = cfg.max_predictions_per_seq
    return wanted if cap is None else min(cap, wanted)


def _unit_law(cfg: MaskConfig) -> np.ndarray | None:
    """The unit-length law, in words, of a whole-word mode: None (one word) for `wwm`, the
    truncated geometric for `span`, 1/n for `ngram`."""
    if cfg.masking == "span":
        return mask_units.truncated_geometric(cfg.span_p, cfg.span_max)
    if cfg.masking == "ngram":
        return mask_units.inverse_n(cfg.max_ngram)
    return None


def _unit_tokens(starts: np.ndarray, lengths: np.ndarray | None, actions: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(positions, the 80/10/10 draw of each) of units at ascending `starts`, `lengths`
    tokens each and one draw each; None: one token each, with no unit-to-token expansion."""
    if lengths is None:
        return starts, actions
    return concat_ranges(starts, lengths), np.repeat(actions, lengths)


def _span_ends(starts: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
    """Each unit's last position (int32)."""
    return (starts if lengths is None else starts + lengths - 1).astype(np.int32)


def _apply_actions(input_ids: np.ndarray, positions: np.ndarray, action: np.ndarray,
                   vocab: MaskVocab) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a masked int32 copy of `input_ids` with [MASK] written, the labels, which positions
    take a random id): the random ids are the caller's to draw."""
    labels = input_ids[positions].astype(np.int32, copy=False)
    masked = input_ids.astype(np.int32)  # a copy
    masked[positions[action < MASK_SHARE]] = vocab.mask_id
    return masked, labels, (action >= MASK_SHARE) & (action < MASK_SHARE + RANDOM_SHARE)


def _replace_units(input_ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray | None,
                   vocab: MaskVocab, rng: np.random.Generator) -> MaskResult:
    """80/10/10 per chosen unit (see `_unit_tokens`); each random id one `rng.integers`."""
    positions, action = _unit_tokens(starts, lengths, rng.random(len(starts)))
    positions = positions.astype(np.int32, copy=False)
    masked, labels, randomised = _apply_actions(input_ids, positions, action, vocab)
    randomised = positions[randomised]
    if len(randomised):  # no draw for none: the stream ends here either way
        picks = rng.integers(0, len(vocab.replacement_ids), size=len(randomised),
                             dtype=np.int64)
        masked[randomised] = vocab.replacement_ids[picks]
    return MaskResult(masked, positions, labels, starts.astype(np.int32),
                      _span_ends(starts, lengths))


def mask_token(input_ids: np.ndarray, word_starts: np.ndarray, a_len: int, cfg: MaskConfig,
               vocab: MaskVocab, rng: np.random.Generator) -> MaskResult:
    """BERT: single tokens uniformly at random.

    The unit path (`mask_words` with every token a word start), shortened: each unit fits,
    so `select_units` takes the first `budget` units of its random permutation in one step.
    Same draws in the same order, hence the same result (tests compare the two paths).
    """
    blocked = mask_units.blocked_positions(mask_units.Batch.one(input_ids, a_len),
                                           vocab.never_mask)
    maskable = (~blocked).nonzero()[0]
    starts = maskable[np.sort(_draw_tokens(len(maskable), cfg, rng))]
    return _replace_units(input_ids, starts, None, vocab, rng)


def _draw_tokens(n_maskable: int, cfg: MaskConfig, rng: np.random.Generator) -> np.ndarray:
    """Which of `n_maskable` tokens `mask_token` picks (indexes into them, unsorted)."""
    return rng.permutation(n_maskable)[:budget(n_maskable, cfg)]


def _draw_words(words: mask_units.Words, cfg: MaskConfig, pmf: np.ndarray | None,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(starts, lengths in tokens) of the units of whole words drawn for one instance."""
    first, end = mask_units.tile_units(words, pmf, rng)
    first, end = mask_units.select_units(words, first, end, budget(words.n_tokens, cfg), rng)
    starts = words.starts[first]
    return starts, words.ends[end - 1] - starts  # ends are exclusive


def mask_words(input_ids: np.ndarray, word_starts: np.ndarray, a_len: int, cfg: MaskConfig,
               vocab: MaskVocab, rng: np.random.Generator) -> MaskResult:
    """`wwm`, `span` and `ngram`: units of whole words in random order, their length law
    `_unit_law(cfg)`; a unit that does not fit the budget is backed off or skipped."""
    words = mask_units.candidate_words(input_ids, word_starts, a_len, vocab.never_mask)
    starts, lengths = _draw_words(words, cfg, _unit_law(cfg), rng)
    return _replace_units(input_ids, starts, lengths, vocab, rng)


MASKERS = {"token": mask_token, "wwm": mask_words, "span": mask_words, "ngram": mask_words}


def instance_rng(seed: int, inst: Instance) -> np.random.Generator:
    """The instance's own stream: (doc_id, pass_index) is shared by a document's instances."""
    return make_rng(seed, inst.doc_id, inst.pass_index, Stage.MASK, extra=inst.index)


def _fill(inst: Instance, result: MaskResult) -> Instance:
    inst.input_ids = result.input_ids
    inst.mlm_positions, inst.mlm_labels = result.mlm_positions, result.mlm_labels
    inst.span_starts, inst.span_ends = result.span_starts, result.span_ends
    return inst


def mask_instance(inst: Instance, cfg: MaskConfig, vocab: MaskVocab) -> Instance:
    """Fills the instance's mask columns and replaces its input_ids (in place; returned)."""
    return _fill(inst, MASKERS[cfg.masking](
        inst.input_ids, inst.word_starts, inst.a_len, cfg, vocab, instance_rng(cfg.seed, inst)
    ))


def mask_instances(instances: list[Instance], cfg: MaskConfig, vocab: MaskVocab
                   ) -> list[Instance]:
    """`mask_instance` of each instance (in place; returned), vectorised over the batch.

    Building a generator per instance cost as much as masking it, and so did numpy's
    per-call overhead on ~500-token arrays, so only the draws run per instance: every
    generator is keyed in one vectorised hash (`rng.stream_keys`) and reset per instance
    (`rng.Streams`); each instance draws its units (`mask_token`'s permutation, or
    `mask_words`' tiling and selection) and its 80/10/10 actions; the random replacement
    ids, the last draws of every stream, are computed from the stream's next raw uint32s
    (`rng.bounded_from_uint32`). Everything else (blocked positions, labels, replacements)
    runs once over the concatenated batch. Same draws from the same streams, so the same
    result; the rare instance whose replacement draw numpy would have rejected is masked
    again by `mask_instance`'s own path. The instances' arrays are views of batch arrays.
    """
    if not instances:
        return []
    keys = stream_keys(
        cfg.seed, np.fromiter((i.doc_id for i in instances), np.uint64, len(instances)),
        np.fromiter((i.pass_index for i in instances), np.uint64, len(instances)), Stage.MASK,
        np.fromiter((i.index for i in instances), np.uint64, len(instances)))
    streams = Streams()
    batch = mask_units.Batch.of([i.input_ids for i in instances], (i.a_len for i in instances))
    if cfg.masking == "token":
        units = _batch_token_units(batch, cfg, vocab, keys, streams)
    else:
        word_starts = np.concatenate([i.word_starts for i in instances])
        units = _batch_word_units(batch, word_starts, cfg, vocab, keys, streams)
    return _replace_batch(instances, batch, units, cfg, vocab, keys, streams)


class _BatchUnits(NamedTuple):
    """The chosen units of a batch, instance after instance, and the draws that follow."""

    starts: np.ndarray  # int64 positions in the concatenated batch, ascending
    lengths: np.ndarray | None  # tokens per unit; None: one each
    actions: np.ndarray  # float64 per unit: the 80/10/10 draw
    n_units: np.ndarray  # int64 per instance
    tails: StreamTails  # per instance: its stream's next uint32s, one per masked token


def _batch_token_units(batch: mask_units.Batch, cfg: MaskConfig, vocab: MaskVocab,
                       keys: np.ndarray, streams: Streams) -> _BatchUnits:
    """`mask_token`'s draws for each instance, its blocked positions found for all at once."""
    maskable = (~mask_units.blocked_positions(batch, vocab.never_mask)).nonzero()[0]
    cut = maskable.searchsorted(batch.first)
    picked, actions, n_units, tails = [], [], [], StreamTails()
    for k, key in enumerate(keys):
        rng = streams.at(key)
        picked.append(_draw_tokens(int(cut[k + 1] - cut[k]), cfg, rng))
        n = len(picked[-1])
        actions.append(rng.random(n))
        tails.add(rng, n)
        n_units.append(n)
    n_units = np.asarray(n_units, np.int64)
    chosen = np.concatenate(picked) + np.repeat(cut[:-1], n_units)
    chosen.sort()  # instances' ranges are disjoint and ascending: each is sorted in place
    return _BatchUnits(maskable[chosen], None, np.concatenate(actions), n_units, tails)


def _batch_word_units(batch: mask_units.Batch, word_starts: np.ndarray, cfg: MaskConfig,
                      vocab: MaskVocab, keys: np.ndarray, streams: Streams) -> _BatchUnits:
    """`mask_words`' draws for each instance, its words found for all at once."""
    all_words = mask_units.batch_candidate_words(batch, word_starts, vocab.never_mask)
    pmf = _unit_law(cfg)
    starts, lengths, actions, n_units, tails = [], [], [], [], StreamTails()
    for k, (words, key) in enumerate(zip(all_words, keys, strict=True)):
        rng = streams.at(key)
        unit_starts, unit_lengths = _draw_words(words, cfg, pmf, rng)
        starts.append(unit_starts + batch.first[k])
        lengths.append(unit_lengths)
        actions.append(rng.random(len(unit_starts)))
        tails.add(rng, int(unit_lengths.sum()))
        n_units.append(len(unit_starts))
    return _BatchUnits(np.concatenate(starts), np.concatenate(lengths), np.concatenate(actions),
                       np.asarray(n_units, np.int64), tails)


def _replace_batch(instances: list[Instance], batch: mask_units.Batch, units: _BatchUnits,
                   cfg: MaskConfig, vocab: MaskVocab, keys: np.ndarray, streams: Streams
                   ) -> list[Instance]:
    """`_replace_units` over the whole batch, then each instance's columns as views; the
    random ids come from the streams' tails (`bounded_from_uint32`)."""
    first = batch.first
    positions, action = _unit_tokens(units.starts, units.lengths, units.actions)
    if units.lengths is None:
        n_tokens = units.n_units
    else:
        unit_cut = np.concatenate(([0], units.n_units.cumsum()))
        n_tokens = np.diff(np.concatenate(([0], units.lengths.cumsum()))[unit_cut])
    masked, labels, randomised = _apply_actions(batch.ids, positions, action, vocab)
    redo: set[int] = set()
    if randomised.any():
        # Replacement j of an instance is drawn from the j-th uint32 of its tail.
        owner = np.repeat(np.arange(len(instances)), n_tokens)[randomised]
        seen = randomised.cumsum()
        rank = seen[randomised] - 1 - np.concatenate(([0], seen))[_starts_of(n_tokens)][owner]
        draws = units.tails.draws(owner, rank)
        picks, rejected = bounded_from_uint32(draws, len(vocab.replacement_ids))
        masked[positions[randomised]] = vocab.replacement_ids[picks]
        redo = set(owner[rejected].tolist())
    positions = (positions - np.repeat(first[:-1], n_tokens)).astype(np.int32)
    if units.lengths is None:
        span_starts = span_ends = positions
    else:
        unit_starts = units.starts - np.repeat(first[:-1], units.n_units)
        span_starts = unit_starts.astype(np.int32)
        span_ends = _span_ends(unit_starts, units.lengths)
    bounds = first.tolist()
    tok = np.concatenate(([0], n_tokens.cumsum())).tolist()
    unit = np.concatenate(([0], units.n_units.cumsum())).tolist()
    for k, inst in enumerate(instances):
        if k in redo:
            _fill(inst, MASKERS[cfg.masking](inst.input_ids, inst.word_starts, inst.a_len, cfg,
                                             vocab, streams.at(keys[k])))
            continue
        inst.input_ids = masked[bounds[k]:bounds[k + 1]]
        inst.mlm_positions = positions[tok[k]:tok[k + 1]]
        inst.mlm_labels = labels[tok[k]:tok[k + 1]]
        inst.span_starts = span_starts[unit[k]:unit[k + 1]]
        inst.span_ends = span_ends[unit[k]:unit[k + 1]]
    return instances


def _starts_of(counts: np.ndarray) -> np.ndarray:
    """Where each of consecutive runs of `counts` items starts."""
    starts = np.zeros(len(counts), dtype=np.int64)
    counts[:-1].cumsum(out=starts[1:])
    return starts
