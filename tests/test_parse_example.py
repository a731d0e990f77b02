"""parse_example / parse_single_example / parse_sequence_example with tf.io's semantics."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import datapipe as dp
from datapipe._native import backends
from datapipe.errors import InvalidArgumentError, InvalidTypeError
from datapipe.io.example import (
    BytesList,
    FixedLenFeature,
    FixedLenSequenceFeature,
    RaggedArray,
    RaggedFeature,
    SparseArray,
    VarLenFeature,
    example_from_dict,
    parse_example,
    parse_sequence_example,
    parse_single_example,
    parse_single_sequence_example,
    parsing,
    sequence_example_from_dict,
)

BACKENDS = backends("example")


@pytest.fixture(params=sorted(BACKENDS))
def backend(request, monkeypatch):
    """Run the test on the native module and on its pure-Python twin."""
    monkeypatch.setattr(parsing, "_wire", BACKENDS[request.param])
    return request.param


@pytest.fixture
def expected(shared_fixtures):
    return json.loads((shared_fixtures / "expected.json").read_text())


def records_of(expected, name="examples.tfrecord"):
    return [base64.b64decode(r["serialized_b64"]) for r in expected["files"][name]["records"]]


def tensor_values(t):
    """A fixture tensor ({dtype, shape, values[, f32_bits]}) as a comparable list."""
    if t["dtype"] == "string":
        return [bytes.fromhex(v["hex"]) for v in t["values"]]
    if t["dtype"] == "float32":
        return [int(b, 16) for b in t["f32_bits"]]
    return t["values"]


def ours(array):
    array = np.asarray(array)
    if array.dtype == np.float32:
        return array.reshape(-1).view(np.uint32).tolist()
    return array.reshape(-1).tolist()


def check_tensor(got, want):
    got = np.array(got, dtype=object) if isinstance(got, bytes) else np.asarray(got)
    assert list(got.shape) == want["shape"]
    want_dtype = np.dtype(object) if want["dtype"] == "string" else np.dtype(want["dtype"])
    assert got.dtype == want_dtype
    assert ours(got) == tensor_values(want)


def check_output(got, want):
    if "sparse" in want:
        assert isinstance(got, SparseArray)
        for part in ("indices", "values", "dense_shape"):
            check_tensor(getattr(got, part), want["sparse"][part])
    elif "ragged" in want:
        assert isinstance(got, RaggedArray)
        check_tensor(got.values, want["ragged"]["values"])
        check_tensor(got.row_splits, want["ragged"]["row_splits"])
    else:
        check_tensor(got, want)


FIXTURE_SPEC = {
    "label": FixedLenFeature([], np.int64, default_value=-1),
    "vec_f": FixedLenFeature([4], np.float32, default_value=[0, 0, 0, 0]),
    "var_i": VarLenFeature(np.int64),
    "var_f": RaggedFeature(np.float32),
    "text": RaggedFeature(dp.string),
    "big_ints": VarLenFeature("int64"),
    "name": FixedLenFeature([], "string", default_value=b"<none>"),
}


def test_parse_example_matches_tf_on_fixtures(backend, expected):
    """All 8 fixture records as one batch: TF's outputs, value for value."""
    out = parse_example(records_of(expected), FIXTURE_SPEC)
    want = expected["parse_example"]["output"]
    assert sorted(out) == sorted(want)
    for key in want:
        check_output(out[key], want[key])


def test_parse_single_example_matches_tf_on_record_6(backend, expected):
    rec = records_of(expected)[6]
    out = parse_single_example(rec, {"big_ints": FixedLenFeature([13], np.int64),
                                     "special_f": FixedLenFeature([9], np.float32)})
    for key, want in expected["parse_example"]["parse_single_example_record6"].items():
        check_tensor(out[key], want)


@pytest.mark.parametrize(("spec", "message"), [
    ({"vec_f": FixedLenFeature([4], np.float32)},
     r"feature 'vec_f' \(float32\) is required but missing in record 0"),
    ({"vec_i": FixedLenFeature([3], np.int64, default_value=[0, 0, 0])},
     "feature 'vec_i' in record 1 has 4 int64 values but the spec needs exactly 3"),
    ({"label": FixedLenFeature([], np.float32, default_value=0.0)},
     "feature 'label' in record 0 has kind int64_list but the spec asks for float32"),
    ({"var_i": VarLenFeature(np.float32)},
     "feature 'var_i' in record 2 has kind int64_list but the spec asks for float32"),
    ({"text": RaggedFeature(np.int64)},
     "feature 'text' in record 5 has kind bytes_list but the spec asks for int64"),
])
def test_errors_name_feature_and_record(backend, expected, spec, message):
    """TF's three error cases (and kind mismatches of the other specs)."""
    with pytest.raises(InvalidArgumentError, match=message):
        parse_example(records_of(expected), spec)


def test_tf_error_cases_exist_in_fixtures(expected):
    assert len(expected["parse_example"]["errors"]) == 3
    for err in expected["parse_example"]["errors"].values():
        assert err["type"] == "InvalidArgumentError"


def test_empty_list_is_not_missing_but_no_kind_is(backend):
    """As tf: an empty int64_list fails a FixedLenFeature([]) even with a default; a
    Feature with no kind set counts as missing."""
    empty = example_from_dict({"x": np.zeros(0, np.int64)}).serialize()
    no_kind = example_from_dict({"x": None}).serialize()
    spec = {"x": FixedLenFeature([], np.int64, default_value=5)}
    with pytest.raises(InvalidArgumentError, match="has 0 int64 values"):
        parse_example([empty], spec)
    assert parse_example([no_kind], spec)["x"].tolist() == [5]
    assert parse_example([no_kind], {"x": VarLenFeature(np.int64)})["x"].dense_shape.tolist() \
        == [1, 0]


def test_fixed_len_sequence_feature_pads_like_tf(backend):
    recs = [example_from_dict({"x": [1, 2, 3, 4]}).serialize(),
            example_from_dict({"x": [5, 6]}).serialize(),
            example_from_dict({"y": [1]}).serialize()]
    out = parse_example(recs, {"x": FixedLenSequenceFeature([2], np.int64, allow_missing=True,
                                                             default_value=-1)})["x"]
    assert out.tolist() == [[[1, 2], [3, 4]], [[5, 6], [-1, -1]], [[-1, -1], [-1, -1]]]
    out = parse_example(recs, {"x": FixedLenSequenceFeature([2], "int64",
                                                             allow_missing=True)})["x"]
    assert out[2].tolist() == [[0, 0], [0, 0]]
    single = parse_single_example(recs[0], {"x": FixedLenSequenceFeature(
        [2], np.int64, allow_missing=True)})["x"]
    assert single.tolist() == [[1, 2], [3, 4]]
    strings = parse_example([example_from_dict({"s": [b"a"]}).serialize(), recs[2]],
                            {"s": FixedLenSequenceFeature([], dp.string, allow_missing=True)})
    assert strings["s"].tolist() == [[b"a"], [b""]]
    with pytest.raises(InvalidArgumentError, match="record 0 has 3 values, not a multiple of 2"):
        parse_example([example_from_dict({"x": [1, 2, 3]}).serialize()],
                      {"x": FixedLenSequenceFeature([2], np.int64, allow_missing=True)})
    with pytest.raises(InvalidArgumentError, match="allow_missing=True"):
        parse_example(recs, {"x": FixedLenSequenceFeature([2], np.int64)})


def test_fixed_len_shapes_and_defaults(backend):
    recs = [example_from_dict({"x": [1, 2, 3, 4], "s": [b"p", b"q"]}).serialize(),
            example_from_dict({"y": 1}).serialize()]
    out = parse_example(recs, {
        "x": FixedLenFeature([2, 2], np.int64, default_value=[[0, 0], [0, 9]]),
        "s": FixedLenFeature([2], dp.string, default_value=["a", b"b"])})
    assert out["x"].tolist() == [[[1, 2], [3, 4]], [[0, 0], [0, 9]]]
    assert out["s"].tolist() == [[b"p", b"q"], [b"a", b"b"]]
    assert out["s"].dtype == object
    with pytest.raises(InvalidArgumentError, match="default_value of 'x' must have 4"):
        parse_example(recs, {"x": FixedLenFeature([2, 2], np.int64, default_value=3)})


def test_ragged_partitions(backend):
    recs = [example_from_dict({"v": [1, 2, 3, 4, 5], "l": [2, 3], "sp": [0, 2, 5]}).serialize(),
            example_from_dict({"v": np.zeros(0, np.int64), "l": np.zeros(0, np.int64)}
                              ).serialize()]
    out = parse_example(recs, {
        "a": RaggedFeature(np.int64, value_key="v",
                           partitions=[RaggedFeature.RowLengths("l")],
                           row_splits_dtype=np.int64),
        "b": RaggedFeature(np.int64, value_key="v", partitions=[RaggedFeature.RowSplits("sp")]),
        "c": RaggedFeature(np.int64, value_key="v",
                           partitions=[RaggedFeature.UniformRowLength(5)]),
    })
    assert out["a"].to_list() == [[[1, 2], [3, 4, 5]], []]  # checked with tf
    assert out["a"].row_splits.dtype == np.int64
    assert out["b"].to_list() == [[[1, 2], [3, 4, 5]], []]
    assert out["b"].row_splits.dtype == np.int32
    assert out["c"].to_list() == [[[1, 2, 3, 4, 5]], []]
    single = parse_single_example(recs[0], {"a": RaggedFeature(
        np.int64, value_key="v", partitions=[RaggedFeature.RowLengths("l")])})
    assert single["a"].to_list() == [[1, 2], [3, 4, 5]]
    plain = parse_single_example(recs[0], {"v": RaggedFeature(np.int64)})["v"]
    assert isinstance(plain, np.ndarray) and plain.tolist() == [1, 2, 3, 4, 5]
    bad = example_from_dict({"v": [1, 2, 3, 4, 5], "l": [2, 2]}).serialize()
    with pytest.raises(InvalidArgumentError, match="describes 4 values but the record has 5"):
        parse_example([bad], {"a": RaggedFeature(np.int64, value_key="v", partitions=[
            RaggedFeature.RowLengths("l")])})


def test_varlen_single_and_to_dense(backend):
    rec = example_from_dict({"v": [1, 2, 3]}).serialize()
    sp = parse_single_example(rec, {"v": VarLenFeature(np.int64)})["v"]
    assert sp.indices.tolist() == [[0], [1], [2]] and sp.dense_shape.tolist() == [3]
    batch = parse_example([rec, example_from_dict({"v": [7]}).serialize()],
                          {"v": VarLenFeature(np.int64)})["v"]
    assert batch.to_dense(-1).tolist() == [[1, 2, 3], [7, -1, -1]]


def test_empty_batch(backend):
    out = parse_example([], {"x": FixedLenFeature([2], np.int64),
                             "y": VarLenFeature(np.float32), "z": RaggedFeature(dp.string),
                             "s": FixedLenSequenceFeature([], np.int64, allow_missing=True)})
    assert out["x"].shape == (0, 2)
    assert out["y"].indices.shape == (0, 2) and out["y"].dense_shape.tolist() == [0, 0]
    assert out["z"].to_list() == [] and out["z"].values.dtype == object
    assert out["s"].shape == (0, 0)


def test_inputs_as_numpy_arrays_and_scalars(backend):
    recs = [example_from_dict({"x": i}).serialize() for i in range(3)]
    spec = {"x": FixedLenFeature([], np.int64)}
    assert parse_example(np.array(recs, dtype=object), spec)["x"].tolist() == [0, 1, 2]
    with pytest.raises(InvalidTypeError, match="drops trailing NUL bytes"):
        parse_example(np.array(recs), spec)  # dtype S cannot hold records exactly
    assert parse_example(recs[2], spec)["x"] == 2  # scalar input: unbatched
    assert parse_single_example(np.array(recs[1], dtype=object), spec)["x"] == 1


def test_bad_arguments(backend):
    rec = example_from_dict({"x": 1}).serialize()
    with pytest.raises(InvalidTypeError, match="record 1 must be bytes"):
        parse_example([rec, 3], {"x": FixedLenFeature([], np.int64)})
    with pytest.raises(InvalidArgumentError, match="features must not be empty"):
        parse_example([rec], {})
    with pytest.raises(InvalidTypeError, match="must be a FixedLenFeature"):
        parse_example([rec], {"x": np.int64})
    with pytest.raises(InvalidArgumentError, match="single record"):
        parse_single_example([rec], {"x": FixedLenFeature([], np.int64)})
    with pytest.raises(InvalidTypeError, match="dtype must be int64, float32 or string"):
        FixedLenFeature([], np.int32)
    with pytest.raises(InvalidArgumentError, match="fully defined"):
        FixedLenFeature([None], np.int64)
    with pytest.raises(InvalidTypeError, match="row_splits_dtype"):
        RaggedFeature(np.int64, row_splits_dtype=np.float32)


def test_malformed_record_names_record(backend):
    good = example_from_dict({"x": 1}).serialize()
    with pytest.raises(InvalidArgumentError,
                       match=r"parse_example\(\): record 1 is not a valid tf.train.Example: "
                             "length-delimited field runs past the end at byte 1"):
        parse_example([good, b"\x0a\x05abc"], {"x": FixedLenFeature([], np.int64)})


def test_duplicate_keys_last_wins(backend):
    rec = (example_from_dict({"x": [1, 2]}).serialize()
           + example_from_dict({"x": [3]}).serialize())
    out = parse_example([rec], {"x": VarLenFeature(np.int64), "y": FixedLenFeature(
        [], np.int64, default_value=0)})
    assert out["x"].values.tolist() == [3]


def test_dtype_spellings():
    assert FixedLenFeature([], "int64").dtype == np.int64
    assert FixedLenFeature([], np.dtype("float32")).dtype == np.float32
    for spelling in ("string", dp.string, bytes, object, np.bytes_):
        assert VarLenFeature(spelling).dtype == np.dtype(object)


def test_parse_sequence_example_matches_tf_fixture(backend, expected):
    recs = records_of(expected, "sequence_examples.tfrecord")
    want = expected["parse_sequence_example"]
    context_spec = {"id": FixedLenFeature([], dp.string), "length": FixedLenFeature(
        [], np.int64), "weight": FixedLenFeature([], np.float32)}
    sequence_spec = {"tokens": FixedLenSequenceFeature([], dp.string),
                     "ids": FixedLenSequenceFeature([3], np.int64),
                     "frames": RaggedFeature(np.float32)}
    for rec, per in zip(recs, want["per_record"]):
        context, sequences = parse_single_sequence_example(rec, context_spec, sequence_spec)
        for key, t in per["context"].items():
            check_tensor(context[key], t)
        for key, t in per["sequence"].items():
            check_output(sequences[key], t)
    context, sequences, lengths = parse_sequence_example(recs, context_spec, sequence_spec)
    assert context["length"].tolist() == [1, 2, 3]
    assert sequences["ids"].shape == (3, 3, 3)
    assert sequences["tokens"].tolist()[0] == [b"t00", b"", b""]
    assert lengths["ids"].tolist() == [1, 2, 3]
    assert sequences["frames"].to_list()[1] == [[0.0], [1.0, 1.0]]


def test_sequence_example_errors_and_varlen(backend):
    rec = sequence_example_from_dict({"c": 1}, {"s": [[1, 2], [3]]}).serialize()
    _, seq = parse_single_sequence_example(rec, {"c": FixedLenFeature([], np.int64)},
                                             {"s": VarLenFeature(np.int64)})
    assert seq["s"].indices.tolist() == [[0, 0], [0, 1], [1, 0]]
    assert seq["s"].dense_shape.tolist() == [2, 2]
    with pytest.raises(InvalidArgumentError, match="step 1 has 1 values but the spec needs"):
        parse_single_sequence_example(rec, None, {"s": FixedLenSequenceFeature([2], np.int64)})
    with pytest.raises(InvalidArgumentError, match="'m' is required but missing in record 0"):
        parse_single_sequence_example(rec, None, {"m": FixedLenSequenceFeature([], np.int64)})
    empty = parse_single_sequence_example(
        rec, None, {"m": FixedLenSequenceFeature([2], np.int64, allow_missing=True)})[1]
    assert empty["m"].shape == (0, 2)
    with pytest.raises(InvalidArgumentError, match="has kind int64_list but the spec asks"):
        parse_single_sequence_example(rec, None, {"s": VarLenFeature(np.float32)})


def test_parse_example_inside_dataset_map():
    """ds.batch(n).map(lambda b: parse_example(b, spec)) on serialized records."""
    recs = [example_from_dict({"label": i, "x": np.full(3, i, np.float32),
                               "name": f"n{i}"}).serialize() for i in range(10)]
    spec = {"label": FixedLenFeature([], np.int64), "x": FixedLenFeature([3], np.float32),
            "name": FixedLenFeature([], dp.string)}
    ds = dp.Dataset.from_tensor_slices(np.array(recs, dtype=object)).batch(4).map(
        lambda b: parse_example(b, spec))
    got = list(ds)
    assert [len(b["label"]) for b in got] == [4, 4, 2]
    assert np.concatenate([b["label"] for b in got]).tolist() == list(range(10))
    assert got[2]["x"].tolist() == [[8.0] * 3, [9.0] * 3]
    assert got[0]["name"].tolist() == [b"n0", b"n1", b"n2", b"n3"]


# -- laws and differential tests ------------------------------------------------------

_feature_values = st.one_of(
    st.lists(st.integers(-2 ** 63, 2 ** 63 - 1), min_size=1, max_size=5).map(
        lambda v: np.array(v, np.int64)),
    st.lists(st.floats(width=32), min_size=1, max_size=5).map(
        lambda v: np.array(v, np.float32)),
    st.lists(st.binary(max_size=8), min_size=1, max_size=4),
)


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=5), _feature_values, max_size=5))
def test_roundtrip_dict_serialize_parse(values):
    """Random dict -> serialize -> parse (VarLen / FixedLen / Ragged) == original."""
    rec = example_from_dict(values).serialize()
    for module in BACKENDS.values():
        parsing._wire = module
        try:
            for key, value in values.items():
                dtype = np.dtype(object) if isinstance(value, list) else value.dtype
                want = value if isinstance(value, list) else value.view(
                    np.uint32 if dtype == np.float32 else np.int64).tolist()
                out = parse_single_example(
                    rec, {key: FixedLenFeature([len(value)], dtype)})[key]
                got = out.tolist() if dtype.hasobject else out.view(
                    np.uint32 if dtype == np.float32 else np.int64).tolist()
                assert got == want
                var = parse_example([rec, rec], {key: VarLenFeature(dtype)})[key]
                assert var.dense_shape.tolist() == [2, len(value)]
                rag = parse_example([rec], {"r": RaggedFeature(dtype, value_key=key)})["r"]
                assert rag.row_splits.tolist() == [0, len(value)]
        finally:
            parsing._wire = BACKENDS["native" if "native" in BACKENDS else "pure"]


def _mutations(rec: bytes):
    yield rec
    for cut in range(0, len(rec), 3):
        yield rec[:cut]
    for pos in range(0, len(rec), 2):
        yield rec[:pos] + bytes([rec[pos] ^ 0x80]) + rec[pos + 1:]


def _outcome(module, recs, keys, kinds, strides):
    outs = [np.zeros(len(recs) * s, {2: np.float32, 3: np.int64}[k]) if s >= 0 and k != 1
            else None for k, s in zip(kinds, strides)]
    try:
        got = module.parse_batch(recs, keys, kinds, strides, outs, "w")
    except InvalidArgumentError as exc:
        return str(exc)
    return [(p.tolist(), ours(v) if v.dtype != object else v.tolist(), n.tolist())
            for p, v, n in got]


def test_backends_agree_on_damaged_records():
    """Truncated and bit-flipped records: same results or same error on both backends."""
    if "native" not in BACKENDS:
        pytest.skip("native module not built")
    base = example_from_dict({"a": [1, 300, -5], "f": np.float32([1.5, -2]),
                              "s": [b"xy", b""], "n": None}).serialize()
    keys = [b"a", b"f", b"s", b"a", b"n"]
    kinds = [3, 2, 1, 3, 3]
    strides = [3, -1, 2, -1, -1]
    for rec in _mutations(base):
        assert _outcome(BACKENDS["native"], [base, rec], keys, kinds, strides) == \
            _outcome(BACKENDS["pure"], [base, rec], keys, kinds, strides)


# -- against TensorFlow itself -------------------------------------------------------


@pytest.mark.tfdata
def test_against_tensorflow_random_batches():
    tf = pytest.importorskip("tensorflow", reason="the TensorFlow reference (bench extra)")
    rng = np.random.default_rng(0)
    recs = []
    for i in range(20):
        d = {"label": int(rng.integers(-5, 5)), "x": rng.standard_normal(3).astype(np.float32),
             "v": rng.integers(0, 100, int(rng.integers(0, 4))).astype(np.int64),
             "s": BytesList([bytes(rng.integers(0, 256, 3, dtype=np.uint8))]
                            * int(rng.integers(0, 3)))}
        if i % 3 == 0:
            del d["label"]
        recs.append(example_from_dict(d).serialize())
    ours_spec = {"label": FixedLenFeature([], np.int64, default_value=7),
                 "x": FixedLenFeature([3], np.float32), "v": VarLenFeature(np.int64),
                 "s": RaggedFeature(dp.string),
                 "q": FixedLenSequenceFeature([], np.int64, allow_missing=True)}
    tf_spec = {"label": tf.io.FixedLenFeature([], tf.int64, default_value=7),
               "x": tf.io.FixedLenFeature([3], tf.float32), "v": tf.io.VarLenFeature(tf.int64),
               "s": tf.io.RaggedFeature(tf.string),
               "q": tf.io.FixedLenSequenceFeature([], tf.int64, allow_missing=True)}
    got = parse_example(recs, ours_spec)
    want = tf.io.parse_example(recs, tf_spec)
    assert got["label"].tolist() == want["label"].numpy().tolist()
    assert ours(got["x"]) == ours(want["x"].numpy())
    assert got["v"].indices.tolist() == want["v"].indices.numpy().tolist()
    assert got["v"].dense_shape.tolist() == want["v"].dense_shape.numpy().tolist()
    assert got["s"].to_list() == want["s"].to_list()
    assert got["s"].row_splits.tolist() == want["s"].row_splits.numpy().tolist()
    assert got["q"].shape == tuple(want["q"].shape)
