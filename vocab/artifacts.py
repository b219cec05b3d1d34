"""The vocab dir (DESIGN.md "Vocab dir") as bytes, and its writer.

`VocabArtifacts` is the one element `BuildVocab` emits: every file of the dir as bytes plus
the config, so the `all` pipeline can hand the vocab to the tokenizer stage as a side input
without a round trip through storage.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from tokenizers import Tokenizer

from core.special_tokens import SPECIAL_TOKENS

VOCAB_TXT = "vocab.txt"
TOKENIZER_JSON = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"
MANIFEST = "vocab_manifest.json"
VOCAB_DIR_FILES = (VOCAB_TXT, TOKENIZER_JSON, TOKENIZER_CONFIG, SPECIAL_TOKENS_MAP, MANIFEST)
"""Every file of a vocab dir."""
FORMAT = "bert-shards-vocab"
FORMAT_VERSION = 1
SPECIAL_TOKEN_KEYS = {f"{role}_token": SPECIAL_TOKENS[role]
                      for role in ("unk", "sep", "pad", "cls", "mask")}
"""`special_tokens_map.json` / `tokenizer_config.json` keys, in Hugging Face's order."""


def vocab_txt_tokens(vocab_txt: bytes) -> list[str]:
    """The tokens of `vocab.txt` as `VocabArtifacts` carry it (one per line, each line ended
    by a newline), in id order."""
    return vocab_txt.decode("utf-8").split("\n")[:-1]


@dataclass
class VocabArtifacts:
    """All files of a vocab dir (name -> bytes) and the manifest they were described with."""

    files: dict[str, bytes]
    manifest: dict = field(default_factory=dict)

    @property
    def vocab_sha256(self) -> str:
        return sha256_hex(self.files[VOCAB_TXT])


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_bytes(obj: dict) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def vocab_txt_bytes(tokens: list[str]) -> bytes:
    """One token per line; the line number is the id."""
    return "".join(t + "\n" for t in tokens).encode("utf-8")


def make_artifacts(
    tokens: list[str],
    tokenizer: Tokenizer,
    *,
    config: dict,
    corpus: dict,
    lowercase: bool,
    zh_segmenter: str,
) -> VocabArtifacts:
    """Every DESIGN.md vocab-dir file for a trained vocabulary.

    `tokenizer_config.json` carries `do_lower_case` / `tokenize_chinese_chars` so
    `BertTokenizerFast.from_pretrained(dir)` agrees with `tokenizer.json` (for jieba mode
    `tokenize_chinese_chars` is False: input must already be jieba-segmented, see README).
    """
    vocab_txt = vocab_txt_bytes(tokens)
    present = {k: v for k, v in SPECIAL_TOKEN_KEYS.items() if v in set(tokens)}
    tokenizer_config = {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": lowercase,
        "strip_accents": None,
        "tokenize_chinese_chars": zh_segmenter == "none",
        "clean_up_tokenization_spaces": False,
        "model_max_length": 512,
        **present,
    }
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": config,
        "lowercase": lowercase,
        "zh_segmenter": zh_segmenter,
        "vocab_size": len(tokens),
        "vocab_sha256": sha256_hex(vocab_txt),
        "special_token_ids": {t: tokens.index(t) for t in present.values()},
        "corpus": corpus,
    }
    manifest_bytes = _json_bytes(manifest)
    files = {
        VOCAB_TXT: vocab_txt,
        TOKENIZER_JSON: tokenizer.to_str(pretty=True).encode("utf-8"),
        TOKENIZER_CONFIG: _json_bytes(tokenizer_config),
        SPECIAL_TOKENS_MAP: _json_bytes(present),
        MANIFEST: manifest_bytes,
    }
    # The manifest as a reader of the file sees it (tuples become lists).
    return VocabArtifacts(files=files, manifest=json.loads(manifest_bytes))


def write_artifacts(artifacts: VocabArtifacts, output_dir: str) -> None:
    """Write the files through Beam's FileSystems (local or gs://); the manifest goes last."""
    from apache_beam.io.filesystems import FileSystems

    names = sorted(artifacts.files, key=lambda n: n == MANIFEST)
    for name in names:
        with FileSystems.create(FileSystems.join(output_dir, name)) as f:
            f.write(artifacts.files[name])
