"""Counter names shared by the Beam wrappers, `summary.json` and the manifest.

Every exit path of a document has exactly one name here, so that
`documents_read = documents_kept + sum(documents_dropped) + documents_rejected` can be
checked from the counters alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from transforms.progress import PROCESS_PROGRESS

NAMESPACE = "bert_shards"


class DropReason(str, Enum):
    """Why a readable document was not kept. The value is the `summary.json` key."""

    EMPTY = "empty"
    TOO_FEW_WORDS = "too_few_words"
    TOO_MANY_WORDS = "too_many_words"
    MEAN_WORD_LENGTH = "mean_word_length"
    SYMBOL_RATIO = "symbol_ratio"
    ALPHA_RATIO = "alpha_ratio"
    REPEATED_LINES = "repeated_lines"
    BULLET_LINES = "bullet_lines"
    ELLIPSIS_LINES = "ellipsis_lines"
    LOREM_IPSUM = "lorem_ipsum"
    CODE = "code"
    TOO_FEW_SENTENCES = "too_few_sentences"
    DUPLICATE = "duplicate"
    NEAR_DUPLICATE = "near_duplicate"
    LANGUAGE = "language"
    NO_TOKENS = "no_tokens"
    NO_INSTANCE = "no_instance"


# Document-level counters.
DOCUMENTS_READ = "documents_read"
DOCUMENTS_KEPT = "documents_kept"
DOCUMENTS_REJECTED = "documents_rejected"
DROPPED_PREFIX = "documents_dropped/"
KEPT_BY_LANGUAGE_PREFIX = "documents_kept_by_language/"
"""Documents the cleaning stages keep, per detected language (`summary.json` object
`documents_kept_by_language`); equals `documents_kept` in total for `clean` and `vocab`."""
REJECTED_PREFIX = DOCUMENTS_REJECTED + "/"
"""`documents_rejected/<reason>`, one counter per reject reason below."""
FILES_READ = "files_read"
LINES_DROPPED_PREFIX = "lines_dropped/"
"""`lines_dropped/<rule>`: paragraph lines removed by a cleaning line rule."""

# Reject reasons: the `reason` field of rejects and the `documents_rejected/...` counters.
INVALID_UTF8 = "invalid_utf8"
INVALID_JSON = "invalid_json"
BINARY = "binary"
LINE_TOO_LONG = "line_too_long"
MISSING_FIELD = "missing_field"
UNTERMINATED_DOC = "unterminated_doc"
OUTSIDE_DOC = "outside_doc"
INVALID_PARQUET = "invalid_parquet"
UNREADABLE = "unreadable"
WRONG_TYPE = "wrong_type"
"""A JSONL/Parquet text field that holds something other than a string (e.g. bytes)."""
BROKEN_LINK = "broken_link"
"""A dangling symbolic link or a link loop matched by an input pattern."""
TRUNCATED = "truncated"
"""A compressed stream that ends before its end mark (read_streams)."""
CORRUPT_COMPRESSED_DATA = "corrupt_compressed_data"
"""A compressed stream the decompressor cannot decode (read_streams)."""

# Vocab counters.
VOCAB_DISTINCT_WORDS = "vocab_distinct_words"
VOCAB_PRUNED_WORDS = "vocab_pruned_words"
VOCAB_ENTRIES = "vocab_entries"
"""Tokens in the trained vocab.txt; above --vocab-size when the alphabet alone is larger."""
"""Distinct words the counting combiner pruned to stay under `--max-words-in-memory`."""

# Packing / masking / shard counters.
INSTANCES = "instances"
TOKENS = "tokens"
MASKED_TOKENS = "masked_tokens"
SHARDS = "shards"
"""Shard files written (empty shards included), counted by the shard writer."""
INSTANCES_LABEL_PREFIX = "instances_label/"
"""Instances per sentence_label (`instances_label/0`, `/1`, `/-1`), counted by the packer."""
SENTENCES_SPLIT = "sentences_split"
"""Sentences longer than the packing budget, cut into pieces instead of dropped."""
NSP_NEGATIVE_UNAVAILABLE = "nsp_negative_unavailable"
"""NSP pairs that wanted a random B but had no other document in their pool (label 0 instead)."""
PAIR_UNSPLITTABLE = "pair_unsplittable"
"""One-token chunks that cannot form an A/B pair and are skipped."""


def counter(name: str):
    """A Beam counter in the project namespace; create it in `__init__` or `setup`."""
    return Metrics.counter(NAMESPACE, name)


STATS_TAG = "stats"
"""Tagged output carrying `(counter_name, n)` pairs.

Counts travel as data as well as Beam Metrics: Metrics feed the runner's UI, while the
data path gives exact totals inside the pipeline itself, so `summary.json` and the shard
manifest are written by the pipeline on any runner without asking the launcher.
"""


class Counters:
    """Beam counters by name; the stats elements are summed per bundle, not sent per element.

    Sending one `(name, n)` element per document or instance would double the number of
    elements Beam moves (~10-40 us each), so `inc` only adds to a per-bundle tally and
    bumps the Beam metric; the DoFn emits the tally once at the end of the bundle with
    `yield from self.counters.flush()` in `finish_bundle`. Outputs are declared with
    `.with_outputs(STATS_TAG, main=...)`. Each count also feeds the local run's progress
    lines (`transforms/progress.py`).
    """

    def __init__(self) -> None:
        self._metrics: dict = {}
        self._tally: dict[str, int] = {}

    def inc(self, name: str, n: int = 1) -> None:
        metric = self._metrics.get(name)
        if metric is None:
            metric = self._metrics[name] = counter(name)
        metric.inc(n)
        self._tally[name] = self._tally.get(name, 0) + n
        PROCESS_PROGRESS.add(name, n)

    def flush(self) -> Iterator[beam.pvalue.TaggedOutput]:
        """The bundle's `(name, n)` stats as tagged, globally windowed outputs."""
        tally, self._tally = self._tally, {}
        PROCESS_PROGRESS.flush()
        for name, n in sorted(tally.items()):
            yield beam.pvalue.TaggedOutput(
                STATS_TAG, WindowedValue((name, n), 0, (GlobalWindow(),))
            )

    def __getstate__(self) -> dict:
        return {"_metrics": {}, "_tally": {}}
