"""ReadCorpus: file patterns -> TextDocument records, with rejects and counts.

Patterns are matched when the pipeline runs (`fileio.MatchAll`), never while it is built,
so a Dataflow job can be constructed without credentials and `gs://` paths work. Each
file is streamed by one DoFn call through `FileSystems.open` (bounded lines, see
read_streams), so memory does not grow with the file. Every record read is counted in
`documents_read`; the undecodable or unparsable ones go to `rejects` and
`documents_rejected` (plus `documents_rejected/<reason>`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes, FileMetadata
from apache_beam.io.filesystems import FileSystems

from core.config import ReadConfig
from transforms import read_formats as fmt
from transforms.accounting import (
    DOCUMENTS_READ,
    DOCUMENTS_REJECTED,
    FILES_READ,
    REJECTED_PREFIX,
    STATS_TAG,
    UNREADABLE,
    Counters,
)
from transforms.read_streams import Line, compression_of, iter_lines, open_stream, stream_damage
from transforms.records import Reject, TextDocument

REJECTS_TAG = "rejects"


def id_path(path: str, cfg: ReadConfig) -> str:
    """The path as it appears in ids and reject sources: relative to `id_root` if under it."""
    root = cfg.id_root
    if root and path.startswith(root):
        return path[len(root):].lstrip("/")
    return path


def read_records(path: str, fileobj: BinaryIO, cfg: ReadConfig) -> Iterator[TextDocument | Reject]:
    """All records of one opened file, in file order (pure: no Beam)."""
    yield from _parse(id_path(path, cfg), path, fileobj, cfg)


def _parse(name: str, path: str, fileobj: BinaryIO,
           cfg: ReadConfig) -> Iterator[TextDocument | Reject]:
    """Records of `path`; `name` is what ids and reject sources call the file."""
    file_format = cfg.format
    if file_format == "auto" and fmt.detect_format(path, None) == "parquet":
        file_format = "parquet"
    if file_format == "parquet":
        if compression_of(path):
            fileobj = io.BytesIO(open_stream(fileobj, path).read())
        yield from fmt.parse_parquet(name, fileobj, cfg)
        return
    stream = open_stream(fileobj, path)
    lines = iter_lines(stream, cfg.max_line_bytes, fmt.RAW_PREVIEW_CHARS * 4)
    first = next(lines, None)
    if first is None:
        damage = stream_damage(stream)
        if damage:
            yield Reject(source=name, reason=damage, raw="")
        return
    if file_format == "auto":
        file_format = fmt.detect_format(path, None if first.too_long else first.data)
    all_lines = _chain(first, lines)

    def damage() -> str | None:
        return stream_damage(stream)

    if file_format == "jsonl":
        records = fmt.parse_jsonl(name, all_lines, damage, cfg)
    elif file_format == "wikiextractor":
        records = fmt.parse_wikiextractor(name, all_lines, damage, cfg)
    else:
        records = fmt.parse_text(name, all_lines, damage)
    reported = False
    for record in records:
        reported = reported or (isinstance(record, Reject) and record.reason == damage())
        yield record
    if damage() and not reported:
        yield Reject(source=name, reason=damage(), raw="")


def _chain(first: Line, rest: Iterator[Line]) -> Iterator[Line]:
    yield first
    yield from rest


class _ReadFileFn(beam.DoFn):
    """path -> TextDocument (main), Reject (REJECTS_TAG), counts (STATS_TAG)."""

    def __init__(self, cfg: ReadConfig) -> None:
        self._cfg = cfg
        self.counters = Counters()

    def finish_bundle(self):
        yield from self.counters.flush()

    def process(self, path: str):
        read = 0
        rejected: dict[str, int] = {}
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
                for record in read_records(path, fh, self._cfg):
                    read += 1
                    if isinstance(record, Reject):
                        rejected[record.reason] = rejected.get(record.reason, 0) + 1
                        yield beam.pvalue.TaggedOutput(REJECTS_TAG, record)
                    else:
                        yield record
        except OSError as e:
            read += 1
            rejected[UNREADABLE] = rejected.get(UNREADABLE, 0) + 1
            reject = Reject(source=id_path(path, self._cfg), reason=UNREADABLE,
                            raw=fmt.preview(str(e)))
            yield beam.pvalue.TaggedOutput(REJECTS_TAG, reject)
        self.counters.inc(FILES_READ)
        self.counters.inc(DOCUMENTS_READ, read)
        self.counters.inc(DOCUMENTS_REJECTED, sum(rejected.values()))
        for reason, n in sorted(rejected.items()):
            self.counters.inc(REJECTED_PREFIX + reason, n)


class ReadCorpus(beam.PTransform):
    """PBegin -> {"documents", "rejects", "stats"}; a pattern matching nothing fails the run."""

    def __init__(self, cfg: ReadConfig) -> None:
        super().__init__()
        self._cfg = cfg

    def expand(self, pbegin):
        outputs = (
            pbegin
            | "Patterns" >> beam.Create(list(self._cfg.inputs))
            | "MatchFiles" >> fileio.MatchAll(fileio.EmptyMatchTreatment.DISALLOW)
            | "FilePaths" >> beam.Map(_metadata_path)
            # A file matched by two patterns is read once; the grouping also spreads the
            # files over workers (fusion would otherwise read them all in one).
            | "DistinctFiles" >> beam.Distinct()
            | "ReadFiles" >> beam.ParDo(_ReadFileFn(self._cfg)).with_outputs(
                REJECTS_TAG, STATS_TAG, main="documents")
        )
        return {"documents": outputs.documents, "rejects": outputs[REJECTS_TAG],
                "stats": outputs[STATS_TAG]}


def _metadata_path(metadata: FileMetadata) -> str:
    return metadata.path
