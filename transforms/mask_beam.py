"""The masking stage on Beam: Instance -> masked Instance (pure algorithm: transforms/mask.py)."""

from __future__ import annotations

import apache_beam as beam

from core.config import MaskConfig
from transforms.accounting import MASKED_TOKENS, STATS_TAG, Counters
from transforms.coders import InstanceCoder  # noqa: F401 - registers the coder
from transforms.manifest import vocab_tokens
from transforms.mask import MaskVocab, mask_instance
from transforms.records import Instance
from vocab.artifacts import VOCAB_TXT, VocabArtifacts


class _ApplyMasksFn(beam.DoFn):
    """Masks one instance; the few vocab facts masking needs come from the vocab side input,
    read once per worker (no tokenizer is built)."""

    def __init__(self, cfg: MaskConfig) -> None:
        self._cfg = cfg
        self.counters = Counters()

    def setup(self) -> None:
        self._vocab: MaskVocab | None = None

    def finish_bundle(self):
        yield from self.counters.flush()

    def process(self, inst: Instance, artifacts: VocabArtifacts):
        if self._vocab is None:
            self._vocab = MaskVocab.from_tokens(vocab_tokens(artifacts.files[VOCAB_TXT]))
        inst = mask_instance(inst, self._cfg, self._vocab)
        yield inst
        self.counters.inc(MASKED_TOKENS, len(inst.mlm_positions))


class ApplyMasks(beam.PTransform):
    """PCollection[Instance] -> {"instances": masked instances, "stats": (name, n) pairs}.

    `artifacts` is the single-element PCollection[VocabArtifacts] of the job (the embedded
    vocab dir of `shards`, or `BuildVocab`'s output in `all`).
    """

    def __init__(self, cfg: MaskConfig, artifacts: beam.PCollection) -> None:
        super().__init__()
        self._fn = _ApplyMasksFn(cfg)
        self._artifacts = artifacts

    def expand(self, instances):
        outputs = instances | "MaskInstances" >> beam.ParDo(
            self._fn, beam.pvalue.AsSingleton(self._artifacts)).with_output_types(
            Instance).with_outputs(STATS_TAG, main="instances")
        return {"instances": outputs.instances, "stats": outputs[STATS_TAG]}
