"""`python -m trainer.train`: BERT pretraining on a shard dir (single process or torchrun).

This module parses the arguments and hands over to `trainer.loop`. It imports neither torch
nor transformers itself: those imports take 10-30 s on a small machine, so bad flags fail at
once and the first `progress:` line appears before the wait.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.errors import UserError
from trainer.progress import progress
from trainer.sizes import SIZES


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m trainer.train", description=__doc__.split("\n")[0])
    p.add_argument("--shards", required=True, type=Path, help="shard dir (manifest.json)")
    p.add_argument("--vocab", required=True, type=Path, help="vocab dir (vocab.txt)")
    p.add_argument("--output", required=True, type=Path)
    p.add_argument("--config", choices=sorted(SIZES), default="base")
    p.add_argument("--max-steps", type=int, required=True)
    p.add_argument("--batch-size", type=int, required=True,
                   help="rows per rank per micro-batch (packed shards: rows of up to "
                   "--max-sequences-per-row instances each)")
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--warmup-steps", type=int, default=None, help="default: 1%% of max steps")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--sbo", choices=("auto", "on", "off"), default="auto",
                   help="SpanBERT SBO head; auto = on for span-masked shards")
    p.add_argument("--group-by-length", type=int, default=0, metavar="WINDOWS",
                   help="sort by length within windows of this many global batches (0: off)")
    p.add_argument("--num-workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--save-every", type=int, default=0, help="0: only checkpoint-final")
    p.add_argument("--keep-checkpoints", type=int, default=2)
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    args = p.parse_args(argv)
    for name in ("max_steps", "batch_size", "grad_accum", "log_every", "keep_checkpoints"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    for name in ("group_by_length", "num_workers", "seed", "save_every", "warmup_steps"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise UserError(f"--{name.replace('_', '-')} must be >= 0, got {value}")
    if not 0.0 < args.lr < float("inf"):  # also refuses nan
        raise UserError(f"--lr must be > 0 and finite, got {args.lr}")
    if not 0.0 <= args.weight_decay < float("inf"):
        raise UserError(f"--weight-decay must be >= 0 and finite, got {args.weight_decay}")
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        progress("importing torch and transformers")
        from trainer.loop import NothingToTrain, Trainer

        try:
            Trainer(args).train()
        except NothingToTrain as e:  # handled here: the name is bound only after the import
            print(e, file=sys.stderr)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
