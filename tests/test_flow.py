"""Element-flow transformations: filter, flat_map, interleave, take, take_while, skip,
shard, scan, unique, repeat and enumerate.

Orders, cardinalities and error conditions marked "tf" were checked against
TensorFlow 2.21's tf.data and are hard-coded here.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import datapipe as dp
from datapipe.dataset.node import (
    INFINITE,
    UNKNOWN,
    DatasetIterator,
    DatasetNode,
    IteratorContext,
    check_state,
)
from datapipe.dataset.transformations import interleave as interleave_module
from datapipe.errors import InvalidArgumentError, InvalidTypeError
from datapipe.structure.convert import STRING
from datapipe.structure.spec import TensorSpec
from datapipe.testing import assert_elements_equal, assert_resumes, take_all

Dataset = dp.Dataset
Point = namedtuple("Point", ["x", "y"])

#: Counting input pulls needs the plan as written: no prefetch injected at the end.
NO_READ_AHEAD = dp.Options(optimization=dp.OptimizationOptions(inject_prefetch=False))


def ints(ds: Dataset, limit: int | None = None) -> list[int]:
    return [int(x) for x in take_all(ds, limit)]


def unknown_size(n: int) -> Dataset:
    """``range(n)`` with UNKNOWN cardinality (as tf's ``filter(lambda x: True)``)."""
    return Dataset.range(n).filter(lambda x: True)


def infinite() -> Dataset:
    return Dataset.range(3).repeat()


class Pulls:
    """Counts the elements pulled from ``range(n)`` (to check laziness)."""

    def __init__(self) -> None:
        self.count = 0

    def dataset(self, n: int | None = None) -> Dataset:
        def count(x):
            self.count += 1
            return x
        base = Dataset.range(n) if n is not None else Dataset.counter()
        return base.map(count)


INPUTS = {"3": lambda: Dataset.range(3), "inf": infinite, "unk": lambda: unknown_size(3),
          "empty": lambda: Dataset.range(0)}


def user_error(*args):
    raise ZeroDivisionError("boom")


# ------------------------------------------------------------------------ filter


def test_filter_keeps_elements_where_predicate_is_true():
    assert ints(Dataset.range(10).filter(lambda x: x % 2 == 0)) == [0, 2, 4, 6, 8]


def test_filter_unpacks_tuples_and_passes_dicts_whole():
    ds = Dataset.from_tensor_slices(([1, 2, 3], [3, 2, 1])).filter(lambda a, b: a > b)
    assert_elements_equal(take_all(ds), [(np.int32(3), np.int32(1))])
    ds = Dataset.from_tensor_slices({"a": [1, 2, 3]}).filter(lambda d: d["a"] > 1)
    assert_elements_equal(take_all(ds), [{"a": np.int32(2)}, {"a": np.int32(3)}])


def test_filter_namedtuple_and_bytes_elements():
    ds = Dataset.from_tensor_slices(Point([1, 2, 3], ["a", "bb", "c"]))
    kept = take_all(ds.filter(lambda p: len(p.y) == 1))
    assert [(int(p.x), p.y) for p in kept] == [(1, b"a"), (3, b"c")]
    assert all(type(p) is Point for p in kept)
    words = Dataset.from_tensor_slices([b"x", b"", b"y"]).filter(lambda s: s != b"")
    assert take_all(words) == [b"x", b"y"]


@pytest.mark.parametrize("result", [True, np.True_, np.array(True)])
def test_filter_accepts_bool_scalars_of_every_kind(result):
    assert ints(Dataset.range(3).filter(lambda x: result)) == [0, 1, 2]


def test_filter_empty_input_and_nothing_kept():
    assert ints(Dataset.range(0).filter(lambda x: True)) == []
    assert ints(Dataset.range(5).filter(lambda x: False)) == []


def test_filter_rejects_a_non_bool_result_like_tf():
    """tf: the predicate must return a scalar tf.bool (ints are not truthy)."""
    with pytest.raises(InvalidTypeError, match=r"filter\[<lambda>\].*scalar bool.*int64"):
        take_all(Dataset.range(3).filter(lambda x: x))
    with pytest.raises(InvalidTypeError, match=r"returned a int"):
        take_all(Dataset.range(3).filter(lambda x: 1))


def test_filter_rejects_a_bool_vector():
    with pytest.raises(InvalidArgumentError, match=r"scalar bool.*shape \(2,\)"):
        take_all(Dataset.range(3).filter(lambda x: np.array([True, False])))


def test_filter_user_exception_keeps_type_and_names_stage():
    with pytest.raises(ZeroDivisionError) as info:
        take_all(Dataset.range(3).filter(lambda x: 1 / 0))
    assert info.value.datapipe_stage == "filter[<lambda>]"
    with pytest.raises(ZeroDivisionError) as info:
        take_all(Dataset.range(3).filter(user_error, name="keep"))
    assert info.value.datapipe_stage == "filter[keep]"


def test_filter_stop_iteration_in_predicate_becomes_runtime_error():
    def stop(x):
        raise StopIteration
    with pytest.raises(RuntimeError, match="StopIteration"):
        take_all(Dataset.range(3).filter(stop))


def test_filter_bad_predicate():
    with pytest.raises(InvalidTypeError, match=r"filter\(\): predicate must be callable"):
        Dataset.range(3).filter(3)


@pytest.mark.parametrize("name", list(INPUTS))
def test_filter_cardinality_is_unknown_like_tf(name):
    assert INPUTS[name]().filter(lambda x: True).cardinality() == UNKNOWN


def test_filter_element_spec_is_the_inputs():
    ds = Dataset.from_tensor_slices(({"a": [1.0]}, ["s"])).filter(lambda d, s: True)
    assert ds.element_spec == ({"a": TensorSpec((), np.float32)}, TensorSpec((), STRING))


@pytest.mark.parametrize("make", [
    lambda: Dataset.range(20).filter(lambda x: x % 3 != 1),
    lambda: Dataset.range(10).filter(lambda x: x > 100),
    lambda: Dataset.range(30).filter(lambda x: x % 2 == 0).filter(lambda x: x % 3 == 0),
])
def test_filter_resumes(make):
    assert_resumes(make())


# ------------------------------------------------------------------- take_while


def test_take_while_stops_at_first_false():
    assert ints(Dataset.range(10).take_while(lambda x: x < 3)) == [0, 1, 2]
    assert ints(Dataset.from_tensor_slices([1, 2, 5, 1]).take_while(lambda x: x < 3)) == [1, 2]


def test_take_while_reads_nothing_after_the_predicate_fails():
    pulls = Pulls()
    iterator = iter(pulls.dataset().take_while(lambda x: x < 2))
    assert [int(x) for x in iterator] == [0, 1]
    with pytest.raises(StopIteration):
        next(iterator)
    assert pulls.count == 3
    iterator.close()


def test_take_while_edge_cases():
    assert ints(Dataset.range(0).take_while(lambda x: True)) == []
    assert ints(Dataset.range(4).take_while(lambda x: True)) == [0, 1, 2, 3]
    assert ints(Dataset.range(4).take_while(lambda x: False)) == []
    ds = Dataset.from_tensor_slices(([1, 2, 3], ["a", "b", "c"]))
    got = take_all(ds.take_while(lambda n, s: s != b"c"))
    assert_elements_equal(got, [(np.int32(1), b"a"), (np.int32(2), b"b")])


def test_take_while_checks_the_predicate_type_like_tf():
    with pytest.raises(InvalidTypeError, match=r"take_while\[<lambda>\].*scalar bool"):
        take_all(Dataset.range(3).take_while(lambda x: x))
    with pytest.raises(InvalidTypeError, match="must be callable"):
        Dataset.range(3).take_while(None)


def test_take_while_user_exception_names_stage():
    with pytest.raises(ZeroDivisionError) as info:
        take_all(Dataset.range(3).take_while(user_error))
    assert info.value.datapipe_stage == "take_while[user_error]"


@pytest.mark.parametrize("name", list(INPUTS))
def test_take_while_cardinality_is_unknown_like_tf(name):
    assert INPUTS[name]().take_while(lambda x: True).cardinality() == UNKNOWN


def test_take_while_element_spec_and_resume():
    ds = Dataset.range(20).take_while(lambda x: x < 12)
    assert ds.element_spec == TensorSpec((), np.int64)
    assert_resumes(ds)
    assert_resumes(Dataset.counter().take_while(lambda x: x < 7))


# ---------------------------------------------------------------------- take


@pytest.mark.parametrize(("count", "expected"), [
    (3, [0, 1, 2]), (0, []), (-1, [0, 1, 2, 3, 4]), (10, [0, 1, 2, 3, 4])])
def test_take(count, expected):
    assert ints(Dataset.range(5).take(count)) == expected


def test_take_from_infinite_does_not_read_ahead():
    pulls = Pulls()
    assert ints(pulls.dataset().take(3)) == [0, 1, 2]
    assert pulls.count == 3


# tf: Dataset.{range(3), range(3).repeat(), range(3).filter(..), range(0)}.take(c)
TAKE_CARDINALITY = {
    ("3", -1): 3, ("3", 0): 0, ("3", 2): 2,
    ("inf", -1): INFINITE, ("inf", 0): 0, ("inf", 2): 2,
    ("unk", -1): UNKNOWN, ("unk", 0): UNKNOWN, ("unk", 2): UNKNOWN,
    ("empty", -1): 0, ("empty", 0): 0, ("empty", 2): 0,
}


@pytest.mark.parametrize(("name", "count"), list(TAKE_CARDINALITY))
def test_take_cardinality_like_tf(name, count):
    assert INPUTS[name]().take(count).cardinality() == TAKE_CARDINALITY[name, count]


def test_take_any_negative_count_takes_everything_like_tf():
    assert [int(x) for x in Dataset.range(3).take(-2)] == [0, 1, 2]


def test_take_bad_count():
    with pytest.raises(InvalidTypeError, match=r"take\(\): count must be an int"):
        Dataset.range(3).take(1.5)


def test_take_nested_elements_and_resume():
    ds = Dataset.from_tensor_slices({"p": Point([1, 2, 3], [4, 5, 6]), "s": ["a", "b", "c"]})
    got = take_all(ds.take(2))
    assert_elements_equal(got, [{"p": Point(np.int32(1), np.int32(4)), "s": b"a"},
                                {"p": Point(np.int32(2), np.int32(5)), "s": b"b"}])
    assert_resumes(ds.take(2))
    assert_resumes(Dataset.counter().take(15))
    assert_resumes(Dataset.range(4).take(0))


# ---------------------------------------------------------------------- skip


@pytest.mark.parametrize(("count", "expected"), [
    (3, [3, 4]), (0, [0, 1, 2, 3, 4]), (-1, []), (5, []), (10, [])])
def test_skip(count, expected):
    assert ints(Dataset.range(5).skip(count)) == expected


def test_skip_is_lazy_until_first_next():
    pulls = Pulls()
    iterator = iter(pulls.dataset(10).skip(4).with_options(NO_READ_AHEAD))
    assert pulls.count == 0
    assert int(next(iterator)) == 4
    assert pulls.count == 5
    iterator.close()


def test_skip_past_the_end_keeps_raising_stop_iteration():
    iterator = iter(Dataset.range(3).skip(5))
    for _ in range(3):
        with pytest.raises(StopIteration):
            next(iterator)
    iterator.close()


# tf: the same four inputs, .skip(c)
SKIP_CARDINALITY = {
    ("3", -1): 0, ("3", 0): 3, ("3", 2): 1, ("3", 5): 0,
    ("inf", -1): INFINITE, ("inf", 0): INFINITE, ("inf", 2): INFINITE, ("inf", 5): INFINITE,
    ("unk", -1): UNKNOWN, ("unk", 0): UNKNOWN, ("unk", 2): UNKNOWN, ("unk", 5): UNKNOWN,
    ("empty", -1): 0, ("empty", 0): 0, ("empty", 2): 0, ("empty", 5): 0,
}


@pytest.mark.parametrize(("name", "count"), list(SKIP_CARDINALITY))
def test_skip_cardinality_like_tf(name, count):
    assert INPUTS[name]().skip(count).cardinality() == SKIP_CARDINALITY[name, count]


def test_skip_any_negative_count_skips_everything_like_tf():
    assert take_all(Dataset.range(3).skip(-3)) == []
    assert Dataset.range(3).skip(-3).cardinality() == 0


def test_skip_bad_count():
    with pytest.raises(InvalidTypeError, match=r"skip\(\): count must be an int"):
        Dataset.range(3).skip("2")


def test_skip_nested_bytes_and_element_spec():
    ds = Dataset.from_tensor_slices((["a", "b", "c"], [[1, 2], [3, 4], [5, 6]])).skip(2)
    assert_elements_equal(take_all(ds), [(b"c", np.array([5, 6], np.int32))])
    assert ds.element_spec == (TensorSpec((), STRING), TensorSpec((2,), np.int32))


@pytest.mark.parametrize("make", [
    lambda: Dataset.range(10).skip(3),
    lambda: Dataset.range(10).skip(-1),
    lambda: Dataset.range(3).skip(7),
    lambda: Dataset.counter().skip(5).take(10),
])
def test_skip_resumes(make):
    assert_resumes(make())


@settings(max_examples=40, deadline=None)
@given(data=st.lists(st.integers(-5, 5), max_size=12), n=st.integers(0, 15))
def test_take_n_then_skip_n_gives_back_the_dataset(data, n):
    ds = Dataset.from_tensor_slices(np.array(data, np.int64).reshape(-1))
    assert ints(ds.take(n)) + ints(ds.skip(n)) == data
    assert_elements_equal(take_all(ds.take(n).concatenate(ds.skip(n))), take_all(ds))
    assert ints(ds.skip(n)) == data[n:]
    assert ints(ds.skip(n).take(n)) == data[n:2 * n]


# ---------------------------------------------------------------------- shard


@pytest.mark.parametrize(("n", "k", "i", "expected"), [
    (10, 3, 0, [0, 3, 6, 9]), (10, 3, 1, [1, 4, 7]), (10, 3, 2, [2, 5, 8]),
    (7, 3, 0, [0, 3, 6]), (7, 3, 2, [2, 5]), (2, 5, 3, []), (4, 1, 0, [0, 1, 2, 3]),
    (0, 2, 1, [])])
def test_shard_values_and_cardinality_like_tf(n, k, i, expected):
    ds = Dataset.range(n).shard(k, i)
    assert ints(ds) == expected
    assert ds.cardinality() == len(expected)


@pytest.mark.parametrize(("make", "expected"), [
    (infinite, INFINITE), (lambda: unknown_size(10), UNKNOWN)])
def test_shard_cardinality_infinite_and_unknown(make, expected):
    assert make().shard(3, 1).cardinality() == expected


@pytest.mark.parametrize(("k", "i", "message"), [
    (0, 0, r"number of shards must be greater than zero \(got num_shards=0\)"),
    (-2, 0, r"greater than zero \(got num_shards=-2\)"),
    (-1, 0, "SHARD_HINT"),
    (3, 3, r"index must be between 0 and 2 \(got index=3\)"),
    (3, -1, r"index must be between 0 and 2 \(got index=-1\)"),
])
def test_shard_bad_arguments_like_tf(k, i, message):
    with pytest.raises(InvalidArgumentError, match=message):
        Dataset.range(3).shard(k, i)


def test_shard_bad_types():
    with pytest.raises(InvalidTypeError, match=r"shard\(\): num_shards must be an int"):
        Dataset.range(3).shard(2.0, 0)
    with pytest.raises(InvalidTypeError, match=r"shard\(\): index must be an int"):
        Dataset.range(3).shard(2, True)


def test_shard_reads_lazily():
    pulls = Pulls()
    iterator = iter(pulls.dataset().shard(4, 2).with_options(NO_READ_AHEAD))
    assert pulls.count == 0
    assert [int(next(iterator)) for _ in range(2)] == [2, 6]
    assert pulls.count == 7
    iterator.close()


def test_shard_nested_elements_and_spec():
    ds = Dataset.from_tensor_slices({"k": ["a", "b", "c", "d"], "v": [1, 2, 3, 4]}).shard(2, 1)
    assert_elements_equal(take_all(ds), [{"k": b"b", "v": np.int32(2)},
                                         {"k": b"d", "v": np.int32(4)}])
    assert ds.element_spec == {"k": TensorSpec((), STRING), "v": TensorSpec((), np.int32)}


@pytest.mark.parametrize("make", [
    lambda: Dataset.range(11).shard(3, 2),
    lambda: Dataset.range(11).shard(1, 0),
    lambda: Dataset.counter().shard(5, 4).take(8),
    lambda: Dataset.range(2).shard(5, 3),
])
def test_shard_resumes(make):
    assert_resumes(make())


@settings(max_examples=40, deadline=None)
@given(data=st.lists(st.integers(0, 100), max_size=20), k=st.integers(1, 6))
def test_shards_partition_the_input(data, k):
    """Interleaving shard(k, 0..k-1) element by element gives back the input."""
    ds = Dataset.from_tensor_slices(np.array(data, np.int64))
    shards = [ints(ds.shard(k, i)) for i in range(k)]
    merged = [shards[i % k][i // k] for i in range(len(data))]
    assert merged == data
    assert sum(len(s) for s in shards) == len(data)
    assert [ds.shard(k, i).cardinality() for i in range(k)] == [len(s) for s in shards]


# ---------------------------------------------------------------------- repeat


def test_repeat_counts():
    assert ints(Dataset.range(3).repeat(2)) == [0, 1, 2, 0, 1, 2]
    assert ints(Dataset.range(3).repeat(0)) == []
    assert ints(Dataset.range(3).repeat(1)) == [0, 1, 2]
    assert ints(Dataset.range(2).repeat(), 7) == [0, 1, 0, 1, 0, 1, 0]
    assert ints(Dataset.range(2).repeat(-1), 5) == [0, 1, 0, 1, 0]


def test_repeat_forever_of_an_empty_dataset_ends():
    """tf: an epoch that produces nothing ends an endless repeat."""
    assert ints(Dataset.range(0).repeat()) == []
    assert ints(Dataset.range(5).filter(lambda x: False).repeat()) == []
    assert ints(Dataset.range(0).repeat(3)) == []


def test_repeat_creates_a_new_input_iterator_each_epoch():
    calls = []

    def gen():
        calls.append(len(calls))
        yield from range(len(calls))  # epoch k yields 0..k

    ds = Dataset.from_generator(gen, output_signature=TensorSpec((), np.int64)).repeat(3)
    assert ints(ds) == [0, 0, 1, 0, 1, 2]
    assert calls == [0, 1, 2]


def test_repeat_reshuffles_each_epoch():
    ds = Dataset.range(20).shuffle(20, seed=3).repeat(2)
    values = ints(ds)
    assert sorted(values[:20]) == sorted(values[20:]) == list(range(20))
    assert values[:20] != values[20:]


# tf: the same four inputs, .repeat(c)
REPEAT_CARDINALITY = {
    ("3", -1): INFINITE, ("3", 0): 0, ("3", 2): 6,
    ("inf", -1): INFINITE, ("inf", 0): 0, ("inf", 2): INFINITE,
    ("unk", -1): INFINITE, ("unk", 0): 0, ("unk", 2): UNKNOWN,
    ("empty", -1): 0, ("empty", 0): 0, ("empty", 2): 0,
}


@pytest.mark.parametrize(("name", "count"), list(REPEAT_CARDINALITY))
def test_repeat_cardinality_like_tf(name, count):
    assert INPUTS[name]().repeat(count).cardinality() == REPEAT_CARDINALITY[name, count]
    if count == -1:
        assert INPUTS[name]().repeat().cardinality() == REPEAT_CARDINALITY[name, count]


def test_repeat_any_negative_count_repeats_forever_like_tf():
    assert [int(x) for x in Dataset.range(2).repeat(-2).take(5)] == [0, 1, 0, 1, 0]


def test_repeat_bad_count():
    with pytest.raises(InvalidTypeError, match=r"repeat\(\): count must be an int"):
        Dataset.range(3).repeat(2.0)


def test_repeat_nested_elements_and_spec():
    ds = Dataset.from_tensors(Point(np.float32(1.5), b"z")).repeat(2)
    assert_elements_equal(take_all(ds), [Point(np.float32(1.5), b"z")] * 2)
    assert ds.element_spec == Point(TensorSpec((), np.float32), TensorSpec((), STRING))


@pytest.mark.parametrize("make", [
    lambda: Dataset.range(3).repeat(3),
    lambda: Dataset.range(4).repeat(),
    lambda: Dataset.range(0).repeat(),
    lambda: Dataset.range(3).repeat(0),
    lambda: Dataset.range(5).shuffle(5, seed=7).repeat(3),
    lambda: Dataset.range(6).shuffle(3, seed=1, reshuffle_each_iteration=False).repeat(),
    lambda: Dataset.range(2).repeat(2).repeat(2),
])
def test_repeat_resumes(make):
    assert_resumes(make(), limit=40)


# ---------------------------------------------------------------------- scan


def test_scan_running_sum():
    ds = Dataset.range(5).scan(np.int64(0), lambda s, x: (s + x, s + x))
    assert ints(ds) == [0, 1, 3, 6, 10]


def test_scan_passes_a_tuple_element_whole_like_tf():
    """tf calls scan_func(state, element): a tuple element is not unpacked."""
    ds = Dataset.from_tensor_slices(([1, 2, 3], [10, 20, 30]))
    got = take_all(ds.scan(np.int32(0), lambda s, e: (s + e[0], (s, e[1]))))
    assert_elements_equal(got, [(np.int32(0), np.int32(10)), (np.int32(1), np.int32(20)),
                                (np.int32(3), np.int32(30))])
    with pytest.raises(TypeError, match="positional argument"):
        take_all(ds.scan(np.int32(0), lambda s, a, b: (s, a)))


def test_scan_nested_state_like_tf():
    def step(s, x):
        return {"a": s["a"] + x, "b": (s["b"][0] * 2,)}, (s["a"], s["b"][0])

    ds = Dataset.range(4).scan({"a": np.int64(0), "b": (np.int64(1),)}, step)
    assert_elements_equal(take_all(ds), [(np.int64(0), np.int64(1)), (np.int64(0), np.int64(2)),
                                         (np.int64(1), np.int64(4)), (np.int64(3), np.int64(8))])


def test_scan_namedtuple_and_bytes_state():
    ds = Dataset.from_tensor_slices(["a", "b", "c"]).scan(
        Point(b"", 0), lambda s, x: (Point(s.x + x, s.y + 1), s.x + x))
    assert take_all(ds) == [b"a", b"ab", b"abc"]
    assert_resumes(ds)


def test_scan_python_initial_state_is_normalized():
    """A Python int state is int32 (tf.constant's rule), so it keeps int32 steps."""
    ds = Dataset.from_tensor_slices([1, 2, 3]).scan(0, lambda s, x: (s + x, s))
    assert_elements_equal(take_all(ds), [np.int32(0), np.int32(1), np.int32(3)])


def test_scan_state_shape_may_change():
    ds = Dataset.range(3).scan(np.zeros(0, np.int64),
                               lambda s, x: (np.append(s, x), np.append(s, x)))
    assert [a.tolist() for a in take_all(ds)] == [[0], [0, 1], [0, 1, 2]]


def test_scan_returned_list_for_an_array_state_is_an_array():
    ds = Dataset.range(4).scan([0, 1], lambda s, x: ([s[1], s[0] + s[1]], s[0]))
    assert_elements_equal(take_all(ds), [np.int32(0), np.int32(1), np.int32(1), np.int32(2)])


def test_scan_rejects_a_state_dtype_change_like_tf():
    """tf raises: the new state's dtypes must match the initial state's."""
    with pytest.raises(InvalidTypeError,
                       match=r"scan\[<lambda>\].*dtype float32, but the initial state has int64"):
        take_all(Dataset.range(3).scan(np.int64(0), lambda s, x: (np.float32(s), x)))
    # int32 initial state + int64 elements: tf fails too (int32 + int64)
    with pytest.raises(InvalidTypeError, match="dtype int64, but the initial state has int32"):
        take_all(Dataset.range(3).scan(0, lambda s, x: (s + x, x)))


def test_scan_rejects_a_state_structure_change():
    with pytest.raises(InvalidTypeError, match="must be a single value"):
        take_all(Dataset.range(3).scan(np.int64(0), lambda s, x: ((s, s), x)))
    with pytest.raises(InvalidTypeError, match=r"must be a dict with keys \['a'\]"):
        take_all(Dataset.range(3).scan({"a": np.int64(0)}, lambda s, x: ({"b": x}, x)))
    with pytest.raises(InvalidTypeError, match="None is not a valid"):
        take_all(Dataset.range(3).scan(np.int64(0), lambda s, x: (None, x)))


def test_scan_requires_a_pair_like_tf():
    with pytest.raises(InvalidTypeError, match=r"must return a pair \(new_state, output\)"):
        take_all(Dataset.range(3).scan(np.int64(0), lambda s, x: s))
    with pytest.raises(InvalidTypeError, match=r"pair.*\(\.,\)"):
        take_all(Dataset.range(3).scan(np.int64(0), lambda s, x: (s,)))


def test_scan_user_exception_and_bad_function():
    with pytest.raises(ZeroDivisionError) as info:
        take_all(Dataset.range(3).scan(0, user_error))
    assert info.value.datapipe_stage == "scan[user_error]"
    with pytest.raises(InvalidTypeError, match=r"scan\(\): scan_func must be callable"):
        Dataset.range(3).scan(0, "f")


@pytest.mark.parametrize(("name", "expected"), [
    ("3", 3), ("inf", INFINITE), ("unk", UNKNOWN), ("empty", 0)])
def test_scan_cardinality_like_tf(name, expected):
    assert INPUTS[name]().scan(np.int64(0), lambda s, x: (s, x)).cardinality() == expected


def test_scan_element_spec_and_empty_input():
    ds = Dataset.range(4).scan(np.int64(0), lambda s, x: (s, [x, x]))
    assert ds.element_spec == (TensorSpec((), np.int64), TensorSpec((), np.int64))
    assert ints(Dataset.range(0).scan(np.int64(0), lambda s, x: (s, x))) == []


@pytest.mark.parametrize("make", [
    lambda: Dataset.range(10).scan(np.int64(0), lambda s, x: (s + x, s * x)),
    lambda: Dataset.counter().scan((np.int64(0), np.int64(1)),
                                   lambda s, x: ((s[1], s[0] + s[1]), s[0])).take(20),
    lambda: Dataset.range(6).scan({"seen": np.zeros(0, np.int64)},
                                  lambda s, x: ({"seen": np.append(s["seen"], x)}, x)),
])
def test_scan_resumes(make):
    assert_resumes(make())


# ---------------------------------------------------------------------- unique


def test_unique_keeps_first_occurrences():
    assert ints(Dataset.from_tensor_slices([1, 2, 1, 3, 2]).unique()) == [1, 2, 3]
    ds = Dataset.from_tensor_slices(np.array([5, 5, 4], np.int64)).unique()
    assert_elements_equal(take_all(ds), [np.int64(5), np.int64(4)])


def test_unique_strings_like_tf():
    ds = Dataset.from_tensor_slices([b"b", b"a", b"b", b""]).unique()
    assert take_all(ds) == [b"b", b"a", b""]


def test_unique_compares_arrays_whole_like_tf():
    ds = Dataset.from_tensor_slices(np.array([[1, 2], [1, 2], [2, 1]], np.int64)).unique()
    assert [a.tolist() for a in take_all(ds)] == [[1, 2], [2, 1]]
    words = Dataset.from_tensor_slices([["a", "b"], ["a", "b"], ["b", "a"]]).unique()
    assert [a.tolist() for a in take_all(words)] == [[b"a", b"b"], [b"b", b"a"]]


def test_unique_edge_cases():
    assert ints(Dataset.range(0).unique()) == []
    assert ints(Dataset.range(5).unique()) == [0, 1, 2, 3, 4]
    assert ints(Dataset.from_tensors(7).repeat(10).unique()) == [7]


@pytest.mark.parametrize(("values", "dtype"), [
    (np.array([1.0, 2.0], np.float32), "float32"), (np.array([True, False]), "bool"),
    (np.array([1, 2], np.int16), "int16"), (np.array([1, 2], np.uint8), "uint8")])
def test_unique_rejects_other_dtypes_like_tf(values, dtype):
    with pytest.raises(InvalidTypeError,
                       match=rf"unique.*does not support elements of type {dtype}; only int32"):
        take_all(Dataset.from_tensor_slices(values).unique())


def test_unique_rejects_structures_like_tf():
    with pytest.raises(InvalidArgumentError, match="only supports elements with a single"):
        take_all(Dataset.from_tensor_slices(([1, 2], [3, 4])).unique())


@pytest.mark.parametrize("name", list(INPUTS))
def test_unique_cardinality_is_unknown_like_tf(name):
    assert INPUTS[name]().unique().cardinality() == UNKNOWN


def test_unique_element_spec_and_resume():
    ds = Dataset.from_tensor_slices([3, 1, 3, 2, 1, 4, 2, 5]).unique()
    assert ds.element_spec == TensorSpec((), np.int32)
    assert_resumes(ds)
    assert_resumes(Dataset.from_tensor_slices(["x", "y", "x", "z"]).unique())
    assert_resumes(Dataset.from_tensor_slices([[1, 2], [1, 2], [3, 4]]).unique())
    assert_resumes(Dataset.counter().map(lambda x: x % 5).unique().take(5))


# ---------------------------------------------------------------------- flat_map


def test_flat_map_chains_the_datasets_in_order():
    ds = Dataset.range(4).flat_map(lambda x: Dataset.range(x))
    assert ints(ds) == [0, 0, 1, 0, 1, 2]


def test_flat_map_unpacks_tuples_like_tf():
    ds = Dataset.from_tensor_slices(([1, 2, 3], [3, 2, 1]))
    got = take_all(ds.flat_map(lambda a, b: Dataset.from_tensors(a + b)))
    assert_elements_equal(got, [np.int32(4)] * 3)


def test_flat_map_edge_cases():
    assert ints(Dataset.range(0).flat_map(lambda x: Dataset.range(3))) == []
    assert ints(Dataset.range(5).flat_map(lambda x: Dataset.range(0))) == []
    nested = Dataset.range(3).flat_map(
        lambda x: Dataset.range(x).flat_map(lambda y: Dataset.from_tensors(y).repeat(2)))
    assert ints(nested) == [0, 0, 0, 0, 1, 1]


def test_flat_map_nested_bytes_elements():
    ds = Dataset.from_tensor_slices(["ab", "c"]).flat_map(
        lambda s: Dataset.from_tensor_slices({"ch": list(s.decode()), "n": [len(s)] * len(s)}))
    assert_elements_equal(take_all(ds), [{"ch": b"a", "n": np.int32(2)},
                                         {"ch": b"b", "n": np.int32(2)},
                                         {"ch": b"c", "n": np.int32(1)}])


def test_flat_map_requires_a_dataset():
    with pytest.raises(InvalidTypeError,
                       match=r"flat_map\[<lambda>\]: map_func must return a datapipe Dataset "
                             r"\(got int64\)"):
        take_all(Dataset.range(3).flat_map(lambda x: x))
    with pytest.raises(InvalidTypeError, match=r"flat_map\(\): map_func must be callable"):
        Dataset.range(3).flat_map(1)


def test_flat_map_user_exception_names_stage():
    with pytest.raises(ZeroDivisionError) as info:
        take_all(Dataset.range(3).flat_map(user_error, name="expand"))
    assert info.value.datapipe_stage == "flat_map[expand]"
    inner = Dataset.range(3).flat_map(lambda x: Dataset.range(2).map(user_error))
    with pytest.raises(ZeroDivisionError) as info:
        take_all(inner)
    assert info.value.datapipe_stage == "map[user_error]"


@pytest.mark.parametrize("name", list(INPUTS))
def test_flat_map_cardinality_is_unknown_like_tf(name):
    assert INPUTS[name]().flat_map(lambda x: Dataset.range(2)).cardinality() == UNKNOWN


def test_flat_map_element_spec_comes_from_the_first_inner_dataset():
    # the first inner dataset is empty: its spec is still static
    ds = Dataset.range(3).flat_map(lambda x: Dataset.range(x))
    assert ds.element_spec == TensorSpec((), np.int64)
    with pytest.raises(InvalidArgumentError, match=r"flat_map\[<lambda>\].*input dataset is empty"):
        _ = Dataset.range(0).flat_map(lambda x: Dataset.range(x)).element_spec


@pytest.mark.parametrize("make", [
    lambda: Dataset.range(5).flat_map(lambda x: Dataset.range(x)),
    lambda: Dataset.range(4).flat_map(lambda x: Dataset.range(0)),
    lambda: Dataset.from_tensor_slices(Point([1, 2], ["a", "b"])).flat_map(
        lambda p: Dataset.from_tensors(p).repeat(p.x)),
    lambda: Dataset.counter().flat_map(lambda x: Dataset.range(x % 3).map(lambda y: y * x)),
    lambda: Dataset.range(3).flat_map(lambda x: Dataset.range(6).shuffle(6, seed=2)),
])
def test_flat_map_resumes(make):
    assert_resumes(make(), limit=60)


# ---------------------------------------------------------------------- interleave

LENGTHS = [3, 0, 5, 1, 2, 4]


def by_length(i):
    """Dataset ``i*10 + j`` for j < LENGTHS[i]."""
    return Dataset.range(LENGTHS[i]).map(lambda j: i * 10 + j)


# Expected orders produced by TensorFlow 2.21 (sequential and parallel interleave agree).
@pytest.mark.parametrize(("n", "cycle", "block", "expected"), [
    (6, 3, 2, [0, 1, 20, 21, 2, 30, 22, 23, 40, 41, 50, 51, 24, 52, 53]),
    (3, 5, 1, [0, 20, 1, 21, 2, 22, 23, 24]),                      # cycle > inputs
    (6, 2, 7, [0, 1, 2, 20, 21, 22, 23, 24, 30, 40, 41, 50, 51, 52, 53]),  # block > inner
    (6, 1, 2, [0, 1, 2, 20, 21, 22, 23, 24, 30, 40, 41, 50, 51, 52, 53]),  # flat_map order
    (0, 3, 1, []),
])
def test_interleave_order_matches_tf(n, cycle, block, expected):
    ds = Dataset.range(n).interleave(by_length, cycle_length=cycle, block_length=block)
    assert ints(ds) == expected


def test_interleave_refills_an_exhausted_slot_on_the_next_visit():
    ds = Dataset.range(1, 4).interleave(lambda x: Dataset.from_tensors(x).repeat(x),
                                        cycle_length=2)
    assert ints(ds) == [1, 2, 2, 3, 3, 3]  # tf


def test_interleave_infinite_input_like_tf():
    ds = Dataset.range(4).repeat().interleave(lambda x: Dataset.range(x), cycle_length=2,
                                              block_length=3)
    assert ints(ds, 15) == [0, 0, 1, 0, 1, 2, 0, 0, 1, 0, 1, 2, 0, 0, 1]


def test_interleave_unpacks_tuples_and_keeps_nested_elements():
    ds = Dataset.from_tensor_slices((np.array([1, 2, 3], np.int64), ["a", "b", "c"]))
    ds = ds.interleave(lambda n, s: Dataset.from_tensors({"n": n, "s": s}).repeat(n),
                       cycle_length=2)
    assert [(int(e["n"]), e["s"]) for e in take_all(ds)] == [
        (1, b"a"), (2, b"b"), (2, b"b"), (3, b"c"), (3, b"c"), (3, b"c")]


@pytest.mark.parametrize(("num_parallel_calls", "expected_cycle"), [
    (None, 2), (1, 1), (2, 2), (3, 2), (dp.AUTOTUNE, 1), (-1, 1)])
def test_interleave_default_cycle_length_follows_tf_on_two_cores(
        monkeypatch, num_parallel_calls, expected_cycle):
    """tf on a 2-core machine: cores; min(npc, cores); ceil(cores / 3) for AUTOTUNE."""
    monkeypatch.setattr(interleave_module, "usable_cores", lambda: 2)
    ds = Dataset.range(6).interleave(lambda i: Dataset.from_tensors(i).repeat(3),
                                     num_parallel_calls=num_parallel_calls)
    expected = {1: [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5],
                2: [0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 4, 5, 4, 5, 4, 5]}[expected_cycle]
    assert ints(ds) == expected
    assert ds._node.cycle_length == expected_cycle
    autotuned = Dataset.range(6).interleave(lambda i: Dataset.from_tensors(i).repeat(3),
                                            cycle_length=dp.AUTOTUNE)
    assert autotuned._node.cycle_length == 2


def test_interleave_default_cycle_length_is_the_usable_cores():
    ds = Dataset.range(3).interleave(lambda x: Dataset.range(2))
    assert ds._node.cycle_length == interleave_module.usable_cores() >= 1
    assert ds._node.block_length == 1


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"cycle_length": 0}, InvalidArgumentError, r"cycle_length must be greater than zero"),
    ({"cycle_length": -3}, InvalidArgumentError, r"greater than zero or AUTOTUNE \(got -3\)"),
    ({"cycle_length": 2.5}, InvalidTypeError, r"cycle_length must be a positive int"),
    ({"block_length": 0}, InvalidArgumentError, r"block_length must be a positive int \(got 0\)"),
    ({"block_length": -1}, InvalidArgumentError, r"block_length must be a positive int"),
    ({"block_length": "2"}, InvalidTypeError, r"block_length must be a positive int"),
    ({"num_parallel_calls": 0}, InvalidArgumentError, r"num_parallel_calls must be a positive"),
    ({"num_parallel_calls": -5}, InvalidArgumentError, r"num_parallel_calls"),
    ({"cycle_length": 2, "num_parallel_calls": 3}, InvalidArgumentError,
     r"num_parallel_calls must be AUTOTUNE or at most cycle_length "
     r"\(got num_parallel_calls=3 and cycle_length=2\)"),
    ({"deterministic": "yes"}, InvalidTypeError, r"deterministic must be a bool or None"),
])
def test_interleave_bad_arguments_like_tf(kwargs, error, message):
    with pytest.raises(error, match=message):
        Dataset.range(3).interleave(lambda x: Dataset.range(2), **kwargs)


def test_interleave_accepts_parallel_arguments():
    for kwargs in [{"num_parallel_calls": dp.AUTOTUNE, "cycle_length": 2},
                   {"num_parallel_calls": 2, "cycle_length": 2, "deterministic": False},
                   {"num_parallel_calls": 1, "cycle_length": 4, "deterministic": True}]:
        ds = Dataset.range(4).interleave(lambda x: Dataset.from_tensors(x).repeat(2), **kwargs)
        assert sorted(ints(ds)) == [0, 0, 1, 1, 2, 2, 3, 3]


def test_interleave_requires_a_dataset_and_a_callable():
    with pytest.raises(InvalidTypeError,
                       match=r"interleave\[<lambda>\]: map_func must return a datapipe Dataset"):
        take_all(Dataset.range(3).interleave(lambda x: [x], cycle_length=2))
    with pytest.raises(InvalidTypeError, match=r"interleave\(\): map_func must be callable"):
        Dataset.range(3).interleave(None)


def test_interleave_user_exception_names_stage():
    with pytest.raises(ZeroDivisionError) as info:
        take_all(Dataset.range(3).interleave(user_error, cycle_length=2))
    assert info.value.datapipe_stage == "interleave[user_error]"


@pytest.mark.parametrize(("name", "num_parallel_calls", "expected"), [
    ("3", None, UNKNOWN), ("inf", None, UNKNOWN), ("unk", None, UNKNOWN), ("empty", None, UNKNOWN),
    ("3", 2, UNKNOWN), ("inf", 2, INFINITE), ("unk", 2, UNKNOWN), ("empty", 2, UNKNOWN)])
def test_interleave_cardinality_like_tf(name, num_parallel_calls, expected):
    ds = INPUTS[name]().interleave(lambda x: Dataset.range(2), cycle_length=2,
                                   num_parallel_calls=num_parallel_calls)
    assert ds.cardinality() == expected


def test_interleave_element_spec():
    ds = Dataset.range(3).interleave(lambda x: Dataset.from_tensor_slices({"v": [[1.0]]}),
                                     cycle_length=2)
    assert ds.element_spec == {"v": TensorSpec((1,), np.float32)}


@pytest.mark.parametrize("make", [
    lambda: Dataset.range(6).interleave(by_length, cycle_length=3, block_length=2),
    lambda: Dataset.range(3).interleave(by_length, cycle_length=5),
    lambda: Dataset.range(6).interleave(by_length, cycle_length=2, block_length=7),
    lambda: Dataset.counter().interleave(lambda x: Dataset.range(x % 4), cycle_length=3,
                                         block_length=2).take(40),
    lambda: Dataset.from_tensor_slices(Point([1, 2, 3], ["a", "b", "c"])).interleave(
        lambda p: Dataset.from_tensors(p).repeat(p.x), cycle_length=2),
    lambda: Dataset.range(4).interleave(
        lambda x: Dataset.range(5).shuffle(5, seed=int(x)), cycle_length=2, block_length=2),
])
def test_interleave_resumes(make):
    assert_resumes(make(), limit=60)


@settings(max_examples=40, deadline=None)
@given(lengths=st.lists(st.integers(0, 4), max_size=6), cycle=st.integers(1, 7),
       block=st.integers(1, 4))
def test_interleave_is_an_order_preserving_merge(lengths, cycle, block):
    """Every inner dataset appears whole and in order; cycle_length=1 is flat_map."""
    def make(i):
        return Dataset.range(lengths[i]).map(lambda j: i * 10 + j)

    src = Dataset.range(len(lengths))
    out = ints(src.interleave(make, cycle_length=cycle, block_length=block))
    flat = ints(src.flat_map(make))
    assert sorted(out) == sorted(flat)
    for i in range(len(lengths)):
        assert [v for v in out if v // 10 == i] == [i * 10 + j for j in range(lengths[i])]
    assert ints(src.interleave(make, cycle_length=1, block_length=block)) == flat


@pytest.mark.tfdata
def test_interleave_random_orders_match_tf():
    tf = pytest.importorskip("tensorflow", reason="the TensorFlow reference (bench extra)")
    rng = np.random.default_rng(0)
    for _ in range(30):
        lengths = rng.integers(0, 5, size=rng.integers(0, 7)).tolist()
        cycle, block = int(rng.integers(1, 8)), int(rng.integers(1, 4))
        table = tf.constant(lengths or [0], tf.int64)
        ref = tf.data.Dataset.range(len(lengths)).interleave(
            lambda i, table=table: tf.data.Dataset.range(tf.gather(table, i)).map(
                lambda j, i=i: i * 10 + j),
            cycle_length=cycle, block_length=block)
        ours = Dataset.range(len(lengths)).interleave(
            lambda i, lengths=lengths: Dataset.range(lengths[i]).map(lambda j, i=i: i * 10 + j),
            cycle_length=cycle, block_length=block)
        assert ints(ours) == [int(x) for x in ref.as_numpy_iterator()], (lengths, cycle, block)


def test_inner_iterators_are_closed_when_left_early():
    """Inner datasets with threads (prefetch) stop when the outer iterator closes."""
    flat = Dataset.range(5).flat_map(lambda x: Dataset.range(100).prefetch(2))
    woven = Dataset.range(5).interleave(lambda x: Dataset.range(100).prefetch(2),
                                        cycle_length=3)
    for ds, head in [(flat, [0, 1, 2, 3]), (woven, [0, 0, 0, 1])]:
        with iter(ds) as iterator:
            assert [int(next(iterator)) for _ in range(4)] == head
        assert_resumes(ds, limit=30, max_cuts=4)


class DatasetsNode(DatasetNode):
    """Elements that hold datasets, like window's: ``(i, Dataset.range(10 * i, 10 * i + i))``."""

    kind = "datasets"

    def __init__(self, n: int) -> None:
        super().__init__(())
        self.n = n

    def compute_cardinality(self) -> int:
        return self.n

    def make_iterator(self, ctx: IteratorContext) -> DatasetsIterator:
        return DatasetsIterator(self, ctx)


class DatasetsIterator(DatasetIterator):
    def __init__(self, node: DatasetsNode, ctx: IteratorContext) -> None:
        super().__init__(node, ctx)
        self.index = 0

    def __next__(self):
        if self.index >= self.node.n:
            raise StopIteration
        i = self.index
        self.index += 1
        return np.int64(i), Dataset.range(10 * i, 10 * i + i)

    def get_state(self):
        return {"index": self.index}

    def set_state(self, state):
        self.index = check_state(state, self.node, ("index",))["index"]


@pytest.mark.parametrize("make", [
    lambda d: d.flat_map(lambda i, inner: inner),
    lambda d: d.interleave(lambda i, inner: inner, cycle_length=3, block_length=2),
])
def test_elements_holding_datasets_resume_through_bytes(make):
    """window-style elements cannot be saved as values: the input position is saved."""
    ds = make(Dataset(DatasetsNode(6)))
    assert sorted(ints(ds)) == [10, 20, 21, 30, 31, 32, 40, 41, 42, 43,
                                50, 51, 52, 53, 54]
    assert_resumes(ds)


# ---------------------------------------------------------------------- enumerate


def test_enumerate_pairs_elements_with_their_index():
    ds = Dataset.from_tensor_slices([7, 8]).enumerate()
    assert_elements_equal(take_all(ds), [(np.int64(0), np.int32(7)), (np.int64(1), np.int32(8))])
    ds = Dataset.range(3).enumerate(5)
    assert_elements_equal(take_all(ds), [(np.int64(5), np.int64(0)), (np.int64(6), np.int64(1)),
                                         (np.int64(7), np.int64(2))])


def test_enumerate_nested_bytes_elements_and_spec():
    ds = Dataset.from_tensor_slices({"w": ["a", "b"]}).enumerate()
    assert_elements_equal(take_all(ds), [(np.int64(0), {"w": b"a"}), (np.int64(1), {"w": b"b"})])
    assert ds.element_spec == (TensorSpec((), np.int64), {"w": TensorSpec((), STRING)})


@pytest.mark.parametrize(("name", "expected"), [
    ("3", 3), ("inf", INFINITE), ("unk", UNKNOWN), ("empty", 0)])
def test_enumerate_cardinality_like_tf(name, expected):
    assert INPUTS[name]().enumerate().cardinality() == expected


def test_enumerate_resumes():
    assert_resumes(Dataset.range(10).filter(lambda x: x % 3 == 0).enumerate(2))
    assert_resumes(Dataset.from_tensor_slices(["a", "b", "c"]).repeat().enumerate(), limit=20)
