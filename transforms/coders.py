"""Beam coders for the records that cross shuffles: raw numpy bytes instead of pickle.

Without a type hint Beam encodes every element with its pickle fallback, ~40-50 us per
`Instance` or `TokenizedDocument` and each way; an instance crosses several fusion breaks
between packing and the shard writer, so pickle alone cost about a fifth of a `shards` run.
These coders write a fixed struct header (the scalar fields) and then each array as
`(dtype, length, raw bytes)`, so one element costs a few microseconds.

They are deterministic (equal records give equal bytes) and round-trip exactly, dtype
included; decoded arrays are writable views of one `bytearray`, like unpickled ones. A
PCollection uses them when its producer declares the type, e.g.
`beam.ParDo(...).with_output_types(Instance)`; registration happens on import.
"""

from __future__ import annotations

import struct

import apache_beam as beam
import numpy as np

from transforms.records import Instance, TokenizedDocument

_ARRAY = struct.Struct("<4sQ")  # dtype.str (e.g. b"<i4", b"|b1"), element count
_INSTANCE = struct.Struct("<Qqqqq")  # doc_id, pass_index, index, a_len, sentence_label
_TOKENIZED = struct.Struct("<QQ")  # doc_id, len(id) in bytes
_DTYPES: dict[bytes, np.dtype] = {}
_INSTANCE_ARRAYS = ("input_ids", "word_starts", "mlm_positions", "mlm_labels",
                    "span_starts", "span_ends")


def _put_arrays(parts: list[bytes], arrays) -> None:
    for array in arrays:
        if array.ndim != 1:
            raise ValueError(f"record arrays are 1-D, got shape {array.shape}")
        parts.append(_ARRAY.pack(array.dtype.str.encode("ascii"), len(array)))
        parts.append(array.tobytes())  # C order even for a strided view


def _arrays_size(arrays) -> int:
    """Bytes `_put_arrays` writes for `arrays`, without writing them."""
    return sum(_ARRAY.size + array.nbytes for array in arrays)


def _take_arrays(buf: bytearray, pos: int, n: int) -> tuple[list[np.ndarray], int]:
    """`n` arrays from `buf` at `pos`: typed views of one uint8 view (cheaper than frombuffer)."""
    raw = np.frombuffer(buf, np.uint8)
    arrays = []
    for _ in range(n):
        code, count = _ARRAY.unpack_from(buf, pos)
        dtype = _DTYPES.get(code)
        if dtype is None:
            dtype = _DTYPES[code] = np.dtype(code.rstrip(b"\0").decode("ascii"))
        pos += _ARRAY.size
        end = pos + count * dtype.itemsize
        arrays.append(raw[pos:end].view(dtype))
        pos = end
    return arrays, pos


class InstanceCoder(beam.coders.Coder):
    """`Instance` <-> bytes: five int64 scalars, then the six arrays in field order."""

    def encode(self, value: Instance) -> bytes:
        parts = [_INSTANCE.pack(value.doc_id, value.pass_index, value.index, value.a_len,
                                value.sentence_label)]
        _put_arrays(parts, (getattr(value, name) for name in _INSTANCE_ARRAYS))
        return b"".join(parts)

    def estimate_size(self, value: Instance) -> int:
        """The exact encoded size, from the array sizes: Beam sizes every element it
        shuffles, and the default would encode it once more just to measure it."""
        return _INSTANCE.size + _arrays_size(getattr(value, name) for name in _INSTANCE_ARRAYS)

    def decode(self, encoded: bytes) -> Instance:
        buf = bytearray(encoded)
        doc_id, pass_index, index, a_len, label = _INSTANCE.unpack_from(buf, 0)
        arrays, _ = _take_arrays(buf, _INSTANCE.size, len(_INSTANCE_ARRAYS))
        return Instance(doc_id, pass_index, index, arrays[0], arrays[1], a_len, label,
                        *arrays[2:])

    def is_deterministic(self) -> bool:
        return True

    def to_type_hint(self):
        return Instance


class TokenizedDocumentCoder(beam.coders.Coder):
    """`TokenizedDocument` <-> bytes: doc_id, the utf-8 id, then ids/word_starts/offsets."""

    def encode(self, value: TokenizedDocument) -> bytes:
        doc_name = value.id.encode("utf-8")
        parts = [_TOKENIZED.pack(value.doc_id, len(doc_name)), doc_name]
        _put_arrays(parts, (value.ids, value.word_starts, value.offsets))
        return b"".join(parts)

    def estimate_size(self, value: TokenizedDocument) -> int:
        """The exact encoded size (see `InstanceCoder.estimate_size`)."""
        return (_TOKENIZED.size + len(value.id.encode("utf-8"))
                + _arrays_size((value.ids, value.word_starts, value.offsets)))

    def decode(self, encoded: bytes) -> TokenizedDocument:
        buf = bytearray(encoded)
        doc_id, n = _TOKENIZED.unpack_from(buf, 0)
        start = _TOKENIZED.size
        doc_name = buf[start:start + n].decode("utf-8")
        (ids, word_starts, offsets), _ = _take_arrays(buf, start + n, 3)
        return TokenizedDocument(doc_name, doc_id, ids, word_starts, offsets)

    def is_deterministic(self) -> bool:
        return True

    def to_type_hint(self):
        return TokenizedDocument


beam.coders.registry.register_coder(Instance, InstanceCoder)
beam.coders.registry.register_coder(TokenizedDocument, TokenizedDocumentCoder)
