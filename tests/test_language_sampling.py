"""The bounded detector: long texts are classified on a sample of evenly spaced windows, and the
whole text is read when the sample's top language is not clear (transforms/language.py).

The reference is CLD2 on the whole text: `detect_language(text, WHOLE)` (an unbounded budget
takes the whole-text path for every text, as before sampling).
"""

from __future__ import annotations

import pycld2
import pytest

from tests.test_language import cleaned_texts, other_language_docs
from transforms.language import SAMPLE, UNDETERMINED, Sampling, detect_language

WHOLE = Sampling(budget=1 << 62)
WIDTH = SAMPLE.budget // SAMPLE.windows


@pytest.fixture
def cld2_inputs(monkeypatch) -> list[bytes]:
    """The bytes of every `pycld2.detect` call made during the test, in order."""
    seen: list[bytes] = []
    detect = pycld2.detect

    def spy(data, *args, **kwargs):
        seen.append(data)
        return detect(data, *args, **kwargs)

    monkeypatch.setattr(pycld2, "detect", spy)
    return seen


def _bytes_prefix(text: str, size: int) -> str:
    """The longest prefix of `text` of at most `size` UTF-8 bytes."""
    return text.encode()[:size].decode("utf-8", errors="ignore")


@pytest.fixture(scope="module")
def english() -> list[str]:
    """WikiExtractor articles over 20,000 characters, cleaned."""
    return [t for t in cleaned_texts("en/enwiki_wikiextractor_wiki_00.txt", "wikiextractor")
            if len(t) > 20_000]


@pytest.fixture(scope="module")
def chinese() -> list[str]:
    """THUCNews articles over 20,000 bytes, cleaned."""
    return [t for t in cleaned_texts("zh/thucnews_cnews_val_1000.tsv", "tsv", 300)
            if len(t.encode()) > 20_000]


def test_texts_up_to_the_budget_are_classified_whole(cld2_inputs):
    text = _bytes_prefix(("The committee met on Tuesday and agreed to publish the report. "
                          "委员会星期二开会，同意下个月发表报告。") * 60, SAMPLE.budget)
    text += "x" * (SAMPLE.budget - len(text.encode()))
    assert len(text.encode()) == SAMPLE.budget
    detect_language(text)
    assert cld2_inputs == [text.encode()]
    cld2_inputs.clear()
    detect_language(text + "y")  # one byte over: sampled
    assert cld2_inputs[0] != (text + "y").encode()


def test_a_long_text_in_one_language_costs_one_sample(english, chinese, cld2_inputs):
    for text in english[:3] + chinese[:2]:
        cld2_inputs.clear()
        found = detect_language(text)
        assert len(cld2_inputs) == 1
        assert len(cld2_inputs[0]) <= SAMPLE.budget + 4 * SAMPLE.windows  # cuts move <= 3 bytes
        assert found == detect_language(text, WHOLE)


def test_windows_cover_the_text_evenly_and_never_split_a_character(cld2_inputs):
    """No spaces in the text, so the sample splits back into its windows at the joins."""
    text = "".join(f"ab{n}é中😀" for n in range(5_000))  # 1-, 2-, 3- and 4-byte characters
    data = text.encode()
    detect_language(text)
    windows = cld2_inputs[0].split(b" ")
    assert len(windows) == SAMPLE.windows
    for window in windows:
        window.decode("utf-8")  # strict: a split character raises
        assert WIDTH - 3 <= len(window) <= WIDTH + 3
    starts = [data.index(window) for window in windows]
    assert starts[0] == 0 and starts[-1] + len(windows[-1]) == len(data)
    step = (len(data) - WIDTH) / (SAMPLE.windows - 1)
    assert all(abs(start - i * step) <= 4 for i, start in enumerate(starts))  # evenly spaced


@pytest.mark.parametrize("layout", ["english-first", "chinese-first", "chinese-inside"])
def test_a_language_region_anywhere_in_a_long_text_counts(english, chinese, layout):
    """Chinese holds ~55% or ~80% of the bytes in one stretch: the answer is Chinese wherever
    the stretch lies (a sample of the first bytes only, or of part of the text, would say
    English)."""
    for share in (0.55, 0.8):
        e = _bytes_prefix(english[0], int(30_000 * (1 - share)))
        z = _bytes_prefix(chinese[0], int(30_000 * share))
        half = len(e) // 2
        text = {"english-first": e + "\n" + z, "chinese-first": z + "\n" + e,
                "chinese-inside": e[:half] + "\n" + z + "\n" + e[half:]}[layout]
        assert detect_language(text, WHOLE) == "zh"
        assert detect_language(text) == "zh"


def test_a_mixed_text_reads_the_whole_text(english, chinese, cld2_inputs):
    """Half English, half Chinese by bytes (English first, Chinese first, interleaved): the
    sample's top language is not clear, so the answer is the whole text's, also for the
    documents where the sample alone names the other language."""
    docs = []
    for e_doc in english[:3]:
        for z_doc in chinese[:2]:
            e, z = _bytes_prefix(e_doc, 10_000), _bytes_prefix(z_doc, 10_000)
            z_paragraphs = [z[i:i + 300] for i in range(0, len(z), 300)]
            interleaved = [p for pair in zip(e.split("\n"), z_paragraphs, strict=False)
                           for p in pair]
            docs += [e + "\n" + z, z + "\n" + e, "\n".join(interleaved)]
    sample_disagrees = 0
    for text in docs:
        cld2_inputs.clear()
        found = detect_language(text)
        assert cld2_inputs[1:] == [text.encode()]  # the sample, then the whole text
        assert found == detect_language(text, WHOLE)
        sample_top = pycld2.detect(cld2_inputs[0], isPlainText=True)[2][0][1]
        sample_disagrees += sample_top.split("-")[0] != found
    assert sample_disagrees >= 3


def test_long_real_documents_keep_their_whole_text_language():
    """Every document over the budget in the real corpora (README: none changes)."""
    texts = [t for rel, fmt, limit in [
        ("en/enwiki_wikiextractor_wiki_00.txt", "wikiextractor", None),
        ("zh/zhwiki_wiki_zh_2019_AA_wiki_00.jsonl", "jsonl", None),
        ("zh/thucnews_cnews_val_1000.tsv", "tsv", None),
    ] for t in cleaned_texts(rel, fmt, limit) if len(t.encode()) > SAMPLE.budget]
    assert len(texts) >= 590
    assert [detect_language(t) for t in texts] == [detect_language(t, WHOLE) for t in texts]


def test_other_languages_in_long_texts():
    """The 15 written languages, each repeated past the budget, keep their language."""
    by_lang: dict[str, list[str]] = {}
    for d in other_language_docs():
        by_lang.setdefault(d["lang"], []).append(d["text"])
    for lang, texts in by_lang.items():
        text = "\n".join(texts * 3)
        assert len(text.encode()) > SAMPLE.budget
        assert detect_language(text) == lang


def test_text_cld2_refuses_is_und_long_or_short(english):
    """CLD2 refuses control characters and Unicode noncharacters: `und`, also when the refused
    character sits in a long text's sample (here at its start, in the first window). A lone
    surrogate is not refused: it is encoded as `?`."""
    assert detect_language("The committee met on Tuesday \x00 and agreed.") == UNDETERMINED
    assert detect_language("\uffff" + english[0]) == UNDETERMINED
    assert detect_language(english[0] + "\x07") == UNDETERMINED
    assert detect_language("\ud800" + english[0] + "\udfff") == "en"


def test_a_refused_character_outside_the_sample_leaves_the_rest_s_language(english, cld2_inputs):
    """Documented trade-off: a long text's refused character that no window reads is not seen,
    so the text gets the language of the rest (one bounded CLD2 call) instead of `und`."""
    text = english[0]
    middle = len(text) // 2  # between two windows of a text this long (checked below)
    assert detect_language(text[:middle] + "\uffff" + text[middle:]) == "en"
    assert len(cld2_inputs) == 1 and "\uffff".encode() not in cld2_inputs[0]
