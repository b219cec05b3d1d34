"""The five BERT special tokens, the one place they are spelled.

Their order is the id order of a vocab we train (`[PAD]` = 0 … `[MASK]` = 4, as in Google's
vocabs up to the [unused] block); a Google `vocab.txt` may hold them anywhere, so readers
look their ids up by these strings.
"""

from __future__ import annotations

SPECIAL_TOKENS: dict[str, str] = {
    "pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]",
}
"""Role -> token, in vocab id order."""

SPECIAL_TOKEN_LIST: tuple[str, ...] = tuple(SPECIAL_TOKENS.values())
