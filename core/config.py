"""One frozen config dataclass per stage; `beam_runner.py` builds them from the CLI.

Each `__post_init__` rejects bad values with a `UserError` that quotes the value, so no
Namespace or dict goes below the CLI. A job config (`ShardsJobConfig`) holds its stage configs,
the one `seed`, and where output goes; its constructor derives the defaults that depend on
other fields. Each class names the fields that define the output in `OUTPUT_FIELDS`
(`output_fields()` collects them for manifests and `config_sha256`); the others only say
where input comes from or output goes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

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


MAX_SEED = (1 << 63) - 1


def _check_int(name: str, value: int, lo: int, hi: int | None = None) -> None:
    """An integer flag in [lo, hi] (no upper bound when `hi` is None)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (
            hi is not None and value > hi):
        bound = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise UserError(f"--{name} must be an integer {bound}; got {value!r}")


def output_fields(config: object) -> dict:
    """The fields of `config` that define the output (its `OUTPUT_FIELDS`), nested configs
    likewise, as a JSON-able dict: what manifests record and `config_sha256` hashes."""
    out = {}
    for name in type(config).OUTPUT_FIELDS:
        value = getattr(config, name)
        out[name] = output_fields(value) if hasattr(type(value), "OUTPUT_FIELDS") else value
    return out


def default_max_predictions(max_seq_length: int) -> int:
    """Google's ratio: 20 predictions for 128 tokens, 77 for 512 (round(0.15 * length))."""
    return max(1, round(0.15 * max_seq_length))


@dataclass(frozen=True)
class ReadConfig:
    """Where the corpus comes from and how to parse it."""

    inputs: tuple[str, ...] = ()
    format: str = "auto"
    text_field: str = "text"
    id_field: str | None = None
    max_line_bytes: int = 1 << 20
    """Longer records are rejected as `line_too_long` instead of being held in memory."""
    split_bytes: int = 64 << 20
    """Uncompressed text/JSONL/WikiExtractor files are read in byte ranges of this size, in
    parallel; the output is the same for every size."""

    OUTPUT_FIELDS: ClassVar[tuple[str, ...]] = ("format", "text_field", "id_field",
                                                "max_line_bytes")
    """Not `inputs` (where the corpus lives) nor `split_bytes` (how it is read in parallel)."""

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
    languages: tuple[str, ...] = ()
    """ISO 639-1 codes of the languages to keep (`--languages en,zh`); empty keeps all."""
    near_dedup: bool = True
    """MinHash LSH near-duplicate removal (transforms/near_dedup.py)."""
    near_dedup_threshold: float = 0.8
    """Estimated Jaccard similarity of shingle sets at which two documents are near-duplicates."""
    near_dedup_ngram: int = 5
    """Shingle length in tokens (a word, or one CJK character): 5 as in Lee et al. 2022."""
    near_dedup_bands: int = 16
    """LSH bands; bands x rows MinHash permutations in all."""
    near_dedup_rows: int = 8
    """MinHash values per band: 8 as in datatrove (14 x 8 there, 16 x 8 here)."""

    OUTPUT_FIELDS: ClassVar[tuple[str, ...]] = (
        "normalization", "min_words", "max_words", "min_mean_word_length", "max_mean_word_length",
        "max_symbol_ratio", "min_alpha_ratio", "max_repeated_line_fraction",
        "max_bullet_line_fraction", "max_ellipsis_line_fraction", "min_sentences",
        "drop_lorem_ipsum", "drop_code", "dedup", "strip_wiki_markup", "drop_boilerplate_lines",
        "min_line_words", "require_end_mark", "languages", "near_dedup", "near_dedup_threshold",
        "near_dedup_ngram", "near_dedup_bands", "near_dedup_rows",
    )

    def __post_init__(self) -> None:
        _check_choice("normalization", self.normalization, ("NFC", "NFKC"))
        for name in ("max_symbol_ratio", "min_alpha_ratio", "max_repeated_line_fraction",
                     "max_bullet_line_fraction", "max_ellipsis_line_fraction"):
            _check_range(name.replace("_", "-"), getattr(self, name), 0.0, 1.0)
        if self.min_words < 0 or self.max_words < self.min_words:
            raise UserError(
                f"--min-words/--max-words out of order: {self.min_words}, {self.max_words}"
            )
        for name in ("min_sentences", "min_line_words"):
            _check_int(name.replace("_", "-"), getattr(self, name), 0)
        if not 0.0 <= self.min_mean_word_length <= self.max_mean_word_length:
            raise UserError(f"--min/max-mean-word-length must satisfy 0 <= min <= max; got "
                            f"{self.min_mean_word_length}, {self.max_mean_word_length}")
        for code in self.languages:
            if not (2 <= len(code) <= 3 and code.isascii() and code.isalpha() and code.islower()):
                raise UserError(f"--languages takes ISO 639-1 codes such as en,zh; got {code!r}")
        _check_range("near-dedup-threshold", self.near_dedup_threshold, 0.0, 1.0)
        for name in ("near_dedup_ngram", "near_dedup_bands", "near_dedup_rows"):
            _check_range(name.replace("_", "-"), getattr(self, name), 1, 256)


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

    OUTPUT_FIELDS: ClassVar[tuple[str, ...]] = (
        "vocab_size", "min_frequency", "limit_alphabet", "lowercase", "zh_segmenter",
        "num_unused", "max_input_chars_per_word", "max_words_in_memory",
    )

    def __post_init__(self) -> None:
        _check_choice("zh-segmenter", self.zh_segmenter, ZH_SEGMENTERS)
        if self.vocab_size < len(SPECIAL_TOKEN_LIST) + self.num_unused + 1:
            raise UserError(f"--vocab-size too small: {self.vocab_size}")
        if self.min_frequency < 1:
            raise UserError(f"--min-frequency must be >= 1; got {self.min_frequency}")
        _check_int("limit-alphabet", self.limit_alphabet, 0)
        _check_int("num-unused", self.num_unused, 0)
        _check_int("max-input-chars-per-word", self.max_input_chars_per_word, 1)
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
    """Set from the job's `seed` by `ShardsJobConfig`; here for the pure packer alone."""
    nsp_pool_size: int = 1000
    """Documents per NSP negative pool; pools are random over the whole corpus."""

    OUTPUT_FIELDS: ClassVar[tuple[str, ...]] = ("task", "max_seq_length", "short_seq_prob",
                                                "dupe_factor", "nsp_pool_size")
    """`seed` is the job's, hashed once there."""

    def __post_init__(self) -> None:
        _check_choice("task", self.task, TASKS)
        if not 8 <= self.max_seq_length <= 65535:
            raise UserError(f"--max-seq-length must be in [8, 65535]; got {self.max_seq_length}")
        _check_range("short-seq-prob", self.short_seq_prob, 0.0, 1.0)
        # Also keeps pass_index (< dupe_factor) inside the uint32 word that keys its random
        # streams (`transforms.rng.stream_keys`; `make_rng` would key a larger one otherwise).
        if not 1 <= self.dupe_factor <= 255:
            raise UserError(f"--dupe-factor must be in [1, 255]; got {self.dupe_factor}")
        if self.nsp_pool_size < 2:
            raise UserError(f"--nsp-pool-size must be >= 2; got {self.nsp_pool_size}")
        _check_int("seed", self.seed, 0, MAX_SEED)


@dataclass(frozen=True)
class MaskConfig:
    """Static masking (DESIGN.md Algorithms)."""

    masking: str = "token"
    masked_lm_prob: float = 0.15
    max_predictions_per_seq: int | None = None
    """Cap on masked tokens per row; None: no cap beyond `masked_lm_prob`. `ShardsJobConfig`
    derives `default_max_predictions(max_seq_length)` when it is not given."""
    span_p: float = 0.2
    span_max: int = 10
    max_ngram: int = 3
    seed: int = 12345
    """Set from the job's `seed` by `ShardsJobConfig`; here for the pure masker alone."""

    OUTPUT_FIELDS: ClassVar[tuple[str, ...]] = ("masking", "masked_lm_prob",
                                                "max_predictions_per_seq", "span_p", "span_max",
                                                "max_ngram")

    def __post_init__(self) -> None:
        _check_choice("masking", self.masking, MASKINGS)
        _check_range("masked-lm-prob", self.masked_lm_prob, 0.0, 1.0)
        _check_range("span-p", self.span_p, 1e-6, 1.0)
        if self.max_predictions_per_seq is not None and self.max_predictions_per_seq < 1:
            raise UserError(
                f"--max-predictions-per-seq must be >= 1; got {self.max_predictions_per_seq}"
            )
        if self.span_max < 1 or self.max_ngram < 1:
            raise UserError(
                f"--span-max and --max-ngram must be >= 1; got {self.span_max}, {self.max_ngram}"
            )
        _check_int("seed", self.seed, 0, MAX_SEED)


@dataclass(frozen=True)
class ShardConfig:
    """Arrow shard output (DESIGN.md Shard dir)."""

    num_shards: int = 16
    compression: str = "none"
    packed: bool = False
    """Rows of up to max_seq_length tokens holding several complete instances (schema v2)."""
    max_sequences_per_row: int = 4
    """Instances per packed row at most. 3 cannot reach 97% fill on enwiki at 512 (the fewest
    rows any packer could use give 0.960); 4 reaches 0.988 (README "Packed rows")."""

    OUTPUT_FIELDS: ClassVar[tuple[str, ...]] = ("num_shards", "compression", "packed",
                                                "max_sequences_per_row")

    def __post_init__(self) -> None:
        _check_choice("compression", self.compression, COMPRESSIONS)
        if not 1 <= self.num_shards <= 99999:
            raise UserError(f"--num-shards must be in [1, 99999]; got {self.num_shards}")
        if not 1 <= self.max_sequences_per_row <= 255:
            raise UserError("--max-sequences-per-row must be in [1, 255]; "
                            f"got {self.max_sequences_per_row}")


DEMO_LIMIT_ALPHABET = 6000
"""The demo corpus mixes English and ~1,100 distinct Chinese characters; the default alphabet
of 1,000 would turn the rarer ones into [UNK]."""


def _for_corpus(vocab: VocabConfig, read: ReadConfig) -> VocabConfig:
    """The bundled demo corpus (no inputs) with the default alphabet limit gets the demo's."""
    if read.inputs or vocab.limit_alphabet != VocabConfig.limit_alphabet:
        return vocab
    return dataclasses.replace(vocab, limit_alphabet=DEMO_LIMIT_ALPHABET)


@dataclass(frozen=True)
class CleanJobConfig:
    """Everything `clean` needs below the CLI."""

    read: ReadConfig = field(default_factory=ReadConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    num_shards: int = 4
    """`documents-*.jsonl.zst` files; each is built in one worker's memory."""
    output: str = ""
    overwrite: bool = False

    OUTPUT_FIELDS: ClassVar[tuple[str, ...]] = ("read", "clean", "num_shards")

    def __post_init__(self) -> None:
        if not 1 <= self.num_shards <= 99999:
            raise UserError(f"--num-shards must be in [1, 99999]; got {self.num_shards}")


@dataclass(frozen=True)
class VocabJobConfig:
    """Everything `vocab` needs below the CLI; the constructor applies the demo corpus's
    alphabet limit as `ShardsJobConfig` does for `all`."""

    read: ReadConfig = field(default_factory=ReadConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    vocab: VocabConfig = field(default_factory=VocabConfig)
    output: str = ""
    overwrite: bool = False

    OUTPUT_FIELDS: ClassVar[tuple[str, ...]] = ("read", "clean", "vocab")

    def __post_init__(self) -> None:
        object.__setattr__(self, "vocab", _for_corpus(self.vocab, self.read))


@dataclass(frozen=True)
class ShardsJobConfig:
    """Everything `shards` (with `vocab_dir`) or `all` (with `vocab`) needs below the CLI.

    The constructor derives what depends on other fields: the stage configs' `seed` is the
    job's; `max_predictions_per_seq` not given is `default_max_predictions(max_seq_length)`;
    `all` on the bundled demo corpus (no inputs) with the default alphabet limit gets
    `DEMO_LIMIT_ALPHABET`.
    """

    read: ReadConfig = field(default_factory=ReadConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    pack: PackConfig = field(default_factory=PackConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)
    shard: ShardConfig = field(default_factory=ShardConfig)
    seed: int = 12345
    """The one seed of the job: packing, masking and shard order all derive from it."""
    vocab: VocabConfig | None = None
    """`all`: the vocab is trained in the same pipeline with these options."""
    vocab_dir: str = ""
    """`shards`: the vocab dir to read."""
    lowercase: bool | None = None
    """Only for a vocab dir holding just `vocab.txt`; otherwise the vocab manifest decides."""
    zh_segmenter: str = "none"
    """`jieba`: whole-word boundaries over CJK tokens come from jieba words."""
    output: str = ""
    overwrite: bool = False

    OUTPUT_FIELDS: ClassVar[tuple[str, ...]] = ("read", "clean", "pack", "mask", "shard", "seed",
                                                "vocab", "lowercase", "zh_segmenter")
    """Not `vocab_dir` (the vocab itself is in the manifest, by sha256), `output`, `overwrite`."""

    def __post_init__(self) -> None:
        _check_choice("zh-segmenter", self.zh_segmenter, ZH_SEGMENTERS)
        _check_int("seed", self.seed, 0, MAX_SEED)
        derived = {
            "pack": dataclasses.replace(self.pack, seed=self.seed),
            "mask": dataclasses.replace(
                self.mask, seed=self.seed,
                max_predictions_per_seq=self.mask.max_predictions_per_seq
                or default_max_predictions(self.pack.max_seq_length)),
        }
        if self.vocab is not None:
            derived["vocab"] = _for_corpus(self.vocab, self.read)
        for name, value in derived.items():
            object.__setattr__(self, name, value)
