"""`BuildVocab`: cleaned documents -> word counts -> WordPiece vocab dir (DESIGN.md data flow).

Counting scales out: each bundle of documents becomes one `WordCounts` (its sentences counted
in batches of ~1 MB of text, `BertWordSplitter.count`), and a CombineFn sums them (Beam lifts
it into per-worker partial combines before the shuffle, then merges globally), so no single
machine ever holds the corpus, only its distinct words. One accumulator per bundle rather
than one dict per document: a word's count crosses Python once per bundle, not once per
document it occurs in. Memory is
bounded by `VocabConfig.max_words_in_memory` distinct words per accumulator: above it the
rarest words are pruned (`vocab.train.prune_counts`) and the number of pruned entries and
occurrences is reported in `vocab_manifest.json` and the stats. Training then runs once, on the
global counts, in a single DoFn.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import apache_beam as beam
import tokenizers
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from core.config import VocabConfig, output_fields
from core.special_tokens import SPECIAL_TOKEN_LIST
from transforms.accounting import (
    DOCUMENTS_KEPT,
    STATS_TAG,
    VOCAB_DISTINCT_WORDS,
    VOCAB_ENTRIES,
    VOCAB_PRUNED_WORDS,
    Counters,
)
from transforms.manifest import vocab_tokens
from transforms.records import Document
from vocab.artifacts import VOCAB_TXT, VocabArtifacts, make_artifacts, write_artifacts
from vocab.jieba_segmenter import presegment
from vocab.pretokenize import BertWordSplitter
from vocab.rust_threads import use_one_rust_thread
from vocab.train import build_tokenizer, prune_counts, train_wordpiece

_BATCH_CHARS = 1 << 20
"""Characters of sentences `_CountWordsFn` gathers before counting them in one call."""


@dataclass
class WordCounts:
    """The combiner's accumulator: word counts plus what pruning threw away."""

    counts: dict[str, int] = field(default_factory=dict)
    documents: int = 0
    pruned_entries: int = 0
    pruned_occurrences: int = 0

    def prune(self, max_words: int) -> None:
        entries, occurrences = prune_counts(self.counts, max_words)
        self.pruned_entries += entries
        self.pruned_occurrences += occurrences

    def add(self, other: WordCounts) -> None:
        """Sum `other` into this one (counts, documents and what each pruned)."""
        counts = self.counts
        for word, n in other.counts.items():
            counts[word] = counts.get(word, 0) + n
        self.documents += other.documents
        self.pruned_entries += other.pruned_entries
        self.pruned_occurrences += other.pruned_occurrences


class _CountWordsFn(beam.DoFn):
    """Documents -> one `WordCounts` per bundle; the terminal consumer of documents in `vocab`.

    Sentences are gathered up to `_BATCH_CHARS` characters and counted in one call; the
    bundle's counts are pruned to `max_words` distinct words like any accumulator.
    """

    def __init__(self, lowercase: bool, zh_segmenter: str, count_kept: bool,
                 max_words: int) -> None:
        self._lowercase = lowercase
        self._jieba = zh_segmenter == "jieba"
        self._count_kept = count_kept
        self._max_words = max_words
        self.counters = Counters()

    def setup(self) -> None:
        self._pretok = BertWordSplitter(self._lowercase, handle_chinese_chars=not self._jieba)
        if self._jieba:
            from vocab.jieba_segmenter import get_jieba

            get_jieba()  # load the dictionary now, once per worker process

    def start_bundle(self) -> None:
        self._bundle = WordCounts(counts=Counter())
        self._pending: list[str] = []
        self._pending_chars = 0

    def process(self, doc: Document):
        if self._count_kept:
            self.counters.inc(DOCUMENTS_KEPT)
        self._bundle.documents += 1
        sentences = map(presegment, doc.sentences) if self._jieba else doc.sentences
        for sentence in sentences:
            self._pending.append(sentence)
            self._pending_chars += len(sentence)
        if self._pending_chars >= _BATCH_CHARS:
            self._count_pending()
        return ()

    def _count_pending(self) -> None:
        self._pretok.count(self._pending, self._bundle.counts)
        self._pending, self._pending_chars = [], 0
        self._bundle.prune(self._max_words)

    def finish_bundle(self):
        yield from self.counters.flush()
        self._count_pending()
        if self._bundle.documents:
            self._bundle.counts = dict(self._bundle.counts)
            yield WindowedValue(self._bundle, 0, (GlobalWindow(),))


class WordCountCombineFn(beam.CombineFn):
    """Sums the bundles' `WordCounts`, pruning each accumulator to `max_words` distinct words."""

    def __init__(self, max_words: int) -> None:
        self._max_words = max_words

    def create_accumulator(self) -> WordCounts:
        return WordCounts()

    def add_input(self, acc: WordCounts, bundle: WordCounts) -> WordCounts:
        acc.add(bundle)
        acc.prune(self._max_words)
        return acc

    def merge_accumulators(self, accumulators) -> WordCounts:
        it = iter(accumulators)
        merged = next(it)  # Beam lets a combiner mutate only the first accumulator
        for acc in it:
            merged.add(acc)
        merged.prune(self._max_words)
        return merged

    def extract_output(self, acc: WordCounts) -> WordCounts:
        return acc


class _TrainVocabFn(beam.DoFn):
    """The impulse (+ the global WordCounts) -> VocabArtifacts, written to `output_dir` when one
    is given."""

    def __init__(self, cfg: VocabConfig, output_dir: str | None) -> None:
        self._cfg = cfg
        self._output_dir = output_dir
        self.counters = Counters()

    def setup(self) -> None:
        use_one_rust_thread()

    def finish_bundle(self):
        yield from self.counters.flush()

    def process(self, _: bytes, wc: WordCounts):
        artifacts = train_vocab(wc, self._cfg)
        if self._output_dir:
            write_artifacts(artifacts, self._output_dir)
        self.counters.inc(VOCAB_DISTINCT_WORDS, len(wc.counts))
        self.counters.inc(VOCAB_PRUNED_WORDS, wc.pruned_entries)
        self.counters.inc(VOCAB_ENTRIES, len(vocab_tokens(artifacts.files[VOCAB_TXT])))
        yield artifacts


def train_vocab(wc: WordCounts, cfg: VocabConfig) -> VocabArtifacts:
    """Train on the global counts and assemble every file of the vocab dir."""
    tokens = train_wordpiece(wc.counts, vocab_size=cfg.vocab_size,
                             min_frequency=cfg.min_frequency, limit_alphabet=cfg.limit_alphabet,
                             special=SPECIAL_TOKEN_LIST, num_unused=cfg.num_unused)
    tokenizer = build_tokenizer({t: i for i, t in enumerate(tokens)}, lowercase=cfg.lowercase,
                                handle_chinese_chars=cfg.zh_segmenter == "none",
                                max_input_chars_per_word=cfg.max_input_chars_per_word)
    corpus = {
        "documents": wc.documents,
        "distinct_words": len(wc.counts),
        "word_occurrences": sum(wc.counts.values()),
        "pruned_entries": wc.pruned_entries,
        "pruned_occurrences": wc.pruned_occurrences,
    }
    config = {**output_fields(cfg), "tokenizers_version": tokenizers.__version__}
    return make_artifacts(tokens, tokenizer, config=config, corpus=corpus,
                          lowercase=cfg.lowercase, zh_segmenter=cfg.zh_segmenter)


class BuildVocab(beam.PTransform):
    """PCollection[Document] -> {"artifacts": one VocabArtifacts, "stats": (name, n) pairs}.

    `count_kept`: count `documents_kept` here (the `vocab` subcommand, where counting words is
    the documents' last stop); in `all` the packer counts them instead.
    """

    def __init__(self, cfg: VocabConfig, output_dir: str | None, count_kept: bool = True) -> None:
        super().__init__()
        self._cfg = cfg
        self._output_dir = output_dir
        self._count_kept = count_kept

    def expand(self, documents):
        counted = documents | "CountWords" >> beam.ParDo(
            _CountWordsFn(self._cfg.lowercase, self._cfg.zh_segmenter, self._count_kept,
                          self._cfg.max_words_in_memory)
        ).with_outputs(STATS_TAG, main="counts")
        # The counts without the global combine's default (an Impulse, 3 ParDos and a stage
        # of start-up): training starts from an Impulse, and a corpus with no words trains
        # on the side input's default, the empty counts.
        counts = counted.counts | "SumWordCounts" >> beam.CombineGlobally(
            WordCountCombineFn(self._cfg.max_words_in_memory)).without_defaults()
        trained = (
            documents.pipeline
            | "Once" >> beam.Impulse()
            | "TrainWordPiece" >> beam.ParDo(_TrainVocabFn(self._cfg, self._output_dir),
                                             beam.pvalue.AsSingleton(counts,
                                                                     default_value=WordCounts()))
            .with_outputs(STATS_TAG, main="artifacts")
        )
        stats = ((counted[STATS_TAG], trained[STATS_TAG])
                 | "FlattenVocabStats" >> beam.Flatten())
        return {"artifacts": trained.artifacts, "stats": stats}
