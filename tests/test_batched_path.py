"""The batched path (pool-wide stream keys, documents as compact bytes, masking in batches)
gives the same instances and masks as the per-document path, on real English and Chinese text.

Per-document path: every document pass packed with its own `make_rng` generator (`TASKS[task]`
with no `rng`), every instance masked by `mask_instance` with its own `make_rng` generator.
Batched path, as the `shards` job runs it: documents cross the NSP-pool shuffle as
`coders.tokenized_bytes`, `pack_documents` keys all generators of a pool in one vectorised
hash, and `mask_instances` masks `mask_beam.BATCH` instances per call (one hash per batch).
"""

from __future__ import annotations

import dataclasses
import re

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from core.config import MaskConfig, PackConfig
from tests.corpora import corpus_path
from transforms import mask as mask_module
from transforms.coders import tokenized_bytes, tokenized_from_bytes
from transforms.manifest import vocab_tokens
from transforms.mask import MaskVocab, mask_instance, mask_instances
from transforms.mask_beam import BATCH, ApplyMasks
from transforms.pack import TASKS, NegativePool, SpecialIds, pack_documents, segment_for
from transforms.pack_beam import PackInstances
from transforms.records import Document, Instance
from transforms.tokenize import tokenize_document
from vocab.artifacts import VOCAB_TXT, VocabArtifacts
from vocab.encoder import Encoder

_ZH_SENTENCE = re.compile(r"(?<=[。！？])")
FIELDS = [f.name for f in dataclasses.fields(Instance)]


def _english() -> list[Document]:
    """The first 20 WikiExtractor articles, one sentence per non-empty line."""
    text = corpus_path("en/enwiki_wikiextractor_wiki_00.txt").read_text(encoding="utf-8")
    docs = []
    for n, part in enumerate(text.split("</doc>")[:20]):
        lines = [ln.strip() for ln in part.splitlines()]
        lines = [ln for ln in lines if ln and not ln.startswith("<doc")]
        if lines:
            docs.append(Document(f"en:{n}", "\n".join(lines), lines))
    return docs


def _chinese() -> list[Document]:
    """The first 40 THUCNews articles, cut after 。！？."""
    path = corpus_path("zh/thucnews_cnews_val_1000.tsv")
    docs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()[:40]):
        text = line.split("\t", 1)[1]
        docs.append(Document(f"zh:{n}", text, [s for s in _ZH_SENTENCE.split(text) if s]))
    return docs


@pytest.fixture(scope="module", params=["en", "zh"])
def corpus(request):
    """(tokenized documents, MaskVocab, SpecialIds) of one language."""
    docs, vocab = {"en": (_english, "bert_base_uncased"),
                   "zh": (_chinese, "bert_base_chinese")}[request.param]
    vocab_dir = corpus_path(f"vocab/{vocab}")
    encoder = Encoder.from_dir(str(vocab_dir), lowercase=True)
    tokenized = [t for d in docs() if (t := tokenize_document(d, encoder, request.param == "zh"))]
    vocab_txt = (vocab_dir / "vocab.txt").read_bytes()
    return (tokenized, MaskVocab.from_tokens(vocab_tokens(vocab_txt)),
            SpecialIds(encoder.cls_id, encoder.sep_id), vocab_txt)


def _configs(task: str, masking: str) -> tuple[PackConfig, MaskConfig]:
    return (PackConfig(task=task, max_seq_length=128, dupe_factor=2, seed=77),
            MaskConfig(masking=masking, max_predictions_per_seq=20, seed=77))


def _per_document(docs, pack_cfg, mask_cfg, vocab, specials) -> list[Instance]:
    segmented = [segment_for(d, pack_cfg) for d in docs]
    pool = NegativePool(segmented) if pack_cfg.task == "nsp" else None
    task = TASKS[pack_cfg.task]
    return [mask_instance(inst, mask_cfg, vocab)
            for sd in (pool.docs if pool is not None else segmented)
            for p in range(pack_cfg.dupe_factor)
            for inst in task(sd, p, pack_cfg, specials, pool)]


def _batched(docs, pack_cfg, mask_cfg, vocab, specials) -> list[Instance]:
    crossed = [tokenized_from_bytes(tokenized_bytes(d), stored_ids=True)  # the pool shuffle
               for d in docs]
    instances = [i for _, insts in pack_documents(crossed, pack_cfg, specials) for i in insts]
    return [m for k in range(0, len(instances), BATCH)
            for m in mask_instances(instances[k:k + BATCH], mask_cfg, vocab)]


def _row(inst: Instance) -> str:
    """Every field, arrays with their dtype, as one string (fast to compare in `equal_to`)."""
    return repr(tuple((v.dtype.str, v.tolist()) if isinstance(v, np.ndarray) else v
                      for v in (getattr(inst, name) for name in FIELDS)))


@pytest.mark.parametrize("task", ["nsp", "sop"])
@pytest.mark.parametrize("masking", ["token", "wwm", "span", "ngram"])
def test_batched_path_gives_the_per_document_instances_and_masks(corpus, task, masking):
    docs, vocab, specials, _ = corpus
    pack_cfg, mask_cfg = _configs(task, masking)
    expected = [_row(i) for i in _per_document(docs, pack_cfg, mask_cfg, vocab, specials)]
    got = [_row(i) for i in _batched(docs, pack_cfg, mask_cfg, vocab, specials)]
    assert len(expected) > BATCH  # two mask batches at least, the last one partial
    assert got == expected


def test_beam_stages_give_the_per_document_instances_and_masks(corpus):
    """PackInstances (documents as compact bytes across GroupByPool) + ApplyMasks (batches)."""
    docs, vocab, specials, vocab_txt = corpus
    pack_cfg, mask_cfg = _configs("nsp", "span")
    pack_cfg = dataclasses.replace(pack_cfg, nsp_pool_size=10 ** 6)  # one pool, as the reference
    expected = [_row(i) for i in _per_document(docs, pack_cfg, mask_cfg, vocab, specials)]
    artifacts = VocabArtifacts(files={VOCAB_TXT: vocab_txt}, manifest={})
    with TestPipeline(runner="FnApiRunner") as p:
        packed = (p | "Docs" >> beam.Create(docs)
                  | PackInstances(pack_cfg, specials.cls_id, specials.sep_id))
        masked = packed["instances"] | ApplyMasks(mask_cfg, p | "Vocab" >> beam.Create([artifacts]))
        assert_that(masked["instances"] | beam.Map(_row), equal_to(expected))


def _crafted_batch(seed: int) -> list[Instance]:
    """Random pair and single-segment instances of random lengths with [MASK], [PAD] and
    [SEP] inside the text, and the edge cases: nothing maskable, one maskable token."""
    rng = np.random.default_rng(seed)
    instances = []
    for k in range(300):
        n = int(rng.integers(2, 90))
        ids = rng.integers(5, 200, size=n).astype(np.int32)
        ids[rng.random(n) < 0.03] = MASK_ID
        ids[rng.random(n) < 0.02] = SEP_ID
        ids[0], ids[-1] = CLS_ID, SEP_ID
        a_len = int(rng.integers(2, n)) if n > 3 and k % 2 else n
        if a_len < n:
            ids[a_len - 1] = SEP_ID
        instances.append(Instance(seed, k % 3, k, ids, rng.random(n) < 0.6, a_len, k % 2))
    instances += [Instance(seed, 0, 1000 + k, np.asarray(ids, np.int32),
                           np.ones(len(ids), bool), a_len, -1)
                  for k, (ids, a_len) in enumerate((([CLS_ID, SEP_ID], 2),
                                                    ([CLS_ID, 9, SEP_ID], 3),
                                                    ([CLS_ID, MASK_ID, SEP_ID], 3),
                                                    ([CLS_ID, 9, SEP_ID, SEP_ID], 3)))]
    return instances


PAD_ID, CLS_ID, SEP_ID, MASK_ID = 0, 2, 3, 4
TOY_VOCAB = MaskVocab(MASK_ID, np.isin(np.arange(200), [PAD_ID, CLS_ID, SEP_ID, MASK_ID]),
                      np.arange(5, 200, dtype=np.int32))


@pytest.mark.parametrize("masking", ["token", "wwm", "span", "ngram"])
@pytest.mark.parametrize("prob", [0.0, 0.15, 0.5, 1.0])
def test_mask_instances_is_mask_instance_on_crafted_batches(masking, prob):
    """Every mode and budget, with specials inside the text, empty and one-token budgets,
    and a batch that ends in instances with nothing to mask."""
    cfg = MaskConfig(masking=masking, masked_lm_prob=prob, max_predictions_per_seq=30,
                     seed=5)
    expected = [_row(mask_instance(i, cfg, TOY_VOCAB)) for i in _crafted_batch(1)]
    assert [_row(i) for i in mask_instances(_crafted_batch(1), cfg, TOY_VOCAB)] == expected


@pytest.mark.parametrize("masking", ["token", "span"])
def test_an_instance_whose_replacement_draw_numpy_rejects_is_masked_its_own_way(
        masking, monkeypatch):
    """Rejections need ~2**31 replacement ids to be frequent, so they are simulated: every
    7th replacement value comes back wrong and flagged. Those instances must be masked
    again by the per-instance path, and the batch must still equal `mask_instance`."""
    real = mask_module.bounded_from_uint32
    flagged = []

    def rejecting(draws, n):
        values, rejected = real(draws, n)
        rejected[::7] = True
        values[rejected] = 0  # what a rejected draw gives is not numpy's value
        flagged.append(int(rejected.sum()))
        return values, rejected

    monkeypatch.setattr(mask_module, "bounded_from_uint32", rejecting)
    cfg = MaskConfig(masking=masking, max_predictions_per_seq=30, seed=5)
    expected = [_row(mask_instance(i, cfg, TOY_VOCAB)) for i in _crafted_batch(2)]
    assert [_row(i) for i in mask_instances(_crafted_batch(2), cfg, TOY_VOCAB)] == expected
    assert sum(flagged) > 5
