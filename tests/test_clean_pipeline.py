"""`clean` end to end through the CLI function: outputs, accounting, determinism, errors."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import memory_filesystem
import pytest
import zstandard

from pipeline.cli import main
from pipeline.stages import demo_inputs

REPO = Path(__file__).resolve().parents[1]


def read_jsonl_zst(path: Path) -> list[dict]:
    data = zstandard.ZstdDecompressor().decompress(path.read_bytes())
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def rows(out: Path, prefix: str) -> list[dict]:
    return [r for f in sorted(out.glob(f"{prefix}-*.jsonl.zst")) for r in read_jsonl_zst(f)]


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def assert_accounting(s: dict) -> None:
    assert s["documents_read"] == (
        s["documents_kept"] + sum(s["documents_dropped"].values()) + s["documents_rejected"]
    )


def test_demo_corpus_survives_default_filters(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["clean", "--output", str(out)]) == 0
    s = summary(out)
    assert (s["documents_read"], s["documents_kept"], s["documents_dropped"]) == (61, 61, {})
    assert_accounting(s)
    docs = rows(out, "documents")
    assert len(docs) == 61 and len({d["id"] for d in docs}) == 61
    ids = {d["id"] for d in docs}
    # ids are the file's name below the input base and the record's byte offset
    assert {"demo_en.txt:0", "demo_zh.jsonl:0"} <= ids
    assert all(i.split(":")[0] in ("demo_en.txt", "demo_zh.jsonl") for i in ids)
    assert all(len(d["sentences"]) >= 5 for d in docs)
    assert sorted(p.name for p in out.iterdir()) == [
        *(f"documents-{i:05d}-of-00004.jsonl.zst" for i in range(4)),
        "rejects-00000-of-00001.jsonl.zst",
        "summary.json",
    ]
    for shard in sorted(out.glob("documents-*")):
        ids = [d["id"] for d in read_jsonl_zst(shard)]
        assert ids == sorted(ids)
    printed = capsys.readouterr().out
    assert "documents_kept" in printed and "wall_time" in printed
    assert all(Path(p).exists() for p in demo_inputs())


def write_bad_corpus(root: Path) -> None:
    root.mkdir()
    prose = (
        "The river runs past the old mill and the village green "
        "on every single day of the long and busy year."
    )
    (root / "good.txt").write_text(f"{prose}\n{prose} Again.\n\n{prose} Third doc here.\n")
    (root / "dupes.jsonl").write_text(
        json.dumps({"text": f"{prose} Third doc here."})
        + "\n{broken json\n"
        + json.dumps({"text": "Far too short to keep."})
        + "\n"
    )
    (root / "utf8.txt").write_bytes(f"{prose}\n\nBad \xff bytes {prose}\n".encode("latin-1"))
    data = zstandard.ZstdCompressor().compress(
        "".join(
            json.dumps({"text": f"{prose} Number {i:05d}."}) + "\n" for i in range(20000)
        ).encode()
    )
    (root / "cut.jsonl.zst").write_bytes(data[: len(data) // 2])
    (root / "nul.txt").write_bytes(b"\x00" * 10000)
    (root / "empty.txt").write_bytes(b"")
    (root / "huge.jsonl.gz").write_bytes(
        gzip.compress(
            (
                json.dumps({"text": prose + " Huge."})
                + "\n"
                + json.dumps({"text": "z" * (5 << 20)})
                + "\n"
            ).encode()
        )
    )


def test_bad_data_is_counted_and_rejected_not_lost(tmp_path):
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    write_bad_corpus(corpus)
    # The corpus repeats one sentence on purpose (near-duplicates): that is test_near_dedup's job.
    assert main(["clean", "--input", str(corpus / "*"), "--output", str(out),
                 "--no-near-dedup"]) == 0
    s = summary(out)
    assert_accounting(s)
    rejects = rows(out, "rejects")
    reasons = sorted((Path(r["source"].rsplit(":", 1)[0]).name, r["reason"]) for r in rejects)
    assert reasons == [
        ("cut.jsonl.zst", "truncated"),
        ("dupes.jsonl", "invalid_json"),
        ("huge.jsonl.gz", "line_too_long"),
        ("nul.txt", "binary"),
        ("utf8.txt", "invalid_utf8"),
    ]
    assert s["documents_rejected"] == 5 == s["files_read"] - 2
    assert s["documents_dropped"] == {"duplicate": 1, "too_few_words": 1}
    kept = {d["id"].replace(str(corpus) + "/", "") for d in rows(out, "documents")}
    cut = {i for i in kept if i.startswith("cut.jsonl.zst:")}
    assert {"good.txt:0", "dupes.jsonl:0", "utf8.txt:0", "huge.jsonl.gz:0"} == kept - cut
    assert len(cut) > 100 and s["documents_kept"] == len(kept)
    # good.txt's second document and dupes.jsonl:0 have the same text; the smaller id survives.
    second = (corpus / "good.txt").read_text().index("\n\n") + 2
    assert f"good.txt:{second}" not in kept


def test_num_shards_sets_document_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["clean", "--output", str(a)]) == 0
    assert main(["clean", "--output", str(b), "--num-shards", "2"]) == 0
    assert sorted(p.name for p in b.glob("documents-*")) == [
        "documents-00000-of-00002.jsonl.zst",
        "documents-00001-of-00002.jsonl.zst",
    ]
    assert sorted(map(str, rows(a, "documents"))) == sorted(map(str, rows(b, "documents")))


def test_rerun_replaces_own_files_only(tmp_path):
    corpus, out = tmp_path / "c", tmp_path / "out"
    corpus.mkdir()
    (corpus / "a.txt").write_text(" ".join(["word"] * 30) + ".\n")
    out.mkdir()
    (out / "documents-00009-of-00010.jsonl.zst").write_bytes(b"stale")
    (out / "notes.md").write_text("mine")
    argv = ["clean", "--input", str(corpus / "a.txt"), "--output", str(out)]
    assert main(argv) == 2  # refused without --overwrite
    assert main([*argv, "--overwrite"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert "documents-00009-of-00010.jsonl.zst" not in names and "notes.md" in names


def test_multi_processing_gives_identical_bytes(tmp_path):
    """~13 s on 2 cores: two worker processes start up."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["clean", "--output", str(a)]) == 0
    assert (
        main(
            [
                "clean",
                "--output",
                str(b),
                "--direct_running_mode=multi_processing",
                "--direct_num_workers=2",
            ]
        )
        == 0
    )
    for f in sorted(a.iterdir()):
        assert f.read_bytes() == (b / f.name).read_bytes(), f.name


@pytest.mark.parametrize(
    "argv",
    [
        ["clean", "--output", "OUT", "--no-such-flag"],
        ["clean", "--output", "OUT", "--input", "/nonexistent/*.txt"],
        ["clean", "--output", "OUT", "--format", "xml"],
        ["clean", "--output", "OUT", "--input", "DIR"],
        ["clean", "--output", "OUT", "--num-shards", "0"],
        ["clean", "--output", "OUT", "--input", "nosuchscheme://bucket/*.txt"],
        ["clean", "--output", "OUT", "--input", f"{memory_filesystem.SCHEME}://bucket/none/*.txt"],
        ["all", "--output", "OUT", "--input", f"{memory_filesystem.SCHEME}://b/none.jsonl"],
    ],
)
def test_user_errors_are_one_line(tmp_path, capsys, argv):
    argv = [
        str(tmp_path / "out") if a == "OUT" else str(tmp_path) if a == "DIR" else a for a in argv
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_dangling_link_and_link_loop_as_input_are_one_line_errors(tmp_path):
    """Pre-flight, no Beam: one `error:` line, exit 2, no traceback (issue 17 item 7)."""
    (tmp_path / "gone.txt").symlink_to(tmp_path / "missing.txt")
    (tmp_path / "loop.txt").symlink_to(tmp_path / "loop.txt")
    for name, why in (("gone.txt", "missing.txt', which does not exist"),
                      ("loop.txt", "a symbolic link in a loop")):
        proc = subprocess.run(
            [sys.executable, "beam_runner.py", "clean", "--input", str(tmp_path / name),
             "--output", str(tmp_path / "out")],
            cwd=REPO, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2
        assert proc.stderr.startswith(f"error: --input '{tmp_path / name}' matches no file")
        assert why in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
        assert not (tmp_path / "out").exists()


def test_a_broken_link_inside_a_glob_is_a_counted_reject(tmp_path):
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    corpus.mkdir()
    (corpus / "a.txt").write_text(" ".join(["word"] * 30) + ".\n")
    (corpus / "b.txt").symlink_to(corpus / "missing.txt")
    assert main(["clean", "--input", str(corpus / "*.txt"), "--output", str(out)]) == 0
    s = summary(out)
    assert (s["documents_read"], s["documents_kept"], s["documents_rejected"]) == (2, 1, 1)
    assert [(r["source"], r["reason"]) for r in rows(out, "rejects")] == [
        ("b.txt", "broken_link")]
