"""Reading and printing the summary.json a run wrote (`transforms/summary.py` writes it)."""

from __future__ import annotations

import json
import sys

from apache_beam.io.filesystems import FileSystems

from core.errors import UserError
from transforms.accounting import VOCAB_ENTRIES
from transforms.stats import BY_REASON
from transforms.summary import SUMMARY_FILE


def read_summary(output_dir: str) -> dict:
    path = FileSystems.join(output_dir, SUMMARY_FILE)
    try:
        with FileSystems.open(path) as fh:
            return json.loads(fh.read())
    except OSError as e:
        raise UserError(f"no {SUMMARY_FILE} in {output_dir!r}: {e}") from e


def format_summary(summary: dict, wall_time_s: float) -> str:
    """One screen, named exactly as in summary.json: each count on a line, each breakdown
    object indented under its total (`<count>_by_reason` under `<count>` itself)."""
    lines = []
    for key, value in summary.items():
        if isinstance(value, dict):
            if not key.endswith(BY_REASON):
                lines.append(f"{key:<40} {sum(value.values()):>12,}")
            lines.extend(f"    {reason:<36} {n:>12,}" for reason, n in value.items())
        else:
            lines.append(f"{key:<40} {value:>12,}")
    lines.append(f"{'wall_time':<40} {wall_time_s:>11.1f}s")
    return "\n".join(lines)


def print_summary(output_dir: str, wall_time_s: float) -> dict:
    summary = read_summary(output_dir)
    print(format_summary(summary, wall_time_s))
    print(f"output: {output_dir}")
    return summary


def warn_vocab_over_size(summary: dict, vocab_size: int, limit_alphabet: int) -> None:
    """WordPiece keeps the specials and every alphabet character (and its ## form) whatever
    --vocab-size says; say so instead of silently writing a larger vocab."""
    entries = summary.get(VOCAB_ENTRIES, 0)
    if entries > vocab_size:
        print(f"warning: the vocab has {entries:,} entries, more than --vocab-size "
              f"{vocab_size:,}: WordPiece keeps the special tokens and every alphabet character "
              f"with its ## form (at most --limit-alphabet {limit_alphabet:,} characters); raise "
              "--vocab-size or lower --limit-alphabet", file=sys.stderr)
