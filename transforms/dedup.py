"""Exact document deduplication across the whole corpus.

Key: a 128-bit BLAKE2 hash of the cleaned text, case-folded and with all whitespace
removed (so re-wrapped or re-cased copies match). Survivor: the duplicate with the
smallest id, whatever the input order or runner; copies that share that id too are told
apart by a fingerprint of the whole document (`DocRef`), so the survivor never depends on
which copy a worker met first. `duplicate` counts every other copy.

Only small references cross the shuffle, never the text: each document is keyed once
(`key_documents`, in the DoFn of the cleaning steps before it, which emits its reference too),
a combiner keeps per key the smallest `DocRef` and the number of copies (combiner lifting,
so a key with a million copies never materialises a list, TFDS C4's lesson), and the keys
that have copies reach the documents as a side input (`Survivors`: key -> survivor) that
drops every copy but the survivor. Meanwhile the documents wait as batches of pickled
`(key, document)`, on a local run in spill files with only references to them in the
runner's RAM (transforms/spill.py; so do the survivors on their way out of the `Survivors`
flatten): held by a combiner or grouping buffer they would cost ~3 copies of the corpus
text (benchmarks/bench_scale.py). Copies that
share the survivor's id *and* fingerprint are the same document; they alone are grouped
(a rare, small shuffle) to keep one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

import apache_beam as beam

from transforms.accounting import DROPPED_PREFIX, STATS_TAG, Counters, DropReason
from transforms.doc_steps import ApplySteps, DocStep
from transforms.records import TextDocument
from transforms.spill import Payloads, SpillElements, UnspillElements, spilled_elements

_DUPLICATE = DROPPED_PREFIX + DropReason.DUPLICATE.value
_TWINS_TAG = "twins"
REFS_TAG = "refs"


_ASCII_SPACES = b" \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"
_OTHER_SPACE_RE = re.compile("[\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
"""With `_ASCII_SPACES`, every character `str.split` splits at (a test checks each code point)."""


def dedup_key(text: str) -> bytes:
    """The duplicate-detection key of a cleaned text: its case-folded UTF-8 without any
    whitespace. Cleaned text has no whitespace besides spaces and line breaks, so the
    spaces are deleted from the bytes (one C pass) rather than by splitting into words."""
    folded = text.casefold()
    if _OTHER_SPACE_RE.search(folded) is None:
        data = folded.encode("utf-8").translate(None, _ASCII_SPACES)
    else:
        data = "".join(folded.split()).encode("utf-8")
    return hashlib.blake2b(data, digest_size=16).digest()


def fingerprint(doc: TextDocument) -> bytes:
    """A 128-bit hash of every field of the document: equal only for identical documents."""
    h = hashlib.blake2b(digest_size=16)
    for part in (doc.id, doc.text, doc.source, doc.lang):
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    h.update(b"\x01" if doc.presplit else b"\x00")
    return h.digest()


class DocRef(NamedTuple):
    """What dedup shuffles for a document: its id and fingerprint; orders by id first."""

    id: str
    fingerprint: bytes


def doc_ref(doc: TextDocument) -> DocRef:
    return DocRef(doc.id, fingerprint(doc))


class Survivor(NamedTuple):
    """Per key: the smallest reference, how many documents carry exactly it, all copies."""

    ref: DocRef
    twins: int
    copies: int


def merge_survivors(a: Survivor, b: Survivor) -> Survivor:
    """Merge two accumulators: the smaller reference survives, copies add up."""
    if a.ref == b.ref:
        return Survivor(a.ref, a.twins + b.twins, a.copies + b.copies)
    first = a if a.ref < b.ref else b
    return Survivor(first.ref, first.twins, a.copies + b.copies)


class _SmallestRefFn(beam.CombineFn):
    """Accumulator: a `Survivor` (as a plain tuple after a shuffle), or None."""

    def create_accumulator(self) -> Survivor | None:
        return None

    def add_input(self, acc: Survivor | None, ref: DocRef) -> Survivor:
        one = Survivor(DocRef(*ref), 1, 1)
        return one if acc is None else merge_survivors(Survivor(*acc), one)

    def merge_accumulators(self, accs: Iterable[Survivor | None]) -> Survivor | None:
        merged = None
        for acc in accs:
            if acc is not None:
                acc = Survivor(DocRef(*acc[0]), acc[1], acc[2])
                merged = acc if merged is None else merge_survivors(merged, acc)
        return merged

    def extract_output(self, acc: Survivor | None) -> Survivor | None:
        return acc


def _has_copies(keyed: tuple[bytes, Survivor]) -> bool:
    return keyed[1][2] > 1


def _keyed_outputs(doc: TextDocument) -> Iterator:
    """What `key_documents` emits per document: (key, document), and (key, its `DocRef`)
    tagged `REFS_TAG` for the survivor combine."""
    key = dedup_key(doc.text)
    yield key, doc
    yield beam.pvalue.TaggedOutput(REFS_TAG, (key, doc_ref(doc)))


def key_documents(steps: Sequence[DocStep]) -> ApplySteps:
    """PCollection[TextDocument] -> {"documents": (key, document), REFS_TAG: (key, DocRef),
    "stats"}: the input of `DeduplicateDocuments`, after `steps` (the cleaning steps of
    `CleanCorpus`, fused into the same DoFn; none in tests)."""
    return ApplySteps(steps, emit=_keyed_outputs, tags=(REFS_TAG,))


class _DropCopiesFn(beam.DoFn):
    """Payload of (key, doc) -> each doc unless a copy with a smaller reference survives; the
    survivor's twins (same reference) go to `twins` to be grouped; dropped copies count as
    `duplicate`."""

    def __init__(self, spill_dir: str | None) -> None:
        self._payloads = Payloads(spill_dir)
        self.counters = Counters()

    def finish_bundle(self):
        yield from self.counters.flush()

    def process(self, payload: bytes, survivors):
        for key, doc in spilled_elements(self._payloads, payload):
            survivor = survivors.get(key)
            if survivor is None:
                yield doc
                continue
            ref, twins, _ = survivor
            # Most copies differ from the survivor by id: hash the text only when ids tie.
            if doc.id != ref[0] or fingerprint(doc) != ref[1]:
                self.counters.inc(_DUPLICATE)
            elif twins == 1:
                yield doc
            else:
                yield beam.pvalue.TaggedOutput(_TWINS_TAG, (key, doc))


class _KeepOneTwinFn(beam.DoFn):
    """(key, identical documents) -> one of them; the others count as `duplicate`."""

    def __init__(self) -> None:
        self.counters = Counters()

    def finish_bundle(self):
        yield from self.counters.flush()

    def process(self, grouped):
        _, docs = grouped
        it = iter(docs)
        yield next(it)
        self.counters.inc(_DUPLICATE, sum(1 for _ in it))


class DeduplicateDocuments(beam.PTransform):
    """`key_documents`' output -> {"documents": one TextDocument per distinct text, "stats"}.

    With a `spill_dir` (local runs) the documents wait for the survivors in spill files.
    """

    def __init__(self, spill_dir: str | None = None) -> None:
        super().__init__()
        self._spill_dir = spill_dir

    def expand(self, keyed_docs):
        keyed, refs = keyed_docs["documents"], keyed_docs[REFS_TAG]
        survivors = (
            refs
            | "SmallestRef" >> beam.CombinePerKey(_SmallestRefFn())
            | "WithCopies" >> beam.Filter(_has_copies)
        )
        spilled = keyed | "SpillDocuments" >> beam.ParDo(
            SpillElements(self._spill_dir)).with_output_types(bytes)
        kept = spilled | "DropCopies" >> beam.ParDo(
            _DropCopiesFn(self._spill_dir), beam.pvalue.AsDict(survivors)).with_outputs(
                STATS_TAG, _TWINS_TAG, main="documents")
        twins = (
            kept[_TWINS_TAG]
            | "GroupTwins" >> beam.GroupByKey()
            | "KeepOneTwin" >> beam.ParDo(_KeepOneTwinFn()).with_outputs(
                STATS_TAG, main="documents")
        )
        documents = (
            (kept.documents | "SpillKept" >> beam.ParDo(SpillElements(self._spill_dir))
             .with_output_types(bytes),
             twins.documents | "SpillTwins" >> beam.ParDo(SpillElements(self._spill_dir))
             .with_output_types(bytes))
            | "Survivors" >> beam.Flatten()
            | "Documents" >> beam.ParDo(UnspillElements(self._spill_dir))
        )
        stats = (kept[STATS_TAG], twins[STATS_TAG]) | "DedupStats" >> beam.Flatten()
        return {"documents": documents, "stats": stats}
