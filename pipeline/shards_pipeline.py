"""`shards` and `all`: documents -> tokens -> instances -> masks -> Arrow shard dir.

    shards: CleanCorpus ─► TokenizeDocuments ─► PackInstances ─► ApplyMasks ─► WriteShards
            ─► WriteManifest                      (vocab dir read by the launcher)
    all:    CleanCorpus ─┬► BuildVocab ─► <output>/vocab ─┐ (VocabArtifacts side input)
                         └► TokenizeDocuments ─► ... ─► WriteShards ─► <output>/shards

Both feed the stages the vocab as a single-element `VocabArtifacts` PCollection. In `shards`
the launcher reads the vocab dir (a few files, local or gs://) and embeds its bytes in the
graph, so workers never need the launcher's paths and the manifest records exactly the vocab
used; in `all` it comes from `BuildVocab`. `summary.json` goes to `--output`, the shards to
`--output` (`shards`) or `--output/shards` (`all`).
"""

from __future__ import annotations

import dataclasses
import os

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from core.config import ShardsJobConfig, VocabConfig, output_fields
from core.errors import UserError
from core.special_tokens import SPECIAL_TOKEN_LIST
from pipeline.launch import delete_own_files, launch
from pipeline.stages import CleanCorpus, with_default_inputs
from pipeline.summary import warn_vocab_over_size
from transforms.manifest import MANIFEST_NAME, VOCAB_NAME, special_ids, vocab_info, vocab_tokens
from transforms.stats import SumStats
from transforms.summary import SUMMARY_FILE
from vocab.artifacts import (
    MANIFEST,
    SPECIAL_TOKENS_MAP,
    TOKENIZER_CONFIG,
    TOKENIZER_JSON,
    VOCAB_TXT,
    VocabArtifacts,
)
from vocab.vocab_dir import load_vocab_dir

DEMO_LIMIT_ALPHABET = 6000
"""The demo corpus mixes English and ~1,100 distinct Chinese characters; the default alphabet
of 1,000 would turn the rarer ones into [UNK]."""
SHARDS_SUBDIR = "shards"
VOCAB_SUBDIR = "vocab"
SHARD_DIR_FILES = ("shard-*-of-*.arrow", MANIFEST_NAME, VOCAB_NAME, SUMMARY_FILE, ".*.tmp-*")
VOCAB_DIR_FILES = (VOCAB_TXT, TOKENIZER_JSON, TOKENIZER_CONFIG, SPECIAL_TOKENS_MAP, MANIFEST)


def load_vocab_artifacts(vocab_dir: str, lowercase: bool | None) -> VocabArtifacts:
    """The vocab dir as artifacts (a bare Google `vocab.txt` gets its tokenizer.json built)."""
    files, tokenizer, meta = load_vocab_dir(vocab_dir, lowercase)
    files = {name: data for name, data in files.items() if data is not None}
    files.setdefault(TOKENIZER_JSON, tokenizer.to_str().encode("utf-8"))
    return VocabArtifacts(files=files, manifest=dict(meta))


def _vocab_info(artifacts: VocabArtifacts, source: str) -> dict:
    return vocab_info(artifacts.files[VOCAB_TXT], source, artifacts.manifest["lowercase"],
                      artifacts.manifest["zh_segmenter"])


def _shard_stages(cleaned: dict, artifacts, specials: dict[str, int], job: ShardsJobConfig,
                  config: dict, shard_dir: str, summary_dir: str, vocab_source: str,
                  extra_stats: list) -> None:
    """tokenize -> pack -> mask -> shards -> manifest; shared by `shards` and `all`."""
    from transforms.mask_beam import ApplyMasks
    from transforms.pack_beam import PackInstances
    from transforms.shards import RowPacking, WriteManifest, WriteShards
    from transforms.tokenize import TokenizeDocuments

    tokenized = cleaned["documents"] | "TokenizeDocuments" >> TokenizeDocuments(
        job.zh_segmenter == "jieba", artifacts=artifacts)
    packed = tokenized["documents"] | "PackInstances" >> PackInstances(
        job.pack, specials["cls"], specials["sep"])
    masked = packed["instances"] | "ApplyMasks" >> ApplyMasks(job.mask, artifacts=artifacts)
    vocab = artifacts | "VocabInfo" >> beam.Map(_vocab_info, vocab_source)
    packing = (RowPacking(job.pack.max_seq_length, job.shard.max_sequences_per_row)
               if job.shard.packed else None)
    written = masked["instances"] | "WriteShards" >> WriteShards(
        shard_dir, job.shard.num_shards, job.shard.compression, job.shard.seed, vocab, packing)
    # A tuple, not a list: Beam 2.77 reads a list on the left of `|` as data for Create.
    stats = (
        (cleaned["stats"], *extra_stats, tokenized["stats"], packed["stats"], masked["stats"],
         written["stats"])
        | "SumStats" >> SumStats()
    )
    written["shards"] | "WriteManifest" >> WriteManifest(shard_dir, config, summary_dir, vocab,
                                                         stats)


def _embedded(_: bytes, artifacts: VocabArtifacts) -> VocabArtifacts:
    """The vocab as the graph's one element. Not `beam.Create([artifacts])`: that pickles and
    bz2-compresses its values several times while building (~0.1 s for a 700 KB vocab)."""
    return artifacts


def build_shards(p: beam.Pipeline, job: ShardsJobConfig, output: str,
                 artifacts: VocabArtifacts | None = None) -> None:
    """Add the `shards` job to `p`; reads only the (small) vocab dir while building, unless
    the caller already loaded it as `artifacts`."""
    job = dataclasses.replace(job, read=with_default_inputs(job.read))
    if artifacts is None:
        artifacts = load_vocab_artifacts(job.vocab_dir, job.lowercase)
    specials = special_ids(vocab_tokens(artifacts.files[VOCAB_TXT]))
    cleaned = p | "CleanCorpus" >> CleanCorpus(job.read, job.clean)
    vocab = p | "VocabArtifacts" >> beam.Impulse() | "EmbedVocab" >> beam.Map(_embedded, artifacts)
    _shard_stages(cleaned, vocab, specials, job, output_fields(job), output, output,
                  job.vocab_dir, [])


def build_all(p: beam.Pipeline, job: ShardsJobConfig, vocab_cfg: VocabConfig, output: str) -> None:
    """Add the `all` job to `p`: `output/vocab`, `output/shards`, `output/summary.json`."""
    from transforms.vocab_build import BuildVocab

    vocab_cfg = demo_vocab_config(job, vocab_cfg)
    job = dataclasses.replace(job, read=with_default_inputs(job.read))
    vocab_dir = FileSystems.join(output, VOCAB_SUBDIR)
    config = {**output_fields(job), "vocab": output_fields(vocab_cfg)}
    # BuildVocab puts the special tokens first, in config order.
    specials = special_ids(list(SPECIAL_TOKEN_LIST))
    cleaned = p | "CleanCorpus" >> CleanCorpus(job.read, job.clean)
    built = cleaned["documents"] | "BuildVocab" >> BuildVocab(vocab_cfg, vocab_dir,
                                                              count_kept=False)
    _shard_stages(cleaned, built["artifacts"], specials, job, config,
                  FileSystems.join(output, SHARDS_SUBDIR), output, vocab_dir, [built["stats"]])


def prepare_output(output: str, overwrite: bool, own_files: dict[str, tuple[str, ...]]) -> None:
    """Refuse a non-empty output dir (local or remote) unless `overwrite`; then delete our files.

    `own_files` maps a subdir ("" for the dir itself) to the file patterns this subcommand
    writes there; nothing else is ever deleted.
    """
    if "://" not in output:
        if os.path.exists(output) and not os.path.isdir(output):
            raise UserError(f"--output {output!r} exists and is not a directory")
        occupied = os.path.isdir(output) and bool(os.listdir(output))
    else:
        occupied = any(r.metadata_list for r in FileSystems.match([output.rstrip("/") + "/**"]))
    if occupied and not overwrite:
        raise UserError(f"--output {output!r} is not empty; pass --overwrite to replace its shards")
    if overwrite:
        delete_own_files(output, own_files)


def _run(build, job: ShardsJobConfig, own_files: dict[str, tuple[str, ...]], shard_dir: str,
         beam_args: list[str]) -> dict | None:
    output = job.shard.output
    summary = launch(beam_args, job.read,
                     lambda: prepare_output(output, job.shard.overwrite, own_files), build, output)
    if summary is not None:
        print(f"shards: {shard_dir}  (check with: beam_runner.py verify {shard_dir})")
    return summary


def run_shards(job: ShardsJobConfig, beam_args: list[str]) -> None:
    """`shards`: the shard dir is `--output` itself."""
    output = job.shard.output
    artifacts = load_vocab_artifacts(job.vocab_dir, job.lowercase)  # a bad dir fails first
    _run(lambda p: build_shards(p, job, output, artifacts), job, {"": SHARD_DIR_FILES}, output,
         beam_args)


def demo_vocab_config(job: ShardsJobConfig, vocab_cfg: VocabConfig) -> VocabConfig:
    """On the bundled demo corpus (no --input) a default alphabet limit covers every character."""
    if job.read.inputs or vocab_cfg.limit_alphabet != VocabConfig.limit_alphabet:
        return vocab_cfg
    return dataclasses.replace(vocab_cfg, limit_alphabet=DEMO_LIMIT_ALPHABET)


def run_all(job: ShardsJobConfig, vocab_cfg: VocabConfig, beam_args: list[str]) -> None:
    """`all`: `--output` gets `vocab/`, `shards/` and `summary.json`."""
    output = job.shard.output
    own = {"": (SUMMARY_FILE,), VOCAB_SUBDIR: VOCAB_DIR_FILES, SHARDS_SUBDIR: SHARD_DIR_FILES}
    summary = _run(lambda p: build_all(p, job, vocab_cfg, output), job, own,
                   FileSystems.join(output, SHARDS_SUBDIR), beam_args)
    if summary is not None:
        used = demo_vocab_config(job, vocab_cfg)
        warn_vocab_over_size(summary, used.vocab_size, used.limit_alphabet)
