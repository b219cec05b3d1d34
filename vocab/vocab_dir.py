"""Loading a vocab dir: ours (with `vocab_manifest.json`) or one holding only Google's `vocab.txt`.

Google's vocab is wrapped the way `BertWordPieceTokenizer` wraps it, so ids match
`BertTokenizerFast`; note that WordPiece then gives `[UNK]` to words longer than 100
characters, where Google's own `FullTokenizer` allows 200.
"""

from __future__ import annotations

import json

from tokenizers import Tokenizer

from core.errors import UserError
from vocab.artifacts import MANIFEST, TOKENIZER_JSON, VOCAB_TXT, vocab_txt_tokens
from vocab.train import build_tokenizer


def _read(path: str) -> bytes | None:
    from apache_beam.io.filesystems import FileSystems

    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path) as f:
        return f.read()


def load_vocab_dir(path: str, lowercase: bool | None) -> tuple[dict[str, bytes], Tokenizer, dict]:
    """(files, tokenizer, {"lowercase", "zh_segmenter"}) for a vocab dir; UserError if unusable."""
    from apache_beam.io.filesystems import FileSystems

    files = {name: _read(FileSystems.join(path, name))
             for name in (VOCAB_TXT, TOKENIZER_JSON, MANIFEST)}
    if files[VOCAB_TXT] is None:
        raise UserError(f"vocab dir {path!r} has no {VOCAB_TXT}")
    if files[MANIFEST] is not None:
        manifest = json.loads(files[MANIFEST])
        if lowercase is not None and lowercase != manifest["lowercase"]:
            raise UserError(f"vocab dir {path!r} was built with lowercase={manifest['lowercase']}; "
                            f"drop --lowercase/--no-lowercase")
        if files[TOKENIZER_JSON] is None:
            raise UserError(f"vocab dir {path!r} has a manifest but no {TOKENIZER_JSON}")
        tokenizer = Tokenizer.from_str(files[TOKENIZER_JSON].decode("utf-8"))
        return files, tokenizer, {"lowercase": manifest["lowercase"],
                                  "zh_segmenter": manifest["zh_segmenter"]}
    if lowercase is None:
        raise UserError(f"vocab dir {path!r} holds only {VOCAB_TXT}: "
                        f"say --lowercase or --no-lowercase")
    if not files[VOCAB_TXT].endswith(b"\n"):
        files[VOCAB_TXT] += b"\n"
    tokens = vocab_txt_tokens(files[VOCAB_TXT])
    try:
        tokenizer = build_tokenizer({t: i for i, t in enumerate(tokens)}, lowercase=lowercase)
    except ValueError as e:
        raise UserError(f"vocab dir {path!r}: {e}") from None
    return files, tokenizer, {"lowercase": lowercase, "zh_segmenter": "none"}
