"""The masking stage on Beam: Instance -> masked Instance (pure algorithm: transforms/mask.py)."""

from __future__ import annotations

import apache_beam as beam

from core.config import MaskConfig
from transforms.accounting import MASKED_TOKENS, STATS_TAG, Counters
from transforms.coders import InstanceCoder  # noqa: F401 - registers the coder
from transforms.mask import MaskVocab, mask_instance
from transforms.records import Instance
from vocab.encoder import Encoder


class _ApplyMasksFn(beam.DoFn):
    """Masks one instance; the vocab is given, read from `vocab_dir`, or a side input."""

    def __init__(self, cfg: MaskConfig, vocab: MaskVocab | None, vocab_dir: str | None,
                 lowercase: bool | None) -> None:
        self._cfg = cfg
        self._given = vocab
        self._vocab_dir = vocab_dir
        self._lowercase = lowercase
        self.counters = Counters()

    def setup(self) -> None:
        self._vocab = self._given
        if self._vocab_dir:
            encoder = Encoder.from_dir(self._vocab_dir, lowercase=self._lowercase)
            self._vocab = MaskVocab.from_encoder(encoder)

    def finish_bundle(self):
        yield from self.counters.flush()

    def process(self, inst: Instance, artifacts=None):
        if self._vocab is None:  # `all`: the vocab built upstream, once per worker
            self._vocab = MaskVocab.from_encoder(Encoder.from_artifacts(artifacts))
        inst = mask_instance(inst, self._cfg, self._vocab)
        yield inst
        self.counters.inc(MASKED_TOKENS, len(inst.mlm_positions))


class ApplyMasks(beam.PTransform):
    """PCollection[Instance] -> {"instances": masked instances, "stats": (name, n) pairs}.

    Give exactly one vocab source: `vocab_dir` (read on the workers, with `lowercase` for a
    dir holding only `vocab.txt`), `artifacts` (the single-element PCollection[VocabArtifacts]
    of `BuildVocab`, for `all`), or a ready `vocab` (a MaskVocab, for tests and benchmarks).
    """

    def __init__(self, cfg: MaskConfig, *, vocab_dir: str | None = None,
                 lowercase: bool | None = None, artifacts: beam.PCollection | None = None,
                 vocab: MaskVocab | None = None) -> None:
        super().__init__()
        if sum(x is not None for x in (vocab_dir, artifacts, vocab)) != 1:
            raise ValueError("ApplyMasks needs exactly one of vocab_dir, artifacts and vocab")
        self._fn = _ApplyMasksFn(cfg, vocab, vocab_dir, lowercase)
        self._artifacts = artifacts

    def expand(self, instances):
        side = [] if self._artifacts is None else [beam.pvalue.AsSingleton(self._artifacts)]
        outputs = instances | "MaskInstances" >> beam.ParDo(self._fn, *side).with_output_types(
            Instance).with_outputs(STATS_TAG, main="instances")
        return {"instances": outputs.instances, "stats": outputs[STATS_TAG]}
