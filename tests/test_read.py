"""Readers: every format, compressed variants, stable ids, and bad data routed to rejects."""

from __future__ import annotations

import gzip
import hashlib
import io
import json

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from core.config import ReadConfig
from transforms.read import ReadCorpus, read_records
from transforms.read_formats import RAW_PREVIEW_CHARS
from transforms.records import Reject, TextDocument

BERT_TEXT = "First sentence.\nSecond sentence.\n\n\nOther doc, one line.\n"
WIKI = (
    '<doc id="7" url="https://x/?curid=7" title="Cats">\n'
    "Cats\n\nCats are small.\nThey purr.\n</doc>\n"
    '<doc id="9" url="https://x/?curid=9" title="Dogs">\nDogs\nDogs bark.\n</doc>\n'
)


def read(path, fmt="auto", **kw) -> list:
    cfg = ReadConfig(inputs=(str(path),), format=fmt, **kw)
    with open(path, "rb") as fh:
        return list(read_records(str(path), fh, cfg))


def docs_of(records) -> list[tuple[str, str]]:
    return [(r.id, r.text) for r in records if isinstance(r, TextDocument)]


def rejects_of(records) -> list[tuple[str, str]]:
    return [(r.source, r.reason) for r in records if isinstance(r, Reject)]


def compress(data: bytes, codec: str) -> bytes:
    return gzip.compress(data) if codec == "gz" else zstandard.ZstdCompressor().compress(data)


def test_bert_text_blocks_ids_and_presplit(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(BERT_TEXT.encode())
    records = read(path)
    assert docs_of(records) == [
        (f"{path}:0", "First sentence.\nSecond sentence."),
        (f"{path}:1", "Other doc, one line."),
    ]
    assert all(r.presplit and r.source == str(path) for r in records)


def test_id_root_makes_ids_location_free(tmp_path):
    path = tmp_path / "sub" / "a.txt"
    path.parent.mkdir()
    path.write_bytes(BERT_TEXT.encode())
    records = read(path, id_root=str(tmp_path))
    assert [i for i, _ in docs_of(records)] == ["sub/a.txt:0", "sub/a.txt:1"]


def test_bert_text_crlf_and_bom(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbfOne.\r\nTwo.\r\n\r\nThree.\r\n")
    assert [t for _, t in docs_of(read(path))] == ["One.\nTwo.", "Three."]


def test_jsonl_fields_ids_and_bad_lines(tmp_path):
    path = tmp_path / "a.jsonl"
    lines = [
        json.dumps({"doc": "d1", "body": "Hello there."}),
        "",
        '{"doc": "d2", "body": "broken',
        json.dumps({"doc": "d3", "other": "no body"}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"doc": 4, "body": "Numeric id."}),
    ]
    path.write_text("\n".join(lines) + "\n")
    records = read(path, text_field="body", id_field="doc")
    assert docs_of(records) == [("d1", "Hello there."), ("4", "Numeric id.")]
    assert rejects_of(records) == [
        (f"{path}:1", "invalid_json"),
        (f"{path}:2", "missing_field"),
        (f"{path}:3", "missing_field"),
    ]
    assert not any(r.presplit for r in records if isinstance(r, TextDocument))


def test_jsonl_default_ids_are_path_and_record_ordinal(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "a"}\n\n{"text": "b"}\n')
    assert docs_of(read(path)) == [(f"{path}:0", "a"), (f"{path}:1", "b")]


def test_wikiextractor_drops_title_line_and_keeps_paragraphs(tmp_path):
    path = tmp_path / "wiki_00"
    path.write_text(WIKI)
    records = read(path)  # auto: detected from the first line
    assert docs_of(records) == [
        (f"{path}:0", "\nCats are small.\nThey purr."),
        (f"{path}:1", "Dogs bark."),
    ]
    assert docs_of(read(path, fmt="wikiextractor", id_field="id")) == [
        ("7", "\nCats are small.\nThey purr."),
        ("9", "Dogs bark."),
    ]


def test_wikiextractor_stray_text_and_unterminated_doc(tmp_path):
    path = tmp_path / "wiki_01"
    path.write_text(
        '<doc id="1" title="A">\nA\nText a.\n</doc>\nstray line\n'
        '<doc id="2" title="B">\nB\nText b.\n'
    )
    records = read(path, fmt="wikiextractor")
    assert docs_of(records) == [(f"{path}:0", "Text a.")]
    assert rejects_of(records) == [(f"{path}:1", "outside_doc"), (f"{path}:2", "unterminated_doc")]


def test_parquet_text_and_id_columns(tmp_path):
    path = tmp_path / "a.parquet"
    pq.write_table(
        pa.table({"text": ["One doc.", None, "Two doc."], "key": ["k1", "k2", "k3"]}), path
    )
    records = read(path, id_field="key")
    assert docs_of(records) == [("k1", "One doc."), ("k3", "Two doc.")]
    assert rejects_of(records) == [(f"{path}:1", "missing_field")]


def test_parquet_missing_column_and_garbage_file(tmp_path):
    good = tmp_path / "a.parquet"
    pq.write_table(pa.table({"body": ["x"]}), good)
    assert rejects_of(read(good)) == [(str(good), "invalid_parquet")]
    bad = tmp_path / "b.parquet"
    bad.write_bytes(b"not parquet at all")
    assert rejects_of(read(bad)) == [(str(bad), "invalid_parquet")]


@pytest.mark.parametrize("codec", ["gz", "zst"])
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("a.txt", BERT_TEXT.encode()),
        ("a.jsonl", b'{"text": "x"}\n{"text": "y"}\n'),
        ("wiki_00", WIKI.encode()),
    ],
)
def test_compressed_variants_read_like_plain(tmp_path, codec, name, content):
    plain = tmp_path / name
    plain.write_bytes(content)
    packed = tmp_path / f"{name}.{codec}"
    packed.write_bytes(compress(content, codec))
    assert [t for _, t in docs_of(read(packed))] == [t for _, t in docs_of(read(plain))]
    assert [i for i, _ in docs_of(read(packed))] == [
        i.replace(str(plain), str(packed)) for i, _ in docs_of(read(plain))
    ]


@pytest.mark.parametrize("codec", ["gz", "zst"])
def test_compressed_parquet(tmp_path, codec):
    buf = io.BytesIO()
    pq.write_table(pa.table({"text": ["p1", "p2"]}), buf)
    path = tmp_path / f"a.parquet.{codec}"
    path.write_bytes(compress(buf.getvalue(), codec))
    assert [t for _, t in docs_of(read(path))] == ["p1", "p2"]


def test_concatenated_zstd_frames(tmp_path):
    path = tmp_path / "a.jsonl.zst"
    cctx = zstandard.ZstdCompressor()
    path.write_bytes(cctx.compress(b'{"text": "a"}\n') + cctx.compress(b'{"text": "b"}\n'))
    assert [t for _, t in docs_of(read(path))] == ["a", "b"]


@pytest.mark.parametrize("codec", ["gz", "zst"])
def test_truncated_stream_keeps_complete_records(tmp_path, codec):
    # Hex digests barely compress, so the cut falls after many complete zstd blocks.
    lines = [
        json.dumps({"text": hashlib.sha256(str(i).encode()).hexdigest()}) for i in range(20000)
    ]
    data = compress(("\n".join(lines) + "\n").encode(), codec)
    path = tmp_path / f"a.jsonl.{codec}"
    path.write_bytes(data[: len(data) // 2])
    records = read(path)
    docs, rejects = docs_of(records), rejects_of(records)
    assert len(docs) > 100
    assert [t for _, t in docs] == [json.loads(x)["text"] for x in lines[: len(docs)]]
    assert rejects == [(f"{path}:{len(docs)}", "truncated")] or rejects == [
        (str(path), "truncated")
    ]
    assert len(records) == len(docs) + 1


def test_truncated_text_stream_rejects_the_open_document(tmp_path):
    texts = [f"Doc {hashlib.sha256(str(i).encode()).hexdigest()}." for i in range(20000)]
    data = zstandard.ZstdCompressor().compress("\n\n".join(texts).encode())
    path = tmp_path / "a.txt.zst"
    path.write_bytes(data[: len(data) // 2])
    records = read(path)
    docs = [t for _, t in docs_of(records)]
    assert len(docs) > 100 and docs == texts[: len(docs)]
    assert rejects_of(records) == [(f"{path}:{len(docs)}", "truncated")]


def test_corrupt_zstd_is_rejected(tmp_path):
    data = bytearray(zstandard.ZstdCompressor().compress(b'{"text": "a"}\n' * 1000))
    data[20:40] = b"\xff" * 20
    path = tmp_path / "a.jsonl.zst"
    path.write_bytes(bytes(data))
    reasons = {reason for _, reason in rejects_of(read(path))}
    assert reasons & {"corrupt_compressed_data", "invalid_json", "truncated"}


def test_invalid_utf8_rejects_only_its_record(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"Good one.\n\nBad \xff\xfe bytes.\nSame doc.\n\nGood two.\n")
    records = read(path)
    assert [t for _, t in docs_of(records)] == ["Good one.", "Good two."]
    (reject,) = [r for r in records if isinstance(r, Reject)]
    assert (reject.source, reject.reason) == (f"{path}:1", "invalid_utf8")
    assert reject.raw == "Bad \ufffd\ufffd bytes.\nSame doc."


def test_nul_filled_file_is_binary(tmp_path):
    path = tmp_path / "junk.txt"
    path.write_bytes(b"\x00" * 4096)
    assert rejects_of(read(path)) == [(f"{path}:0", "binary")]


def test_empty_file_gives_nothing(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert read(path) == []
    gz = tmp_path / "empty.txt.gz"
    gz.write_bytes(gzip.compress(b""))
    assert read(gz) == []


def test_five_megabyte_line_is_rejected_and_bounded(tmp_path):
    path = tmp_path / "a.jsonl"
    big = json.dumps({"text": "y" * (5 << 20)})
    path.write_text('{"text": "before"}\n' + big + '\n{"text": "after"}\n')
    records = read(path)
    assert [t for _, t in docs_of(records)] == ["before", "after"]
    (reject,) = [r for r in records if isinstance(r, Reject)]
    assert (reject.source, reject.reason) == (f"{path}:1", "line_too_long")
    assert len(reject.raw) == RAW_PREVIEW_CHARS


def test_read_corpus_matches_at_run_time_and_counts(tmp_path):
    (tmp_path / "a.txt").write_text(BERT_TEXT)
    (tmp_path / "b.jsonl").write_text('{"text": "j"}\n{bad\n')
    (tmp_path / "c.txt").write_bytes(b"")
    cfg = ReadConfig(
        inputs=(str(tmp_path / "*.txt"), str(tmp_path / "*.jsonl"), str(tmp_path / "a.*"))
    )
    with BeamTestPipeline(runner="FnApiRunner") as p:
        out = p | ReadCorpus(cfg)
        texts = out["documents"] | beam.Map(lambda d: d.text)
        assert_that(
            texts, equal_to(["First sentence.\nSecond sentence.", "Other doc, one line.", "j"])
        )
        reasons = out["rejects"] | "Reasons" >> beam.Map(lambda r: r.reason)
        assert_that(reasons, equal_to(["invalid_json"]), label="rejects")
        stats = out["stats"] | beam.CombinePerKey(sum)
        assert_that(
            stats,
            equal_to(
                [
                    ("files_read", 3),
                    ("documents_read", 4),
                    ("documents_rejected", 1),
                    ("documents_rejected/invalid_json", 1),
                ]
            ),
            label="stats",
        )
