"""Bulk bytes that cross a shuffle of the local runner as spill files, not in RAM.

FnApiRunner keeps every PCollection that crosses a stage boundary in the launching
process's RAM, and at the stage that reads it holds it about four times over (its buffer,
a protobuf copy, the worker's copy, the decoded elements): on a 24 MB corpus the shard rows
alone (22 MB) put ~83 MB on the peak. The stages that move the bulk of a `shards` run
(documents into the NSP pools, pools into packing, rows into the shard writer) therefore
hand their `bytes` batches to a `Payloads`, which on a local run writes them to a file and
returns a *reference* of a few dozen bytes; the consumer's `Payloads.get` reads them back.
Only the references cross the runner's data plane.

    reference = offset (u64 LE) | length (u64 LE) | file name (UTF-8)

Exactly once, whatever the retries: each DoFn instance appends to files of its own (random
names, created exclusively, so no two attempts ever share or overwrite one; a new one per
bundle), a reference names the file, offset and length, and it is returned only once its
bytes are written. A runner forwards the outputs of committed bundles only, so what a
failed or duplicate attempt wrote is never read; it goes with the directory, which
`spill_dir` removes when the job ends, failed or not.

Without a spill dir (`Payloads(None)`: every non-local runner, where shuffles are the
service's and not the launcher's RAM) the batch itself is the payload, so both paths run
the same code apart from `put`/`get`.

`SpillElements` / `spilled_elements` do the same for any picklable elements (documents),
batched with `batching.Batcher`, where a PCollection of them would otherwise be held
between stages: the consumer reads them back in its own stage.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import struct
import tempfile
import uuid
from collections.abc import Callable, Iterator

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from transforms.batching import Batcher
from transforms.shard_rows import join_rows, split_rows

SPILL_DIR_PREFIX = "bert-shards-spill-"
_REF = struct.Struct("<QQ")  # offset, length; the file name follows
_SUFFIX = ".spill"


class Payloads:
    """Batches in, payloads out: the batch itself, or its reference in this bundle's spill file.

    A DoFn holds one, calls `close` in `finish_bundle` (and may call `put` again after it: a
    new file is opened). Picklable before use; the open file is never pickled.
    """

    def __init__(self, spill_dir: str | None) -> None:
        self._dir = spill_dir
        self._file = None

    def __getstate__(self) -> dict:
        return {"_dir": self._dir, "_file": None}

    def put_rows(self, rows: list[bytes]) -> bytes:
        """The payload of `rows` joined as one `join_rows` batch (what a `Batcher` flushes)."""
        return self.put(join_rows(rows))

    def put(self, data: bytes) -> bytes:
        """The payload standing for `data`: `data` itself, or a reference to it once written."""
        if self._dir is None:
            return data
        if self._file is None:
            self._file = open(os.path.join(self._dir, uuid.uuid4().hex + _SUFFIX),  # noqa: SIM115
                              "xb")
        offset = self._file.tell()
        self._file.write(data)
        self._file.flush()  # the bytes are the OS's before the reference leaves
        return _REF.pack(offset, len(data)) + os.path.basename(self._file.name).encode("utf-8")

    def close(self) -> None:
        """End this bundle's file (the next `put` starts another)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def get(self, payload: bytes) -> bytes:
        """The batch a `put` payload stands for."""
        if self._dir is None:
            return payload
        offset, length = _REF.unpack_from(payload)
        name = payload[_REF.size:].decode("utf-8")
        with open(os.path.join(self._dir, name), "rb") as f:
            f.seek(offset)
            data = f.read(length)
        if len(data) != length:
            raise ValueError(f"spill file {name} holds {len(data)} of the {length} bytes "
                             f"referenced at offset {offset}")
        return data


def _pickled(element) -> bytes:
    return pickle.dumps(element, pickle.HIGHEST_PROTOCOL)


class SpillElements(beam.DoFn):
    """Elements -> payloads of `join_rows` batches of their bytes: pickled by default
    (`spilled_elements` reads them), or as `encode` makes them (a compact coder's bytes)."""

    def __init__(self, spill_dir: str | None, encode: Callable[[object], bytes] = _pickled
                 ) -> None:
        self._payloads = Payloads(spill_dir)
        self._encode = encode

    def start_bundle(self) -> None:
        self._batches = Batcher(self._payloads.put_rows)

    def process(self, element):
        for _, payload in self._batches.add(0, self._encode(element)):
            yield payload

    def finish_bundle(self):
        for _, payload in self._batches.flush():
            yield GlobalWindows.windowed_value(payload)
        self._payloads.close()


def spilled_elements(payloads: Payloads, payload: bytes) -> Iterator:
    """The elements of a `SpillElements` payload, in order."""
    for data in split_rows(payloads.get(payload)):
        yield pickle.loads(data)


class UnspillElements(beam.DoFn):
    """Payload -> its elements (`spilled_elements`)."""

    def __init__(self, spill_dir: str | None) -> None:
        self._payloads = Payloads(spill_dir)

    def process(self, payload: bytes):
        yield from spilled_elements(self._payloads, payload)


@contextlib.contextmanager
def spill_dir(enabled: bool) -> Iterator[str | None]:
    """A new private directory for a job's spill files (None if not `enabled`), removed with
    everything in it when the job ends, however it ends. Made under `TMPDIR`."""
    if not enabled:
        yield None
        return
    path = tempfile.mkdtemp(prefix=SPILL_DIR_PREFIX)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
