"""Readers: every format, compressed variants, stable ids, and bad data routed to rejects."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import zlib

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from core.config import ReadConfig
from tests.corpora import corpus_path
from transforms.input_names import InputFile
from transforms.read import ReadCorpus, byte_ranges, read_records
from transforms.read_formats import RAW_PREVIEW_CHARS
from transforms.read_streams import CHUNK_BYTES
from transforms.records import Reject, TextDocument

BERT_TEXT = "First sentence.\nSecond sentence.\n\n\nOther doc, one line.\n"
WIKI = (
    '<doc id="7" url="https://x/?curid=7" title="Cats">\n'
    "Cats\n\nCats are small.\nThey purr.\n</doc>\n"
    '<doc id="9" url="https://x/?curid=9" title="Dogs">\nDogs\nDogs bark.\n</doc>\n'
)


def read(path, fmt="auto", **kw) -> list:
    """The records of one file, named by its base name."""
    cfg = ReadConfig(inputs=(str(path),), format=fmt, **kw)
    with open(path, "rb") as fh:
        return list(read_records(path.name, str(path), fh, cfg))


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
    # ids: name and the byte offset of the document's first line
    assert docs_of(records) == [
        ("a.txt:0", "First sentence.\nSecond sentence."),
        ("a.txt:35", "Other doc, one line."),
    ]
    assert all(r.presplit and r.source == "a.txt" for r in records)


def test_bert_text_crlf_and_bom(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbfOne.\r\nTwo.\r\n\r\nThree.\r\n")
    assert [t for _, t in docs_of(read(path))] == ["One.\nTwo.", "Three."]


@pytest.mark.parametrize("end", ["\r", "\r\n", "\n"])
def test_every_line_end_separates_lines_in_every_text_format(tmp_path, end):
    """A lone CR ends a line (old Mac files); CRLF is still one line end (issue 17 item 2)."""
    text = tmp_path / "a.txt"
    text.write_bytes(BERT_DOCS.replace("\n", end).encode())
    docs = docs_of(read(text))
    assert len(docs) == 43
    first = f"Document 0 starts here.{end}It has a second line.{end}{end}"
    assert docs[1] == (f"a.txt:{len(first)}", "Document 1 starts here.\nIt has a second line.")
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_bytes(end.join(json.dumps({"text": f"t{i}"}) for i in range(25)).encode())
    assert [t for _, t in docs_of(read(jsonl))] == [f"t{i}" for i in range(25)]
    wiki = tmp_path / "wiki_00"
    wiki.write_bytes(WIKI.replace("\n", end).encode())
    assert [t for _, t in docs_of(read(wiki))] == ["\nCats are small.\nThey purr.", "Dogs bark."]


def test_a_lone_cr_and_crlf_mixed(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"One.\rTwo.\r\n\rThree.\r\n\r\nFour.\n\r\rFive.")
    assert docs_of(read(path)) == [("a.txt:0", "One.\nTwo."), ("a.txt:12", "Three."),
                                   ("a.txt:22", "Four."), ("a.txt:30", "Five.")]


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
    starts = [sum(len(x) + 1 for x in lines[:i]) for i in range(len(lines))]
    assert rejects_of(records) == [
        (f"a.jsonl:{starts[2]}", "invalid_json"),
        (f"a.jsonl:{starts[3]}", "missing_field"),
        (f"a.jsonl:{starts[4]}", "missing_field"),
    ]
    assert not any(r.presplit for r in records if isinstance(r, TextDocument))


def test_jsonl_default_ids_are_name_and_line_offset(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "a"}\n\n{"text": "b"}\n')
    assert docs_of(read(path)) == [("a.jsonl:0", "a"), ("a.jsonl:15", "b")]


def test_a_text_field_of_another_type_is_wrong_type(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": 5}\n{"text": ["x"]}\n{"other": "x"}\n')
    assert [reason for _, reason in rejects_of(read(path))] == [
        "wrong_type", "wrong_type", "missing_field"]


def test_wikiextractor_drops_title_line_and_keeps_paragraphs(tmp_path):
    path = tmp_path / "wiki_00"
    path.write_text(WIKI)
    records = read(path)  # auto: detected from the first line
    second = WIKI.index('<doc id="9"')
    assert docs_of(records) == [
        ("wiki_00:0", "\nCats are small.\nThey purr."),
        (f"wiki_00:{second}", "Dogs bark."),
    ]
    assert docs_of(read(path, fmt="wikiextractor", id_field="id")) == [
        ("7", "\nCats are small.\nThey purr."),
        ("9", "Dogs bark."),
    ]


def test_wikiextractor_stray_text_and_unterminated_doc(tmp_path):
    path = tmp_path / "wiki_01"
    text = ('<doc id="1" title="A">\nA\nText a.\n</doc>\nstray line\n'
            '<doc id="2" title="B">\nB\nText b.\n')
    path.write_text(text)
    records = read(path, fmt="wikiextractor")
    assert docs_of(records) == [("wiki_01:0", "Text a.")]
    stray, second = text.index("stray"), text.index('<doc id="2"')
    assert rejects_of(records) == [(f"wiki_01:{stray}", "outside_doc"),
                                   (f"wiki_01:{second}", "unterminated_doc")]


def test_parquet_text_and_id_columns(tmp_path):
    path = tmp_path / "a.parquet"
    pq.write_table(
        pa.table({"text": ["One doc.", None, "Two doc."], "key": ["k1", "k2", "k3"]}), path
    )
    records = read(path, id_field="key")
    assert docs_of(records) == [("k1", "One doc."), ("k3", "Two doc.")]
    assert rejects_of(records) == [("a.parquet:1", "missing_field")]  # Parquet: row number


def test_parquet_bytes_text_column_is_wrong_type(tmp_path):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"text": pa.array([b"bytes", None], pa.binary())}), path)
    assert rejects_of(read(path)) == [("a.parquet:0", "wrong_type"),
                                      ("a.parquet:1", "missing_field")]


def test_parquet_missing_column_and_garbage_file(tmp_path):
    good = tmp_path / "a.parquet"
    pq.write_table(pa.table({"body": ["x"]}), good)
    assert rejects_of(read(good)) == [("a.parquet", "invalid_parquet")]
    bad = tmp_path / "b.parquet"
    bad.write_bytes(b"not parquet at all")
    assert rejects_of(read(bad)) == [("b.parquet", "invalid_parquet")]


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
        i.replace(name, packed.name) for i, _ in docs_of(read(plain))
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


def hex_lines(n: int, tag: str = "") -> list[str]:
    """JSONL lines of hex digests: they barely compress, so a cut falls after many blocks."""
    return [json.dumps({"text": hashlib.sha256(f"{tag}{i}".encode()).hexdigest()})
            for i in range(n)]


def decodable_prefix(data: bytes, codec: str) -> bytes:
    """All a library decoder gets out of a cut stream (it stops silently at the cut)."""
    if codec == "gz":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
    return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()


@pytest.mark.parametrize("codec", ["gz", "zst"])
def test_truncated_stream_keeps_every_complete_record(tmp_path, codec):
    lines = hex_lines(20000)
    data = compress(("\n".join(lines) + "\n").encode(), codec)
    cut = data[: len(data) // 2]
    path = tmp_path / f"a.jsonl.{codec}"
    path.write_bytes(cut)
    records = read(path)
    whole = decodable_prefix(cut, codec).count(b"\n")
    assert whole > 100
    assert [t for _, t in docs_of(records)] == [json.loads(x)["text"] for x in lines[:whole]]
    (reject,) = [r for r in records if isinstance(r, Reject)]
    offset = sum(len(x) + 1 for x in lines[:whole])
    assert (reject.source, reject.reason) == (f"{path.name}:{offset}", "truncated")
    assert lines[whole].startswith(reject.raw)  # the part of the cut line that was decoded
    assert f"damaged at compressed byte {len(cut)}" in reject.detail


def test_truncated_text_stream_rejects_the_open_document(tmp_path):
    texts = [f"Doc {hashlib.sha256(str(i).encode()).hexdigest()}." for i in range(20000)]
    data = zstandard.ZstdCompressor().compress("\n\n".join(texts).encode())
    path = tmp_path / "a.txt.zst"
    path.write_bytes(data[: len(data) // 2])
    records = read(path)
    docs = [t for _, t in docs_of(records)]
    assert len(docs) > 100 and docs == texts[: len(docs)]
    offset = sum(len(t) + 2 for t in texts[: len(docs)])
    assert rejects_of(records) == [(f"a.txt.zst:{offset}", "truncated")]


BERT_DOCS = "".join(f"Document {i} starts here.\nIt has a second line.\n\n" for i in range(43))


def test_gzip_with_trailing_garbage_keeps_every_document(tmp_path):
    """`gzip -c docs.txt > d.txt.gz; printf 'GARBAGE!' >> d.txt.gz` (issue 17 item 1)."""
    content = BERT_DOCS.rstrip("\n") + "\n"  # the last document is still open at the end
    member = gzip.compress(content.encode())
    path = tmp_path / "d.txt.gz"
    path.write_bytes(member + b"GARBAGE!")
    records = read(path)
    assert len(docs_of(records)) == 43
    (reject,) = [r for r in records if isinstance(r, Reject)]
    assert (reject.source, reject.reason, reject.raw) == (
        f"d.txt.gz:{len(content)}", "corrupt_compressed_data", "")
    assert reject.detail == (f"gzip data damaged at compressed byte {len(member)}; "
                             "nothing after it decoded")


def members(codec: str, n: int, docs_per_member: int) -> list[bytes]:
    """`n` members/frames, each `docs_per_member` BERT-text documents ending in a blank line."""
    return [compress("".join(f"Member {m} document {d}.\nSecond line.\n\n"
                             for d in range(docs_per_member)).encode(), codec)
            for m in range(n)]


@pytest.mark.parametrize("codec", ["gz", "zst"])
def test_a_bad_member_in_the_middle_loses_only_itself(tmp_path, codec):
    parts = members(codec, 5, 7)
    bad = bytearray(parts[2])
    bad[3 if codec == "gz" else 4] ^= 0xE0  # reserved header bits: the member cannot start
    path = tmp_path / f"m.txt.{codec}"
    path.write_bytes(b"".join(parts[:2]) + bytes(bad) + b"".join(parts[3:]))
    records = read(path)
    texts = [t for _, t in docs_of(records)]
    assert len(texts) == 4 * 7
    assert [t.split(".")[0] for t in texts] == [
        f"Member {m} document {d}" for m in (0, 1, 3, 4) for d in range(7)]
    (reject,) = [r for r in records if isinstance(r, Reject)]
    assert reject.reason == "corrupt_compressed_data"
    bad_at = len(parts[0]) + len(parts[1])
    resumed = bad_at + len(parts[2])
    assert reject.detail == (f"{'gzip' if codec == 'gz' else 'zstd'} data damaged at compressed "
                             f"byte {bad_at}; resumed at byte {resumed}")


def test_a_frame_cut_in_the_middle_keeps_what_decoded_and_the_frames_after(tmp_path):
    """A frame cut short and followed by another: zstd reads the next frame as data of the
    cut one; the decoded part of the cut frame is kept, and so is every later frame."""
    first, second = hex_lines(20000, "a"), hex_lines(300, "b")
    frame = compress(("\n".join(first) + "\n").encode(), "zst")
    cut = frame[: len(frame) // 2 + 12345]
    path = tmp_path / "c.jsonl.zst"
    path.write_bytes(cut + compress(("\n".join(second) + "\n").encode(), "zst"))
    records = read(path)
    whole = decodable_prefix(cut, "zst").count(b"\n")
    assert whole > 100
    expected = [json.loads(x)["text"] for x in first[:whole] + second]
    assert [t for _, t in docs_of(records)] == expected
    (reject,) = [r for r in records if isinstance(r, Reject)]
    assert reject.reason == "truncated"
    assert reject.detail == (f"zstd data damaged at compressed byte {len(cut)}; "
                             f"resumed at byte {len(cut)}")


def test_invalid_utf8_rejects_only_its_record(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"Good one.\n\nBad \xff\xfe bytes.\nSame doc.\n\nGood two.\n")
    records = read(path)
    assert [t for _, t in docs_of(records)] == ["Good one.", "Good two."]
    (reject,) = [r for r in records if isinstance(r, Reject)]
    assert (reject.source, reject.reason) == ("a.txt:11", "invalid_utf8")
    assert reject.raw == "Bad \ufffd\ufffd bytes.\nSame doc."


def test_nul_filled_file_is_binary(tmp_path):
    path = tmp_path / "junk.txt"
    path.write_bytes(b"\x00" * 4096)
    assert rejects_of(read(path)) == [("junk.txt:0", "binary")]


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
    assert (reject.source, reject.reason) == ("a.jsonl:19", "line_too_long")
    assert len(reject.raw) == RAW_PREVIEW_CHARS


def test_read_corpus_matches_at_run_time_names_files_and_counts(tmp_path):
    (tmp_path / "a.txt").write_text(BERT_TEXT)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.jsonl").write_text('{"text": "j"}\n{bad\n')
    (tmp_path / "c.txt").write_bytes(b"")
    (tmp_path / "gone.txt").symlink_to(tmp_path / "missing.txt")
    (tmp_path / "loop.txt").symlink_to(tmp_path / "loop.txt")
    cfg = ReadConfig(inputs=(str(tmp_path / "*.txt"), str(tmp_path / "sub" / "*.jsonl"),
                             str(tmp_path / "a.*")))
    with BeamTestPipeline(runner="FnApiRunner") as p:
        out = p | ReadCorpus(cfg)
        docs = out["documents"] | beam.Map(lambda d: (d.id, d.text))
        assert_that(docs, equal_to([("a.txt:0", "First sentence.\nSecond sentence."),
                                    ("a.txt:35", "Other doc, one line."),
                                    ("sub/b.jsonl:0", "j")]))
        rejects = out["rejects"] | "Reasons" >> beam.Map(lambda r: (r.source, r.reason))
        assert_that(rejects, equal_to([("sub/b.jsonl:14", "invalid_json"),
                                       ("gone.txt", "broken_link"),
                                       ("loop.txt", "broken_link")]), label="rejects")
        stats = out["stats"] | beam.CombinePerKey(sum)
        assert_that(stats, equal_to([("files_read", 5), ("documents_read", 6),
                                     ("documents_rejected", 3),
                                     ("documents_rejected/broken_link", 2),
                                     ("documents_rejected/invalid_json", 1)]), label="stats")


def zstd_block_starts(frame: bytes) -> list[int]:
    """Offsets of the block headers of one zstd frame (RFC 8878 section 3.1.1)."""
    descriptor = frame[4]
    single_segment = descriptor >> 5 & 1
    content_size_bytes = [single_segment, 2, 4, 8][descriptor >> 6]
    pos = 5 + (0 if single_segment else 1) + [0, 1, 2, 4][descriptor & 3] + content_size_bytes
    starts = []
    while True:
        starts.append(pos)
        header = int.from_bytes(frame[pos:pos + 3], "little")
        block_type, size = header >> 1 & 3, header >> 3
        pos += 3 + (1 if block_type == 1 else size)
        if header & 1:
            return starts


def test_damage_inside_a_frame_keeps_every_block_decoded_before_it(tmp_path):
    """A reserved block type in the middle of a big frame, then a good frame. Every block
    before the bad one is decoded and kept although `decompress` raises for the whole chunk
    that holds them (the chunk is replayed byte by byte)."""
    first, second = hex_lines(20000, "a"), hex_lines(300, "b")
    frame = bytearray(compress(("\n".join(first) + "\n").encode(), "zst"))
    blocks = zstd_block_starts(bytes(frame))
    bad = blocks[len(blocks) // 2]
    assert bad % CHUNK_BYTES > 1000  # the bad block is not the first thing in its chunk
    frame[bad] |= 0b110  # block type 3: reserved
    path = tmp_path / "b.jsonl.zst"
    path.write_bytes(bytes(frame) + compress(("\n".join(second) + "\n").encode(), "zst"))
    records = read(path)
    whole = decodable_prefix(bytes(frame[:bad]), "zst").count(b"\n")
    expected = [json.loads(x)["text"] for x in first[:whole] + second]
    assert [t for _, t in docs_of(records)] == expected
    (reject,) = [r for r in records if isinstance(r, Reject)]
    assert reject.reason == "corrupt_compressed_data"
    at = int(re.fullmatch(r"zstd data damaged at compressed byte (\d+); resumed at byte "
                          + str(len(frame)), reject.detail).group(1))
    assert bad <= at < bad + 3  # inside the bad block's header


def read_in_ranges(path, split_bytes: int, fmt: str = "auto", **kw) -> list:
    """The records of `path` read as the pipeline reads them: range by range."""
    cfg = ReadConfig(inputs=(str(path),), format=fmt, split_bytes=split_bytes, **kw)
    ranges = byte_ranges(InputFile(path.name, str(path), path.stat().st_size), cfg)
    assert len(ranges) == -(-path.stat().st_size // split_bytes)
    records = []
    for part in ranges:
        with open(path, "rb") as fh:
            records += read_records(part.name, part.path, fh, cfg, part.start, part.end)
    return records


def line_ends_as(path, tmp_path, end: str):
    """A copy of `path` with every line end replaced by `end`."""
    data = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", end.encode())
    out = tmp_path / f"{path.stem}-{len(end)}{path.suffix}"
    out.write_bytes(data)
    return out


@pytest.mark.parametrize(("rel", "end"), [
    ("bert_sample/sample_text.txt", "\n"),
    ("bert_sample/sample_text.txt", "\r"),
    ("zh/albert_zh_news_zh_1.txt", "\r\n"),
    ("en/enwiki_wikiextractor_wiki_00.txt", "\n"),
    ("en/enwiki_wikiextractor_wiki_00.txt", "\r"),
    ("en/wikitext2_raw_test_crlf_noblank.raw", None),
    ("zh/zhwiki_wiki_zh_2019_AA_wiki_00.jsonl", "\n"),
    ("zh/zhwiki_wiki_zh_2019_AA_wiki_00.jsonl", "\r"),
])
def test_one_kilobyte_ranges_read_real_corpora_like_the_whole_file(tmp_path, rel, end):
    """Same records, ids and order whatever the range size (issue 11 item 4)."""
    path = corpus_path(rel)
    if end is not None:
        path = line_ends_as(path, tmp_path, end)
    fmt = "text" if path.suffix == ".txt" and "enwiki" not in rel else "auto"
    whole = read(path, fmt)
    assert len(whole) >= 1  # wikitext2's file is one document of 1.3 MB (no blank lines)
    assert read_in_ranges(path, 1024, fmt) == whole


EDGES = (
    b"\xef\xbb\xbf  \t\r\n"                    # BOM, a blank first line
    b"Doc one, line one.\r\nline two\r\r\n"     # a lone CR then CRLF
    b" \t \n\n\n"                               # whitespace-only lines
    b"Doc two \xff bad.\n\rDoc three.\r"        # invalid UTF-8, CR-only
    + b"y" * 1500 + b"\n"                       # a line over max_line_bytes
    + b"still doc three\n\r\n"
    b"Doc four.\n"
    + b" " * 1100 + b"\n"                       # whitespace over max_line_bytes: not blank
    + b"Doc four, after a long space line.\n\nlast"
)


@pytest.mark.parametrize("split_bytes", [1, 2, 3, 5, 8, 13, 64, 333])
def test_tiny_ranges_on_line_end_and_blank_line_edge_cases(tmp_path, split_bytes):
    path = tmp_path / "edges.txt"
    path.write_bytes(EDGES)
    whole = read(path, max_line_bytes=1024)
    assert [type(r).__name__ for r in whole] == ["TextDocument", "Reject", "Reject", "Reject",
                                                 "TextDocument"]
    assert read_in_ranges(path, split_bytes, max_line_bytes=1024) == whole


@pytest.mark.parametrize("split_bytes", [1, 7, 50])
def test_tiny_ranges_on_jsonl_and_wikiextractor(tmp_path, split_bytes):
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_bytes(b'{"text": "a"}\r\n\r\n{bad\r{"text": "b"}\n  \n{"text": "c"}')
    assert read_in_ranges(jsonl, split_bytes) == read(jsonl)
    wiki = tmp_path / "wiki_00"
    wiki.write_bytes(('stray\n' + WIKI + 'between\n\n<doc id="3" title="T">\nT\nx\n').encode())
    whole = read(wiki, "wikiextractor")
    assert [r.reason for r in whole if isinstance(r, Reject)] == [
        "outside_doc", "outside_doc", "unterminated_doc"]
    assert read_in_ranges(wiki, split_bytes, "wikiextractor") == whole


def test_compressed_and_parquet_files_are_read_whole(tmp_path):
    cfg = ReadConfig(split_bytes=10)
    for name in ("a.txt.gz", "a.jsonl.zst", "a.parquet", "a.txt"):
        ranges = byte_ranges(InputFile(name, name, 100), cfg)
        assert len(ranges) == (10 if name == "a.txt" else 1)
    assert len(byte_ranges(InputFile("a", "a", 100), ReadConfig(split_bytes=10,
                                                               format="parquet"))) == 1


def test_an_unreadable_range_is_one_counted_reject(tmp_path):
    """A range whose file cannot be opened (here a directory) is read as one document and
    rejected as `unreadable`, so the read count still balances the kept and rejected."""
    from transforms.read import ByteRange, _ReadRangeFn

    fn = _ReadRangeFn(ReadConfig(inputs=(str(tmp_path),)))
    out = list(fn.process((("dir", 0), [ByteRange("dir", str(tmp_path))])))
    stats = dict(o.value.value for o in fn.finish_bundle())
    assert [(o.tag, o.value.reason) for o in out] == [("rejects", "unreadable")]
    assert stats == {"documents_read": 1, "documents_rejected": 1,
                     "documents_rejected/unreadable": 1, "files_read": 1}
