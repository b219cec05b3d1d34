"""Near-duplicate removal: MinHash signatures, LSH bands, connected components, one survivor.

Pure functions first, the `NearDeduplicate` PTransform last. The steps:

1. Shingles (`shingle_hashes`): the case-folded text as a stream of tokens, each a run of
   letters/digits or a single CJK character (Chinese has no spaces, so a CJK character is
   the unit, as in the cleaning word counts); a shingle is `ngram` consecutive tokens, so
   English gets word 5-grams (Lee et al. 2022, datatrove) and Chinese character 5-grams,
   and a mixed document gets both. Punctuation and spacing do not count. Tokens hash with
   CRC-32 and n-grams with a polynomial in uint64, so hashes are the same in every process
   and on every machine (never Python's salted `hash()`).
2. Signature (`minhash`): `bands * rows` MinHash values, each the minimum over the
   shingles of a multiply-add-shift hash `(a*x + b) >> 32` (a 2-universal family on 32-bit
   keys) with fixed seeded `a`, `b`; vectorised with numpy over chunks of shingles.
3. LSH: one bucket key per band (band index + its `rows` values). Documents that share a
   bucket are candidates.
4. Edges, per bucket (`_BucketEdgesFn`): the member with the smallest id is the bucket's
   centre; every other member whose estimated Jaccard with the centre (the fraction of equal
   signature values, on their low 16 bits) reaches the threshold is joined to it. Two
   passes over the bucket (a Beam group is re-iterable), so a bucket of a million
   near-identical pages is streamed, never held in memory, and gives a million edges, not
   a million squared.
5. Connected components (`_label_components`): min-label propagation, `LABEL_ROUNDS`
   rounds of "my label = the smallest label among me and my neighbours", each a join and a
   combine over the edges only. A document is a near-duplicate when its final label is a
   smaller id than its own: the smallest id of each component is never relabelled, so
   every cluster keeps exactly its smallest id when the rounds reach across it, and at
   least that one always (a path longer than `LABEL_ROUNDS` hops from the smallest id can
   leave an extra survivor, never a cluster without one).
6. The ids labelled with a smaller id reach the documents as a side input (ids only, so the
   texts never cross a shuffle); those documents are dropped and counted as
   `documents_dropped/near_duplicate`.

Survivor = the smallest id, as in exact dedup: it depends on nothing but the ids (not on
input order, runner, worker count or bundle sizes), and for the usual `<path>:<ordinal>`
ids it is the copy met first in the sorted input, which a user can predict.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable

import apache_beam as beam
import numpy as np

from core.cjk import KANA_AND_HAN_CLASS
from core.config import CleanConfig
from transforms.accounting import DROPPED_PREFIX, STATS_TAG, Counters, DropReason
from transforms.records import TextDocument
from transforms.spill import Payloads, SpillElements, spilled_elements

LABEL_ROUNDS = 3
"""Min-label propagation rounds: components up to 3 hops from their smallest id are exact.

Each round costs two shuffles of the edges; every bucket already joins its members to its
smallest id directly, so one hop covers a bucket and three hops a chain of three buckets."""
SEED = 20221201
_TOKEN_RE = re.compile(rf"[{KANA_AND_HAN_CLASS}]|[^\W{KANA_AND_HAN_CLASS}]+")
_NGRAM_MULT = np.uint64(0x100000001B3)  # FNV-1a 64-bit prime: odd, so the polynomial mixes
_CHUNK = 4096
_MASK32 = np.uint64(0xFFFFFFFF)
_EMPTY = np.zeros(0, np.uint64)


def shingle_hashes(text: str, ngram: int) -> np.ndarray:
    """Distinct uint64 hashes of the document's token n-grams (one n-gram if it is shorter)."""
    tokens = _TOKEN_RE.findall(text.casefold())
    if not tokens:
        return _EMPTY
    # `map` keeps the per-token calls in C (str.encode is UTF-8): no Python frame per token.
    hashes = np.fromiter(map(zlib.crc32, map(str.encode, tokens)), np.uint64, len(tokens))
    n = min(ngram, len(tokens))
    count = len(tokens) - n + 1
    acc = np.zeros(count, np.uint64)
    for j in range(n):
        acc = acc * _NGRAM_MULT + hashes[j:j + count]
    return np.unique(acc)


def permutations(num_perm: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """The fixed (a, b) of the hash family: odd 64-bit `a`, 64-bit `b`, from a seeded PCG64."""
    rng = np.random.Generator(np.random.PCG64(seed))
    a = rng.integers(0, 2**63, num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, num_perm, dtype=np.uint64)
    return a, b


def minhash(shingles: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """uint32 signature: per (a, b) the minimum of `(a*x + b) >> 32` over 32-bit folded shingles.

    Chunks of `_CHUNK` shingles bound the temporary matrix (`len(a)` x 4096 x 8 bytes).
    An empty document gets all-ones values; it has no band keys (see `band_keys`).
    """
    sig = np.full(len(a), 0xFFFFFFFF, np.uint64)
    folded = (shingles ^ (shingles >> np.uint64(32))) & _MASK32
    for start in range(0, len(folded), _CHUNK):
        x = folded[start:start + _CHUNK]
        values = (a[:, None] * x[None, :] + b[:, None]) >> np.uint64(32)
        np.minimum(sig, values.min(axis=1), out=sig)
    return sig.astype(np.uint32)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> list[bytes]:
    """One LSH bucket key per band: the band index and its `rows` signature values."""
    return [bytes((i,)) + sig[i * rows:(i + 1) * rows].tobytes() for i in range(bands)]


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """The fraction of equal MinHash values: an unbiased estimate of the Jaccard similarity."""
    return float(np.mean(sig_a == sig_b))


def verification_values(sig: np.ndarray) -> np.ndarray:
    """The low 16 bits of each signature value, what bucket members carry for verification.

    Each document travels once per band, so this halves the shuffle; two different values
    agree in their low bits with probability 2**-16, which raises an estimated Jaccard by
    at most that much.
    """
    return sig.astype(np.uint16)


class _SignatureFn(beam.DoFn):
    """TextDocument -> (bucket key, (id, 16-bit signature)) per band; none without shingles."""

    def __init__(self, cfg: CleanConfig) -> None:
        self._ngram = cfg.near_dedup_ngram
        self._bands = cfg.near_dedup_bands
        self._rows = cfg.near_dedup_rows

    def setup(self) -> None:
        self._a, self._b = permutations(self._bands * self._rows)

    def process(self, doc: TextDocument):
        shingles = shingle_hashes(doc.text, self._ngram)
        if len(shingles) == 0:
            return
        sig = minhash(shingles, self._a, self._b)
        member = (doc.id, verification_values(sig).tobytes())
        for key in band_keys(sig, self._bands, self._rows):
            yield key, member


class _BucketEdgesFn(beam.DoFn):
    """(bucket, members) -> (member id, centre id) for members close enough to the centre."""

    def __init__(self, threshold: float) -> None:
        self._threshold = threshold

    def process(self, bucket: tuple[bytes, Iterable[tuple[str, bytes]]]):
        _, members = bucket
        centre = None
        for member in members:  # first pass: the smallest id (and its signature)
            if centre is None or member[0] < centre[0]:
                centre = member
        centre_id = centre[0]
        centre_sig = np.frombuffer(centre[1], np.uint16)
        for member_id, sig in members:  # second pass: edges to the centre
            if member_id == centre_id:
                continue
            if estimated_jaccard(np.frombuffer(sig, np.uint16), centre_sig) >= self._threshold:
                yield member_id, centre_id


def _both_ways(edge: tuple[str, str]):
    u, v = edge
    yield u, v
    yield v, u


def _self_and_neighbour(edge: tuple[str, str]):
    u, v = edge
    yield u, min(u, v)


class _SpreadLabelFn(beam.DoFn):
    """(node, {"label": [l], "next": neighbours}) -> (node, l) and (neighbour, l) for each."""

    def process(self, grouped):
        node, parts = grouped
        label = min(parts["label"], default=node)
        yield node, label
        for neighbour in parts["next"]:
            yield neighbour, label


def _label_components(edges, rounds: int):
    """(u, v) edges -> (node, smallest id reached within `rounds` hops) for every endpoint."""
    directed = edges | "BothWays" >> beam.FlatMap(_both_ways)
    labels = (
        directed
        | "FirstLabel" >> beam.FlatMap(_self_and_neighbour)
        | "MinFirstLabel" >> beam.CombinePerKey(min)
    )
    for r in range(1, rounds):
        labels = (
            {"label": labels, "next": directed}
            | f"JoinLabels{r}" >> beam.CoGroupByKey()
            | f"SpreadLabels{r}" >> beam.ParDo(_SpreadLabelFn())
            | f"MinLabel{r}" >> beam.CombinePerKey(min)
        )
    return labels


def _is_near_duplicate(labelled: tuple[str, str]) -> bool:
    node, label = labelled
    return label < node


class _DropLabelledFn(beam.DoFn):
    """Payload of docs -> each doc unless its id is labelled with a smaller id (a
    near-duplicate).

    The labels of the near-duplicates reach the documents as a side input (ids only), so the
    documents never cross a shuffle (a join by id would hold every text decoded in a local
    run's grouping buffer); they wait for it as `spill.SpillElements` payloads, on a local
    run in spill files."""

    def __init__(self, spill_dir: str | None) -> None:
        self._payloads = Payloads(spill_dir)
        self.counters = Counters()

    def finish_bundle(self):
        yield from self.counters.flush()

    def process(self, payload: bytes, near_duplicates):
        for doc in spilled_elements(self._payloads, payload):
            if doc.id in near_duplicates:
                self.counters.inc(DROPPED_PREFIX + DropReason.NEAR_DUPLICATE.value)
            else:
                yield doc


class NearDeduplicate(beam.PTransform):
    """PCollection[TextDocument] -> {"documents": one per near-duplicate cluster, "stats"}."""

    def __init__(self, cfg: CleanConfig, spill_dir: str | None = None) -> None:
        super().__init__()
        self._cfg = cfg
        self._spill_dir = spill_dir

    def expand(self, docs):
        edges = (
            docs
            | "Signatures" >> beam.ParDo(_SignatureFn(self._cfg))
            | "GroupBuckets" >> beam.GroupByKey()
            | "BucketEdges" >> beam.ParDo(_BucketEdgesFn(self._cfg.near_dedup_threshold))
        )
        near_duplicates = (
            _label_components(edges, LABEL_ROUNDS)
            | "NearDuplicates" >> beam.Filter(_is_near_duplicate)
        )
        spilled = docs | "SpillDocuments" >> beam.ParDo(
            SpillElements(self._spill_dir)).with_output_types(bytes)
        out = spilled | "DropNearDuplicates" >> beam.ParDo(
            _DropLabelledFn(self._spill_dir), beam.pvalue.AsDict(near_duplicates)).with_outputs(
                STATS_TAG, main="documents")
        return {"documents": out.documents, "stats": out[STATS_TAG]}
