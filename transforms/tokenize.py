"""Tokenizing cleaned documents: Document -> TokenizedDocument (DESIGN.md "tokenize").

One `encode_document` call per document sends all its sentences to the Rust tokenizer in a
batch. Sentences that produce no tokens are dropped, like Google's `create_pretraining_data`
drops lines that tokenize to nothing; a document left without tokens is counted as
`documents_dropped/no_tokens` (the packer counts every other document as kept or
`no_instance`).

The encoder is built once per worker, lazily, from the job's `VocabArtifacts` side input (the
vocab dir the launcher embedded for `shards`, or the vocab `BuildVocab` trained in `all`).

In `all` the documents must wait for the vocab to be trained, across a stage boundary that a
local runner holds in RAM; whole, they took ~5-6x the corpus there (`all`'s peak 705 vs 470 MB
on 40 MB, `benchmarks/bench_scale.py --job all`). So on a local run they come as
`SpillElements` payloads (transforms/spill.py: spill files, only references in RAM), and
`TokenizeDocuments(spilled=True, spill_dir=...)` reads them back inside the encoding DoFn,
after the boundary.
"""

from __future__ import annotations

import apache_beam as beam
import numpy as np

from transforms.accounting import DROPPED_PREFIX, STATS_TAG, Counters, DropReason
from transforms.coders import TokenizedDocumentCoder  # noqa: F401 - registers the coder
from transforms.progress import DOCUMENTS_TOKENIZED, PROCESS_PROGRESS
from transforms.records import Document, TokenizedDocument
from transforms.rng import doc_id_hash
from transforms.spill import Payloads, spilled_elements
from vocab.artifacts import VocabArtifacts
from vocab.encoder import Encoder
from vocab.rust_threads import use_one_rust_thread


def tokenize_document(doc: Document, encoder: Encoder, zh_word_starts: bool = False
                      ) -> TokenizedDocument | None:
    """The document's non-empty sentences as flat ids; None if no sentence has a token."""
    ids, word_starts, offsets = encoder.encode_document(doc.sentences, zh_word_starts)
    if len(ids) == 0:
        return None
    nonempty = offsets[1:] != offsets[:-1]
    if not nonempty.all():  # keep the ends of the sentences with tokens
        offsets = np.concatenate([offsets[:1], offsets[1:][nonempty]])
    return TokenizedDocument(
        id=doc.id, doc_id=doc_id_hash(doc.id),
        ids=ids.astype(np.int32, copy=False), word_starts=word_starts.astype(bool, copy=False),
        offsets=offsets.astype(np.int64, copy=False),
    )


class _TokenizeFn(beam.DoFn):
    """Encodes one document with the encoder of the artifacts side input."""

    def __init__(self, zh_word_starts: bool) -> None:
        self._zh_word_starts = zh_word_starts
        self.counters = Counters()

    def setup(self) -> None:
        use_one_rust_thread()
        self._encoder: Encoder | None = None

    def _encoder_for(self, artifacts: VocabArtifacts) -> Encoder:
        if self._encoder is None:  # once per worker
            self._encoder = Encoder.from_artifacts(artifacts)
        return self._encoder

    def finish_bundle(self):
        yield from self.counters.flush()

    def process(self, doc: Document, artifacts: VocabArtifacts):
        tokenized = tokenize_document(doc, self._encoder_for(artifacts), self._zh_word_starts)
        PROCESS_PROGRESS.add(DOCUMENTS_TOKENIZED, 1)
        if tokenized is None:
            self.counters.inc(DROPPED_PREFIX + DropReason.NO_TOKENS.value)
            return
        yield tokenized


class _TokenizeSpilledFn(_TokenizeFn):
    """`_TokenizeFn` over the documents of `SpillElements` payloads."""

    def __init__(self, zh_word_starts: bool, spill_dir: str | None) -> None:
        super().__init__(zh_word_starts)
        self._payloads = Payloads(spill_dir)

    def process(self, payload: bytes, artifacts: VocabArtifacts):
        for doc in spilled_elements(self._payloads, payload):
            yield from super().process(doc, artifacts)


class TokenizeDocuments(beam.PTransform):
    """PCollection[Document] -> {"documents": PCollection[TokenizedDocument], "stats": ...}.

    `artifacts` is the single-element PCollection[VocabArtifacts] of the job. With `spilled`,
    the input is `SpillElements(spill_dir)` payloads of the documents instead.
    """

    def __init__(self, artifacts: beam.PCollection, zh_word_starts: bool = False,
                 spilled: bool = False, spill_dir: str | None = None) -> None:
        super().__init__()
        self._fn = (_TokenizeSpilledFn(zh_word_starts, spill_dir) if spilled
                    else _TokenizeFn(zh_word_starts))
        self._artifacts = artifacts

    def expand(self, documents):
        outputs = (
            documents
            | "Encode" >> beam.ParDo(self._fn, beam.pvalue.AsSingleton(self._artifacts))
            .with_output_types(TokenizedDocument)
            .with_outputs(STATS_TAG, main="documents")
        )
        return {"documents": outputs.documents, "stats": outputs[STATS_TAG]}
