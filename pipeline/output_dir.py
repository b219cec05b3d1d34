"""The one output-directory policy of every writing subcommand (clean, vocab, shards, all).

An output dir that holds anything is refused with one line unless `--overwrite` is given;
with it, only the files this subcommand writes (`own_files`, temporary files of an
interrupted write included) are deleted before the run, and everything else is left alone.
Local paths and remote ones (`gs://`, any Beam filesystem) go through the same check, so a
remote job is refused before any worker starts.
"""

from __future__ import annotations

import os

from apache_beam.io.filesystems import FileSystems

from core.errors import UserError

TEMP_FILES = ".*.tmp-*"
"""`transforms.shard_write.write_atomically` temp names, left behind by a killed run."""

OwnFiles = dict[str, tuple[str, ...]]
"""Subdir ("" for the output dir itself) -> the file patterns a subcommand writes there."""


def _is_remote(path: str) -> bool:
    return "://" in path


def is_occupied(output: str) -> bool:
    """True when `output` holds any file (in any subdir); a missing dir is not occupied."""
    if not _is_remote(output):
        if os.path.exists(output) and not os.path.isdir(output):
            raise UserError(f"--output {output!r} exists and is not a directory")
        return os.path.isdir(output) and any(files for _, _, files in os.walk(output))
    pattern = FileSystems.join(output.rstrip("/"), "**")
    return any(result.metadata_list for result in FileSystems.match([pattern]))


def delete_own_files(output: str, own_files: OwnFiles) -> None:
    """Delete what an earlier run of this subcommand left in `output`, and nothing else."""
    stale = []
    for subdir, patterns in own_files.items():
        directory = FileSystems.join(output, subdir) if subdir else output
        for pattern in (*patterns, TEMP_FILES):
            for result in FileSystems.match([FileSystems.join(directory, pattern)]):
                stale.extend(m.path for m in result.metadata_list)
    if stale:
        FileSystems.delete(stale)


def ensure_local_output(output: str) -> None:
    """Create a local `--output` now, so an impossible path (e.g. under /proc, or a read-only
    place) fails with one line before the pipeline starts instead of in a worker. Called
    after `is_occupied`, which refuses a path that is not a directory."""
    if _is_remote(output):
        return
    try:
        os.makedirs(output, exist_ok=True)
    except OSError as e:
        raise UserError(f"--output {output!r} cannot be created: {e.strerror or e}") from e
    if not os.access(output, os.W_OK | os.X_OK):
        raise UserError(f"--output {output!r} is not writable")


def prepare_output_dir(output: str, overwrite: bool, own_files: OwnFiles) -> None:
    """Refuse a non-empty `output` unless `overwrite`; with it, delete only `own_files`.
    A local `output` is created (or refused in one line when it cannot be)."""
    if is_occupied(output):
        if not overwrite:
            raise UserError(f"--output {output!r} is not empty; pass --overwrite to replace "
                            "this subcommand's files in it")
        delete_own_files(output, own_files)
    ensure_local_output(output)
