"""Job configs: one seed, defaults derived in the constructor, an explicit list of the fields
that define the output (what the manifest records and `config_sha256` hashes)."""

from __future__ import annotations

import dataclasses

import pytest

from core.config import (
    DEMO_LIMIT_ALPHABET,
    CleanConfig,
    CleanJobConfig,
    MaskConfig,
    PackConfig,
    ReadConfig,
    ShardConfig,
    ShardsJobConfig,
    VocabConfig,
    VocabJobConfig,
    output_fields,
)
from core.errors import UserError
from transforms.manifest import config_sha256

NOT_OUTPUT_FIELDS = {"inputs", "vocab_dir", "output", "overwrite", "seed", "split_bytes"}
"""Fields that are not output fields of their own class: where things are, how input is read
in parallel, and the stage copies of the job's seed (hashed once, on the job)."""


@pytest.mark.parametrize("cls", [ReadConfig, CleanConfig, VocabConfig, PackConfig, MaskConfig,
                                 ShardConfig, ShardsJobConfig, CleanJobConfig, VocabJobConfig])
def test_every_field_is_declared_output_or_place(cls):
    names = {f.name for f in dataclasses.fields(cls)}
    assert set(cls.OUTPUT_FIELDS) <= names
    assert names - set(cls.OUTPUT_FIELDS) <= NOT_OUTPUT_FIELDS
    if cls is ShardsJobConfig:
        assert "seed" in cls.OUTPUT_FIELDS


def _job(**kw) -> ShardsJobConfig:
    return ShardsJobConfig(pack=PackConfig(max_seq_length=128), **kw)


def test_where_input_and_output_live_is_not_hashed():
    a = _job(read=ReadConfig(inputs=("/data/a/*.txt",)), vocab_dir="/v1", output="/o1")
    b = _job(read=ReadConfig(inputs=("gs://b/*.txt",), split_bytes=1 << 20), vocab_dir="gs://v",
             output="gs://o", overwrite=True)
    assert output_fields(a) == output_fields(b)
    assert config_sha256(output_fields(a)) == config_sha256(output_fields(b))
    assert "inputs" not in output_fields(a)["read"] and "vocab_dir" not in output_fields(a)


@pytest.mark.parametrize("change", [
    {"seed": 7},
    {"shard": ShardConfig(num_shards=3)},
    {"mask": MaskConfig(masking="span")},
    {"clean": CleanConfig(min_words=5)},
    {"zh_segmenter": "jieba"},
    {"vocab": VocabConfig(vocab_size=1000)},
])
def test_what_defines_the_output_is_hashed(change):
    assert config_sha256(output_fields(_job(**change))) != config_sha256(output_fields(_job()))


def test_one_seed_reaches_every_stage():
    job = _job(seed=7)
    assert job.pack.seed == job.mask.seed == 7
    assert output_fields(job)["seed"] == 7 and "seed" not in output_fields(job)["pack"]


def test_max_predictions_per_seq_is_derived_unless_given():
    assert _job().mask.max_predictions_per_seq == 19  # round(0.15 * 128)
    assert ShardsJobConfig().mask.max_predictions_per_seq == 77  # 512
    assert _job(mask=MaskConfig(max_predictions_per_seq=5)).mask.max_predictions_per_seq == 5


def test_demo_corpus_raises_the_default_alphabet_limit_only():
    assert _job(vocab=VocabConfig()).vocab.limit_alphabet == DEMO_LIMIT_ALPHABET
    assert VocabJobConfig().vocab.limit_alphabet == DEMO_LIMIT_ALPHABET
    on_corpus = VocabJobConfig(ReadConfig(inputs=("a.txt",)))
    assert on_corpus.vocab.limit_alphabet == VocabConfig.limit_alphabet
    given = _job(vocab=VocabConfig(limit_alphabet=3000)).vocab.limit_alphabet
    corpus = _job(read=ReadConfig(inputs=("a.txt",)), vocab=VocabConfig()).vocab.limit_alphabet
    assert (given, corpus) == (3000, VocabConfig.limit_alphabet)


def test_rebuilding_a_job_keeps_its_derived_values():
    job = _job(seed=3, vocab=VocabConfig())
    again = dataclasses.replace(job, read=ReadConfig(inputs=("demo.txt",)))
    assert (again.pack.seed, again.mask.max_predictions_per_seq, again.vocab.limit_alphabet) == (
        3, 19, DEMO_LIMIT_ALPHABET)


def test_clean_job_checks_its_shard_count():
    with pytest.raises(UserError, match="--num-shards"):
        CleanJobConfig(num_shards=0)
