"""The README's Hugging Face recipe: `load_dataset("arrow", data_files=...)` reads the shards
(IPC file format); `Dataset.from_file` wants the stream format, so it reads a stream copy."""

from __future__ import annotations

import pytest
from shard_helpers import make_instances, write_shard_dir

datasets = pytest.importorskip("datasets", reason="needs the trainer extra (datasets)")
import pyarrow as pa  # noqa: E402


def test_shards_load_with_hugging_face_datasets(tmp_path):
    instances = make_instances(60)
    write_shard_dir(str(tmp_path / "shards"), instances, num_shards=3)
    files = sorted(str(p) for p in (tmp_path / "shards").glob("shard-*.arrow"))
    ds = datasets.load_dataset("arrow", data_files=files, split="train",
                               cache_dir=str(tmp_path / "cache"))
    assert ds.num_rows == 60
    assert sorted(ds["doc_id"]) == sorted(i.doc_id for i in instances)

    with pytest.raises(pa.ArrowInvalid):
        datasets.Dataset.from_file(files[0])
    table = pa.ipc.open_file(files[0]).read_all()
    stream = tmp_path / "shard-00000.stream.arrow"
    with pa.OSFile(str(stream), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    assert datasets.Dataset.from_file(str(stream)).num_rows == table.num_rows
