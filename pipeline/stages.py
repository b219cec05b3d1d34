"""Composite stages shared by the clean, vocab, shards and all pipelines, and input checks."""

from __future__ import annotations

import dataclasses
import errno
import glob
import os
from importlib import resources

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from core.config import CleanConfig, ReadConfig
from core.errors import UserError
from transforms.clean import CleanStep
from transforms.dedup import DeduplicateDocuments, key_documents
from transforms.doc_steps import ApplySteps
from transforms.language import LanguageStep, count_language
from transforms.near_dedup import NearDeduplicate
from transforms.read import ReadCorpus
from transforms.sentences import SplitStep

DEMO_FILES = ("demo_en.txt", "demo_zh.jsonl")


def demo_inputs() -> tuple[str, ...]:
    """Paths of the bundled demo corpus (English BERT text format, Chinese JSONL)."""
    root = resources.files("pipeline") / "demo_corpus"
    return tuple(str(root / name) for name in DEMO_FILES)


def with_default_inputs(cfg: ReadConfig) -> ReadConfig:
    """The config itself, or the demo corpus (format auto) when no --input was given.

    Demo ids are `demo_en.txt:<n>` and `demo_zh.jsonl:<n>` wherever the package is installed.
    """
    if cfg.inputs:
        return cfg
    return dataclasses.replace(cfg, inputs=demo_inputs(), format="auto")


def check_local_inputs(cfg: ReadConfig) -> None:
    """Pre-flight: every local pattern must match a readable file; remote ones are matched at
    run time. A broken link among several matches is left to the reader (a reject)."""
    for pattern in cfg.inputs:
        if "://" in pattern:
            continue
        matches = glob.glob(pattern, recursive=True)
        if any(os.path.isfile(path) for path in matches):
            continue
        if os.path.isdir(pattern):
            hint = " (a directory: give a pattern such as DIR/*)"
        elif os.path.islink(pattern):
            hint = f" (a symbolic link {_link_trouble(pattern)})"
        elif any(os.path.islink(path) for path in matches):
            hint = " (only broken symbolic links)"
        else:
            hint = ""
        raise UserError(f"--input {pattern!r} matches no file{hint}")


def check_remote_inputs(cfg: ReadConfig) -> None:
    """Pre-flight for a local run: every remote pattern (gs://...) must match a file. A job for
    a remote runner is built without reading the store and matches at run time instead."""
    for pattern in cfg.inputs:
        if "://" not in pattern:
            continue
        try:
            matched = FileSystems.match([pattern])[0].metadata_list
        except Exception as e:  # unknown scheme, no credentials, no network: one line
            first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(f"--input {pattern!r} cannot be matched: {first_line}") from e
        if not matched:
            raise UserError(f"--input {pattern!r} matches no file")


def _link_trouble(path: str) -> str:
    """Why a symbolic link cannot be read: a loop, or where it points to nothing."""
    try:
        os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "in a loop"
    return f"to {os.readlink(path)!r}, which does not exist"


class CleanCorpus(beam.PTransform):
    """PBegin -> {"documents": Document, "rejects": Reject, "stats": (name, n)}.

    read -> clean -> language (detect; filter with `languages`) -> exact dedup -> near
    dedup (each unless disabled) -> split sentences -> count per language, as in DESIGN.md.
    The per-document steps before dedup (clean, language, dedup key) are one DoFn, and so
    are the sentence split and the count per language (transforms/doc_steps.py): fewer
    ParDos, a faster start-up. `documents_kept` is left to the consumer of the documents.
    `spill_dir`: where exact and near dedup keep the documents while they find what to drop
    (local runs; transforms/spill.py).
    """

    def __init__(self, read_cfg: ReadConfig, clean_cfg: CleanConfig,
                 spill_dir: str | None = None) -> None:
        super().__init__()
        self._read_cfg = read_cfg
        self._clean_cfg = clean_cfg
        self._spill_dir = spill_dir

    def expand(self, pbegin):
        cfg = self._clean_cfg
        read = pbegin | "Read" >> ReadCorpus(self._read_cfg)
        steps = (CleanStep(cfg), LanguageStep(cfg.languages))
        if cfg.dedup:
            keyed = read["documents"] | "CleanDocuments" >> key_documents(steps)
            deduped = keyed | "Deduplicate" >> DeduplicateDocuments(self._spill_dir)
            docs = deduped["documents"]
            stats = [read["stats"], keyed["stats"], deduped["stats"]]
        else:
            cleaned = read["documents"] | "CleanDocuments" >> ApplySteps(steps)
            docs = cleaned["documents"]
            stats = [read["stats"], cleaned["stats"]]
        if cfg.near_dedup:
            near = docs | "NearDeduplicate" >> NearDeduplicate(cfg, self._spill_dir)
            docs = near["documents"]
            stats.append(near["stats"])
        split = docs | "SplitSentences" >> ApplySteps(
            (SplitStep(cfg.min_sentences), count_language))
        stats.append(split["stats"])
        return {
            "documents": split["documents"],
            "rejects": read["rejects"],
            "stats": tuple(stats) | "FlattenCleanStats" >> beam.Flatten(),
        }
