"""Dataset sources: from_tensors, from_tensor_slices, range, counter, from_generator,
zip, concatenate, random, sample_from_datasets, choose_from_datasets.

Expected values are computed by hand or were checked against TensorFlow 2.21's
tf.data (the ``tfdata``-marked tests repeat some of those checks when TensorFlow is
importable).
"""

from __future__ import annotations

import collections

import numpy as np
import pytest

import datapipe as dp
from datapipe import state as state_codec
from datapipe.errors import InvalidArgumentError, InvalidTypeError
from datapipe.testing import assert_elements_equal, assert_resumes, take_all

D = dp.Dataset
INF = dp.INFINITE_CARDINALITY
UNK = dp.UNKNOWN_CARDINALITY
Spec = dp.TensorSpec
Point = collections.namedtuple("Point", ["x", "y"])


def i64(*values):
    return [np.int64(v) for v in values]


def ints(ds, limit=None):
    return [int(x) for x in take_all(ds, limit)]


def unknown_card(n=3):
    """A dataset of n int64 values whose cardinality is UNKNOWN."""
    return D.from_generator(lambda: iter(range(n)), output_signature=Spec((), np.int64))


def sized(size):
    """range(size), or a dataset of cardinality INFINITE / UNKNOWN for those values."""
    if size == INF:
        return D.counter()
    if size == UNK:
        return unknown_card()
    return D.range(size)


def resume_at(ds, cut):
    """(tail of the original after `cut`, tail of an iterator restored at `cut`)."""
    with iter(ds) as original:
        for _ in range(cut):
            next(original)
        saved = state_codec.loads(state_codec.dumps(original.get_state()))
        expected = list(original)
    with iter(ds) as restored:
        restored.set_state(saved)
        return expected, list(restored)


# --------------------------------------------------------------------- from_tensors


class TestFromTensors:
    def test_python_values_take_tf_dtypes(self):
        assert_elements_equal(take_all(D.from_tensors(3)), [np.int32(3)])
        assert_elements_equal(take_all(D.from_tensors(1.5)), [np.float32(1.5)])
        assert_elements_equal(take_all(D.from_tensors("hi")), [b"hi"])
        assert_elements_equal(take_all(D.from_tensors(True)), [np.bool_(True)])
        assert_elements_equal(take_all(D.from_tensors(2**40)), [np.int64(2**40)])

    def test_list_becomes_one_array(self):
        assert_elements_equal(take_all(D.from_tensors([1, 2])), [np.array([1, 2], np.int32)])
        assert_elements_equal(take_all(D.from_tensors([1, 2.5])),
                              [np.array([1, 2.5], np.float32)])

    def test_numpy_array_dtype_is_kept(self):
        value = np.arange(6, dtype=np.uint16).reshape(2, 3)
        (out,) = take_all(D.from_tensors(value))
        assert out.dtype == np.uint16 and out.shape == (2, 3)

    def test_nested_structure(self):
        ds = D.from_tensors({"a": (1, "x"), "b": Point(np.float64(1), [1.0])})
        (out,) = take_all(ds)
        assert_elements_equal(out, {"a": (np.int32(1), b"x"),
                                    "b": Point(np.float64(1), np.array([1.0], np.float32))})
        assert isinstance(out["b"], Point)

    def test_cardinality_and_spec(self):
        ds = D.from_tensors((np.zeros((2, 3), np.float32), "s"))
        assert ds.cardinality() == 1
        assert ds.element_spec == (Spec((2, 3), np.float32), Spec((), dp.string))

    def test_none_is_refused(self):
        with pytest.raises(InvalidTypeError, match="None"):
            D.from_tensors(None)

    def test_resumes(self):
        assert_resumes(D.from_tensors({"a": [1, 2], "b": b"x"}))


# ----------------------------------------------------------------- from_tensor_slices


class TestFromTensorSlices:
    def test_array_rows(self):
        ds = D.from_tensor_slices(np.arange(6, dtype=np.int16).reshape(3, 2))
        assert_elements_equal(take_all(ds), [np.array([0, 1], np.int16),
                                             np.array([2, 3], np.int16),
                                             np.array([4, 5], np.int16)])
        assert ds.element_spec == Spec((2,), np.int16)
        assert ds.cardinality() == 3

    def test_list_of_python_numbers(self):
        assert_elements_equal(take_all(D.from_tensor_slices([1, 2])), [np.int32(1), np.int32(2)])
        assert_elements_equal(take_all(D.from_tensor_slices([0.5, 2])),
                              [np.float32(0.5), np.float32(2)])
        assert_elements_equal(take_all(D.from_tensor_slices([1, 2**40])), i64(1, 2**40))
        assert_elements_equal(take_all(D.from_tensor_slices([True, False])),
                              [np.bool_(True), np.bool_(False)])

    def test_list_of_tuples_is_a_matrix(self):
        # As tf.data: a list is converted to one tensor, so rows are arrays.
        assert_elements_equal(take_all(D.from_tensor_slices([(1, 2), (3, 4)])),
                              [np.array([1, 2], np.int32), np.array([3, 4], np.int32)])

    def test_strings_become_bytes(self):
        ds = D.from_tensor_slices(["a", "bc"])
        assert_elements_equal(take_all(ds), [b"a", b"bc"])
        assert ds.element_spec == Spec((), dp.string)
        assert_elements_equal(take_all(D.from_tensor_slices(np.array(["x", "yz"]))),
                              [b"x", b"yz"])

    def test_nested_dict_tuple_namedtuple(self):
        ds = D.from_tensor_slices({"p": Point([1, 2], [3.0, 4.0]), "t": (["a", "b"], [[1], [2]])})
        out = take_all(ds)
        assert_elements_equal(out, [
            {"p": Point(np.int32(1), np.float32(3)), "t": (b"a", np.array([1], np.int32))},
            {"p": Point(np.int32(2), np.float32(4)), "t": (b"b", np.array([2], np.int32))},
        ])
        assert isinstance(out[0]["p"], Point)
        assert ds.element_spec == {
            "p": Point(Spec((), np.int32), Spec((), np.float32)),
            "t": (Spec((), dp.string), Spec((1,), np.int32))}

    def test_empty_leading_dimension(self):
        ds = D.from_tensor_slices(np.zeros((0, 3)))
        assert take_all(ds) == []
        assert ds.cardinality() == 0
        assert ds.element_spec == Spec((3,), np.float64)

    def test_mismatched_leading_dims(self):
        with pytest.raises(InvalidArgumentError, match=r"same size .*\[2, 3\]"):
            D.from_tensor_slices(([1, 2], [1, 2, 3]))

    def test_scalar_is_refused(self):
        with pytest.raises(InvalidArgumentError, match="scalar"):
            D.from_tensor_slices(1)
        with pytest.raises(InvalidArgumentError, match="scalar"):
            D.from_tensor_slices(([1, 2], 3))

    def test_empty_structure_is_refused(self):
        with pytest.raises(InvalidArgumentError, match="no components"):
            D.from_tensor_slices(())

    def test_ragged_list_is_refused(self):
        with pytest.raises(InvalidTypeError, match="rectangular"):
            D.from_tensor_slices([[1], [1, 2]])

    def test_numpy_bytes_array_is_a_string_tensor(self):
        ds = D.from_tensor_slices({"a": np.array([b"a", b"bc"])})
        assert ds.element_spec == {"a": Spec((), dp.string)}
        assert_elements_equal(take_all(ds), [{"a": b"a"}, {"a": b"bc"}])

    def test_resumes(self):
        assert_resumes(D.from_tensor_slices(np.arange(30)))
        assert_resumes(D.from_tensor_slices({"a": np.arange(7), "b": (["x"] * 7, [[1.0]] * 7)}))
        assert_resumes(D.from_tensor_slices(np.zeros((0, 2))))


class TestFromTensorSlicesArrow:
    pa = pytest.importorskip("pyarrow")

    def test_array_and_chunked_array(self):
        pa = self.pa
        assert_elements_equal(take_all(D.from_tensor_slices(pa.array([1, 2]))), i64(1, 2))
        chunked = pa.chunked_array([[1.5, 2.5], [3.5]])
        assert_elements_equal(take_all(D.from_tensor_slices(chunked)),
                              [np.float64(1.5), np.float64(2.5), np.float64(3.5)])

    def test_string_column(self):
        assert_elements_equal(take_all(D.from_tensor_slices(self.pa.array(["a", "bc"]))),
                              [b"a", b"bc"])

    def test_table_slices_into_dicts(self):
        table = self.pa.table({"x": [1, 2], "s": ["a", "b"]})
        ds = D.from_tensor_slices(table)
        assert_elements_equal(take_all(ds), [{"x": np.int64(1), "s": b"a"},
                                             {"x": np.int64(2), "s": b"b"}])
        assert ds.element_spec == {"x": Spec((), np.int64), "s": Spec((), dp.string)}
        assert ds.cardinality() == 2

    def test_record_batch(self):
        batch = self.pa.RecordBatch.from_pydict({"v": [0.5, 1.5]})
        assert_elements_equal(take_all(D.from_tensor_slices(batch)),
                              [{"v": np.float64(0.5)}, {"v": np.float64(1.5)}])

    def test_nulls_are_refused(self):
        with pytest.raises(InvalidArgumentError, match=r"1 null values.*fill_null"):
            D.from_tensor_slices(self.pa.array([1, None]))
        with pytest.raises(InvalidArgumentError, match="null values"):
            D.from_tensor_slices(self.pa.table({"x": [1.0, None]}))

    def test_a_single_chunk_numeric_column_is_not_copied(self):
        column = self.pa.chunked_array([self.pa.array(np.arange(6.0))])
        node = D.from_tensor_slices(self.pa.table({"x": column}))._node
        assert np.shares_memory(node.tensors["x"], column.chunk(0).to_numpy())

    def test_string_nulls_are_refused(self):
        with pytest.raises(InvalidArgumentError, match="null values"):
            D.from_tensor_slices(self.pa.array(["a", None]))

    def test_resumes(self):
        assert_resumes(D.from_tensor_slices(self.pa.table({"x": list(range(9)),
                                                           "s": ["a"] * 9})))


# ---------------------------------------------------------------------------- range


class TestRange:
    @pytest.mark.parametrize(("args", "expected"), [
        ((5,), [0, 1, 2, 3, 4]),
        ((2, 5), [2, 3, 4]),
        ((1, 8, 3), [1, 4, 7]),
        ((5, 1, -2), [5, 3]),
        ((3, -7, -3), [3, 0, -3, -6]),
        ((0,), []),
        ((-3,), []),
        ((5, 2), []),
        ((2, 5, -1), []),
    ])
    def test_values_and_cardinality(self, args, expected):
        ds = D.range(*args)
        assert_elements_equal(take_all(ds), i64(*expected))
        assert ds.cardinality() == len(expected)

    def test_huge_cardinality_is_exact(self):
        assert D.range(0, 2**60 + 1).cardinality() == 2**60 + 1
        assert D.range(2**60, 0, -7).cardinality() == -(-(2**60) // 7)

    def test_output_type(self):
        ds = D.range(3, output_type=np.float32)
        assert_elements_equal(take_all(ds), [np.float32(0), np.float32(1), np.float32(2)])
        assert ds.element_spec == Spec((), np.float32)
        assert D.range(2, output_type=np.int32).element_spec == Spec((), np.int32)

    def test_default_spec_is_int64(self):
        assert D.range(3).element_spec == Spec((), np.int64)

    def test_numpy_int_args(self):
        assert ints(D.range(np.int32(1), np.int64(4))) == [1, 2, 3]

    def test_crosses_chunk_boundaries(self):
        values = take_all(D.range(10_000))
        assert len(values) == 10_000 and int(values[-1]) == 9_999
        assert np.array_equal(np.array(values), np.arange(10_000))

    @pytest.mark.parametrize("args", [(), (1, 2, 3, 4)])
    def test_wrong_number_of_args(self, args):
        with pytest.raises(InvalidArgumentError, match="1 to 3"):
            D.range(*args)

    def test_bad_args(self):
        with pytest.raises(InvalidArgumentError, match="step must not be 0"):
            D.range(1, 5, 0)
        with pytest.raises(InvalidTypeError, match=r"stop must be an int \(got 2.5\)"):
            D.range(2.5)
        with pytest.raises(InvalidTypeError, match="must be an int"):
            D.range(True)
        with pytest.raises(InvalidTypeError, match="output_type"):
            D.range(3, output_type=str)
        with pytest.raises(InvalidTypeError, match="output_type"):
            D.range(3, output_type="not a dtype")

    def test_resumes(self):
        assert_resumes(D.range(50))
        assert_resumes(D.range(5, -40, -3))
        assert_resumes(D.range(0))
        assert_resumes(D.range(9000), limit=9000, max_cuts=6)

    def test_resume_mid_second_chunk(self):
        expected, actual = resume_at(D.range(5000), 4100)
        assert_elements_equal(actual, expected)
        assert int(actual[0]) == 4100


class TestCounter:
    def test_counts(self):
        assert ints(D.counter(), 3) == [0, 1, 2]
        assert ints(D.counter(10, 2), 3) == [10, 12, 14]
        assert ints(D.counter(5, -2), 3) == [5, 3, 1]

    def test_cardinality_and_spec(self):
        assert D.counter().cardinality() == INF
        assert D.counter().element_spec == Spec((), np.int64)
        assert D.counter(dtype=np.int32).element_spec == Spec((), np.int32)

    def test_bad_step(self):
        with pytest.raises(InvalidArgumentError, match="step"):
            D.counter(0, 0)

    def test_resumes(self):
        assert_resumes(D.counter(3, 7), limit=100)


# ------------------------------------------------------------------- from_generator


def gen_range(n=5):
    yield from range(n)


class TestFromGenerator:
    def test_output_signature(self):
        ds = D.from_generator(gen_range, output_signature=Spec((), np.int64))
        assert_elements_equal(take_all(ds), i64(0, 1, 2, 3, 4))
        assert ds.element_spec == Spec((), np.int64)
        assert ds.cardinality() == UNK

    def test_legacy_output_types(self):
        ds = D.from_generator(gen_range, output_types=np.int64)
        assert_elements_equal(take_all(ds), i64(0, 1, 2, 3, 4))
        assert ds.element_spec == Spec(None, np.int64)  # no shapes: unknown rank

    def test_legacy_output_types_and_shapes(self):
        def gen():
            yield 1, [1, 2]
            yield 2, []

        ds = D.from_generator(gen, output_types=(np.int64, np.float32),
                              output_shapes=((), [None]))
        assert ds.element_spec == (Spec((), np.int64), Spec((None,), np.float32))
        assert_elements_equal(take_all(ds), [
            (np.int64(1), np.array([1, 2], np.float32)),
            (np.int64(2), np.zeros(0, np.float32)),
        ])

    def test_legacy_dict_types_partial_shapes(self):
        def gen():
            yield {"a": 1, "b": "x"}

        ds = D.from_generator(gen, output_types={"a": np.int32, "b": dp.string},
                              output_shapes={"a": (), "b": None})
        assert ds.element_spec == {"a": Spec((), np.int32), "b": Spec(None, dp.string)}
        assert_elements_equal(take_all(ds), [{"a": np.int32(1), "b": b"x"}])

    @pytest.mark.parametrize(("value", "spec", "expected"), [
        (3, Spec((), np.int64), np.int64(3)),
        (3, Spec((), np.int32), np.int32(3)),
        (3, Spec((), np.float32), np.float32(3)),
        (1.5, Spec((), np.float64), np.float64(1.5)),
        (np.float64(1.5), Spec((), np.int32), np.int32(1)),  # NumPy casts: lossy, as tf
        (np.float64(1.5), Spec((), np.float32), np.float32(1.5)),
        (np.ones(2), Spec((2,), np.float32), np.ones(2, np.float32)),
        (np.arange(3), Spec((3,), np.int32), np.arange(3, dtype=np.int32)),
        (np.int32(7), Spec((), np.int64), np.int64(7)),
        ([1, 2], Spec((2,), np.int64), np.array([1, 2], np.int64)),
        ([1.0, 2.0], Spec((None,), np.float32), np.array([1, 2], np.float32)),
        ((1, 2), Spec((2,), np.int32), np.array([1, 2], np.int32)),  # tuple under a leaf
        (True, Spec((), np.bool_), np.bool_(True)),
        (True, Spec((), np.int32), np.int32(1)),
        (True, Spec((), np.float32), np.float32(1)),
        ([], Spec((None,), np.int64), np.zeros(0, np.int64)),
        ([[], []], Spec((2, 0), np.int32), np.zeros((2, 0), np.int32)),
        ([1, 2], Spec((None,), np.float32), np.array([1, 2], np.float32)),
        ([True, False], Spec((2,), np.int32), np.array([1, 0], np.int32)),
        (3, Spec((), np.complex64), np.complex64(3)),
        (1e40, Spec((), np.float32), np.float32(np.inf)),
        ("ab", Spec((), dp.string), b"ab"),
        (b"ab", Spec((), dp.string), b"ab"),
        (np.str_("ab"), Spec((), dp.string), b"ab"),
        (["a", "bc"], Spec((2,), dp.string), np.array([b"a", b"bc"], dtype=object)),
        (np.array(["a", "bc"]), Spec((2,), dp.string), np.array([b"a", b"bc"], dtype=object)),
        (np.array([b"a", b"bc"]), Spec((2,), dp.string), np.array([b"a", b"bc"], dtype=object)),
        (np.array(4, np.int64), Spec((), np.int64), np.int64(4)),  # 0-d array -> scalar
        ([1, [1, 2]][1], Spec(None, np.int64), np.array([1, 2], np.int64)),
    ])
    def test_values_convert_to_the_declared_dtype(self, value, spec, expected):
        """Checked against tf.data 2.21: tf casts with NumPy's rules."""
        ds = D.from_generator(lambda: iter([value]), output_signature=spec)
        (out,) = take_all(ds)
        assert_elements_equal(out, expected)

    def test_unknown_rank_accepts_any_shape(self):
        ds = D.from_generator(lambda: iter([1, [1, 2], [[3]]]),
                              output_signature=Spec(None, np.int64))
        assert [np.shape(x) for x in take_all(ds)] == [(), (2,), (1, 1)]

    def test_nested_signature_structure_is_kept(self):
        signature = {"p": Point(Spec((), np.int64), Spec((None,), np.float32)),
                     "s": Spec((), dp.string)}

        def gen():
            yield {"s": "a", "p": Point(1, [0.5])}
            yield {"p": Point(2, []), "s": b"b"}

        out = take_all(D.from_generator(gen, output_signature=signature))
        assert_elements_equal(out, [
            {"p": Point(np.int64(1), np.array([0.5], np.float32)), "s": b"a"},
            {"p": Point(np.int64(2), np.zeros(0, np.float32)), "s": b"b"},
        ])
        assert isinstance(out[0]["p"], Point)

    def test_plain_tuple_signature_accepts_namedtuple(self):
        signature = (Spec((), np.int64), Spec((), np.int64))
        out = take_all(D.from_generator(lambda: iter([Point(1, 2)]),
                                        output_signature=signature))
        assert_elements_equal(out, [(np.int64(1), np.int64(2))])
        assert type(out[0]) is tuple

    @pytest.mark.parametrize(("values", "signature", "match"), [
        ([(1, 2), [1, 2]], (Spec((), np.int32), Spec((), np.int32)),
         r"from_generator\[<lambda>\]: element 1 does not match the declared structure"),
        ([1], (Spec((), np.int32), Spec((), np.int32)), "element 0 does not match"),
        ([(1, 2, 3)], (Spec((), np.int32), Spec((), np.int32)), "element 0 does not match"),
        ([{"a": 1}], {"a": Spec((), np.int32), "b": Spec((), np.int32)},
         "element 0 does not match"),
        ([{"a": 1, "b": 2, "c": 3}], {"a": Spec((), np.int32), "b": Spec((), np.int32)},
         "element 0 does not match"),
        ([{"a": [1, 2]}], {"a": (Spec((), np.int32), Spec((), np.int32))},
         r"at component \['a'\]"),
        ([(1, 2)], Point(Spec((), np.int32), Spec((), np.int32)), "does not match"),
    ])
    def test_structure_violations(self, values, signature, match):
        ds = D.from_generator(lambda: iter(values), output_signature=signature)
        with pytest.raises(InvalidTypeError, match=match) as info:
            take_all(ds)
        assert "output_signature" in str(info.value)  # the hint

    @pytest.mark.parametrize(("value", "spec", "match"), [
        ("x", Spec((), np.int32), r"element 1 is 'x' \(str\), which cannot be converted "
                                  "to the declared dtype int32"),
        (5, Spec((), dp.string), "cannot be converted to the declared dtype string"),
        (np.int64(5), Spec((), dp.string), "dtype string"),
        (None, Spec((), np.int64), "None"),
        ([[1], [1, 2]], Spec(None, np.int32), "cannot be converted"),
        (2**40, Spec((), np.int32), "out of bounds"),  # tf wraps silently (to 0)
        (-1, Spec((), np.uint8), "out of bounds"),     # tf wraps silently (to 255)
        (2**70, Spec((), np.int64), "too large"),
        ([2**70], Spec((1,), np.int64), "out of range"),
        (1.5, Spec((), np.int32), "Python float value does not convert to int32"),
        ([1.5, 2.0], Spec((2,), np.int32), "Python float"),
        ("1", Spec((), np.int32), "Python str"),
        (b"1", Spec((), np.int32), "Python bytes"),
        (1, Spec((), np.bool_), "Python int"),
        (1j, Spec((), np.float32), "Python complex"),
        ([1, "a"], Spec((2,), dp.string), "cannot be converted"),
    ])
    def test_dtype_violations(self, value, spec, match):
        """A valid element 0, then a bad element 1."""
        first = b"ok" if spec.dtype == dp.string else 0
        if spec.shape:
            first = [first] * spec.shape[0]
        ds = D.from_generator(lambda: iter([first, value]), output_signature=spec)
        with pytest.raises(InvalidTypeError, match=match):
            take_all(ds)

    def test_dtype_violation_names_the_component(self):
        signature = {"a": Spec((), np.int64), "b": (Spec((), np.int64), Spec((), np.float32))}
        ds = D.from_generator(lambda: iter([{"a": 1, "b": (2, "oops")}]),
                              output_signature=signature)
        with pytest.raises(InvalidTypeError,
                           match=r"element 0, component \['b'\]\[1\] is 'oops'.*float32"):
            take_all(ds)

    @pytest.mark.parametrize(("value", "spec", "shape"), [
        (np.ones(3, np.float32), Spec((2,), np.float32), r"\(3,\)"),
        (np.ones((3, 1), np.float32), Spec((None,), np.float32), r"\(3, 1\)"),
        ([1, 2], Spec((), np.int64), r"\(2,\)"),
        (1, Spec((1,), np.int64), r"\(\)"),
        ("s", Spec((1,), dp.string), r"\(\)"),
    ])
    def test_shape_violations(self, value, spec, shape):
        ds = D.from_generator(lambda: iter([value]), output_signature=spec)
        with pytest.raises(InvalidArgumentError,
                           match=rf"element 0 has shape {shape}, but the declared shape is"):
            take_all(ds)

    def test_shape_violation_in_structure(self):
        signature = (Spec((2,), np.int64), Spec((None, 2), np.int64))
        ds = D.from_generator(lambda: iter([([1, 2], [[1, 2, 3]])]), output_signature=signature)
        with pytest.raises(InvalidArgumentError,
                           match=r"element 0, component \[1\] has shape \(1, 3\).*\(None, 2\)"):
            take_all(ds)

    def test_generator_exception_keeps_type_and_names_stage(self):
        def broken():
            yield 1
            raise KeyError("boom")

        it = iter(D.from_generator(broken, output_signature=Spec((), np.int64)))
        assert int(next(it)) == 1
        with pytest.raises(KeyError, match="boom") as info:
            next(it)
        assert info.value.datapipe_stage == "from_generator[broken]"
        with pytest.raises(StopIteration):  # a generator that raised is finished
            next(it)
        it.close()

    def test_generator_call_exception(self):
        def fails(x):
            raise ValueError(f"bad arg {x}")

        ds = D.from_generator(fails, args=(3,), output_signature=Spec((), np.int64),
                              name="src")
        with pytest.raises(ValueError, match="bad arg 3") as info:
            take_all(ds)
        assert info.value.datapipe_stage == "from_generator[src]"

    def test_not_iterable_result(self):
        ds = D.from_generator(lambda: 5, output_signature=Spec((), np.int64))
        with pytest.raises(InvalidTypeError, match=r"must return an iterable.*int"):
            take_all(ds)

    def test_callable_returning_a_list(self):
        ds = D.from_generator(lambda: [1, 2], output_types=np.int64)
        assert ints(ds) == [1, 2]

    def test_args_are_passed_as_numpy_values(self):
        seen = []

        def gen(n, label, values):
            seen.append((type(n), label, type(values), values.dtype))
            yield from range(int(n))

        ds = D.from_generator(gen, args=(3, "x", [1, 2]), output_signature=Spec((), np.int64))
        assert ints(ds) == [0, 1, 2]
        assert seen == [(np.int32, b"x", np.ndarray, np.int32)]
        assert ints(D.from_generator(gen_range, args=[2], output_types=np.int64)) == [0, 1]

    def test_each_iteration_calls_the_generator_again(self):
        calls = []

        def gen():
            calls.append(1)
            yield from range(len(calls))

        ds = D.from_generator(gen, output_signature=Spec((), np.int64))
        assert ints(ds) == [0]
        assert ints(ds) == [0, 1]
        assert len(calls) == 2

    def test_generator_is_called_lazily(self):
        calls = []

        def gen():
            calls.append(1)
            yield 1

        ds = D.from_generator(gen, output_signature=Spec((), np.int64))
        it = iter(ds)
        assert calls == []
        next(it)
        assert calls == [1]
        it.close()

    def test_close_closes_the_python_generator(self):
        events = []

        def gen():
            try:
                yield from range(100)
            finally:
                events.append("closed")

        it = iter(D.from_generator(gen, output_signature=Spec((), np.int64)))
        next(it)
        assert events == []
        it.close()
        assert events == ["closed"]

    def test_end_closes_generator_and_keeps_stopping(self):
        it = iter(D.from_generator(gen_range, args=(1,), output_signature=Spec((), np.int64)))
        assert [int(x) for x in it] == [0]
        for _ in range(3):
            with pytest.raises(StopIteration):
                next(it)
        it.close()

    def test_empty_generator(self):
        ds = D.from_generator(lambda: iter(()), output_signature=Spec((), np.int64))
        assert take_all(ds) == []

    def test_bad_arguments(self):
        with pytest.raises(InvalidTypeError, match="must be callable"):
            D.from_generator([1, 2], output_types=np.int64)
        with pytest.raises(InvalidTypeError, match="either output_signature"):
            D.from_generator(gen_range)
        with pytest.raises(InvalidTypeError, match="either output_signature"):
            D.from_generator(gen_range, output_shapes=())
        with pytest.raises(InvalidTypeError, match="output_types can not be used together"):
            D.from_generator(gen_range, output_types=np.int64,
                             output_signature=Spec((), np.int64))
        with pytest.raises(InvalidTypeError, match=r"must be a TensorSpec or a .*Int64DType"):
            D.from_generator(gen_range, output_signature=np.dtype(np.int64))
        with pytest.raises(InvalidTypeError, match="use a tuple"):
            D.from_generator(gen_range, output_signature=[Spec((), np.int64)])
        with pytest.raises(InvalidTypeError, match="got a list"):
            D.from_generator(gen_range, output_types=[np.int64, np.int64])
        with pytest.raises(InvalidArgumentError, match="structure of output_types"):
            D.from_generator(gen_range, output_types=(np.int64, np.int64), output_shapes=((),))
        with pytest.raises(InvalidTypeError, match="args must be a tuple"):
            D.from_generator(gen_range, output_types=np.int64, args=5)
        with pytest.raises(InvalidTypeError, match="not a dtype"):
            D.from_generator(gen_range, output_types="nope")

    def test_resumes(self):
        assert_resumes(D.from_generator(gen_range, args=(20,),
                                        output_signature=Spec((), np.int64)))
        assert_resumes(D.from_generator(
            lambda: ((i, {"s": str(i)}) for i in range(6)),
            output_signature=(Spec((), np.int32), {"s": Spec((), dp.string)})))
        assert_resumes(D.from_generator(lambda: iter(()), output_types=np.int64))

    def test_set_state_calls_generator_once_and_skips(self):
        calls = []

        def gen():
            calls.append(1)
            yield from range(10)

        ds = D.from_generator(gen, output_signature=Spec((), np.int64))
        with iter(ds) as it:
            assert [int(next(it)) for _ in range(4)] == [0, 1, 2, 3]
            saved = it.get_state()
        calls.clear()
        with iter(ds) as restored:
            restored.set_state(saved)
            assert [int(x) for x in restored] == [4, 5, 6, 7, 8, 9]
        assert calls == [1]

    def test_state_after_the_end(self):
        ds = D.from_generator(gen_range, args=(2,), output_signature=Spec((), np.int64))
        with iter(ds) as it:
            list(it)
            saved = it.get_state()
        with iter(ds) as restored:
            restored.set_state(saved)
            assert list(restored) == []

    def test_bad_state(self):
        with iter(D.from_generator(gen_range, output_types=np.int64)) as it, \
                pytest.raises(InvalidArgumentError, match="lacks"):
            it._root.set_state({"nope": 1})


# ------------------------------------------------------------------------------ zip


class TestZip:
    def test_tuple_of_datasets(self):
        ds = D.zip(D.range(3), D.from_tensor_slices(["a", "b", "c"]))
        assert_elements_equal(take_all(ds), [(np.int64(0), b"a"), (np.int64(1), b"b"),
                                             (np.int64(2), b"c")])
        assert ds.element_spec == (Spec((), np.int64), Spec((), dp.string))

    def test_explicit_tuple_and_one_tuple(self):
        assert_elements_equal(take_all(D.zip((D.range(2), D.range(5, 7)))),
                              [(np.int64(0), np.int64(5)), (np.int64(1), np.int64(6))])
        out = take_all(D.zip((D.range(2),)))
        assert_elements_equal(out, [(np.int64(0),), (np.int64(1),)])

    def test_single_dataset_passes_elements_through(self):
        ds = D.zip(D.range(2))
        assert_elements_equal(take_all(ds), i64(0, 1))
        assert ds.element_spec == Spec((), np.int64)

    def test_nested_dict_and_namedtuple(self):
        ds = D.zip({"b": Point(D.range(2), D.range(10, 13)),
                    "a": D.from_tensor_slices([[1.0]] * 4)})
        out = take_all(ds)
        assert_elements_equal(out, [
            {"b": Point(np.int64(0), np.int64(10)), "a": np.array([1.0], np.float32)},
            {"b": Point(np.int64(1), np.int64(11)), "a": np.array([1.0], np.float32)},
        ])
        assert isinstance(out[0]["b"], Point)
        assert list(out[0]) == ["b", "a"]  # the given key order
        assert ds.element_spec == {"b": Point(Spec((), np.int64), Spec((), np.int64)),
                                   "a": Spec((1,), np.float32)}

    def test_elements_that_are_structures(self):
        left = D.from_tensor_slices({"x": [1, 2]})
        right = D.from_tensor_slices((["p", "q"], [3.0, 4.0]))
        assert_elements_equal(take_all(D.zip(left, right)), [
            ({"x": np.int32(1)}, (b"p", np.float32(3))),
            ({"x": np.int32(2)}, (b"q", np.float32(4))),
        ])

    def test_stops_at_shortest(self):
        assert len(take_all(D.zip(D.range(5), D.range(2), D.counter()))) == 2
        assert take_all(D.zip(D.range(0), D.range(3))) == []

    def test_enumerate_is_a_zip_with_a_counter(self):
        assert_elements_equal(take_all(D.from_tensor_slices(["a", "b"]).enumerate(3)),
                              [(np.int64(3), b"a"), (np.int64(4), b"b")])

    @pytest.mark.parametrize(("sizes", "expected"), [
        ((3, 5), 3), ((3, INF), 3), ((INF, INF), INF), ((3, UNK), UNK),
        ((0, UNK), UNK), ((INF, UNK), UNK), ((4,), 4), ((0, INF), 0),
    ])
    def test_cardinality(self, sizes, expected):
        """Checked against tf.data: unknown wins over everything, then the minimum."""
        assert D.zip(tuple(sized(s) for s in sizes)).cardinality() == expected

    def test_errors(self):
        with pytest.raises(InvalidTypeError, match="use a tuple"):
            D.zip([D.range(1), D.range(2)])
        with pytest.raises(InvalidTypeError, match=r"found int at \[1\]"):
            D.zip((D.range(1), 3))
        with pytest.raises(InvalidTypeError, match=r"found list at \['a'\]|list\['a'\]"):
            D.zip({"a": [D.range(1)]})
        with pytest.raises(InvalidArgumentError, match="at least one dataset"):
            D.zip()
        with pytest.raises(InvalidArgumentError, match="at least one dataset"):
            D.zip(())
        with pytest.raises(InvalidTypeError, match="found ndarray"):
            D.zip(np.arange(3))

    def test_input_errors_propagate(self):
        def bad(x):
            raise ZeroDivisionError("zip input")

        ds = D.zip(D.range(3), D.range(3).map(bad, name="bad"))
        with pytest.raises(ZeroDivisionError) as info:
            take_all(ds)
        assert info.value.datapipe_stage == "map[bad]"

    def test_keeps_stopping_after_end(self):
        it = iter(D.zip(D.range(1), D.range(3)))
        next(it)
        for _ in range(2):
            with pytest.raises(StopIteration):
                next(it)
        it.close()

    def test_resumes(self):
        assert_resumes(D.zip(D.range(10), D.range(20, 27)))
        assert_resumes(D.zip({"a": D.range(9),
                              "b": (D.counter(5), D.from_tensor_slices(["x"] * 9))}))
        assert_resumes(D.zip(D.range(6)))
        assert_resumes(D.zip(D.random(seed=1), D.random(seed=2), D.range(40)))


# ---------------------------------------------------------------------- concatenate


class TestConcatenate:
    def test_basic(self):
        ds = D.range(2).concatenate(D.range(5, 7))
        assert ints(ds) == [0, 1, 5, 6]
        assert ds.cardinality() == 4
        assert ds.element_spec == Spec((), np.int64)

    def test_empty_sides(self):
        assert ints(D.range(0).concatenate(D.range(3))) == [0, 1, 2]
        assert ints(D.range(3).concatenate(D.range(0))) == [0, 1, 2]
        assert ints(D.range(0).concatenate(D.range(0))) == []

    def test_structures(self):
        a = D.from_tensor_slices({"k": ["x"], "v": [[1.0, 2.0]]})
        b = D.from_tensor_slices({"k": ["y", "z"], "v": [[3.0], [4.0]]})
        ds = a.concatenate(b)
        assert_elements_equal(take_all(ds), [
            {"k": b"x", "v": np.array([1, 2], np.float32)},
            {"k": b"y", "v": np.array([3], np.float32)},
            {"k": b"z", "v": np.array([4], np.float32)},
        ])
        assert ds.element_spec == {"k": Spec((), dp.string), "v": Spec((None,), np.float32)}

    def test_shapes_merge(self):
        """Checked against tf.data: differing dims become None, differing ranks unknown."""
        a, b, c = D.from_tensors([1, 2]), D.from_tensors([1, 2, 3]), D.from_tensors(1)
        assert a.concatenate(b).element_spec == Spec((None,), np.int32)
        assert a.concatenate(c).element_spec == Spec(None, np.int32)

    def test_dtype_mismatch(self):
        """tf.data raises TypeError for int64 vs int32; InvalidTypeError is a TypeError."""
        ds = D.range(2).concatenate(D.from_tensors(1))
        with pytest.raises(TypeError, match=r"incompatible.*int64.*int32"):
            ds.element_spec  # noqa: B018
        with pytest.raises(InvalidArgumentError, match="concatenate"):
            iter(ds)

    def test_structure_mismatch(self):
        ds = D.range(2).concatenate(D.from_tensors((1, 2)))
        with pytest.raises(InvalidTypeError, match=r"incompatible.*\(TensorSpec"):
            take_all(ds)
        ds = D.from_tensors({"a": 1}).concatenate(D.from_tensors({"b": 1}))
        with pytest.raises(InvalidTypeError, match="incompatible"):
            take_all(ds)

    def test_empty_input_with_unknown_spec_is_tolerated(self):
        empty = D.from_generator(lambda: iter(()), output_types=np.int64).map(lambda x: x)
        ds = empty.concatenate(D.range(2))
        assert ints(ds) == [0, 1]
        assert ds.element_spec == Spec((), np.int64)

    @pytest.mark.parametrize(("sizes", "expected"), [
        ((3, 5), 8), ((3, INF), INF), ((INF, 3), INF), ((INF, INF), INF), ((3, UNK), UNK),
        ((UNK, 3), UNK), ((0, UNK), UNK), ((INF, UNK), INF), ((UNK, INF), INF), ((0, 0), 0),
    ])
    def test_cardinality(self, sizes, expected):
        """Checked against tf.data: infinite wins over unknown, else unknown, else the sum."""
        assert sized(sizes[0]).concatenate(sized(sizes[1])).cardinality() == expected

    def test_not_a_dataset(self):
        with pytest.raises(InvalidTypeError, match="must be a datapipe Dataset"):
            D.range(2).concatenate([1])

    def test_keeps_stopping_after_end(self):
        it = iter(D.range(1).concatenate(D.range(1)))
        assert len(list(it)) == 2
        with pytest.raises(StopIteration):
            next(it)
        it.close()

    def test_chains(self):
        ds = D.range(2).concatenate(D.range(0)).concatenate(D.range(7, 9))
        assert ints(ds) == [0, 1, 7, 8]
        assert_resumes(ds)

    def test_resumes(self):
        assert_resumes(D.range(5).concatenate(D.range(10, 14)))
        assert_resumes(D.range(0).concatenate(D.range(3)))
        assert_resumes(D.from_tensor_slices(["a", "b"]).concatenate(D.from_tensors("c")))
        assert_resumes(D.range(3).concatenate(D.counter(100)), limit=30)


# --------------------------------------------------------------------------- random


class TestRandom:
    def test_values_are_nonnegative_int64_below_2_32(self):
        values = take_all(D.random(seed=1), 2000)
        assert all(type(v) is np.int64 for v in values)
        array = np.array(values)
        assert array.min() >= 0 and array.max() < 2**32
        assert array.max() > 2**31  # spans the range, as tf.data's 32-bit draws do

    def test_cardinality_and_spec(self):
        ds = D.random(seed=3)
        assert ds.cardinality() == INF
        assert ds.element_spec == Spec((), np.int64)

    def test_seed_fixes_the_sequence(self):
        assert ints(D.random(seed=5), 10) == ints(D.random(seed=5), 10)
        assert ints(D.random(seed=5), 10) != ints(D.random(seed=6), 10)

    def test_same_sequence_each_iteration_by_default(self):
        ds = D.random(seed=5)
        assert ints(ds, 5) == ints(ds, 5)
        unseeded = D.random()
        assert ints(unseeded, 5) == ints(unseeded, 5)
        assert ints(D.random(seed=5, rerandomize_each_iteration=False), 5) == ints(ds, 5)

    def test_rerandomize_each_iteration(self):
        ds = D.random(seed=5, rerandomize_each_iteration=True)
        first, second = ints(ds, 5), ints(ds, 5)
        assert first != second
        again = D.random(seed=5, rerandomize_each_iteration=True)
        assert ints(again, 5) == first and ints(again, 5) == second

    def test_options_seed(self):
        ds = D.random().with_options(dp.Options(seed=11))
        assert ints(ds, 5) == ints(ds, 5)

    def test_negative_seed_is_accepted(self):
        assert ints(D.random(seed=-1), 3) == ints(D.random(seed=-1), 3)
        assert ints(D.random(seed=-1), 3) != ints(D.random(seed=1), 3)

    def test_bad_arguments(self):
        with pytest.raises(InvalidTypeError, match=r"seed must be an int or None \(got 'a'\)"):
            D.random(seed="a")
        with pytest.raises(InvalidTypeError, match="seed"):
            D.random(seed=1.5)
        with pytest.raises(InvalidTypeError, match="rerandomize_each_iteration"):
            D.random(seed=1, rerandomize_each_iteration="yes")

    def test_resumes(self):
        assert_resumes(D.random(seed=1))
        assert_resumes(D.random(seed=1, rerandomize_each_iteration=True))
        assert_resumes(D.random(seed=2), limit=2500, max_cuts=5)

    def test_resume_across_chunks(self):
        ds = D.random(seed=9).take(3000)
        expected, actual = resume_at(ds, 1500)
        assert_elements_equal(actual, expected)
        assert len(actual) == 1500


# -------------------------------------------------------------- sample_from_datasets


class TestSampleFromDatasets:
    def test_uses_every_element_in_order(self):
        a, b = D.range(10), D.range(100, 120)
        out = ints(D.sample_from_datasets([a, b], seed=1))
        assert sorted(out) == list(range(10)) + list(range(100, 120))
        assert [x for x in out if x < 100] == list(range(10))
        assert [x for x in out if x >= 100] == list(range(100, 120))
        assert out != sorted(out)  # actually interleaved

    def test_seeded_is_reproducible(self):
        def make(seed):
            return D.sample_from_datasets([D.range(20), D.range(100, 120)], seed=seed)

        assert ints(make(3)) == ints(make(3))
        assert ints(make(3)) != ints(make(4))

    def test_rerandomize_each_iteration(self):
        ds = D.sample_from_datasets([D.range(20), D.range(100, 120)], seed=3,
                                    rerandomize_each_iteration=True)
        assert ints(ds) != ints(ds)
        fixed = D.sample_from_datasets([D.range(20), D.range(100, 120)], seed=3)
        assert ints(fixed) == ints(fixed)

    def test_weights_set_the_proportions(self):
        zeros, ones = (D.counter().map(lambda _, v=v: np.int64(v)) for v in (0, 1))
        ds = D.sample_from_datasets([zeros, ones],
                                    weights=[0.9, 0.1], seed=7)
        picks = np.array(ints(ds, 4000))
        assert 0.06 < picks.mean() < 0.14

    def test_stop_on_empty_dataset(self):
        a, b = D.range(3), D.range(100, 200)
        out = ints(D.sample_from_datasets([a, b], seed=1, stop_on_empty_dataset=True))
        # It ends the first time the exhausted dataset is drawn: all of `a` is there.
        assert [x for x in out if x < 100] == [0, 1, 2]
        assert len(out) < 103

    def test_continues_with_the_others(self):
        a, b, c = D.range(2), D.range(10, 20), D.range(100, 103)
        out = ints(D.sample_from_datasets([a, b, c], weights=[0.8, 0.1, 0.1], seed=2))
        assert sorted(out) == [0, 1, *range(10, 20), 100, 101, 102]

    def test_zero_weight_datasets_are_dropped(self):
        """As tf.data: weight <= 0 removes the dataset up front."""
        ds = D.sample_from_datasets([D.range(3), D.counter()], weights=[1.0, 0.0], seed=1)
        assert ints(ds) == [0, 1, 2]
        assert ds.cardinality() == 3
        ds = D.sample_from_datasets([D.range(3), D.range(10, 12)], weights=[-1.0, 2.0])
        assert ints(ds) == [10, 11]

    def test_all_zero_weights_give_an_empty_dataset(self):
        ds = D.sample_from_datasets([D.range(3), D.range(4)], weights=[0.0, 0.0])
        assert take_all(ds) == []
        assert ds.cardinality() == 0
        assert ds.element_spec == Spec((), np.int64)
        assert_resumes(ds)

    def test_single_dataset_is_the_result(self):
        ds = D.sample_from_datasets([D.range(4)])
        assert ints(ds) == [0, 1, 2, 3]
        assert ds.cardinality() == 4

    def test_incompatible_datasets_are_skipped_when_dropped(self):
        ds = D.sample_from_datasets([D.range(2), D.from_tensors("x")], weights=[1.0, 0.0])
        assert ints(ds) == [0, 1]

    def test_weights_dataset(self):
        weights = D.from_tensor_slices(np.array([[1.0, 0.0]] * 3 + [[0.0, 1.0]] * 2))
        ds = D.sample_from_datasets([D.range(10), D.range(100, 110)], weights=weights, seed=1)
        assert ints(ds) == [0, 1, 2, 100, 101]  # ends with the weights dataset
        assert ds.cardinality() == UNK
        assert_resumes(ds)

    def test_weights_dataset_skips_vectors_without_live_weight(self):
        weights = D.from_tensor_slices(np.array([[1.0, 0.0]] * 3 + [[0.0, 1.0]]))
        ds = D.sample_from_datasets([D.range(1), D.range(100, 110)], weights=weights, seed=1)
        # 0, then `a` is exhausted (draw 2 consumes a vector), draw 3 has no live weight.
        assert ints(ds) == [0, 100]

    def test_weights_dataset_errors(self):
        weights = D.from_tensor_slices(np.array([[1.0, 0.0, 1.0]]))
        ds = D.sample_from_datasets([D.range(3), D.range(3)], weights=weights)
        with pytest.raises(InvalidArgumentError, match="3 weights for 2 datasets"):
            take_all(ds)
        weights = D.from_tensor_slices(np.array([[1.0, -1.0]]))
        ds = D.sample_from_datasets([D.range(3), D.range(3)], weights=weights)
        with pytest.raises(InvalidArgumentError, match=">= 0"):
            take_all(ds)

    @pytest.mark.parametrize(("sizes", "expected"), [
        ((3, 5), UNK), ((3, INF), INF), ((INF, INF), INF), ((3, UNK), UNK), ((INF, UNK), INF),
    ])
    def test_cardinality(self, sizes, expected):
        """Checked against tf.data: infinite if any input is, else unknown."""
        assert D.sample_from_datasets([sized(s) for s in sizes], seed=1).cardinality() == expected

    def test_element_spec_merges(self):
        ds = D.sample_from_datasets([D.from_tensors([1, 2]), D.from_tensors([3])], seed=1)
        assert ds.element_spec == Spec((None,), np.int32)

    def test_incompatible_datasets(self):
        ds = D.sample_from_datasets([D.range(2), D.from_tensors(1.0)], seed=1)
        with pytest.raises(InvalidTypeError, match=r"datasets\[0\].*int64.*datasets\[1\].*float32"):
            take_all(ds)

    def test_bad_arguments(self):
        with pytest.raises(InvalidArgumentError, match="must not be empty"):
            D.sample_from_datasets([])
        with pytest.raises(InvalidTypeError, match="list of Datasets"):
            D.sample_from_datasets(D.range(3))
        with pytest.raises(InvalidTypeError, match=r"datasets\[1\]"):
            D.sample_from_datasets([D.range(3), [1, 2]])
        with pytest.raises(InvalidTypeError, match="float32 or float64"):
            D.sample_from_datasets([D.range(3), D.range(3)], weights=[1, 1])
        with pytest.raises(InvalidArgumentError, match="one value per dataset"):
            D.sample_from_datasets([D.range(3), D.range(3)], weights=[1.0])
        with pytest.raises(InvalidTypeError, match="stop_on_empty_dataset"):
            D.sample_from_datasets([D.range(3)], stop_on_empty_dataset=None)
        with pytest.raises(InvalidTypeError, match="seed"):
            D.sample_from_datasets([D.range(3)], seed="x")

    def test_resumes(self):
        assert_resumes(D.sample_from_datasets([D.range(30), D.range(100, 115)], seed=1))
        assert_resumes(D.sample_from_datasets([D.range(30), D.range(100, 115)], seed=1,
                                              stop_on_empty_dataset=True))
        assert_resumes(D.sample_from_datasets(
            [D.range(5), D.range(100, 110), D.from_tensor_slices(np.arange(7))],
            weights=[0.7, 0.2, 0.1], seed=4, rerandomize_each_iteration=True))
        assert_resumes(D.sample_from_datasets([D.counter(), D.counter(1000)], seed=2),
                       limit=2500, max_cuts=5)
        assert_resumes(D.sample_from_datasets([D.range(4)], seed=1))


# -------------------------------------------------------------- choose_from_datasets


def choices(*values):
    return D.from_tensor_slices(np.array(values, dtype=np.int64))


class TestChooseFromDatasets:
    def test_follows_the_choices(self):
        ds = D.choose_from_datasets([D.range(3), D.range(100, 103)], choices(1, 0, 1, 0))
        assert ints(ds) == [100, 0, 101, 1]

    def test_range_choice_dataset(self):
        ds = D.choose_from_datasets([D.from_tensors("a"), D.from_tensors("b")], D.range(2))
        assert_elements_equal(take_all(ds), [b"a", b"b"])

    def test_stop_on_empty_dataset_default_is_true(self):
        """Checked against tf.data: it ends when an exhausted dataset is chosen."""
        ds = D.choose_from_datasets([D.range(1), D.range(10, 13)], choices(0, 0, 1, 1))
        assert ints(ds) == [0]

    def test_without_stop_skips_exhausted(self):
        ds = D.choose_from_datasets([D.range(1), D.range(10, 13)], choices(0, 0, 1, 1),
                                    stop_on_empty_dataset=False)
        assert ints(ds) == [0, 10, 11]

    def test_ends_when_all_are_exhausted(self):
        ds = D.choose_from_datasets([D.range(1), D.range(10, 11)],
                                    choices(0, 0, 1, 1, 0, 1, 0, 1, 0),
                                    stop_on_empty_dataset=False)
        assert ints(ds) == [0, 10]

    def test_index_out_of_range(self):
        ds = D.choose_from_datasets([D.range(3), D.range(3)], choices(0, 2))
        with pytest.raises(InvalidArgumentError, match="index 2, out of range for 2 datasets"):
            take_all(ds)
        ds = D.choose_from_datasets([D.range(3), D.range(3)], choices(-1))
        with pytest.raises(InvalidArgumentError, match="index -1"):
            take_all(ds)

    def test_choice_dataset_must_be_int64_scalars(self):
        ds = D.choose_from_datasets([D.range(3)], D.from_tensor_slices([0, 0]))
        with pytest.raises(InvalidTypeError, match=r"scalar int64.*int32"):
            take_all(ds)
        ds = D.choose_from_datasets([D.range(3)], D.from_tensors(np.array([0], np.int64)))
        with pytest.raises(InvalidTypeError, match="scalar int64"):
            take_all(ds)

    def test_bad_arguments(self):
        with pytest.raises(InvalidTypeError, match="choice_dataset must be a Dataset"):
            D.choose_from_datasets([D.range(3)], [0, 1])
        with pytest.raises(InvalidArgumentError, match="must not be empty"):
            D.choose_from_datasets([], D.range(1))
        with pytest.raises(InvalidTypeError, match="stop_on_empty_dataset"):
            D.choose_from_datasets([D.range(3)], D.range(1), stop_on_empty_dataset=1)

    def test_incompatible_datasets(self):
        ds = D.choose_from_datasets([D.range(1), D.from_tensors(1)], D.range(2))
        with pytest.raises(TypeError, match="incompatible"):
            take_all(ds)

    def test_element_spec_merges(self):
        ds = D.choose_from_datasets([D.from_tensors([1, 2]), D.from_tensors(1)], D.range(2))
        assert ds.element_spec == Spec(None, np.int32)

    @pytest.mark.parametrize(("sizes", "expected"), [
        ((3, 5), UNK), ((3, INF), INF), ((INF, INF), INF), ((INF, UNK), INF),
    ])
    def test_cardinality(self, sizes, expected):
        """Checked against tf.data: infinite if any input is (whatever the choices)."""
        ds = D.choose_from_datasets([sized(s) for s in sizes], D.range(2))
        assert ds.cardinality() == expected

    def test_structured_elements(self):
        a = D.from_tensor_slices({"v": [1, 2]})
        b = D.from_tensor_slices({"v": [7, 8]})
        ds = D.choose_from_datasets([a, b], choices(1, 1, 0))
        assert_elements_equal(take_all(ds), [{"v": np.int32(7)}, {"v": np.int32(8)},
                                             {"v": np.int32(1)}])

    def test_resumes(self):
        pattern = (0, 1, 1, 0, 2, 2, 2, 0, 1, 0, 0, 1)

        def datasets():
            return [D.range(4), D.range(10, 14), D.range(20, 22)]

        assert_resumes(D.choose_from_datasets(datasets(), choices(*pattern)))
        assert_resumes(D.choose_from_datasets(datasets(), choices(*pattern),
                                              stop_on_empty_dataset=False))
        assert_resumes(D.choose_from_datasets([D.range(3)], choices()))


# ------------------------------------------------------------------- against tf.data


@pytest.mark.tfdata
class TestAgainstTensorFlow:
    @pytest.fixture
    def tf(self):
        return pytest.importorskip("tensorflow", reason="the TensorFlow reference (bench extra)")

    @staticmethod
    def _tf_list(ds):
        return list(ds.as_numpy_iterator())

    def test_from_generator_conversions(self, tf):
        """Same values, or an error in both (tf's rule for shapes not fully defined)."""
        cases = [(3, np.int64), (3, np.float32), (True, np.int32), (np.ones(2), np.float32),
                 (np.float64(1.5), np.int32), ([1, 2], np.int64), ([1, 2], np.float64),
                 (1.5, np.int32), ("1", np.int32), (1, np.bool_), ("ab", dp.string),
                 (["a", "b"], dp.string), (5, dp.string), (None, np.int64)]
        for value, dtype in cases:
            ours = D.from_generator(lambda v=value: iter([v]), output_signature=Spec(None, dtype))
            tf_dtype = tf.string if dtype == dp.string else tf.as_dtype(dtype)
            theirs = tf.data.Dataset.from_generator(
                lambda v=value: iter([v]), output_signature=tf.TensorSpec(None, tf_dtype))
            try:
                expected = self._tf_list(theirs)
            except Exception:  # tf wraps the TypeError in its own error class
                with pytest.raises(InvalidArgumentError):
                    take_all(ours)
                continue
            assert_elements_equal(take_all(ours), expected)

    def test_choose_and_concatenate(self, tf):
        pattern = np.array([0, 1, 1, 0, 0, 1, 0], np.int64)
        for stop in (True, False):
            ours = ints(D.choose_from_datasets([D.range(2), D.range(10, 13)],
                                               choices(*pattern), stop_on_empty_dataset=stop))
            theirs = [int(x) for x in self._tf_list(tf.data.Dataset.choose_from_datasets(
                [tf.data.Dataset.range(2), tf.data.Dataset.range(10, 13)],
                tf.data.Dataset.from_tensor_slices(pattern), stop_on_empty_dataset=stop))]
            assert ours == theirs
        assert ints(D.range(3).concatenate(D.range(7, 9))) == [
            int(x) for x in self._tf_list(
                tf.data.Dataset.range(3).concatenate(tf.data.Dataset.range(7, 9)))]
