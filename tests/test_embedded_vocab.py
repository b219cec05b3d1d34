"""The vocab a `shards` graph embeds (vocab/embedded.py): compact, and restored byte for byte."""

from __future__ import annotations

import pytest

from tests.corpora import corpus_path
from vocab.artifacts import MANIFEST, TOKENIZER_JSON, VOCAB_TXT, VocabArtifacts, vocab_txt_bytes
from vocab.embedded import embed, unembed
from vocab.train import build_tokenizer

TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "##s", '"', "\\", '##"', "a\"b",
          "é", "中", "##中", "\x01", "tab\there", "😀", "[unused0]"]
"""Tokens JSON must escape (quote, backslash, control characters) and non-ASCII ones."""
MANIFEST_FIELDS = {"lowercase": True, "zh_segmenter": "none"}


def _artifacts(tokens: list[str], tokenizer_json: bytes | None) -> VocabArtifacts:
    files = {VOCAB_TXT: vocab_txt_bytes(tokens), MANIFEST: b'{"format": "x"}\n'}
    if tokenizer_json is not None:
        files[TOKENIZER_JSON] = tokenizer_json
    return VocabArtifacts(files=files, manifest=dict(MANIFEST_FIELDS))


def _tokenizer_json(tokens: list[str], pretty: bool) -> bytes:
    tokenizer = build_tokenizer({t: i for i, t in enumerate(tokens)}, lowercase=True)
    return tokenizer.to_str(pretty=pretty).encode("utf-8")


@pytest.mark.parametrize("pretty", [False, True], ids=["compact", "pretty"])
def test_the_vocab_map_is_cut_out_and_put_back_byte_for_byte(pretty):
    """Compact is what `shards` makes for a bare vocab.txt; pretty is our vocab dirs'."""
    artifacts = _artifacts(TOKENS, _tokenizer_json(TOKENS, pretty))
    embedded = embed(artifacts)
    cut = embedded.files[TOKENIZER_JSON]
    assert all(f'"{t}"'.encode() not in cut for t in ("the", "##s", "[unused0]"))
    assert unembed(embedded) == artifacts


def test_a_tokenizer_json_that_vocab_txt_does_not_restore_is_carried_whole():
    other_order = [*TOKENS[:5], *reversed(TOKENS[5:])]
    for tokenizer_json in (_tokenizer_json(other_order, pretty=False),
                           _tokenizer_json(other_order, pretty=True), b"not json"):
        artifacts = _artifacts(TOKENS, tokenizer_json)
        embedded = embed(artifacts)
        assert embedded.files[TOKENIZER_JSON] == tokenizer_json
        assert unembed(embedded) == artifacts
    no_tokenizer = _artifacts(TOKENS, None)
    assert unembed(embed(no_tokenizer)) == no_tokenizer


def test_real_vocab_dirs_embed_in_about_the_size_of_vocab_txt():
    """Google's bare vocab.txt (tokenizer.json made by the launcher) and a Hugging Face
    dir with its own tokenizer.json: the graph carries little more than vocab.txt."""
    from pipeline.shards_pipeline import load_vocab_artifacts

    for name in ("bert_base_uncased", "minilm_l6_v2_uncased"):
        artifacts = load_vocab_artifacts(str(corpus_path(f"vocab/{name}")), True)
        embedded = embed(artifacts)
        assert unembed(embedded) == artifacts
        whole = sum(map(len, artifacts.files.values()))
        carried = sum(map(len, embedded.files.values()))
        assert carried < len(artifacts.files[VOCAB_TXT]) + 5000 < whole / 2, name


def test_the_shards_graph_carries_the_embedded_form(tmp_path):
    """What Beam bz2-compresses and unpickles per stage set-up is the compact vocab: the
    `EmbedVocab` step's payload is about half that of the whole artifacts."""
    import apache_beam as beam
    from apache_beam.internal import pickler

    from pipeline.cli import build_parser, shards_config
    from pipeline.shards_pipeline import build_shards, load_vocab_artifacts

    vocab = str(corpus_path("vocab/bert_base_uncased"))
    args, _ = build_parser().parse_known_args(
        ["shards", "--input", str(tmp_path / "in.jsonl"), "--format", "jsonl", "--vocab", vocab,
         "--lowercase", "--output", str(tmp_path / "out")])
    p = beam.Pipeline()
    build_shards(p, shards_config(args, vocab_dir=args.vocab))
    transforms = p.to_runner_api().components.transforms.values()
    payload, = [t.spec.payload for t in transforms if t.unique_name == "EmbedVocab"]
    whole = len(pickler.dumps(load_vocab_artifacts(vocab, True)))
    assert len(payload) < whole / 2
