"""One Rust thread per worker for `tokenizers`, unless the user chose otherwise.

Beam parallelises a job by running many DoFn instances at once (`--workers N` processes
locally, one SDK process per core on Dataflow). `tokenizers` by default also spreads
`encode_batch` and vocabulary training over a rayon pool with a thread per core, so every
worker books every core a second time, and rayon's idle threads spin. Measured on this 2-core
machine (`benchmarks/bench_vocab_train.py --mb 4`, 2026-12-02): the trainer's merge phase took
0.87 CPU-s with TOKENIZERS_PARALLELISM=false against 1.59 CPU-s with it on. Output is the same
either way (vocab.train: identical vocab with 1 or 2 Rust threads; encodings do not depend on
threads). `tokenizers` reads the variable at each call, so setting it in a DoFn's `setup` is
enough, on any runner.
"""

from __future__ import annotations

import os

PARALLELISM_ENV = "TOKENIZERS_PARALLELISM"


def use_one_rust_thread() -> None:
    """Turn off `tokenizers`' own parallelism in this process, unless it is set already."""
    os.environ.setdefault(PARALLELISM_ENV, "false")
