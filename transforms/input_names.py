"""Input files and their names: ids that do not depend on how a path was spelled.

A file's *name* is its path below the *input base*: the deepest directory that holds the
non-glob part of every `--input` pattern (for one pattern, its own non-glob directory; for a
pattern without a glob, the file's directory). Local bases are resolved (absolute, symbolic
links followed), so `corpus/*.txt`, `/abs/corpus/*.txt`, `./link-to-corpus/*.txt` or the
same pattern from another working directory name the files alike, and a `gs://` copy of the
directory gives the same names. Two different files never share a name, since all names are
below one base. Document ids are `<name>:<offset>` (see read_formats).
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from apache_beam.io.filesystems import FileSystems

_NON_GLOB_PREFIX = re.compile(r"^[^[*?]*")


@dataclass(frozen=True, order=True)
class InputFile:
    """A matched file: `name` for ids, `path` to open it, its size in bytes."""

    name: str
    path: str
    size: int
    broken: bool = False
    """A dangling symbolic link or a link loop: it cannot be read."""


def _is_remote(path: str) -> bool:
    return "://" in path


def pattern_base(pattern: str) -> tuple[str, str]:
    """(the base directory as spelled, the same resolved): where a pattern's globbing starts."""
    prefix = _NON_GLOB_PREFIX.match(pattern).group(0)
    if _is_remote(pattern):
        base = prefix.rsplit("/", 1)[0]
        return base, base
    if prefix == pattern:
        return (os.path.dirname(os.path.abspath(pattern)),
                os.path.dirname(os.path.realpath(pattern)))
    spelled = os.path.dirname(prefix) or "."
    return os.path.abspath(spelled), os.path.realpath(spelled)


def input_base(patterns: Iterable[str]) -> str:
    """The deepest directory holding every pattern's resolved base ('' when none does)."""
    split = [pattern_base(p)[1].rstrip("/").split("/") for p in patterns]
    common: list[str] = []
    for parts in zip(*split, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    if common == [""]:
        return "/"
    return "/".join(common)


def name_below(base: str, full: str) -> str:
    """`full` relative to `base`, with '/' separators."""
    if not base:
        return full
    return full[len(base):].lstrip("/")


def _resolved(pattern: str, path: str) -> str:
    """A matched local path with the pattern's base resolved (entries below keep their names)."""
    if _NON_GLOB_PREFIX.match(pattern).group(0) == pattern:
        return os.path.realpath(pattern)
    spelled, real = pattern_base(pattern)
    return os.path.normpath(os.path.join(real, os.path.relpath(os.path.abspath(path), spelled)))


def match_inputs(pattern: str, patterns: Iterable[str]) -> Iterator[InputFile]:
    """The files `pattern` matches, named below the base of all `patterns`.

    Local dangling links and link loops are returned as `broken` (Beam's matcher skips them
    silently). A pattern that matches nothing raises ValueError.
    """
    base = input_base(patterns)
    found = False
    # Beam lists nothing for a bare relative pattern such as `wiki_*`: match it absolute.
    matched = pattern if _is_remote(pattern) else os.path.abspath(pattern)
    for metadata in FileSystems.match([matched])[0].metadata_list:
        full = metadata.path if _is_remote(pattern) else _resolved(pattern, metadata.path)
        found = True
        yield InputFile(name_below(base, full), metadata.path, metadata.size_in_bytes)
    if not _is_remote(pattern):
        for path in sorted(glob.glob(pattern, recursive=True)):
            if os.path.islink(path) and not os.path.exists(path):
                found = True
                yield InputFile(name_below(base, _resolved(pattern, path)), path, 0, broken=True)
    if not found:
        raise ValueError(f"--input {pattern!r} matches no file")
