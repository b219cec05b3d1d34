"""The vocab dir in the compact form a `shards` graph carries (`EmbeddedVocab`).

Beam pickles a DoFn's arguments and bz2-compresses the pickle at level 9, then unpickles it
on every stage set-up: for the vocab embedded in the graph that is 2 compressions and 4
decompressions of the whole payload per run, ~0.35 CPU-s for `bert-base-uncased`, a fifth of
a 1-document run. Most of the payload is `tokenizer.json`, whose WordPiece map repeats
`vocab.txt` (the token on line i has id i). So the graph carries `tokenizer.json` without that
map, plus where it goes and how it was laid out, and `unembed` writes it back: the bytes are
exactly the launcher's: `embed` cuts out the map rendered from `vocab.txt` only where it
occurs verbatim in the file (compact, as `to_str()` writes it, or indented, as
`to_str(pretty=True)` does), and `unembed` puts the same rendering back at the same offset;
any other `tokenizer.json` is carried whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from json.encoder import encode_basestring

from vocab.artifacts import TOKENIZER_JSON, VOCAB_TXT, VocabArtifacts, vocab_txt_tokens

_PRETTY_MAP = re.compile(rb'"vocab": \{\n( +)"')
"""The opening of an indented vocab map; group 1 is the indentation of its entries."""


@dataclass(frozen=True)
class EmbeddedVocab:
    """`VocabArtifacts` with `tokenizer.json`'s vocab map cut out when `vocab.txt` restores it.

    `map_at`: byte offset in `files[TOKENIZER_JSON]` where the map goes (None: the file is
    whole); `map_indent`: the indentation of its entries ("" for the compact layout).
    """

    files: dict[str, bytes]
    manifest: dict
    map_at: int | None = None
    map_indent: str = ""


def _vocab_map(tokens: list[str], indent: str) -> bytes:
    """The JSON object {token: line number}, laid out as `tokenizers` writes it."""
    if not indent:
        return ("{" + ",".join(f"{encode_basestring(t)}:{i}" for i, t in enumerate(tokens))
                + "}").encode("utf-8")
    body = ",\n".join(f"{indent}{encode_basestring(t)}: {i}" for i, t in enumerate(tokens))
    return ("{\n" + body + "\n" + indent[:-2] + "}").encode("utf-8")


def embed(artifacts: VocabArtifacts) -> EmbeddedVocab:
    """The compact form of `artifacts`; `unembed` gives them back byte for byte."""
    tokenizer_json = artifacts.files.get(TOKENIZER_JSON)
    whole = EmbeddedVocab(dict(artifacts.files), dict(artifacts.manifest))
    if tokenizer_json is None:
        return whole
    pretty = _PRETTY_MAP.search(tokenizer_json)
    indent = pretty.group(1).decode("ascii") if pretty else ""
    vocab_map = _vocab_map(vocab_txt_tokens(artifacts.files[VOCAB_TXT]), indent)
    at = tokenizer_json.find(vocab_map)
    if at < 0:
        return whole
    files = dict(artifacts.files)
    files[TOKENIZER_JSON] = tokenizer_json[:at] + tokenizer_json[at + len(vocab_map):]
    return EmbeddedVocab(files, dict(artifacts.manifest), at, indent)


def unembed(embedded: EmbeddedVocab) -> VocabArtifacts:
    """The artifacts `embed` was given."""
    files = dict(embedded.files)
    if embedded.map_at is not None:
        rest, at = files[TOKENIZER_JSON], embedded.map_at
        vocab_map = _vocab_map(vocab_txt_tokens(files[VOCAB_TXT]), embedded.map_indent)
        files[TOKENIZER_JSON] = rest[:at] + vocab_map + rest[at:]
    return VocabArtifacts(files=files, manifest=dict(embedded.manifest))
