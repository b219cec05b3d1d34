"""Byte streams and bounded lines for the readers: decompression that notices truncation.

`zstandard`'s `stream_reader` ends silently on a truncated frame and `gzip.GzipFile`
raises and loses the partial line, so both codecs go through one small raw stream built on
their `decompressobj` (same API: `decompress`, `eof`, `unused_data`). It handles
concatenated frames/members, and on a cut or corrupt stream it returns EOF and sets
`damaged`, so the reader keeps every complete line and rejects the partial one.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import zstandard

from transforms.accounting import CORRUPT_COMPRESSED_DATA, TRUNCATED

CHUNK_BYTES = 1 << 16
"""Compressed bytes fed per decompress call; bounds memory on highly compressible input."""

COMPRESSED_SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}


def compression_of(path: str) -> str | None:
    """`gzip`, `zstd` or None, from the file name."""
    lower = path.lower()
    for suffix, codec in COMPRESSED_SUFFIXES.items():
        if lower.endswith(suffix):
            return codec
    return None


def strip_compression_suffix(path: str) -> str:
    lower = path.lower()
    for suffix in COMPRESSED_SUFFIXES:
        if lower.endswith(suffix):
            return path[: -len(suffix)]
    return path


def _new_decompressor(codec: str):
    if codec == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    return zstandard.ZstdDecompressor(max_window_size=1 << 31).decompressobj()


class DecompressingStream(io.RawIOBase):
    """Read-only raw stream over a gzip or zstd file object; `damaged` after a bad end."""

    def __init__(self, fileobj: BinaryIO, codec: str) -> None:
        self._src = fileobj
        self._codec = codec
        self._dec = _new_decompressor(codec)
        self._fed_since_frame = False
        self._pending = b""
        self._done = False
        self.damaged: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending and not self._done:
            self._fill()
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _fill(self) -> None:
        data = self._src.read(CHUNK_BYTES)
        if not data:
            if self._fed_since_frame and not self._dec.eof:
                self.damaged = TRUNCATED
            self._done = True
            return
        try:
            out = [self._dec.decompress(data)]
            self._fed_since_frame = True
            while self._dec.eof:
                rest = self._dec.unused_data
                self._dec = _new_decompressor(self._codec)
                self._fed_since_frame = bool(rest)
                if not rest:
                    break
                out.append(self._dec.decompress(rest))
        except (zlib.error, zstandard.ZstdError):
            self.damaged = CORRUPT_COMPRESSED_DATA
            self._done = True
            return
        self._pending = b"".join(out)


@dataclass
class Line:
    """One input line without its end of line. `too_long`: only a prefix was kept."""

    data: bytes
    too_long: bool = False
    partial: bool = False
    """The stream was damaged inside this line (it had no end of line)."""


def open_stream(fileobj: BinaryIO, path: str) -> BinaryIO:
    """A buffered binary stream of the decompressed content of `path`."""
    codec = compression_of(path)
    if codec is None:
        return fileobj
    return io.BufferedReader(DecompressingStream(fileobj, codec), buffer_size=CHUNK_BYTES)


def iter_lines(stream: BinaryIO, max_line_bytes: int, keep_prefix: int) -> Iterator[Line]:
    """Lines of at most `max_line_bytes`; longer ones become one `too_long` Line.

    Only `keep_prefix` bytes of a long line are held; the rest is skipped in
    `max_line_bytes` steps, so a 5 GB line needs no more memory than a short one.
    """
    raw = getattr(stream, "raw", None)
    first = True
    while True:
        chunk = stream.readline(max_line_bytes + 1)
        if not chunk:
            return
        if first and chunk.startswith(b"\xef\xbb\xbf"):
            chunk = chunk[3:]
        first = False
        too_long = len(chunk) > max_line_bytes and not chunk.endswith(b"\n")
        if too_long:
            prefix = chunk[:keep_prefix]
            while chunk and not chunk.endswith(b"\n"):
                chunk = stream.readline(max_line_bytes + 1)
            yield Line(prefix, too_long=True)
            continue
        ended = chunk.endswith(b"\n")
        data = chunk[:-1] if ended else chunk
        if data.endswith(b"\r"):
            data = data[:-1]
        damaged = bool(getattr(raw, "damaged", None))
        yield Line(data, partial=not ended and damaged)


def stream_damage(stream: BinaryIO) -> str | None:
    """Why a decompressing stream ended early, once it has been read to the end."""
    return getattr(getattr(stream, "raw", None), "damaged", None)
