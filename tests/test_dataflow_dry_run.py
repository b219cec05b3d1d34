"""Every subcommand's pipeline builds into a Dataflow job offline (issue 8).

`--dry_run=True --no_auth` makes the DataflowRunner translate the pipeline, pickle every
DoFn and coder and return the job without submitting it. With gs:// inputs and outputs this
proves that no transform touches the file system while the pipeline is being built.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from core.config import (
    CleanJobConfig,
    MaskConfig,
    PackConfig,
    ReadConfig,
    ShardConfig,
    ShardsJobConfig,
    VocabConfig,
    VocabJobConfig,
)
from pipeline import clean_pipeline, shards_pipeline, vocab_pipeline
from pipeline.cli import main

dataflow_runner = pytest.importorskip(
    "apache_beam.runners.dataflow.dataflow_runner",
    reason="needs the gcp extra: pip install -e '.[gcp]'",
)
pytest.importorskip("google.cloud.dataflow_v1beta3", reason="needs the gcp extra")

REPO = Path(__file__).resolve().parents[1]
BUCKET = "gs://example-bucket"
DRY_RUN_ARGS = [
    "--dry_run=True",
    "--no_auth",
    "--sdk_location=container",
    "--project=example-project",
    "--region=us-central1",
    f"--temp_location={BUCKET}/tmp",
]
READ = ReadConfig(inputs=(f"{BUCKET}/corpus/*.jsonl.zst",), format="jsonl")

CLEAN_STAGES = {
    "CleanCorpus/Read",
    "CleanCorpus/CleanDocuments",
    "CleanCorpus/Deduplicate",
    "CleanCorpus/NearDeduplicate",
    "CleanCorpus/SplitSentences",
    "SumStats",
}
VOCAB_STAGES = {"BuildVocab/CountWords", "BuildVocab/SumWordCounts", "BuildVocab/TrainWordPiece"}
SHARD_STAGES = {
    "TokenizeDocuments/Encode",
    "PackInstances/Pack",
    "ApplyMasks/MaskInstances",
    "WriteShards/GroupByShard",
    "WriteShards/WriteShard",
    "WriteManifest/WriteManifestJson",
}


def _dry_run(build, extra_args: tuple[str, ...] = ()) -> set[str]:
    """Build and 'run' on Dataflow in dry-run mode; the job's stage names, 2 levels deep."""
    runner = dataflow_runner.DataflowRunner()
    p = beam.Pipeline(runner=runner, options=PipelineOptions(DRY_RUN_ARGS + list(extra_args)))
    build(p)
    p.run()
    transforms = runner.proto_pipeline.components.transforms.values()
    return {"/".join(t.unique_name.split("/")[:2]) for t in transforms}


@pytest.fixture(scope="module")
def local_vocab_dir(tmp_path_factory) -> str:
    """A tiny Google-style vocab: `shards` reads it once at launch and ships it in the job."""
    d = tmp_path_factory.mktemp("vocab")
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "##s", ".", "中"]
    (d / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return str(d)


def _job(vocab_dir: str, task: str, masking: str) -> ShardsJobConfig:
    return ShardsJobConfig(
        read=READ,
        pack=PackConfig(task=task, max_seq_length=128),
        mask=MaskConfig(masking=masking, max_predictions_per_seq=19),
        shard=ShardConfig(num_shards=64),
        vocab_dir=vocab_dir,
        lowercase=True,
        output=f"{BUCKET}/shards",
    )


def test_clean_builds_for_dataflow():
    out = f"{BUCKET}/clean"
    stages = _dry_run(lambda p: clean_pipeline.build_clean(p, CleanJobConfig(READ, output=out)))
    assert CLEAN_STAGES | {"WriteDocuments/WriteShard", "WriteRejects/WriteShard"} <= stages
    assert "WriteSummary" in stages


def test_clean_cli_dry_run_leaves_the_output_alone(capsys):
    """Through `run_clean`: no pre-flight deletion in gs:// and no summary.json to print."""
    argv = ["clean", "--input", READ.inputs[0], "--format", "jsonl", "--output",
            f"{BUCKET}/clean", "--runner=DataflowRunner", *DRY_RUN_ARGS]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("dry run: the job was built and not run")


def test_vocab_builds_for_dataflow():
    stages = _dry_run(
        lambda p: vocab_pipeline.build_vocab(p, VocabJobConfig(
            READ, vocab=VocabConfig(zh_segmenter="jieba"), output=f"{BUCKET}/vocab"))
    )
    assert CLEAN_STAGES | VOCAB_STAGES | {"WriteSummary"} <= stages


@pytest.mark.parametrize("task,masking", [("nsp", "token"), ("none", "span")])
def test_shards_builds_for_dataflow(local_vocab_dir, task, masking):
    job = _job(local_vocab_dir, task, masking)
    stages = _dry_run(lambda p: shards_pipeline.build_shards(p, job))
    assert stages >= CLEAN_STAGES | SHARD_STAGES
    assert not VOCAB_STAGES & stages
    assert ("PackInstances/GroupByPool" in stages) == (task == "nsp")


def test_all_builds_for_dataflow_with_setup_file(local_vocab_dir):
    """The `all` job, packaged the way Dataflow installs it (`--setup_file ./pyproject.toml`)."""
    pytest.importorskip("build", reason="--setup_file needs the `build` module (gcp extra)")
    job = dataclasses.replace(_job("", "sop", "wwm"), vocab=VocabConfig(), output=f"{BUCKET}/out")
    stages = _dry_run(
        lambda p: shards_pipeline.build_all(p, job),
        extra_args=(f"--setup_file={REPO / 'pyproject.toml'}",),
    )
    assert stages >= CLEAN_STAGES | VOCAB_STAGES | SHARD_STAGES
