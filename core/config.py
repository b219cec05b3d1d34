"""One frozen config dataclass per stage; `beam_runner.py` builds them from the CLI.

Each `__post_init__` rejects bad values with a `UserError` that quotes the value, so no
Namespace or dict goes below the CLI. `output_fields()` lists the fields that define the
output; they are written to manifests and hashed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from core.errors import UserError
from core.special_tokens import SPECIAL_TOKEN_LIST

FORMATS = ("auto", "text", "jsonl", "parquet", "wikiextractor")
TASKS = ("nsp", "sop", "none")
MASKINGS = ("token", "wwm", "span", "ngram")
ZH_SEGMENTERS = ("none", "jieba")
COMPRESSIONS = ("none", "zstd", "lz4")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UserError(f"--{name} must be one of {', '.join(choices)}; got {value!r}")


def _check_range(name: str, value: float, lo: float, hi: float) -> None:
    if not lo <= value <= hi:
        raise UserError(f"--{name} must be in [{lo}, {hi}]; got {value!r}")


NOT_OUTPUT = {"defines_output": False}
"""Field metadata: the field changes how a run works, never what it writes (kept out of
manifests and their hash)."""


def output_fields(config: object) -> dict:
    """The config as a JSON-able dict, for manifests and hashing."""
    return {f.name: _output_value(getattr(config, f.name))
            for f in dataclasses.fields(config) if f.metadata != NOT_OUTPUT}


def _output_value(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return output_fields(value)
    return value


@dataclass(frozen=True)
class ReadConfig:
    """Where the corpus comes from and how to parse it."""

    inputs: tuple[str, ...] = ()
    format: str = "auto"
    text_field: str = "text"
    id_field: str | None = None
    max_line_bytes: int = 1 << 20
    """Longer records are rejected as `line_too_long` instead of being held in memory."""
    split_bytes: int = field(default=64 << 20, metadata=NOT_OUTPUT)
    """Uncompressed text/JSONL/WikiExtractor files are read in byte ranges of this size, in
    parallel; the output is the same for every size."""

    def __post_init__(self) -> None:
        _check_choice("format", self.format, FORMATS)
        if self.max_line_bytes < 1024:
            raise UserError(f"--max-line-bytes must be >= 1024; got {self.max_line_bytes!r}")
        if self.split_bytes < 1:
            raise UserError(f"--input-split-bytes must be >= 1; got {self.split_bytes!r}")


@dataclass(frozen=True)
class CleanConfig:
    """Normalisation and C4/Gopher-style filters; thresholds count CJK characters as words."""

    normalization: str = "NFC"
    min_words: int = 20
    max_words: int = 1_000_000
    min_mean_word_length: float = 1.0
    max_mean_word_length: float = 15.0
    max_symbol_ratio: float = 0.1
    min_alpha_ratio: float = 0.6
    max_repeated_line_fraction: float = 0.3
    max_bullet_line_fraction: float = 0.9
    max_ellipsis_line_fraction: float = 0.3
    min_sentences: int = 1
    drop_lorem_ipsum: bool = True
    drop_code: bool = False
    dedup: bool = True
    strip_wiki_markup: bool = True
    """Remove [1]/[edit]/[citation needed], -{zh-cn:..}- conversion markup, empty brackets."""
    drop_boilerplate_lines: bool = True
    """Drop lines with cookie/privacy-policy or 'enable JavaScript' phrases (C4, narrowed)."""
    min_line_words: int = 3
    """Paragraph lines with fewer words (CJK chars count) are dropped: headings, titles."""
    require_end_mark: bool = False
    """C4: drop paragraph lines not ending in . ! ? " (or a CJK end mark)."""

    def __post_init__(self) -> None:
        _check_choice("normalization", self.normalization, ("NFC", "NFKC"))
        for name in ("max_symbol_ratio", "min_alpha_ratio", "max_repeated_line_fraction",
                     "max_bullet_line_fraction", "max_ellipsis_line_fraction"):
            _check_range(name.replace("_", "-"), getattr(self, name), 0.0, 1.0)
        if self.min_words < 0 or self.max_words < self.min_words:
            raise UserError(
                f"--min-words/--max-words out of order: {self.min_words}, {self.max_words}"
            )


@dataclass(frozen=True)
class VocabConfig:
    """WordPiece training options (DESIGN.md `vocab`)."""

    vocab_size: int = 30522
    min_frequency: int = 2
    limit_alphabet: int = 1000
    lowercase: bool = True
    zh_segmenter: str = "none"
    num_unused: int = 0
    max_input_chars_per_word: int = 100
    max_words_in_memory: int = 5_000_000
    """Distinct words kept by the counting combiner; rarer ones are pruned and counted."""

    def __post_init__(self) -> None:
        _check_choice("zh-segmenter", self.zh_segmenter, ZH_SEGMENTERS)
        if self.vocab_size < len(SPECIAL_TOKEN_LIST) + self.num_unused + 1:
            raise UserError(f"--vocab-size too small: {self.vocab_size}")
        if self.min_frequency < 1:
            raise UserError(f"--min-frequency must be >= 1; got {self.min_frequency}")
        if self.max_words_in_memory < 100:
            raise UserError(
                f"--max-words-in-memory must be >= 100; got {self.max_words_in_memory}"
            )


@dataclass(frozen=True)
class PackConfig:
    """Instance packing (Google's create_instances_from_document; DESIGN.md Algorithms)."""

    task: str = "nsp"
    max_seq_length: int = 512
    short_seq_prob: float = 0.1
    dupe_factor: int = 1
    seed: int = 12345
    nsp_pool_size: int = 1000
    """Documents per NSP negative pool; pools are random over the whole corpus."""

    def __post_init__(self) -> None:
        _check_choice("task", self.task, TASKS)
        if not 8 <= self.max_seq_length <= 65535:
            raise UserError(f"--max-seq-length must be in [8, 65535]; got {self.max_seq_length}")
        _check_range("short-seq-prob", self.short_seq_prob, 0.0, 1.0)
        if not 1 <= self.dupe_factor <= 255:
            raise UserError(f"--dupe-factor must be in [1, 255]; got {self.dupe_factor}")
        if self.nsp_pool_size < 2:
            raise UserError(f"--nsp-pool-size must be >= 2; got {self.nsp_pool_size}")


@dataclass(frozen=True)
class MaskConfig:
    """Static masking (DESIGN.md Algorithms)."""

    masking: str = "token"
    masked_lm_prob: float = 0.15
    max_predictions_per_seq: int = 77
    span_p: float = 0.2
    span_max: int = 10
    max_ngram: int = 3
    seed: int = 12345

    def __post_init__(self) -> None:
        _check_choice("masking", self.masking, MASKINGS)
        _check_range("masked-lm-prob", self.masked_lm_prob, 0.0, 1.0)
        _check_range("span-p", self.span_p, 1e-6, 1.0)
        if self.max_predictions_per_seq < 1:
            raise UserError(
                f"--max-predictions-per-seq must be >= 1; got {self.max_predictions_per_seq}"
            )
        if self.span_max < 1 or self.max_ngram < 1:
            raise UserError(
                f"--span-max and --max-ngram must be >= 1; got {self.span_max}, {self.max_ngram}"
            )


@dataclass(frozen=True)
class ShardConfig:
    """Arrow shard output (DESIGN.md Shard dir)."""

    output: str = ""
    num_shards: int = 16
    compression: str = "none"
    overwrite: bool = False
    seed: int = 12345
    packed: bool = False
    """Rows of up to max_seq_length tokens holding several complete instances (schema v2)."""
    max_sequences_per_row: int = 3

    def __post_init__(self) -> None:
        _check_choice("compression", self.compression, COMPRESSIONS)
        if not 1 <= self.num_shards <= 99999:
            raise UserError(f"--num-shards must be in [1, 99999]; got {self.num_shards}")
        if not 1 <= self.max_sequences_per_row <= 255:
            raise UserError("--max-sequences-per-row must be in [1, 255]; "
                            f"got {self.max_sequences_per_row}")


@dataclass(frozen=True)
class ShardsJobConfig:
    """Everything `shards` needs below the CLI."""

    read: ReadConfig = field(default_factory=ReadConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    pack: PackConfig = field(default_factory=PackConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)
    shard: ShardConfig = field(default_factory=ShardConfig)
    vocab_dir: str = ""
    lowercase: bool | None = None
    """Only for a vocab dir holding just `vocab.txt`; otherwise the vocab manifest decides."""
    zh_segmenter: str = "none"
    """`jieba`: whole-word boundaries over CJK tokens come from jieba words."""

    def __post_init__(self) -> None:
        _check_choice("zh-segmenter", self.zh_segmenter, ZH_SEGMENTERS)
