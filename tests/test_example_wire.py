"""tf.train.Example / SequenceExample encoding and decoding (datapipe.io.example)."""

from __future__ import annotations

import base64
import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from datapipe._native import backends
from datapipe.errors import InvalidArgumentError, InvalidTypeError
from datapipe.io.example import (
    BytesList,
    Example,
    Feature,
    FeatureList,
    FeatureLists,
    Features,
    FloatList,
    Int64List,
    SequenceExample,
    example_from_dict,
    example_to_dict,
    feature,
    sequence_example_from_dict,
)
from datapipe.io.example.wire import (
    encode_bytes_field,
    encode_int64_packed,
    encode_varint,
    sorted_keys,
)
from datapipe.io.tfrecord import tf_record_iterator

BACKENDS = backends("example")


def read_records(path) -> list[bytes]:
    """The records of a TFRecord file, CRCs checked."""
    return list(tf_record_iterator(str(path)))


@pytest.fixture
def expected(shared_fixtures):
    return json.loads((shared_fixtures / "expected.json").read_text())


def fixture_values(feat: dict):
    if feat["kind"] is None:
        return None
    if feat["kind"] == "bytes_list":
        return [bytes.fromhex(v["hex"]) for v in feat["values"]]
    if feat["kind"] == "float_list":
        return [int(b, 16) for b in feat["f32_bits"]]
    return feat["values"]


def our_values(values):
    if values is None or isinstance(values, list):
        return values
    if values.dtype == np.float32:
        return values.view(np.uint32).tolist()
    return values.tolist()


def test_reencoding_fixture_records_is_byte_identical(shared_fixtures):
    """Decoding TF's records and serializing them again gives TF's exact bytes."""
    for name, cls in [("examples.tfrecord", Example),
                      ("sequence_examples.tfrecord", SequenceExample)]:
        records = read_records(shared_fixtures / name)
        assert records
        for raw in records:
            assert cls.FromString(raw).SerializeToString() == raw


def test_fixture_values_exact(shared_fixtures, expected):
    """Every decoded value equals TF's: int64 extremes, float32 bits, raw bytes, kinds."""
    records = read_records(shared_fixtures / "examples.tfrecord")
    want = expected["files"]["examples.tfrecord"]["records"]
    assert len(records) == len(want)
    for raw, rec in zip(records, want):
        assert raw == base64.b64decode(rec["serialized_b64"])
        got = example_to_dict(raw)
        assert sorted(got) == sorted(rec["features"])
        for key, feat in rec["features"].items():
            assert our_values(got[key]) == fixture_values(feat), key


def test_fixture_sequence_values_exact(shared_fixtures, expected):
    records = read_records(shared_fixtures / "sequence_examples.tfrecord")
    want = expected["files"]["sequence_examples.tfrecord"]["records"]
    for raw, rec in zip(records, want):
        seq = SequenceExample.FromString(raw)
        for key, feat in rec["context"].items():
            assert our_values(seq.context.feature[key].values) == fixture_values(feat)
        lists = seq.feature_lists.feature_list
        assert sorted(lists) == sorted(rec["feature_lists"])
        for key, steps in rec["feature_lists"].items():
            assert [our_values(f.values) for f in lists[key].feature] == \
                [fixture_values(s) for s in steps]


def test_building_fixture_record_from_scratch_matches_tf_bytes(expected):
    """Builders shaped like tf.train produce TF's bytes for record 6 (extremes)."""
    rec = expected["files"]["examples.tfrecord"]["records"][6]
    bits = np.array([int(b, 16) for b in rec["features"]["special_f"]["f32_bits"]],
                    np.uint32)
    ex = Example(features=Features(feature={
        "big_ints": Feature(int64_list=Int64List(value=rec["features"]["big_ints"]["values"])),
        "label": Feature(int64_list=Int64List(value=[-5])),
        "special_f": Feature(float_list=FloatList(value=bits.view(np.float32))),
    }))
    assert ex.SerializeToString() == base64.b64decode(rec["serialized_b64"])
    assert ex.serialize() == ex.SerializeToString()


def test_example_from_dict_matches_fixture_record_0(expected):
    rec = expected["files"]["examples.tfrecord"]["records"][0]
    ex = example_from_dict({"score": 0.5, "name": "alpha", "label": 7})
    assert ex.serialize() == base64.b64decode(rec["serialized_b64"])


def test_empty_lists_and_no_kind_encode_like_tf(expected):
    rec = expected["files"]["examples.tfrecord"]["records"][4]
    ex = Example(Features({"empty_b": Feature(bytes_list=BytesList()),
                           "empty_f": Feature(float_list=FloatList()),
                           "empty_i": Feature(int64_list=Int64List()),
                           "no_kind": Feature(),
                           "var_i": feature([99])}))
    assert ex.serialize() == base64.b64decode(rec["serialized_b64"])


def test_map_order_is_tfs_deterministic_order():
    """Keys: bytewise over the common length, a longer key before its prefix."""
    assert sorted_keys(["b", "a", "ab", "B", "aa", "zz", "a0", ""]) == \
        ["B", "a0", "aa", "ab", "a", "b", "zz", ""]
    ex = Example(Features({"b": feature(1), "a": Feature(), "": feature([b""])}))
    # bytes from tf.train.Example(...).SerializeToString(deterministic=True), TF 2.21
    assert ex.serialize().hex() == "0a1d0a050a016112000a0a0a016212051a030a01010a080a0012040a020a00"


def test_empty_messages():
    assert Example().serialize() == b""
    assert Example(Features()).serialize() == b"\n\x00"
    assert Example.FromString(b"") == Example()
    assert Example.FromString(b"\n\x00").features is not None
    seq = SequenceExample(feature_lists=FeatureLists(
        {"x": FeatureList([Feature(), Feature(int64_list=Int64List([]))])}))
    assert seq.serialize().hex() == "120d0a0b0a017812060a000a021a00"  # TF's bytes
    assert SequenceExample.FromString(seq.serialize()) == seq


def test_varint_encoding():
    assert encode_varint(0) == b"\x00"
    assert encode_varint(300) == b"\xac\x02"
    assert encode_varint(-1) == b"\xff" * 9 + b"\x01"
    assert encode_int64_packed(np.array([1, 2, 127])) == b"\x01\x02\x7f"
    assert encode_int64_packed([128, -2 ** 63]) == b"\x80\x01" + b"\x80" * 9 + b"\x01"


def test_feature_inference():
    assert feature(3).kind == "int64_list"
    assert feature(True).values.tolist() == [1]
    assert feature(np.uint8(7)).kind == "int64_list"
    assert feature(2.5).kind == "float_list"
    assert feature(np.arange(4, dtype=np.float64)).values.dtype == np.float32
    assert feature("é").values == ["é".encode()]
    assert feature([b"a", "b"]).values == [b"a", b"b"]
    assert feature([1, 2.5]).kind == "float_list"
    assert feature(np.array([b"x", b"y"])).values == [b"x", b"y"]
    assert feature(None).kind is None
    assert feature(np.zeros((2, 2), np.int32)).values.tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize(("value", "error", "match"), [
    ([], InvalidArgumentError, "empty list"),
    ({"a": 1}, InvalidTypeError, "cannot make a Feature"),
    ([1, "a"], InvalidTypeError, "cannot make a Feature"),
    (np.array([1 + 2j]), InvalidTypeError, "complex"),
])
def test_feature_inference_errors(value, error, match):
    with pytest.raises(error, match=match):
        feature(value)


def test_builder_validation():
    with pytest.raises(InvalidArgumentError, match="at most one"):
        Feature(int64_list=Int64List([1]), float_list=FloatList([1.0]))
    with pytest.raises(InvalidTypeError, match="must be a Int64List"):
        Feature(int64_list=[1])
    with pytest.raises(InvalidArgumentError, match="int64"):
        Int64List([2 ** 63])
    with pytest.raises(InvalidArgumentError, match="int64"):
        Int64List([1.5])
    with pytest.raises(InvalidTypeError, match="single"):
        BytesList(b"abc")
    with pytest.raises(InvalidTypeError, match="must be a Feature"):
        Features({"a": 1})
    with pytest.raises(InvalidTypeError, match="names must be str"):
        Features({1: Feature()})
    with pytest.raises(InvalidTypeError, match="Features"):
        Example(features={"a": Feature()})


def test_repr_is_readable():
    ex = example_from_dict({"b": [b"x"], "a": [1, 2]})
    assert repr(ex) == "Example({'a': int64_list[1, 2], 'b': bytes_list[b'x']})"
    assert "... (20 values)" in repr(feature(np.arange(20)))
    assert repr(Feature()) == "Feature()"
    assert Feature().WhichOneof("kind") is None
    assert feature(1.0).WhichOneof("kind") == "float_list"


def test_float_bits_survive_roundtrip():
    bits = np.array([0x7FC00001, 0xFFA00000, 0x80000000, 0x00000001, 0x7F800000],
                    np.uint32)
    ex = example_from_dict({"f": bits.view(np.float32)})
    back = Example.FromString(ex.serialize())
    assert back.features.feature["f"].values.view(np.uint32).tolist() == bits.tolist()


def test_feature_and_features_from_string():
    f = feature([1, -1])
    assert Feature.FromString(f.serialize()) == f
    fs = Features({"a": f, "b": feature(b"z")})
    assert Features.FromString(fs.serialize()) == fs


def test_sequence_example_from_dict_roundtrip():
    seq = sequence_example_from_dict({"id": b"s"}, {"tok": [[1], [2, 3]], "w": [0.5]})
    back = SequenceExample.FromString(seq.serialize())
    assert back == seq
    assert back.feature_lists.feature_list["tok"].feature[1].values.tolist() == [2, 3]


def test_decoder_accepts_unpacked_and_split_packed_fields_and_skips_unknown():
    """Unpacked repeated fields, packed chunks, unknown fields: as protobuf."""
    # Int64List{1 (unpacked), packed[2,3], unknown field 2 varint}, FloatList unpacked.
    ints = b"\x08\x01" + b"\x0a\x02\x02\x03" + b"\x10\x05"
    floats = b"\x0d" + struct.pack("<f", 1.5) + b"\x0d" + struct.pack("<f", 2.5)
    entry_i = b"\x0a\x01i" + b"\x12" + bytes([len(ints) + 2]) + b"\x1a" + bytes([len(ints)]) + ints
    entry_f = (b"\x0a\x01f" + b"\x12" + bytes([len(floats) + 2]) + b"\x12"
               + bytes([len(floats)]) + floats)
    features = (b"\x0a" + bytes([len(entry_i)]) + entry_i + b"\x0a" + bytes([len(entry_f)])
                + entry_f + b"\x18\x07")  # unknown varint field 3 in Features
    record = b"\x0a" + bytes([len(features)]) + features + b"\x15\x00\x00\x00\x00"
    for module in BACKENDS.values():
        got = module.decode_example(record)
        assert got["i"][1].tolist() == [1, 2, 3]
        assert got["f"][1].tolist() == [1.5, 2.5]


def test_decoder_duplicate_keys_and_oneof_last_wins():
    a = example_from_dict({"x": [1]}).serialize()
    b = example_from_dict({"x": [2.0]}).serialize()
    for module in BACKENDS.values():
        assert module.decode_example(a + b)["x"][0] == 2  # concatenated: last wins
    # within one Feature: int64_list then float_list -> float_list wins
    inner = feature([1]).serialize() + feature([2.0]).serialize()
    assert Feature.FromString(inner).kind == "float_list"
    # two int64_list fields in a row merge (protobuf merges the same message field)
    inner = feature([1]).serialize() + feature([2, 3]).serialize()
    assert Feature.FromString(inner).values.tolist() == [1, 2, 3]


_ld = encode_bytes_field

MALFORMED = [
    (b"\x0a\x05abc", "length-delimited field runs past the end at byte 1"),
    (b"\x0b", "unsupported wire type 3 at byte 0"),
    (b"\x0a", "truncated varint at byte 1"),
    (b"\x08" + b"\xff" * 10 + b"\x01", "varint longer than 10 bytes at byte 1"),
    (b"\x00\x01", "field number 0 at byte 0"),
    (b"\x09\x00\x00", "truncated fixed64 field at byte 1"),
    (_ld(1, _ld(1, _ld(1, b"x") + _ld(2, _ld(3, _ld(1, b"\xff"))))),
     "truncated varint at byte 13"),
    (_ld(1, _ld(1, _ld(1, b"x") + _ld(2, _ld(2, _ld(1, b"\x00\x00\x01"))))),
     "packed float list length not a multiple of 4 at byte 13"),
    (_ld(1, _ld(1, _ld(1, b"\xffx") + _ld(2, b""))), "feature name is not valid UTF-8 at byte 6"),
]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize(("data", "message"), MALFORMED)
def test_malformed_bytes_raise_with_position(backend, data, message):
    module = BACKENDS[backend]
    with pytest.raises(InvalidArgumentError, match="record 4 is not a valid "
                       "tf.train.Example: " + message):
        module.decode_example(data, "decode()", 4)


def test_decode_rejects_non_bytes():
    for module in BACKENDS.values():
        with pytest.raises(InvalidTypeError, match="must be bytes"):
            module.decode_example("abc")


values_st = st.one_of(
    st.lists(st.integers(-2 ** 63, 2 ** 63 - 1), max_size=6).map(
        lambda v: Feature(int64_list=Int64List(v))),
    st.lists(st.floats(width=32, allow_nan=False), max_size=6).map(
        lambda v: Feature(float_list=FloatList(v))),
    st.lists(st.binary(max_size=12), max_size=4).map(
        lambda v: Feature(bytes_list=BytesList(v))),
    st.just(Feature()),
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=6), values_st, max_size=6))
def test_roundtrip_random_examples(features):
    """serialize -> FromString -> serialize is the identity, on both backends."""
    ex = Example(Features(features))
    data = ex.serialize()
    assert Example.FromString(data) == ex
    decoded = [m.decode_example(data) for m in BACKENDS.values()]
    for got in decoded[1:]:
        assert {k: (v[0], our_values(v[1])) for k, v in got.items()} == \
            {k: (v[0], our_values(v[1])) for k, v in decoded[0].items()}


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=40))
def test_backends_agree_on_arbitrary_bytes(data):
    """Random bytes: both decoders return the same thing or raise the same message."""
    outcomes = []
    for module in BACKENDS.values():
        try:
            got = module.decode_example(data)
            outcomes.append(None if got is None else
                            {k: (v[0], our_values(v[1])) for k, v in got.items()})
        except InvalidArgumentError as exc:
            outcomes.append(str(exc))
    assert all(o == outcomes[0] for o in outcomes)


@pytest.mark.tfdata
def test_tensorflow_reads_our_bytes():
    tf = pytest.importorskip("tensorflow", reason="the TensorFlow reference (bench extra)")
    ex = example_from_dict({"a": [1, -2 ** 63], "f": np.float32([0.1, -0.0]),
                            "s": [b"\xff\x00", "é"], "n": None})
    parsed = tf.train.Example.FromString(ex.serialize())
    assert list(parsed.features.feature["a"].int64_list.value) == [1, -2 ** 63]
    assert list(parsed.features.feature["s"].bytes_list.value) == [b"\xff\x00", "é".encode()]
    assert parsed.SerializeToString(deterministic=True) == ex.serialize()
