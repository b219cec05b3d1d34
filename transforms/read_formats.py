"""Record parsers per input format: bounded lines in, TextDocument or Reject out.

A *record* is what one format calls a document: a blank-line-separated block (BERT text),
a line (JSONL), a `<doc>` block (WikiExtractor) or a row (Parquet). Its id is
`<path>:<ordinal>` (ordinal = 0-based record index in the file, rejects included) unless
an id field is configured. A record that cannot be decoded or parsed becomes one Reject
with the first reason found; every other record of the file is still read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from core.config import ReadConfig
from transforms.accounting import (
    BINARY,
    INVALID_JSON,
    INVALID_PARQUET,
    INVALID_UTF8,
    LINE_TOO_LONG,
    MISSING_FIELD,
    OUTSIDE_DOC,
    UNTERMINATED_DOC,
)
from transforms.read_streams import Line, strip_compression_suffix
from transforms.records import Reject, TextDocument

RAW_PREVIEW_CHARS = 2000
"""How much of a rejected record's raw text is kept in `rejects-*.jsonl.zst`."""

Damage = Callable[[], str | None]
"""Asked after each line: why the decompressed stream ended early, if it did (read_streams)."""

_JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
_DOC_OPEN = re.compile(rb"^<doc(\s[^>]*)?>\s*$")
_DOC_CLOSE = re.compile(rb"^</doc>\s*$")
_ATTR = re.compile(r'(\w+)="([^"]*)"')


def detect_format(path: str, first_line: bytes | None) -> str:
    """`auto`: by extension (after .gz/.zst), and `<doc ` at the top means WikiExtractor."""
    name = strip_compression_suffix(path).lower()
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if first_line is not None and _DOC_OPEN.match(first_line.strip()):
        return "wikiextractor"
    return "text"


def preview(data: bytes | str) -> str:
    """What a reject keeps of its raw record: undecodable bytes replaced, truncated."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    return text[:RAW_PREVIEW_CHARS]


def line_problem(line: Line) -> str | None:
    """The reject reason a single line forces on its record, if any."""
    if b"\x00" in line.data:
        return BINARY
    if line.too_long:
        return LINE_TOO_LONG
    try:
        line.data.decode("utf-8")
    except UnicodeDecodeError:
        return INVALID_UTF8
    return None


class _Block:
    """The lines of one multi-line record and the first problem seen in them."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.problem: str | None = None

    def add(self, line: Line, damage: str | None) -> None:
        self.lines.append(line.data)
        if self.problem is None:
            self.problem = damage if line.partial else line_problem(line)

    def raw(self) -> bytes:
        return b"\n".join(self.lines)[: RAW_PREVIEW_CHARS * 4]

    def text(self) -> str:
        return b"\n".join(self.lines).decode("utf-8")


def parse_text(path: str, lines: Iterable[Line], damage: Damage) -> Iterator[TextDocument | Reject]:
    """BERT text format: one sentence per line, blank line between documents."""
    ordinal = 0
    block = _Block()
    for line in lines:
        if line.data.strip() or line.too_long:
            block.add(line, damage())
            continue
        if block.lines:
            yield _finish(path, ordinal, block, presplit=True)
            ordinal += 1
            block = _Block()
    if block.lines:
        if damage() and block.problem is None:
            block.problem = damage()
        yield _finish(path, ordinal, block, presplit=True)


def _finish(path: str, ordinal: int, block: _Block, presplit: bool,
            doc_id: str | None = None) -> TextDocument | Reject:
    locator = f"{path}:{ordinal}"
    if block.problem:
        return Reject(source=locator, reason=block.problem, raw=preview(block.raw()))
    return TextDocument(id=doc_id or locator, text=block.text(), source=path, presplit=presplit)


def parse_jsonl(path: str, lines: Iterable[Line], damage: Damage,
                cfg: ReadConfig) -> Iterator[TextDocument | Reject]:
    """JSON lines; the text (and optional id) come from configured fields."""
    ordinal = -1
    for line in lines:
        if not line.data.strip() and not line.too_long:
            continue
        ordinal += 1
        locator = f"{path}:{ordinal}"
        problem = damage() if line.partial else line_problem(line)
        if problem is None:
            try:
                obj = json.loads(line.data)
            except ValueError:
                problem = INVALID_JSON
        if problem is not None:
            yield Reject(source=locator, reason=problem, raw=preview(line.data))
            continue
        yield _json_record(obj, locator, path, cfg, line.data)


def _json_record(obj: object, locator: str, path: str, cfg: ReadConfig,
                 raw: bytes | str) -> TextDocument | Reject:
    text = obj.get(cfg.text_field) if isinstance(obj, dict) else None
    doc_id = locator
    if cfg.id_field is not None:
        value = obj.get(cfg.id_field) if isinstance(obj, dict) else None
        doc_id = None if value is None else str(value)
    if not isinstance(text, str) or doc_id is None:
        return Reject(source=locator, reason=MISSING_FIELD, raw=preview(raw))
    return TextDocument(id=doc_id, text=text, source=path, presplit=False)


def parse_wikiextractor(path: str, lines: Iterable[Line], damage: Damage,
                        cfg: ReadConfig) -> Iterator[TextDocument | Reject]:
    """`<doc id= url= title=>` blocks, one paragraph per line.

    The first line of a block repeats the title; it is dropped, because a bare title is
    neither a sentence nor part of the article's prose. Text between blocks becomes an
    `outside_doc` reject per line; a block still open at the end is `unterminated_doc`
    (or the stream's damage reason).
    """
    ordinal = 0
    block: _Block | None = None
    attrs: dict[str, str] = {}
    for line in lines:
        stripped = line.data.strip()
        if not line.too_long and _DOC_OPEN.match(stripped):
            if block is not None:
                block.problem = block.problem or UNTERMINATED_DOC
                yield _finish(path, ordinal, block, presplit=False)
                ordinal += 1
            block = _Block()
            attrs = dict(_ATTR.findall(stripped.decode("utf-8", errors="replace")))
            continue
        if block is None:
            if stripped or line.too_long:
                yield Reject(source=f"{path}:{ordinal}", reason=OUTSIDE_DOC, raw=preview(line.data))
                ordinal += 1
            continue
        if not line.too_long and _DOC_CLOSE.match(stripped):
            _drop_title(block, attrs.get("title"))
            doc_id = attrs.get(cfg.id_field) if cfg.id_field else None
            yield _finish(path, ordinal, block, presplit=False, doc_id=doc_id)
            ordinal += 1
            block = None
            continue
        block.add(line, damage())
    if block is not None:
        block.problem = block.problem or damage() or UNTERMINATED_DOC
        yield _finish(path, ordinal, block, presplit=False)


def _drop_title(block: _Block, title: str | None) -> None:
    """Remove the first non-blank line when it equals the block's title."""
    for i, data in enumerate(block.lines):
        if data.strip():
            if title is not None and data.strip() == title.strip().encode("utf-8"):
                del block.lines[i]
            return


def parse_parquet(path: str, fileobj: BinaryIO, cfg: ReadConfig) -> Iterator[TextDocument | Reject]:
    """Rows of a Parquet file, read a record batch at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = [cfg.text_field] + ([cfg.id_field] if cfg.id_field else [])
    try:
        parquet = pq.ParquetFile(fileobj)
        missing = [c for c in columns if c not in parquet.schema_arrow.names]
        if missing:
            raise ValueError(f"no column {missing[0]!r} in {parquet.schema_arrow.names}")
        batches = parquet.iter_batches(batch_size=1024, columns=columns)
        ordinal = 0
        for batch in batches:
            rows = batch.to_pylist()
            for row in rows:
                locator = f"{path}:{ordinal}"
                ordinal += 1
                text = row.get(cfg.text_field)
                if isinstance(text, str) and len(text) > cfg.max_line_bytes:
                    yield Reject(source=locator, reason=LINE_TOO_LONG, raw=preview(text))
                    continue
                yield _json_record(row, locator, path, cfg, json.dumps(row, default=str))
    except (pa.ArrowException, OSError, ValueError) as e:
        yield Reject(source=path, reason=INVALID_PARQUET, raw=preview(str(e)))
