"""`shards` and `all`: documents -> tokens -> instances -> masks -> Arrow shard dir.

    shards: CleanCorpus ─► TokenizeDocuments ─► PackInstances ─► ApplyMasks ─► WriteShards
            ─► WriteManifest                      (vocab dir read by the launcher)
    all:    CleanCorpus ─┬► BuildVocab ─► <output>/vocab ─┐ (VocabArtifacts side input)
                         └► SpillUntilVocab ─► TokenizeDocuments ─► ... ─► WriteShards
                                               ─► <output>/shards

Both feed the stages the vocab as a single-element `VocabArtifacts` PCollection. In `shards`
the launcher reads the vocab dir (a few files, local or gs://) and embeds its bytes in the
graph, so workers never need the launcher's paths and the manifest records exactly the vocab
used; in `all` it comes from `BuildVocab`. `summary.json` goes to `--output`, the shards to
`--output` (`shards`) or `--output/shards` (`all`).
"""

from __future__ import annotations

import dataclasses

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from core.config import ShardsJobConfig, output_fields
from core.special_tokens import SPECIAL_TOKEN_LIST
from pipeline.beam_options import local_workers
from pipeline.launch import launch
from pipeline.output_dir import OwnFiles
from pipeline.stages import CleanCorpus, with_default_inputs
from pipeline.summary import warn_vocab_over_size
from transforms.manifest import MANIFEST_NAME, VOCAB_NAME, special_ids, vocab_info, vocab_tokens
from transforms.stats import SumStats
from transforms.summary import SUMMARY_FILE, WriteSummary
from vocab.artifacts import TOKENIZER_JSON, VOCAB_DIR_FILES, VOCAB_TXT, VocabArtifacts
from vocab.embedded import EmbeddedVocab, embed, unembed
from vocab.vocab_dir import load_vocab_dir

SHARDS_SUBDIR = "shards"
VOCAB_SUBDIR = "vocab"
SHARD_DIR_FILES = ("shard-*-of-*.arrow", MANIFEST_NAME, VOCAB_NAME, SUMMARY_FILE)


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
                  shard_dir: str, vocab_source: str, extra_stats: list,
                  spill_dir: str | None, documents_spilled: bool = False) -> None:
    """tokenize -> pack -> mask -> shards -> manifest, summary; shared by `shards` and `all`.
    With a `spill_dir` (local runs) the documents and instances cross dedup and the NSP-pool
    and shard shuffles as spill files (transforms/spill.py). `documents_spilled`:
    `cleaned["documents"]` holds `SpillElements` payloads of the documents (`all`)."""
    from transforms.mask_beam import ApplyMasks
    from transforms.pack_beam import PackInstances
    from transforms.shards import RowPacking, WriteManifest, WriteShards
    from transforms.tokenize import TokenizeDocuments

    tokenized = cleaned["documents"] | "TokenizeDocuments" >> TokenizeDocuments(
        artifacts, zh_word_starts=job.zh_segmenter == "jieba", spilled=documents_spilled,
        spill_dir=spill_dir)
    packed = tokenized["documents"] | "PackInstances" >> PackInstances(
        job.pack, specials["cls"], specials["sep"], spill_dir,
        local_workers(cleaned["documents"].pipeline.options))
    masked = packed["instances"] | "ApplyMasks" >> ApplyMasks(job.mask, artifacts)
    vocab = artifacts | "VocabInfo" >> beam.Map(_vocab_info, vocab_source)
    packing = (RowPacking(job.pack.max_seq_length, job.shard.max_sequences_per_row)
               if job.shard.packed else None)
    written = masked["instances"] | "WriteShards" >> WriteShards(
        shard_dir, job.shard.num_shards, job.shard.compression, job.seed, vocab, packing,
        spill_dir)
    # A tuple, not a list: Beam 2.77 reads a list on the left of `|` as data for Create.
    stats = (
        (cleaned["stats"], *extra_stats, tokenized["stats"], packed["stats"], masked["stats"],
         written["stats"])
        | "SumStats" >> SumStats()
    )
    stats | "WriteSummary" >> WriteSummary(job.output)
    written["shards"] | "WriteManifest" >> WriteManifest(shard_dir, output_fields(job), vocab,
                                                         stats)


def _embedded(_: bytes, embedded: EmbeddedVocab) -> VocabArtifacts:
    """The vocab as the graph's one element. Not `beam.Create([artifacts])`: that pickles and
    bz2-compresses its values several times while building (~0.1 s for a 700 KB vocab); and
    compact (vocab/embedded.py), as Beam still bz2-compresses the argument of this Map."""
    return unembed(embedded)


def build_shards(p: beam.Pipeline, job: ShardsJobConfig,
                 artifacts: VocabArtifacts | None = None, spill_dir: str | None = None) -> None:
    """Add the `shards` job to `p`; reads only the (small) vocab dir while building, unless
    the caller already loaded it as `artifacts`. `spill_dir`: see `_shard_stages`."""
    job = dataclasses.replace(job, read=with_default_inputs(job.read))
    if artifacts is None:
        artifacts = load_vocab_artifacts(job.vocab_dir, job.lowercase)
    specials = special_ids(vocab_tokens(artifacts.files[VOCAB_TXT]))
    cleaned = p | "CleanCorpus" >> CleanCorpus(job.read, job.clean, spill_dir)
    vocab = (p | "VocabArtifacts" >> beam.Impulse()
             | "EmbedVocab" >> beam.Map(_embedded, embed(artifacts)))
    _shard_stages(cleaned, vocab, specials, job, job.output, job.vocab_dir, [], spill_dir)


def build_all(p: beam.Pipeline, job: ShardsJobConfig, spill_dir: str | None = None) -> None:
    """Add the `all` job to `p`: `output/vocab`, `output/shards`, `output/summary.json`."""
    from transforms.spill import SpillElements
    from transforms.vocab_build import BuildVocab

    job = dataclasses.replace(job, read=with_default_inputs(job.read))
    vocab_dir = FileSystems.join(job.output, VOCAB_SUBDIR)
    # BuildVocab puts the special tokens first, in this order.
    specials = special_ids(list(SPECIAL_TOKEN_LIST))
    cleaned = p | "CleanCorpus" >> CleanCorpus(job.read, job.clean, spill_dir)
    built = cleaned["documents"] | "BuildVocab" >> BuildVocab(job.vocab, vocab_dir,
                                                              count_kept=False)
    # The documents wait for the vocab across a stage boundary: on a local run as spill
    # files, not in the runner's RAM (transforms/tokenize.py); elsewhere as they are.
    spilled = spill_dir is not None
    if spilled:
        cleaned = {**cleaned, "documents": cleaned["documents"] | "SpillUntilVocab" >> beam.ParDo(
            SpillElements(spill_dir)).with_output_types(bytes)}
    _shard_stages(cleaned, built["artifacts"], specials, job,
                  FileSystems.join(job.output, SHARDS_SUBDIR), vocab_dir, [built["stats"]],
                  spill_dir, documents_spilled=spilled)


def _run(build, job: ShardsJobConfig, own_files: OwnFiles, shard_dir: str,
         beam_args: list[str]) -> dict | None:
    summary = launch(beam_args, job.read, job.output, job.overwrite, own_files, build)
    if summary is not None:
        print(f"shards: {shard_dir}  (check with: beam_runner.py verify {shard_dir})")
    return summary


def run_shards(job: ShardsJobConfig, beam_args: list[str]) -> None:
    """`shards`: the shard dir is `--output` itself."""
    artifacts = load_vocab_artifacts(job.vocab_dir, job.lowercase)  # a bad dir fails first
    _run(lambda p, spill: build_shards(p, job, artifacts, spill), job, {"": SHARD_DIR_FILES},
         job.output, beam_args)


def run_all(job: ShardsJobConfig, beam_args: list[str]) -> None:
    """`all`: `--output` gets `vocab/`, `shards/` and `summary.json`."""
    own = {"": (SUMMARY_FILE,), VOCAB_SUBDIR: VOCAB_DIR_FILES, SHARDS_SUBDIR: SHARD_DIR_FILES}
    summary = _run(lambda p, spill: build_all(p, job, spill), job, own,
                   FileSystems.join(job.output, SHARDS_SUBDIR), beam_args)
    if summary is not None:
        warn_vocab_over_size(summary, job.vocab.vocab_size, job.vocab.limit_alphabet)
