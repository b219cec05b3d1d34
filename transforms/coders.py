"""Beam coders for the records that cross shuffles: raw numpy bytes instead of pickle.

Without a type hint Beam encodes every element with its pickle fallback, ~40-50 us per
`Instance` or `TokenizedDocument` and each way; an instance crosses several fusion breaks
between packing and the shard writer, so pickle alone cost about a fifth of a `shards` run.
These coders write a fixed struct header (the scalar fields) and then each array as
`(dtype, length, raw bytes)`, so one element costs a few microseconds.

They are deterministic (equal records give equal bytes) and round-trip exactly, dtype
included; decoded arrays are writable, like unpickled ones. A `TokenizedDocument` is written
compactly (`tokenized_bytes`: uint16 ids, word starts as bits), the form in which documents
also cross the NSP-pool shuffle (transforms/pack_beam.py). A
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
_COMPACT = struct.Struct("<QIIIB")  # doc_id, len(id) in bytes, tokens, sentences, id width
_UINT16_MAX = np.iinfo(np.uint16).max
_U32_MAX = np.iinfo(np.uint32).max
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


def _id_width(ids: np.ndarray) -> int:
    """2 when every id fits uint16 (any vocab of <= 65,536 ids), else 4 (int32)."""
    return 2 if ids.size == 0 or (ids.min() >= 0 and ids.max() <= _UINT16_MAX) else 4


def tokenized_size(doc: TokenizedDocument) -> int:
    """The length of `tokenized_bytes(doc)`, without building it."""
    n_tokens, n_sentences = len(doc.ids), len(doc.offsets) - 1
    return (_COMPACT.size + len(doc.id.encode("utf-8")) + n_tokens * _id_width(doc.ids)
            + (n_tokens + 7) // 8 + 4 * n_sentences)


def tokenized_bytes(doc: TokenizedDocument) -> bytes:
    """`doc` in ~2.3 bytes per token: ids as uint16 when they fit (else int32), word starts
    as bits, sentence lengths as uint32 (the in-memory record takes 5+ bytes per token).

    This is what documents cross the NSP-pool shuffle as (the local runner holds a shuffle
    decoded in RAM, so the payload itself must be compact) and the coder's format.
    """
    name = doc.id.encode("utf-8")
    width = _id_width(doc.ids)
    lengths = np.diff(doc.offsets)
    if len(lengths) and (lengths.min() < 0 or lengths.max() > _U32_MAX):
        raise ValueError("sentence offsets must ascend by less than 2**32")
    header = _COMPACT.pack(doc.doc_id, len(name), len(doc.ids), len(lengths), width)
    ids = doc.ids.astype("<u2" if width == 2 else "<i4", copy=False)
    return b"".join((header, name, ids.tobytes(), np.packbits(doc.word_starts).tobytes(),
                     lengths.astype("<u4").tobytes()))


def tokenized_doc_id(data: bytes) -> int:
    """The `doc_id` of a `tokenized_bytes` record, without decoding the rest."""
    return _COMPACT.unpack_from(data, 0)[0]


def tokenized_from_bytes(data: bytes, stored_ids: bool = False) -> TokenizedDocument:
    """The record of `tokenized_bytes`, by default with the record's own dtypes (int32, bool,
    int64).

    `stored_ids`: the ids as stored instead (uint16 when they all fit, else int32), for the
    NSP pool, which holds a whole pool at once and only copies ids into int32 instances:
    2 bytes per token less while it packs."""
    doc_id, n_name, n_tokens, n_sentences, width = _COMPACT.unpack_from(data, 0)
    pos = _COMPACT.size
    name = bytes(data[pos:pos + n_name]).decode("utf-8")
    pos += n_name
    stored = np.frombuffer(data, "<u2" if width == 2 else "<i4", n_tokens, pos)
    ids = stored.astype(stored.dtype.newbyteorder("=") if stored_ids else np.int32)
    pos += n_tokens * width
    n_bits = (n_tokens + 7) // 8
    bits = np.frombuffer(data, np.uint8, n_bits, pos)
    word_starts = np.unpackbits(bits, count=n_tokens).astype(bool)
    pos += n_bits
    offsets = np.zeros(n_sentences + 1, dtype=np.int64)
    np.cumsum(np.frombuffer(data, "<u4", n_sentences, pos), out=offsets[1:])
    if pos + 4 * n_sentences != len(data):
        raise ValueError(f"tokenized document of {len(data)} bytes holds "
                         f"{pos + 4 * n_sentences} bytes of fields")
    return TokenizedDocument(name, doc_id, ids, word_starts, offsets)


class TokenizedDocumentCoder(beam.coders.Coder):
    """`TokenizedDocument` <-> `tokenized_bytes` (ids int32, word starts bool, offsets int64
    come back as such)."""

    def encode(self, value: TokenizedDocument) -> bytes:
        return tokenized_bytes(value)

    def estimate_size(self, value: TokenizedDocument) -> int:
        """The exact encoded size (see `InstanceCoder.estimate_size`)."""
        return tokenized_size(value)

    def decode(self, encoded: bytes) -> TokenizedDocument:
        return tokenized_from_bytes(encoded)

    def is_deterministic(self) -> bool:
        return True

    def to_type_hint(self):
        return TokenizedDocument


beam.coders.registry.register_coder(Instance, InstanceCoder)
beam.coders.registry.register_coder(TokenizedDocument, TokenizedDocumentCoder)
