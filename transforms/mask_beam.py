"""The masking stage on Beam: Instance -> masked Instance (pure algorithm: transforms/mask.py)."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from core.config import MaskConfig
from transforms.accounting import MASKED_TOKENS, STATS_TAG, Counters
from transforms.coders import InstanceCoder  # noqa: F401 - registers the coder
from transforms.manifest import vocab_tokens
from transforms.mask import MaskVocab, mask_instances
from transforms.records import Instance
from vocab.artifacts import VOCAB_TXT, VocabArtifacts

BATCH = 256
"""Instances masked together: their generators are keyed in one vectorised hash."""


class _ApplyMasksFn(beam.DoFn):
    """Masks instances `BATCH` at a time (the rest at the end of the bundle); the few vocab
    facts masking needs come from the vocab side input, read once per worker (no tokenizer
    is built). Instances are in the global window, so a batch is emitted from any element."""

    def __init__(self, cfg: MaskConfig) -> None:
        self._cfg = cfg
        self.counters = Counters()

    def setup(self) -> None:
        self._vocab: MaskVocab | None = None

    def start_bundle(self) -> None:
        self._batch: list[Instance] = []

    def _masked(self) -> list[Instance]:
        masked = mask_instances(self._batch, self._cfg, self._vocab)
        self._batch = []
        self.counters.inc(MASKED_TOKENS, sum(len(inst.mlm_positions) for inst in masked))
        return masked

    def finish_bundle(self):
        if self._batch:
            for inst in self._masked():
                yield GlobalWindows.windowed_value(inst)
        yield from self.counters.flush()

    def process(self, inst: Instance, artifacts: VocabArtifacts):
        if self._vocab is None:
            self._vocab = MaskVocab.from_tokens(vocab_tokens(artifacts.files[VOCAB_TXT]))
        self._batch.append(inst)
        if len(self._batch) >= BATCH:
            yield from self._masked()


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
