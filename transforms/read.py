"""ReadCorpus: file patterns -> TextDocument records, with rejects and counts.

Patterns are matched when the pipeline runs, never while it is built, so a Dataflow job
can be constructed without credentials and `gs://` paths work. Each file gets a *name*:
its path below the inputs' base (`input_names.py`), so ids do not depend on how a path
was spelled. An uncompressed text, JSONL or WikiExtractor file larger than `split_bytes`
is read as byte ranges by separate DoFn calls, spread over workers by a grouping, as
Beam's text source splits files: a record belongs to the range where it starts (a BERT-text
document where its first line starts, a WikiExtractor record where its `<doc>` line
starts). Compressed and Parquet files are read whole. Every record read is counted in
`documents_read`; the undecodable or unparsable ones go to `rejects` and
`documents_rejected` (plus `documents_rejected/<reason>`).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from core.config import ReadConfig
from transforms import read_formats as fmt
from transforms.accounting import (
    BROKEN_LINK,
    DOCUMENTS_READ,
    DOCUMENTS_REJECTED,
    FILES_READ,
    REJECTED_PREFIX,
    STATS_TAG,
    UNREADABLE,
    Counters,
)
from transforms.input_names import InputFile, match_inputs
from transforms.progress import INPUT_BYTES, PROCESS_PROGRESS
from transforms.read_streams import Line, compression_of, decoded_pieces, iter_lines
from transforms.records import Reject, TextDocument

REJECTS_TAG = "rejects"
_WHITESPACE = b" \t\x0b\x0c"
_LINE_ENDS = b"\r\n"
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, order=True)
class ByteRange:
    """Part of one input file: records starting in [start, end) (end None: to the end)."""

    name: str
    path: str
    start: int = 0
    end: int | None = None
    broken: bool = False
    """A dangling symbolic link or a link loop found by a pattern: one `broken_link` reject."""


def splittable(path: str, cfg: ReadConfig) -> bool:
    """Only uncompressed line formats can be read from the middle."""
    file_format = fmt.detect_format(path, None) if cfg.format == "auto" else cfg.format
    return compression_of(path) is None and file_format != "parquet"


def byte_ranges(file: InputFile, cfg: ReadConfig) -> list[ByteRange]:
    """The ranges `file` is read as: whole, or `cfg.split_bytes` each when it is splittable."""
    if file.size <= cfg.split_bytes or not splittable(file.path, cfg):
        return [ByteRange(file.name, file.path)]
    starts = range(0, file.size, cfg.split_bytes)
    return [ByteRange(file.name, file.path, s, s + cfg.split_bytes if s + cfg.split_bytes
                      < file.size else None) for s in starts]


def read_records(name: str, path: str, fileobj: BinaryIO, cfg: ReadConfig, start: int = 0,
                 end: int | None = None) -> Iterator[TextDocument | Reject]:
    """The records of `path` (opened as `fileobj`) that start in [start, end), in file order.

    Pure (no Beam); `name` is what ids and reject sources call the file.
    """
    file_format = resolve_format(path, fileobj, cfg)
    codec = compression_of(path)
    if file_format == "parquet":
        if codec:
            fileobj = io.BytesIO(b"".join(p for p in decoded_pieces(fileobj, codec)
                                          if isinstance(p, bytes)))
        yield from fmt.parse_parquet(name, fileobj, cfg)
        return
    if codec and (start or end is not None):
        raise ValueError(f"a compressed file is read whole: {path}")
    begin = max(0, start - 1)
    fileobj.seek(begin)
    pieces = decoded_pieces(fileobj, codec)
    lines = iter_lines(pieces, cfg.max_line_bytes, fmt.RAW_PREVIEW_CHARS * 4, start=begin)
    if file_format == "jsonl":
        owned = _owned_lines(lines, start, end, lambda line, _: not fmt.is_blank(line))
        yield from fmt.parse_jsonl(name, owned, cfg)
    elif file_format == "wikiextractor":
        owned = _owned_lines(lines, start, end, lambda line, _: fmt.is_wiki_open(line))
        yield from fmt.parse_wikiextractor(name, owned, cfg)
    else:
        owned = _owned_lines(lines, start, end,
                             lambda line, blank_before: blank_before and not fmt.is_blank(line),
                             lambda p: _line_before_is_blank(fileobj, p, cfg.max_line_bytes))
        yield from fmt.parse_text(name, owned)


def resolve_format(path: str, fileobj: BinaryIO, cfg: ReadConfig) -> str:
    """`--format`, or for `auto` the format the name and the file's first line say."""
    if cfg.format != "auto":
        return cfg.format
    by_name = fmt.detect_format(path, None)
    if by_name != "text":
        return by_name
    fileobj.seek(0)
    pieces = decoded_pieces(fileobj, compression_of(path))
    first = next(iter_lines(pieces, cfg.max_line_bytes, fmt.RAW_PREVIEW_CHARS * 4), None)
    fileobj.seek(0)
    if first is None or first.too_long or first.damage:
        return by_name
    return fmt.detect_format(path, first.data)


def _owned_lines(lines: Iterator[Line], start: int, end: int | None,
                 starts_record: Callable[[Line, bool], bool],
                 blank_before: Callable[[int], bool] | None = None) -> Iterator[Line]:
    """The lines of the records that start in [start, end).

    `starts_record(line, previous_line_blank)` says whether a line begins a record. Reading
    began one byte before `start`, so the first line kept is the first that starts at or
    after `start`, and whether the line before it was blank is asked of `blank_before`.
    """
    owning = start == 0
    previous_blank: bool | None = True if start == 0 else None
    for line in lines:
        if line.offset < start:
            continue
        if previous_blank is None:
            previous_blank = blank_before(line.offset) if blank_before else True
        begins = starts_record(line, previous_blank)
        previous_blank = fmt.is_blank(line)
        if end is not None and line.offset >= end and (begins or not owning):
            return  # the next range's record, or no record of this range starts here
        owning = owning or begins
        if owning:
            yield line


def _line_before_is_blank(fileobj: BinaryIO, offset: int, max_line_bytes: int) -> bool:
    """Is the line that ends just before `offset` (a line start) blank?

    Reads backwards from `offset` only as far as the decision needs (over the whitespace of
    that line), then puts the file position back for the forward reader.
    """
    if offset == 0:
        return True
    resume = fileobj.tell()
    end = offset - 1  # the last byte of the line end
    window_start = max(0, end - 1)
    fileobj.seek(window_start)
    two = fileobj.read(end + 1 - window_start)
    if two.endswith(b"\r\n"):
        end -= 1
    pos = end - 1  # the last byte of the line's content, if any
    run = 0
    blank = True
    while pos >= 0:
        window_start = pos // 4096 * 4096  # aligned: a BOM at 0 is never cut
        fileobj.seek(window_start)
        window = fileobj.read(pos + 1 - window_start)
        stripped = window.rstrip(_WHITESPACE)
        run += len(window) - len(stripped)
        if stripped:
            last = stripped[-1:]
            at_bom = window_start == 0 and stripped == _BOM
            blank = last in (b"\r", b"\n") or at_bom
            break
        pos = window_start - 1
    fileobj.seek(resume)
    return blank and run <= max_line_bytes


class _MatchFn(beam.DoFn):
    """The impulse -> (name, InputFile) for each file each pattern matches (at run time)."""

    def __init__(self, cfg: ReadConfig) -> None:
        self._cfg = cfg

    def process(self, _: bytes):
        for pattern in sorted(set(self._cfg.inputs)):
            for file in match_inputs(pattern, self._cfg.inputs):
                yield file.name, file


class _SplitFn(beam.DoFn):
    """(name, the files matched under it) -> ((name, start), ByteRange) for each range it is
    read as. A file matched by two patterns (or two spellings of one) is read once: the
    smallest of its matches."""

    def __init__(self, cfg: ReadConfig) -> None:
        self._cfg = cfg

    def process(self, named: tuple[str, Iterable[InputFile]]):
        file = min(named[1])
        if file.broken:
            ranges = [ByteRange(file.name, file.path, broken=True)]
        else:
            ranges = byte_ranges(file, self._cfg)
        for part in ranges:
            yield (part.name, part.start), part


class _ReadRangeFn(beam.DoFn):
    """((name, start), [ByteRange]) -> TextDocument (main), Reject (REJECTS_TAG), counts
    (STATS_TAG)."""

    def __init__(self, cfg: ReadConfig) -> None:
        self._cfg = cfg
        self.counters = Counters()

    def finish_bundle(self):
        yield from self.counters.flush()

    def process(self, keyed: tuple[tuple[str, int], Iterable[ByteRange]]):
        for part in keyed[1]:
            yield from self._read(part)

    def _read(self, part: ByteRange) -> Iterator[TextDocument | beam.pvalue.TaggedOutput]:
        rejected: dict[str, int] = {}
        self._file, self._position = None, part.start
        try:
            for record in self._records(part):
                self.counters.inc(DOCUMENTS_READ)  # one by one: live progress lines
                self._count_bytes()
                if isinstance(record, Reject):
                    rejected[record.reason] = rejected.get(record.reason, 0) + 1
                    yield beam.pvalue.TaggedOutput(REJECTS_TAG, record)
                else:
                    yield record
        except OSError as e:
            self.counters.inc(DOCUMENTS_READ)
            rejected[UNREADABLE] = rejected.get(UNREADABLE, 0) + 1
            reject = Reject(source=part.name, reason=UNREADABLE, raw=fmt.preview(str(e)))
            yield beam.pvalue.TaggedOutput(REJECTS_TAG, reject)
        if part.start == 0:
            self.counters.inc(FILES_READ)
        self.counters.inc(DOCUMENTS_REJECTED, sum(rejected.values()))
        for reason, n in sorted(rejected.items()):
            self.counters.inc(REJECTED_PREFIX + reason, n)

    def _count_bytes(self) -> None:
        """Bytes of the open file consumed so far, for the progress lines only: read-ahead
        makes them depend on buffer sizes, so they never enter summary.json."""
        if self._file is not None and not self._file.closed:
            position = self._file.tell()
            PROCESS_PROGRESS.add(INPUT_BYTES, position - self._position)
            self._position = position

    def _records(self, part: ByteRange) -> Iterator[TextDocument | Reject]:
        if part.broken:
            yield Reject(source=part.name, reason=BROKEN_LINK,
                         raw=f"{part.path}: a symbolic link to nothing, or a loop")
            return
        with FileSystems.open(part.path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
            self._file = fh
            yield from read_records(part.name, part.path, fh, self._cfg, part.start, part.end)


class ReadCorpus(beam.PTransform):
    """PBegin -> {"documents", "rejects", "stats"}; a pattern matching nothing fails the run."""

    def __init__(self, cfg: ReadConfig) -> None:
        super().__init__()
        self._cfg = cfg

    def expand(self, pbegin):
        outputs = (
            pbegin
            | "Start" >> beam.Impulse()
            | "MatchFiles" >> beam.ParDo(_MatchFn(self._cfg))
            # The grouping also spreads the files over workers.
            | "DistinctFiles" >> beam.GroupByKey()
            | "ByteRanges" >> beam.ParDo(_SplitFn(self._cfg))
            # Ranges of one large file are read by different workers (one key per range: a
            # Reshuffle without its four extra steps).
            | "SpreadRanges" >> beam.GroupByKey()
            | "ReadRanges" >> beam.ParDo(_ReadRangeFn(self._cfg)).with_outputs(
                REJECTS_TAG, STATS_TAG, main="documents")
        )
        return {"documents": outputs.documents, "rejects": outputs[REJECTS_TAG],
                "stats": outputs[STATS_TAG]}

