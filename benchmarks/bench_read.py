"""Reader throughput: whole-file and byte-range reading vs a bare line split, one core.

    python benchmarks/bench_read.py [--mb 40] [--split-mb 8] [--repeat 3]

Corpus: the enwiki WikiExtractor sample and the zhwiki JSONL of ../shared/corpora, each
repeated to about `--mb` MB in a temporary file (reading does not care that documents repeat).
Baseline: the file read in 64 KB chunks and split with `bytes.splitlines` (no records, no
decoding). Then `read_records` over the whole file, and over `--split-mb` byte ranges one after
the other (what the workers of a split file do together; the ratio shows the cost of range
boundaries, not parallel speed-up). Best of `--repeat` runs for each; ranges must give the
same records as the whole file (checked).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import best_of  # noqa: E402

from core.config import ReadConfig  # noqa: E402
from transforms.input_names import InputFile  # noqa: E402
from transforms.read import byte_ranges, read_records  # noqa: E402

CORPORA = REPO.parent / "shared" / "corpora"
SOURCES = ("en/enwiki_wikiextractor_wiki_00.txt", "zh/zhwiki_wiki_zh_2019_AA_wiki_00.jsonl")


def bare_lines(path: Path) -> int:
    n, rest = 0, b""
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 16):
            parts = (rest + chunk).splitlines(keepends=True)
            rest = parts.pop() if parts else b""
            n += len(parts)
    return n + bool(rest)


def read_whole(path: Path, cfg: ReadConfig) -> list:
    with path.open("rb") as fh:
        return list(read_records(path.name, str(path), fh, cfg))


def read_ranges(path: Path, cfg: ReadConfig) -> list:
    records = []
    for part in byte_ranges(InputFile(path.name, str(path), path.stat().st_size), cfg):
        with path.open("rb") as fh:
            records += read_records(part.name, part.path, fh, cfg, part.start, part.end)
    return records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=40)
    ap.add_argument("--split-mb", type=float, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for rel in SOURCES:
            data = (CORPORA / rel).read_bytes()
            path = Path(tmp) / Path(rel).name
            path.write_bytes(data * max(1, round(args.mb * 1e6 / len(data))))
            mb = path.stat().st_size / 1e6
            cfg = ReadConfig(split_bytes=int(args.split_mb * (1 << 20)))
            t_bare, _ = best_of(args.repeat, lambda p=path: bare_lines(p))
            t_whole, whole = best_of(args.repeat, lambda p=path, c=cfg: read_whole(p, c))
            t_ranges, ranged = best_of(args.repeat, lambda p=path, c=cfg: read_ranges(p, c))
            assert ranged == whole, "ranges must read what the whole file reads"
            n_ranges = len(byte_ranges(InputFile("", str(path), path.stat().st_size), cfg))
            print(f"{rel}: {mb:.1f} MB, {len(whole)} records, {n_ranges} ranges")
            print(f"  bare line split      {mb / t_bare:8.1f} MB/s")
            print(f"  read whole file      {mb / t_whole:8.1f} MB/s  "
                  f"({t_bare / t_whole:.2f}x the bare split)")
            print(f"  read in ranges       {mb / t_ranges:8.1f} MB/s  "
                  f"({t_whole / t_ranges:.2f}x whole-file reading)")


if __name__ == "__main__":
    main()
