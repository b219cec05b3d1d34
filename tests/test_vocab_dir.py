"""vocab/vocab_dir.py: a bare Google `vocab.txt` dir reads the same with or without the newline
after its last token, and its built tokenizer.json is the one the graph embeds compactly."""

from __future__ import annotations

from vocab.artifacts import VOCAB_TXT
from vocab.embedded import embed
from vocab.vocab_dir import load_vocab_dir

TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "##s", "naïve"]


def test_a_vocab_txt_without_its_last_newline_reads_as_with_it(tmp_path):
    from pipeline.shards_pipeline import load_vocab_artifacts

    text = "\n".join(TOKENS)
    for name, data in (("ended", text + "\n"), ("unended", text)):
        (tmp_path / name).mkdir()
        (tmp_path / name / VOCAB_TXT).write_text(data, encoding="utf-8")
    read = [load_vocab_dir(str(tmp_path / name), True) for name in ("ended", "unended")]
    for files, tokenizer, _ in read:
        assert files[VOCAB_TXT] == (text + "\n").encode("utf-8")
        assert tokenizer.get_vocab() == {t: i for i, t in enumerate(TOKENS)}
    artifacts = load_vocab_artifacts(str(tmp_path / "unended"), True)
    assert embed(artifacts).map_at is not None  # the map vocab.txt restores was cut out
