"""Record parsers per input format: lines in, TextDocument or Reject out.

A *record* is what one format calls a document: a blank-line-separated block (BERT text),
a line (JSONL), a `<doc>` block (WikiExtractor) or a row (Parquet). Its locator is
`<name>:<offset>`: `name` is the file's path below the input base (see `read.py`) and
`offset` the byte offset in the (decoded) file where the record's first line starts — for
Parquet, the row number. Offsets do not depend on how the file is split into byte ranges,
so the locator is the document id unless an id field is configured. A record that cannot be
decoded or parsed becomes one Reject with the first reason found; every other record of the
file is still read. A damaged compressed stretch is one Reject: the record it cut, or the
stretch alone when it fell between records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
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
    WRONG_TYPE,
)
from transforms.read_streams import Damage, Line, strip_compression_suffix
from transforms.records import Reject, TextDocument

RAW_PREVIEW_CHARS = 2000
"""How much of a rejected record's raw text is kept in `rejects-*.jsonl.zst`."""

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


def is_wiki_open(line: Line) -> bool:
    """Does `line` open a WikiExtractor `<doc>` block (and so start a record)?"""
    return not line.too_long and _DOC_OPEN.match(line.data.strip()) is not None


def is_blank(line: Line) -> bool:
    """A blank line separates BERT-text documents (a too-long line never counts as blank)."""
    return not line.too_long and not line.data.strip()


class _Block:
    """The lines of one multi-line record, where it starts and the first problem seen."""

    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.lines: list[bytes] = []
        self.problem: str | None = None

    def add(self, line: Line) -> None:
        self.lines.append(line.data)
        if self.problem is None and line.damage is None:
            self.problem = line_problem(line)

    def raw(self) -> bytes:
        return b"\n".join(self.lines)[: RAW_PREVIEW_CHARS * 4]

    def finish(self, name: str, presplit: bool, doc_id: str | None = None
               ) -> TextDocument | Reject:
        locator = f"{name}:{self.offset}"
        if self.problem:
            return Reject(source=locator, reason=self.problem, raw=preview(self.raw()))
        text = b"\n".join(self.lines).decode("utf-8")
        return TextDocument(id=doc_id or locator, text=text, source=name, presplit=presplit)

    def damaged(self, name: str, damage: Damage) -> Reject:
        return Reject(source=f"{name}:{self.offset}", reason=damage.reason,
                      raw=preview(self.raw()), detail=damage.describe())


def _damage_reject(name: str, line: Line) -> Reject:
    """The Reject for a damaged stretch that cut no multi-line record."""
    assert line.damage is not None
    return Reject(source=f"{name}:{line.offset}", reason=line.damage.reason,
                  raw=preview(line.data), detail=line.damage.describe())


def parse_text(name: str, lines: Iterable[Line]) -> Iterator[TextDocument | Reject]:
    """BERT text format: one sentence per line, blank line between documents."""
    block: _Block | None = None
    for line in lines:
        if line.damage is not None:
            if line.damage.boundary:
                # The stream ended cleanly before the damage: the open document is whole.
                if block is not None:
                    yield block.finish(name, presplit=True)
                yield _damage_reject(name, line)
            elif block is None:
                yield _damage_reject(name, line)
            else:
                block.add(line)
                yield block.damaged(name, line.damage)
            block = None
        elif not is_blank(line):
            if block is None:
                block = _Block(line.offset)
            block.add(line)
        elif block is not None:
            yield block.finish(name, presplit=True)
            block = None
    if block is not None:
        yield block.finish(name, presplit=True)


def parse_jsonl(name: str, lines: Iterable[Line], cfg: ReadConfig
                ) -> Iterator[TextDocument | Reject]:
    """JSON lines; the text (and optional id) come from configured fields."""
    for line in lines:
        if line.damage is not None:
            yield _damage_reject(name, line)
            continue
        if is_blank(line):
            continue
        locator = f"{name}:{line.offset}"
        problem = line_problem(line)
        if problem is None:
            try:
                obj = json.loads(line.data)
            except ValueError:
                problem = INVALID_JSON
        if problem is not None:
            yield Reject(source=locator, reason=problem, raw=preview(line.data))
            continue
        yield _json_record(obj, locator, name, cfg, line.data)


def _json_record(obj: object, locator: str, name: str, cfg: ReadConfig,
                 raw: bytes | str) -> TextDocument | Reject:
    record = obj if isinstance(obj, dict) else {}
    text = record.get(cfg.text_field)
    doc_id = locator
    if cfg.id_field is not None:
        value = record.get(cfg.id_field)
        doc_id = None if value is None else str(value)
    if text is None or doc_id is None:
        return Reject(source=locator, reason=MISSING_FIELD, raw=preview(raw))
    if not isinstance(text, str):
        return Reject(source=locator, reason=WRONG_TYPE, raw=preview(raw))
    return TextDocument(id=doc_id, text=text, source=name, presplit=False)


def parse_wikiextractor(name: str, lines: Iterable[Line], cfg: ReadConfig
                        ) -> Iterator[TextDocument | Reject]:
    """`<doc id= url= title=>` blocks, one paragraph per line.

    The first line of a block repeats the title; it is dropped, because a bare title is
    neither a sentence nor part of the article's prose. Text between blocks becomes an
    `outside_doc` reject per line; a block still open at the end (or when the next opens)
    is `unterminated_doc`, or the stream's damage reason when damage cut it.
    """
    block: _Block | None = None
    attrs: dict[str, str] = {}
    for line in lines:
        if line.damage is not None:
            if block is None:
                yield _damage_reject(name, line)
            else:
                block.add(line)
                yield block.damaged(name, line.damage)
            block = None
            continue
        stripped = line.data.strip()
        if is_wiki_open(line):
            if block is not None:
                block.problem = block.problem or UNTERMINATED_DOC
                yield block.finish(name, presplit=False)
            block = _Block(line.offset)
            attrs = dict(_ATTR.findall(stripped.decode("utf-8", errors="replace")))
            continue
        if block is None:
            if stripped or line.too_long:
                yield Reject(source=f"{name}:{line.offset}", reason=OUTSIDE_DOC,
                             raw=preview(line.data))
            continue
        if not line.too_long and _DOC_CLOSE.match(stripped):
            _drop_title(block, attrs.get("title"))
            doc_id = attrs.get(cfg.id_field) if cfg.id_field else None
            yield block.finish(name, presplit=False, doc_id=doc_id)
            block = None
            continue
        block.add(line)
    if block is not None:
        block.problem = block.problem or UNTERMINATED_DOC
        yield block.finish(name, presplit=False)


def _drop_title(block: _Block, title: str | None) -> None:
    """Remove the first non-blank line when it equals the block's title."""
    for i, data in enumerate(block.lines):
        if data.strip():
            if title is not None and data.strip() == title.strip().encode("utf-8"):
                del block.lines[i]
            return


def parse_parquet(name: str, fileobj: BinaryIO, cfg: ReadConfig
                  ) -> Iterator[TextDocument | Reject]:
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
                locator = f"{name}:{ordinal}"
                ordinal += 1
                text = row.get(cfg.text_field)
                if isinstance(text, str) and len(text) > cfg.max_line_bytes:
                    yield Reject(source=locator, reason=LINE_TOO_LONG, raw=preview(text))
                    continue
                yield _json_record(row, locator, name, cfg, json.dumps(row, default=str))
    except (pa.ArrowException, OSError, ValueError) as e:
        yield Reject(source=name, reason=INVALID_PARQUET, raw=preview(str(e)))
