"""The record coders: exact, deterministic round trips, and Beam picking them from type hints."""

from __future__ import annotations

import dataclasses
import pickle

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.util import assert_that, equal_to

from pipeline.beam_options import make_pipeline_options
from transforms.coders import (
    InstanceCoder,
    TokenizedDocumentCoder,
    tokenized_bytes,
    tokenized_from_bytes,
)
from transforms.records import Instance, TokenizedDocument


def _instance(masked: bool = True) -> Instance:
    inst = Instance(
        doc_id=2**64 - 5, pass_index=3, index=7,
        input_ids=np.array([2, 500, 4, 3, 9, 3], np.int32),
        word_starts=np.array([1, 1, 0, 1, 1, 1], bool), a_len=4, sentence_label=-1,
    )
    if masked:
        inst.mlm_positions = np.array([2], np.int32)
        inst.mlm_labels = np.array([21127], np.int32)
        inst.span_starts = np.array([2], np.int64)  # a wider dtype must survive as it is
        inst.span_ends = np.array([2], np.int64)
    return inst


def _tokenized() -> TokenizedDocument:
    return TokenizedDocument(
        id="thucnews:12 中文", doc_id=2**63 + 1, ids=np.arange(10, 17, dtype=np.int32),
        word_starts=np.array([1, 0, 1, 1, 0, 0, 1], bool), offsets=np.array([0, 3, 7], np.int64),
    )


def _assert_same(a, b) -> None:
    assert type(a) is type(b)
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, np.ndarray):
            assert y.dtype == x.dtype and y.shape == x.shape and np.array_equal(x, y), field.name
            assert y.flags.writeable, field.name  # stages may edit arrays in place
        else:
            assert type(y) is type(x) and y == x, field.name


@pytest.mark.parametrize("value, coder", [
    (_instance(), InstanceCoder()),
    (_instance(masked=False), InstanceCoder()),  # the empty default mask arrays
    (_tokenized(), TokenizedDocumentCoder()),
])
def test_round_trip_is_exact_and_deterministic(value, coder):
    encoded = coder.encode(value)
    _assert_same(value, coder.decode(encoded))
    assert coder.encode(pickle.loads(pickle.dumps(value))) == encoded
    assert coder.is_deterministic()


@pytest.mark.parametrize("value, coder", [
    (_instance(), InstanceCoder()),
    (_instance(masked=False), InstanceCoder()),
    (_tokenized(), TokenizedDocumentCoder()),
])
def test_estimate_size_is_the_encoded_size_without_encoding(value, coder, monkeypatch):
    size = len(coder.encode(value))
    monkeypatch.setattr(coder, "encode", lambda _: pytest.fail("estimate_size encoded"))
    assert coder.estimate_size(value) == size
    inst = _instance()
    inst.input_ids = np.arange(12, dtype=np.int32)[::2]  # a strided view: its own bytes only
    assert InstanceCoder().estimate_size(inst) == len(InstanceCoder().encode(inst))


def test_strided_arrays_are_written_in_order():
    inst = _instance()
    inst.input_ids = np.arange(12, dtype=np.int32)[::2]
    back = InstanceCoder().decode(InstanceCoder().encode(inst))
    assert back.input_ids.tolist() == [0, 2, 4, 6, 8, 10]


def test_two_dimensional_arrays_are_refused():
    inst = _instance()
    inst.mlm_labels = np.zeros((2, 2), np.int32)
    with pytest.raises(ValueError, match="1-D"):
        InstanceCoder().encode(inst)


def test_smaller_than_pickle():
    inst = _instance()
    assert len(InstanceCoder().encode(inst)) < len(pickle.dumps(inst))


def test_registered_for_type_hints():
    assert isinstance(beam.coders.registry.get_coder(Instance), InstanceCoder)
    assert isinstance(beam.coders.registry.get_coder(TokenizedDocument), TokenizedDocumentCoder)


def _key_by_label(inst: Instance) -> tuple[int, Instance]:
    return inst.sentence_label, inst


def _summary(kv) -> tuple[int, list]:
    label, instances = kv
    return label, sorted((i.doc_id, i.input_ids.tolist(), i.span_starts.dtype.str)
                         for i in instances)


def test_instances_cross_a_shuffle_intact():
    """A typed GroupByKey encodes with InstanceCoder (the default would pickle)."""
    a, b = _instance(), _instance(masked=False)
    b.doc_id, b.sentence_label = 1, 0
    with beam.Pipeline(options=make_pipeline_options([])) as p:
        keyed = (p | beam.Create([a, b]).with_output_types(Instance)
                 | beam.Map(_key_by_label).with_output_types(tuple[int, Instance]))
        grouped = keyed | beam.GroupByKey()
        _, value_coder = beam.coders.registry.get_coder(keyed.element_type).coders()
        assert isinstance(value_coder, InstanceCoder)
        assert_that(grouped | beam.Map(_summary), equal_to([
            (-1, [(a.doc_id, a.input_ids.tolist(), "<i8")]),
            (0, [(1, b.input_ids.tolist(), "<i4")]),
        ]))


@pytest.mark.parametrize("top_id, dtype", [(65_535, np.uint16), (65_536, np.int32)])
def test_the_pool_reads_ids_as_stored(top_id, dtype):
    """`stored_ids=True` (the NSP pool): uint16 when every id fits, else int32; the same
    values, writable, and every other field as the exact decode gives it."""
    doc = _tokenized()
    doc.ids = np.array([0, 7, top_id, 3, 1, 2, 5], np.int32)
    data = tokenized_bytes(doc)
    pooled = tokenized_from_bytes(data, stored_ids=True)
    assert pooled.ids.dtype == dtype and pooled.ids.flags.writeable
    assert pooled.ids.tolist() == doc.ids.tolist()
    exact = tokenized_from_bytes(data)
    _assert_same(exact, doc)
    exact.ids = exact.ids.astype(dtype)
    _assert_same(pooled, exact)
