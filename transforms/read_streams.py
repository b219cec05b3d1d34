"""Decoded bytes and bounded lines for the readers: decompression that survives damage.

`decoded_pieces` turns a file object into its decoded bytes, in pieces. A gzip or zstd file
is decoded member by member (frame by frame). When a member is cut or corrupt, what was
decoded before the damage is kept (the failing stretch is replayed byte by byte, because
`decompress` drops the output of a call that raises), one `Damage` marks the spot, and
decoding resumes at the next member or frame that decodes. `iter_lines` splits the pieces
into lines — `\\n`, `\\r\\n` and a lone `\\r` each end a line — with the byte offset of each
line in the decoded content, so a record can be named by where it starts.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import zstandard

from transforms.accounting import CORRUPT_COMPRESSED_DATA, TRUNCATED

CHUNK_BYTES = 1 << 16
"""Bytes read (and, compressed, fed to the decoder) per call; bounds memory per file."""

COMPRESSED_SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}
_MAGIC = {"gzip": b"\x1f\x8b\x08", "zstd": b"\x28\xb5\x2f\xfd"}
_CODEC_ERRORS = (zlib.error, zstandard.ZstdError)
_BOM = b"\xef\xbb\xbf"



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


@dataclass(frozen=True)
class Damage:
    """A stretch of a compressed file that did not decode.

    `at` is the compressed byte offset where decoding failed (the bad member's start when it
    produced nothing); `resumed_at` where decoding picked up again (None: it never did).
    `boundary`: the damage began at a member/frame start, so the content before it is whole.
    """

    reason: str
    codec: str
    at: int
    resumed_at: int | None
    boundary: bool

    def describe(self) -> str:
        after = (f"resumed at byte {self.resumed_at}" if self.resumed_at is not None
                 else "nothing after it decoded")
        return f"{self.codec} data damaged at compressed byte {self.at}; {after}"


def _new_decoder(codec: str):
    if codec == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    return zstandard.ZstdDecompressor(max_window_size=1 << 31).decompressobj()


def decoded_pieces(src: BinaryIO, codec: str | None) -> Iterator[bytes | Damage]:
    """The decoded content of `src` in pieces, with a `Damage` where a stretch did not decode."""
    if codec is None:
        while chunk := src.read(CHUNK_BYTES):
            yield chunk
        return
    yield from _MemberDecoder(src, codec).pieces()


class _Failed(Exception):
    """A decode call raised; the state needed to recover from it."""

    def __init__(self, done: bytes, data_start: int, data_end: int) -> None:
        super().__init__()
        self.done = done
        """Output of the members the failing call finished before the failing one began."""
        self.data_start = data_start
        self.data_end = data_end


class _MemberDecoder:
    """Decodes concatenated members/frames; see `decoded_pieces`."""

    def __init__(self, src: BinaryIO, codec: str) -> None:
        self._src = src
        self._codec = codec
        self._dec = _new_decoder(codec)
        self._member_start = 0
        self._member_out = 0
        """Decoded bytes the current member has produced (and we have emitted)."""
        self._member_fed = False

    def pieces(self) -> Iterator[bytes | Damage]:
        pos = 0
        while True:
            data = self._src.read(CHUNK_BYTES)
            if not data:
                if not self._member_fed or self._dec.eof:
                    return
                # Cut short: perhaps the member was cut and the bytes after it, read as
                # its data, hold further members.
                resume = self._next_member(self._member_start + 1)
                at = pos if resume is None else resume
                yield Damage(TRUNCATED, self._codec, at, resume, self._member_out == 0)
                if resume is None:
                    return
                self._start_member(resume)
                self._src.seek(resume)
                pos = resume
                continue
            try:
                out = self._feed(data, pos)
            except _Failed as failed:
                if failed.done:
                    yield failed.done
                damage, out, resume = self._recover(failed)
                if out:
                    yield out
                yield damage
                if resume is None:
                    return
                pos = resume
                continue
            pos += len(data)
            if out:
                yield out

    def _start_member(self, start: int) -> None:
        self._dec = _new_decoder(self._codec)
        self._member_start = start
        self._member_out = 0
        self._member_fed = False

    def _feed(self, data: bytes, data_start: int) -> bytes:
        """Decode `data` (which begins at compressed offset `data_start`), across members."""
        outs = []
        while data:
            try:
                out = self._dec.decompress(data)
            except _CODEC_ERRORS:
                raise _Failed(b"".join(outs), data_start, data_start + len(data)) from None
            self._member_fed = True
            self._member_out += len(out)
            outs.append(out)
            if not self._dec.eof:
                break
            rest = self._dec.unused_data
            data_start += len(data) - len(rest)
            data = rest
            self._start_member(data_start)
        return b"".join(outs)

    def _recover(self, failed: _Failed) -> tuple[Damage, bytes, int | None]:
        """Output lost by the failed call, the damage, and where decoding resumes."""
        if not self._src.seekable():
            damage = Damage(CORRUPT_COMPRESSED_DATA, self._codec, failed.data_start, None,
                            self._member_out == 0)
            return damage, b"", None
        out, failed_at = self._replay(failed)
        produced = self._member_out > 0
        at = failed_at if produced else self._member_start
        resume = self._next_member(self._member_start + 1)
        damage = Damage(CORRUPT_COMPRESSED_DATA, self._codec, at, resume, not produced)
        self._start_member(resume if resume is not None else 0)
        if resume is not None:
            self._src.seek(resume)
        return damage, out, resume

    def _replay(self, failed: _Failed) -> tuple[bytes, int]:
        """Re-decode the failing member up to the failing call, then that call byte by byte.

        Returns the output the failed call had decoded before its error, and the offset of
        the byte that raised. Output already emitted for the member is not returned again.
        """
        emitted = self._member_out
        start = self._member_start
        self._start_member(start)
        self._src.seek(start)
        pos = start
        while pos < failed.data_start:
            chunk = self._src.read(min(CHUNK_BYTES, failed.data_start - pos))
            self._member_out += len(self._dec.decompress(chunk))
            self._member_fed = True
            pos += len(chunk)
        self._member_out = min(self._member_out, emitted)
        outs = []
        data = self._src.read(failed.data_end - pos)
        for i in range(len(data)):
            try:
                out = self._feed(data[i:i + 1], pos + i)
            except _Failed:
                return b"".join(outs), pos + i
            outs.append(out)
        return b"".join(outs), failed.data_end

    def _next_member(self, start: int) -> int | None:
        """Offset of the first member/frame at or after `start` that begins to decode."""
        if not self._src.seekable():
            return None
        magic = _MAGIC[self._codec]
        pos = start
        while True:
            self._src.seek(pos)
            window = self._src.read(CHUNK_BYTES + len(magic) - 1)
            if len(window) < len(magic):
                return None
            found = window.find(magic)
            if found < 0:
                pos += len(window) - len(magic) + 1
                continue
            candidate = pos + found
            if self._decodes_from(candidate):
                return candidate
            pos = candidate + 1

    def _decodes_from(self, offset: int) -> bool:
        """Does a member starting at `offset` decode its first chunk without error?"""
        self._src.seek(offset)
        try:
            _new_decoder(self._codec).decompress(self._src.read(CHUNK_BYTES))
        except _CODEC_ERRORS:
            return False
        return True


@dataclass
class Line:
    """One line without its end of line, and the decoded byte offset where it starts.

    `too_long`: only a prefix of the line was kept. `damage`: the stream was damaged here;
    `data` is what was decoded of the line the damage cut (empty when it cut none).
    """

    offset: int
    data: bytes
    too_long: bool = False
    damage: Damage | None = None


def _content(part: bytes) -> bytes:
    """A line without its `\\n`, `\\r\\n` or `\\r`."""
    if part.endswith(b"\r\n"):
        return part[:-2]
    if part.endswith((b"\n", b"\r")):
        return part[:-1]
    return part


def iter_lines(pieces: Iterable[bytes | Damage], max_line_bytes: int, keep_prefix: int,
               start: int = 0) -> Iterator[Line]:
    """Lines of the decoded `pieces`, which begin at decoded offset `start`.

    A line longer than `max_line_bytes` becomes one `too_long` Line holding `keep_prefix`
    bytes; the rest is skipped as it streams by, so a 5 GB line needs no more memory than a
    short one. A UTF-8 byte order mark at offset 0 is dropped (the offsets still count it).
    """
    pending = b""
    """The unfinished last line (or a lone `\\r` that a `\\n` may complete)."""
    pending_at = start
    skipping = False
    """Inside a too-long line already yielded: its bytes are dropped up to its end."""
    for piece in pieces:
        if isinstance(piece, Damage):
            if piece.boundary and pending and not skipping:
                yield _line(pending_at, pending, max_line_bytes, keep_prefix)
                pending_at += len(pending)
                pending = b""
            yield Line(pending_at, b"" if skipping else pending, damage=piece)
            pending_at += len(pending)
            pending, skipping = b"", False
            continue
        parts = (pending + piece).splitlines(keepends=True)
        pending = parts.pop() if parts and not parts[-1].endswith(b"\n") else b""
        for part in parts:
            if skipping:
                skipping = False
            else:
                yield _line(pending_at, part, max_line_bytes, keep_prefix)
            pending_at += len(part)
        if skipping:
            held = 1 if pending.endswith(b"\r") else 0
            pending_at += len(pending) - held
            pending = pending[len(pending) - held:]
        elif len(pending) > max_line_bytes + len(_BOM) and not pending.endswith(b"\r"):
            yield _line(pending_at, pending, max_line_bytes, keep_prefix)
            pending_at += len(pending)
            pending = b""
            skipping = True
    if pending and not skipping:
        yield _line(pending_at, pending, max_line_bytes, keep_prefix)


def _line(offset: int, part: bytes, max_line_bytes: int, keep_prefix: int) -> Line:
    """The Line of `part` (a line with or without its end), bounded to `keep_prefix` if long."""
    content = _content(part)
    if offset == 0 and content.startswith(_BOM):
        content = content[len(_BOM):]
    if len(content) > max_line_bytes:
        return Line(offset, content[:keep_prefix], too_long=True)
    return Line(offset, content)
