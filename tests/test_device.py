"""datapipe.device: device names, copy_to_device, pinned staging, prefetch_to_device, DLPack.

Three kinds of tests:

* CPU tests run everywhere.
* "simulated" tests run the GPU code paths against a small in-process stand-in for
  CuPy (``_fake_cupy``: host memory, synchronous copies, streams and events that
  record what was asked of them). They check the logic — layout, pool reuse, which
  stream waits for which event, state and resume, thread ends — not CUDA itself.
* CUDA tests need a real GPU with CuPy; without one they are skipped and the skip
  says why ("no CUDA device: cupy not importable ..." / "...getDeviceCount()==0").
  Tests parametrized over ``gpu`` run both in simulation and on CUDA.
"""

from __future__ import annotations

import collections
import ctypes
import sys
import threading
import types

import numpy as np
import pytest

import datapipe as dp
from datapipe import state as state_codec
from datapipe.dataset.node import IteratorContext
from datapipe.device import (
    CPU,
    Device,
    copy as copy_module,
    copy_to_device,
    devices,
    parse_device,
    prefetch_to_device,
    to_torch,
)
from datapipe.device.prefetch_to_device import PrefetchToDeviceNode
from datapipe.device.staging import ALIGNMENT, StagingPool, goes_to_device, layout, spec_nbytes
from datapipe.errors import FailedPreconditionError, InvalidArgumentError, InvalidTypeError
from datapipe.testing import assert_elements_equal, assert_resumes, datapipe_threads, take_all

Point = collections.namedtuple("Point", ["x", "label"])


def _no_gpu_reason() -> str:
    return devices.gpu_unavailable_reason() or "no CUDA device"


requires_cuda = pytest.mark.skipif(not devices.gpu_available(), reason=_no_gpu_reason())


def _nested_dataset() -> dp.Dataset:
    """Batches of dict / tuple / namedtuple elements with bytes and string leaves."""
    ds = dp.Dataset.range(10).map(lambda i: {
        "image": np.full((2, 3), i, np.float32),
        "pair": (i * 2, Point(np.float64(i) / 4, np.bool_(i % 2))),
        "name": b"item-%d" % int(i),
    })
    return ds.batch(3)


# --------------------------------------------------------------------------- devices


@pytest.mark.parametrize(("name", "expected"), [
    ("cpu", CPU), ("CPU", CPU), ("cpu:0", CPU), ("/cpu:0", CPU), ("/device:CPU:0", CPU),
    ("gpu", Device("gpu", 0)), ("gpu:0", Device("gpu", 0)), ("GPU:2", Device("gpu", 2)),
    ("cuda", Device("gpu", 0)), ("cuda:1", Device("gpu", 1)), ("/gpu:3", Device("gpu", 3)),
    ("/device:GPU:1", Device("gpu", 1)), (" gpu:1 ", Device("gpu", 1)),
    ("/job:localhost/replica:0/task:0/device:GPU:1", Device("gpu", 1)),
    (Device("gpu", 4), Device("gpu", 4)),
])
def test_parse_device_accepts_the_usual_spellings(name, expected):
    assert parse_device(name) == expected


def test_device_str_is_canonical():
    assert [str(parse_device(n)) for n in ("CPU:0", "cuda", "cuda:2")] == ["cpu", "gpu:0", "gpu:2"]


@pytest.mark.parametrize("name", ["tpu", "gpu:", "gpu:-1", "gpu0", "cuda:x", "", "gpu:0:1",
                                  "bogus", "/device:XLA_GPU:0"])
def test_parse_device_rejects_unknown_names(name):
    with pytest.raises(InvalidArgumentError, match=r"unknown device .*expected 'cpu', 'gpu'"):
        parse_device(name, "prefetch_to_device()")


def test_parse_device_rejects_a_second_cpu():
    with pytest.raises(InvalidArgumentError, match="one host device"):
        parse_device("cpu:1")


@pytest.mark.parametrize("value", [0, None, 1.5, b"gpu"])
def test_parse_device_rejects_non_strings(value):
    with pytest.raises(InvalidTypeError, match="device must be a str"):
        parse_device(value)


@pytest.fixture
def no_gpu(monkeypatch):
    """This process sees no GPU (whatever the machine has)."""
    monkeypatch.setattr(devices, "_probe", lambda: (
        None, 0, "cupy not importable (ModuleNotFoundError: No module named 'cupy')"))


def test_gpu_when_none_says_why_and_how_to_get_one(no_gpu):
    assert not devices.gpu_available() and devices.gpu_count() == 0
    assert devices.gpu_unavailable_reason().startswith("no CUDA device: cupy not importable")
    ds = dp.Dataset.range(3)
    with pytest.raises(FailedPreconditionError,
                       match=r"prefetch_to_device\(\): device 'gpu:0' needs a CUDA GPU .*"
                             r"no CUDA device: cupy not importable.*pip install cupy-cuda12x"
                             r".*device='cpu'"):
        ds.apply(prefetch_to_device("gpu"))
    with pytest.raises(FailedPreconditionError, match=r"copy_to_device\(\).*no CUDA device"):
        copy_to_device(np.zeros(2), "cuda:0")
    from datapipe.device import to_cupy
    with pytest.raises(FailedPreconditionError, match=r"to_cupy\(\) needs a CUDA GPU"):
        to_cupy(np.zeros(2))


def test_the_probe_reports_a_zero_device_count(monkeypatch):
    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=lambda: 0)))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    devices._probe.cache_clear()
    try:
        assert devices._probe() == (None, 0, "cupy.cuda.runtime.getDeviceCount()==0")
        assert devices.gpu_unavailable_reason() == (
            "no CUDA device: cupy.cuda.runtime.getDeviceCount()==0")
    finally:
        devices._probe.cache_clear()


def test_a_missing_gpu_index_is_named(monkeypatch):
    monkeypatch.setattr(devices, "_probe", lambda: (object(), 1, ""))
    with pytest.raises(InvalidArgumentError,
                       match=r"'gpu:3' does not exist: 1 GPU\(s\) are visible \(gpu:0 to gpu:0\)"):
        dp.Dataset.range(2).apply(prefetch_to_device("gpu:3"))


def test_bad_device_fails_when_the_transformation_is_made():
    with pytest.raises(InvalidArgumentError, match="unknown device 'tpu:0'"):
        prefetch_to_device("tpu:0")


@pytest.mark.parametrize("size", [-2, -5])
def test_negative_buffer_size_is_rejected(size):
    with pytest.raises(InvalidArgumentError,
                       match=rf"prefetch_to_device\(\): buffer_size must be >= 0 .*got {size}"):
        dp.Dataset.range(2).apply(prefetch_to_device("cpu", size))


@pytest.mark.parametrize("size", ["2", 1.0, True])
def test_non_int_buffer_size_is_rejected(size):
    with pytest.raises(InvalidTypeError, match="buffer_size must be an int or AUTOTUNE"):
        dp.Dataset.range(2).apply(prefetch_to_device("cpu", size))


def test_apply_to_a_non_dataset_is_a_type_error():
    with pytest.raises(InvalidTypeError, match="must be a datapipe Dataset"):
        prefetch_to_device("cpu")([1, 2])


# -------------------------------------------------------------------------- cpu path


def test_copy_to_cpu_returns_the_same_objects():
    element = {"a": (np.arange(3), Point(np.float32(1.5), b"x")), "b": b"raw"}
    out = copy_to_device(element, "cpu")
    assert out is element
    assert copy_to_device(np.arange(2), "/cpu:0").base is None


@pytest.mark.parametrize("buffer_size", [0, 1, 3, dp.AUTOTUNE, None, -1])
def test_prefetch_to_cpu_yields_the_input(buffer_size):
    ds = _nested_dataset()
    out = ds.apply(prefetch_to_device("cpu", buffer_size))
    assert_elements_equal(take_all(out), take_all(ds))
    assert out.element_spec == ds.element_spec


def test_prefetch_to_cpu_hands_over_the_input_arrays_without_copy():
    source = [np.arange(4) + i for i in range(3)]
    ds = dp.Dataset.range(3).map(lambda i: source[int(i)])
    out = take_all(ds.apply(prefetch_to_device("cpu")))
    assert [np.shares_memory(a, b) for a, b in zip(out, source)] == [True] * 3


def test_prefetch_to_cpu_keeps_bytes_leaves_on_the_host():
    ds = dp.Dataset.from_tensor_slices([b"a", b"bc"]).apply(prefetch_to_device("cpu"))
    assert take_all(ds) == [b"a", b"bc"]


@pytest.mark.parametrize(("ds", "expected"), [
    (dp.Dataset.range(7), 7),
    (dp.Dataset.range(7).repeat(), dp.INFINITE_CARDINALITY),
    (dp.Dataset.range(7).filter(lambda x: x > 2), dp.UNKNOWN_CARDINALITY),
    (dp.Dataset.range(0), 0),
])
def test_cardinality_is_the_input_s(ds, expected):
    """Deliberately not tf's UNKNOWN: that is an artifact of tf's implementation."""
    assert ds.apply(prefetch_to_device("cpu")).cardinality() == expected


def test_prefetch_to_cpu_of_an_empty_dataset_ends_and_keeps_ending():
    with iter(dp.Dataset.range(0).apply(prefetch_to_device("cpu"))) as it:
        for _ in range(3):
            with pytest.raises(StopIteration):
                next(it)


@pytest.mark.parametrize("make", [
    lambda: _nested_dataset().apply(prefetch_to_device("cpu")),
    lambda: dp.Dataset.range(20).apply(prefetch_to_device("cpu", 4)),
    lambda: dp.Dataset.range(20).filter(lambda x: x % 3 > 0).batch(3)
    .apply(prefetch_to_device("cpu", 2)),
    lambda: dp.Dataset.range(9).apply(prefetch_to_device("cpu", 0)),
    lambda: dp.Dataset.range(9).apply(prefetch_to_device("/cpu:0", dp.AUTOTUNE)),
    lambda: dp.Dataset.range(5).repeat().apply(prefetch_to_device("cpu")),
])
def test_prefetch_to_cpu_resumes(make):
    assert_resumes(make(), limit=40)


def test_errors_of_the_input_reach_the_consumer_with_their_stage():
    def boom(x):
        if x == 2:
            raise KeyError("bad element")
        return x

    ds = dp.Dataset.range(5).map(boom).apply(prefetch_to_device("cpu"))
    with iter(ds) as it:
        assert [int(next(it)), int(next(it))] == [0, 1]
        with pytest.raises(KeyError, match="bad element") as info:
            next(it)
        assert info.value.datapipe_stage.startswith("map")
        assert [int(x) for x in it] == [3, 4]


def test_breaking_out_of_the_loop_ends_the_thread():
    ds = dp.Dataset.range(1000).batch(2).apply(prefetch_to_device("cpu", 3))
    for index, _ in enumerate(ds):
        if index == 3:
            break
    # the autouse fixture fails the test if the prefetch thread outlives it


def test_the_thread_is_named_after_the_stage():
    with iter(dp.Dataset.range(100).apply(prefetch_to_device("cpu", 2))) as it:
        next(it)
        names = [t.name for t in datapipe_threads()]
        assert any(name.startswith("datapipe-prefetch_to_device[cpu]") for name in names), names


def test_the_node_is_a_prefetch_to_device_stage():
    node = dp.Dataset.range(3).apply(prefetch_to_device("cpu"))._node
    assert isinstance(node, PrefetchToDeviceNode)
    assert node.stage == "prefetch_to_device[cpu]"
    assert PrefetchToDeviceNode(dp.Dataset.range(2)._node, "cpu", name="feed").stage == (
        "prefetch_to_device[feed]")


def test_no_prefetch_is_injected_after_prefetch_to_device():
    """An injected host prefetch after it would buffer device batches and pull them from
    another thread: the plan must end with prefetch_to_device."""
    from datapipe.execute.rewrites import optimize

    for ds in (dp.Dataset.range(3).apply(prefetch_to_device("cpu")),
               dp.Dataset.range(3).prefetch_to_device("cpu")):
        node = ds._node
        assert optimize(node, node.collect_options()).kind == "prefetch_to_device"


# --------------------------------------------------------------------------- staging


def test_layout_aligns_device_leaves_and_skips_host_ones():
    leaves = [np.zeros((2, 3), np.float32), b"id", np.int64(7), np.array([b"s"]),
              np.zeros(0, np.int8), np.ones(300, np.uint8)]
    offsets, total = layout(leaves)
    assert offsets == [0, None, ALIGNMENT, None, 2 * ALIGNMENT, 2 * ALIGNMENT]
    assert total == 2 * ALIGNMENT + 2 * ALIGNMENT
    assert [goes_to_device(x) for x in leaves] == [True, False, True, False, True, True]


def test_spec_nbytes_from_static_and_dynamic_specs():
    spec = {"x": dp.TensorSpec((4, 100), np.float32), "s": dp.TensorSpec((), dp.string)}
    assert spec_nbytes(spec) == 1792  # 1600 rounded up to 256
    assert spec_nbytes(dp.TensorSpec((None, 3), np.int32)) is None


def test_staging_pool_arguments_are_validated():
    with pytest.raises(InvalidArgumentError, match="num_buffers must be a positive int"):
        StagingPool(None, num_buffers=0)


# ------------------------------------------------------------------ simulated CuPy


class _Memory:
    def __init__(self, nbytes: int) -> None:
        self.buf = np.zeros(max(1, nbytes), np.uint8)


class _Pointer:
    def __init__(self, mem: _Memory, offset: int = 0) -> None:
        self.mem = mem
        self.offset = offset

    @property
    def ptr(self) -> int:
        return self.mem.buf.ctypes.data + self.offset

    def __add__(self, offset: int) -> _Pointer:
        return _Pointer(self.mem, self.offset + offset)


class _FakeArray(np.ndarray):
    """A "device" array: host memory behind a MemoryPointer, like cupy.ndarray's API."""

    def __new__(cls, shape, dtype=float, memptr=None):
        dtype = np.dtype(dtype)
        if memptr is None:
            memptr = _Pointer(_Memory(int(np.prod(shape)) * dtype.itemsize))
        array = np.ndarray.__new__(cls, shape, dtype, buffer=memptr.mem.buf,
                                   offset=memptr.offset)
        array._memptr = memptr
        return array

    def __array_finalize__(self, obj):
        self._memptr = getattr(obj, "_memptr", None)

    @property
    def data(self):  # cupy: the MemoryPointer
        return self._memptr

    def get(self):
        return np.array(self).view(np.ndarray)


class _Pinned(np.ndarray):
    @property
    def ptr(self) -> int:
        return self.ctypes.data


class _Event:
    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.recorded_on = None
        self.synchronized = 0

    def synchronize(self):
        self.synchronized += 1


class _Stream:
    _local = threading.local()

    def __init__(self, non_blocking=False, null=False):
        self.non_blocking = non_blocking
        self.ptr = 0 if null else id(self)
        self.waited: list = []
        self.recorded: list = []

    def __enter__(self):
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        stack.append(self)
        return self

    def __exit__(self, *exc):
        self._local.stack.pop()

    def record(self, event=None):
        event = event if event is not None else _Event()
        event.recorded_on = self
        self.recorded.append(event)
        return event

    def wait_event(self, event):
        self.waited.append(event)


def _fake_cupy() -> types.ModuleType:
    cupy = types.ModuleType("cupy")
    null = _Stream(null=True)
    copies: list = []

    def get_current_stream():
        stack = getattr(_Stream._local, "stack", None)
        return stack[-1] if stack else null

    class _Device:
        def __init__(self, index=0):
            self.id = index

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

    def memcpy_async(dst, src, size, kind, stream):
        assert kind == 1
        copies.append((size, stream))
        ctypes.memmove(dst, src, size)

    def alloc_pinned_memory(size):
        cupy.pinned_allocations += 1
        return np.zeros(size, np.uint8).view(_Pinned)

    runtime = types.SimpleNamespace(memcpyAsync=memcpy_async, memcpyHostToDevice=1,
                                    getDeviceCount=lambda: 1)
    cupy.cuda = types.SimpleNamespace(
        Stream=_Stream, Event=_Event, Device=_Device, runtime=runtime,
        get_current_stream=get_current_stream, alloc_pinned_memory=alloc_pinned_memory)
    cupy.cuda.Stream.null = null
    cupy.ndarray = _FakeArray
    cupy.uint8 = np.uint8
    cupy.empty = lambda shape, dtype=float: _FakeArray(
        (shape,) if isinstance(shape, int) else shape, dtype)
    cupy.asnumpy = lambda a: a.get()
    cupy.copies = copies
    cupy.pinned_allocations = 0
    cupy.simulated = True
    return cupy


@pytest.fixture
def simulated_gpu(monkeypatch):
    """A stand-in CuPy with one "GPU" (see _fake_cupy): checks logic, not CUDA."""
    fake = _fake_cupy()
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(devices, "_probe", lambda: (fake, 1, ""))
    monkeypatch.setattr(copy_module, "_pools", {})
    return fake


@pytest.fixture(params=["simulated", "cuda"])
def gpu(request, monkeypatch):
    """The CuPy module, once simulated and once real (skipped without a CUDA device)."""
    if request.param == "cuda":
        if not devices.gpu_available():
            pytest.skip(_no_gpu_reason())
        cupy = devices.cupy_module()
        yield cupy
        cupy.cuda.get_current_stream().synchronize()
        return
    yield request.getfixturevalue("simulated_gpu")


#: Until datapipe/execute/rewrites skips prefetch_to_device when injecting a final
#: prefetch(AUTOTUNE) (see test_no_prefetch_is_injected_after_prefetch_to_device), GPU
#: pipelines under test turn the injection off, so the consumer is the test's thread.
_NO_INJECT = dp.Options(optimization=dp.OptimizationOptions(inject_prefetch=False))


def _to_gpu(ds, buffer_size=1, device="gpu"):
    return ds.apply(prefetch_to_device(device, buffer_size)).with_options(_NO_INJECT)


def _host(element):
    """An element with device leaves brought back (for comparisons)."""
    from datapipe.structure import nest

    cupy = sys.modules.get("cupy")
    leaves = [leaf.get() if cupy is not None and isinstance(leaf, cupy.ndarray) else leaf
              for leaf in nest.flatten(element)]
    return nest.pack_sequence_as(element, leaves)


def _assert_on_device(cupy, element, expected):
    """Numeric leaves are device arrays with the expected values (scalars as 0-d
    arrays); the others are the host values, unchanged."""
    from datapipe.structure import nest

    nest.assert_same_structure(element, expected)
    for leaf, want in zip(nest.flatten(element), nest.flatten(expected)):
        if goes_to_device(want):
            assert isinstance(leaf, cupy.ndarray), type(leaf)
            assert leaf.shape == np.shape(want)
            assert leaf.dtype == np.asarray(want).dtype.newbyteorder("=")
            np.testing.assert_array_equal(leaf.get(), want)
        else:
            assert_elements_equal(leaf, want)


def test_copy_to_gpu_moves_numeric_leaves_and_keeps_bytes(gpu):
    element = {"img": np.arange(24, dtype=np.float32).reshape(2, 3, 4),
               "meta": (np.int64(7), Point(np.array([True, False]), b"label")),
               "names": np.array([b"a", b"bc"], dtype=object),
               "empty": np.zeros((0, 5), np.int16),
               "f16": np.linspace(0, 1, 5, dtype=np.float16),
               "c": np.array([1 + 2j], np.complex64)}
    out = copy_to_device(element, "gpu")
    assert list(out) == list(element) and type(out["meta"][1]) is Point
    _assert_on_device(gpu, out, element)
    assert out["names"] is element["names"] and out["meta"][1].label is element["meta"][1].label


def test_copy_to_gpu_converts_big_endian_leaves(gpu):
    big = np.arange(5, dtype=">i4")
    out = copy_to_device((big,), "gpu:0")[0]
    assert out.dtype == np.dtype("=i4")
    np.testing.assert_array_equal(_host(out), big)


def test_copy_to_gpu_of_non_contiguous_arrays(gpu):
    base = np.arange(60, dtype=np.float64).reshape(6, 10)
    view = base[::2, ::-3]
    np.testing.assert_array_equal(_host(copy_to_device(view, "gpu")), view)


def test_copy_to_gpu_is_one_copy_into_one_block(simulated_gpu):
    element = (np.ones(10, np.float32), np.zeros(3, np.int8), b"s")
    out = copy_to_device(element, "gpu")
    assert len(simulated_gpu.copies) == 1 and simulated_gpu.copies[0][0] == 2 * ALIGNMENT
    assert out[0].data.mem is out[1].data.mem
    assert out[2] == b"s"


def test_copy_to_cpu_brings_device_leaves_back(gpu):
    element = {"x": np.arange(4), "s": b"k"}
    back = copy_to_device(copy_to_device(element, "gpu"), "cpu")
    assert type(back["x"]) is np.ndarray and back["s"] == b"k"
    assert_elements_equal(back, element)


def test_pinned_buffers_are_reused_across_batches(gpu):
    pool = copy_module._pool_for(gpu, 0)
    start = pool.allocations
    for i in range(20):
        out = copy_to_device({"x": np.full((64, 64), i, np.float32)}, "gpu")
    np.testing.assert_array_equal(_host(out["x"]), np.full((64, 64), 19, np.float32))
    assert pool.allocations - start <= pool.num_buffers
    assert len(pool.buffers) <= pool.num_buffers


def test_a_bigger_element_grows_one_buffer(simulated_gpu):
    pool = StagingPool(simulated_gpu, num_buffers=2, nbytes=ALIGNMENT)
    first = pool.acquire(100)
    assert first.nbytes == ALIGNMENT and pool.allocations == 1
    copied = _Event()
    pool.release(first, copied)
    second = pool.acquire(10)
    assert second is not first and pool.allocations == 2
    grown = pool.acquire(10 * ALIGNMENT)  # first's slot: waits for its copy, then grows
    assert copied.synchronized == 1
    assert grown.nbytes >= 10 * ALIGNMENT and pool.allocations == 3
    assert pool.acquire(ALIGNMENT) is second and pool.acquire(ALIGNMENT) is grown
    assert pool.allocations == 3 and pool.nbytes == second.nbytes + grown.nbytes


def test_prefetch_to_gpu_yields_the_input_on_the_device(gpu):
    ds = _nested_dataset()
    expected = take_all(ds)
    out = take_all(ds.apply(lambda d: _to_gpu(d, 2, "gpu")))
    assert len(out) == len(expected)
    for element, want in zip(out, expected):
        _assert_on_device(gpu, element, want)


@pytest.mark.parametrize("buffer_size", [0, 1, 3, dp.AUTOTUNE])
def test_prefetch_to_gpu_buffer_sizes(gpu, buffer_size):
    ds = dp.Dataset.range(11).batch(2)
    out = [_host(x) for x in ds.apply(lambda d: _to_gpu(d, buffer_size, "cuda"))]
    assert_elements_equal(out, take_all(ds))


def test_prefetch_to_gpu_of_an_empty_dataset(gpu):
    with iter(dp.Dataset.range(0).apply(_to_gpu)) as it:
        for _ in range(2):
            with pytest.raises(StopIteration):
                next(it)


def test_prefetch_to_gpu_copies_on_a_side_stream_and_the_consumer_waits(simulated_gpu):
    cupy = simulated_gpu
    consumer = cupy.cuda.Stream()
    ds = dp.Dataset.range(8).batch(2).apply(lambda d: _to_gpu(d, 1, "gpu"))
    with consumer, iter(ds) as it:
        batches = [next(it) for _ in range(4)]
        worker_stream = it._root.copy_stream
    assert {stream_ptr for _, stream_ptr in cupy.copies} == {worker_stream.ptr}
    copy_stream = worker_stream
    assert copy_stream is not consumer and copy_stream.non_blocking
    # every batch: the consumer waited for the event recorded after its copy ...
    assert len(consumer.waited) == 4
    assert all(event.recorded_on is copy_stream for event in consumer.waited)
    # ... and each copy waited for the consumer stream's work when its block was taken
    assert all(event.recorded_on is consumer for event in copy_stream.waited)
    assert len(copy_stream.waited) == len(cupy.copies)
    assert [_host(b).tolist() for b in batches] == [[0, 1], [2, 3], [4, 5], [6, 7]]


def test_prefetch_to_gpu_bounds_what_runs_ahead(simulated_gpu):
    ds = dp.Dataset.range(100).apply(lambda d: _to_gpu(d, 2, "gpu"))
    with iter(ds) as it:
        next(it)
        import time

        deadline = time.monotonic() + 5
        while len(simulated_gpu.copies) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
        # one returned, two waiting, one copied and waiting for room
        assert len(simulated_gpu.copies) == 4
        assert len(it._root.get_state()["buffer"]) == 3


def test_prefetch_to_gpu_reuses_its_pinned_buffers(simulated_gpu):
    ds = dp.Dataset.range(40).batch(4).apply(lambda d: _to_gpu(d, 1, "gpu"))
    assert len(take_all(ds)) == 10
    assert simulated_gpu.pinned_allocations <= 3  # _STAGING_BUFFERS, never one per batch


def _check_gpu_resume(make, cuts):
    """assert_resumes for device elements: compares host copies; state through bytes."""
    expected = [_host(x) for x in take_all(make())]
    for cut in cuts:
        with iter(make()) as original:
            head = [_host(next(original)) for _ in range(cut)]
            saved = state_codec.loads(state_codec.dumps(original.get_state()))
            tail = [_host(x) for x in original]
        assert_elements_equal(head + tail, expected, f"uninterrupted run cut at {cut}: ")
        with iter(make()) as restored:
            restored.set_state(saved)
            assert_elements_equal([_host(x) for x in restored], expected[cut:],
                                  f"resumed after {cut}: ")


@pytest.mark.parametrize("buffer_size", [1, 3])
def test_prefetch_to_gpu_resumes(gpu, buffer_size):
    _check_gpu_resume(lambda: _nested_dataset().apply(lambda d: _to_gpu(d, buffer_size, "gpu")),
                      cuts=[0, 1, 2, 3, 4])
    _check_gpu_resume(
        lambda: dp.Dataset.range(30).filter(lambda x: x % 4 > 0).batch(4)
        .apply(lambda d: _to_gpu(d, buffer_size, "gpu")), cuts=[0, 2, 5, 6])


def test_prefetch_to_gpu_state_restores_on_the_cpu_path(gpu):
    """A checkpoint taken on a GPU machine resumes on a CPU-only one (same state)."""
    ds = dp.Dataset.range(12).batch(2)
    with iter(ds.apply(lambda d: _to_gpu(d, 2, "gpu"))) as it:
        next(it)
        next(it)
        saved = state_codec.loads(state_codec.dumps(it.get_state()))
    with iter(ds.apply(prefetch_to_device("cpu", 2)).with_options(_NO_INJECT)) as restored:
        restored.set_state(saved)
        assert [x.tolist() for x in restored] == [[4, 5], [6, 7], [8, 9], [10, 11]]


def test_prefetch_to_gpu_passes_input_errors_and_continues(gpu):
    def check(x):
        if x == 1:
            raise ValueError("odd one")
        return x

    ds = dp.Dataset.range(4).map(check).apply(_to_gpu)
    with iter(ds) as it:
        assert int(_host(next(it))) == 0
        with pytest.raises(ValueError, match="odd one") as info:
            next(it)
        assert info.value.datapipe_stage.startswith("map")
        state = it.get_state()
        assert [int(_host(x)) for x in it] == [2, 3]
    with iter(ds) as restored:
        restored.set_state(state)
        assert [int(_host(x)) for x in restored] == [2, 3]


def test_a_failed_copy_is_raised_and_leaves_the_state_consistent(simulated_gpu, monkeypatch):
    real = simulated_gpu.cuda.runtime.memcpyAsync
    calls = []

    def flaky(dst, src, size, kind, stream):
        calls.append(size)
        if len(calls) == 2:
            raise MemoryError("out of device memory")
        real(dst, src, size, kind, stream)

    monkeypatch.setattr(simulated_gpu.cuda.runtime, "memcpyAsync", flaky)
    with iter(dp.Dataset.range(4).apply(_to_gpu)) as it:
        assert int(_host(next(it))) == 0
        with pytest.raises(MemoryError, match="out of device memory"):
            next(it)
        state = it._root.get_state()
        assert [int(_host(x)) for x in it] == [2, 3]
    # the element whose copy failed is not re-produced on resume: it was "delivered" as
    # its error, as an input error would be
    assert [int(x) for x in state["buffer"]][:1] in ([], [2])


def test_prefetch_to_gpu_threads_end_when_dropped_or_closed(gpu):
    ds = dp.Dataset.range(1000).batch(4).apply(lambda d: _to_gpu(d, 2, "gpu"))
    for index, _ in enumerate(ds):
        if index == 2:
            break
    it = iter(ds)
    next(it)
    it.close()
    it = iter(ds)
    next(it)
    del it  # the autouse fixture checks that every copy thread has ended


def test_prefetch_to_gpu_set_state_before_the_first_element(gpu):
    ds = dp.Dataset.range(6).apply(_to_gpu)
    with iter(ds) as it:
        state = it.get_state()
        it.set_state(state)
        assert [int(_host(x)) for x in it] == list(range(6))


# --------------------------------------------------------------------------- real CUDA


@requires_cuda
def test_staging_buffers_are_page_locked():
    cupy = devices.cupy_module()
    pool = StagingPool(cupy, num_buffers=2)
    buffer = pool.acquire(1 << 20)
    attributes = cupy.cuda.runtime.pointerGetAttributes(buffer.ptr)
    assert attributes.type == getattr(cupy.cuda.runtime, "memoryTypeHost", 1)
    pool.close()


@requires_cuda
def test_consumer_on_its_own_stream_sees_each_batch_after_its_copy():
    """Heavy work on the consumer's stream between batches; every batch read on that
    stream holds its own values (the stream waited for the copy's event)."""
    cupy = devices.cupy_module()
    n = 1 << 22  # 16 MiB float32 batches: copies take long enough to race if unordered
    ds = _to_gpu(dp.Dataset.range(12).map(lambda i: np.full(n, i, np.float32)), 2)
    stream = cupy.cuda.Stream(non_blocking=True)
    weight = cupy.random.rand(2048, 2048, dtype=cupy.float32)
    sums = []
    with stream:
        for batch in ds:
            for _ in range(4):
                weight = weight @ weight
                weight /= cupy.linalg.norm(weight)
            sums.append(batch.sum(dtype=cupy.float64))  # exact for these integers
        stream.synchronize()
    assert [float(s) for s in sums] == [float(i) * n for i in range(12)]


@requires_cuda
def test_copy_stream_is_not_the_consumer_stream():
    cupy = devices.cupy_module()
    ds = dp.Dataset.range(4).apply(_to_gpu)
    it = ds._node.make_iterator(IteratorContext())
    try:
        next(it)
        assert it.copy_stream is not None
        assert it.copy_stream.ptr not in (0, cupy.cuda.get_current_stream().ptr)
    finally:
        it.close()


@requires_cuda
def test_to_torch_on_cuda_shares_the_device_memory():
    torch = pytest.importorskip("torch", reason="PyTorch (bench extra)")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA support in this environment")
    cupy = devices.cupy_module()
    ds = _to_gpu(dp.Dataset.range(6).batch(3).map(lambda x: {"x": x, "s": b"k"}))
    for batch in ds:
        tensors = to_torch(batch)
        assert tensors["x"].device.type == "cuda" and tensors["s"] == b"k"
        assert tensors["x"].data_ptr() == batch["x"].data.ptr
        assert isinstance(batch["x"], cupy.ndarray)
    torch.cuda.synchronize()


@requires_cuda
def test_to_cupy_from_host_and_from_torch():
    from datapipe.device import to_cupy

    cupy = devices.cupy_module()
    out = to_cupy({"x": np.arange(5), "s": b"k"})
    assert isinstance(out["x"], cupy.ndarray) and out["s"] == b"k"
    torch = pytest.importorskip("torch", reason="PyTorch (bench extra)")
    if torch.cuda.is_available():
        t = torch.arange(4, device="cuda")
        assert to_cupy(t).data.ptr == t.data_ptr()


# --------------------------------------------------------------------------- DLPack, CPU


def test_to_torch_on_cpu_shares_memory_with_the_batch():
    torch = pytest.importorskip("torch", reason="PyTorch (bench extra)")
    batch = {"x": np.arange(6, dtype=np.float32).reshape(2, 3),
             "pair": (np.int64(3), Point(np.array([True]), b"lbl"))}
    out = to_torch(batch)
    assert isinstance(out["x"], torch.Tensor) and out["x"].shape == (2, 3)
    assert out["x"].data_ptr() == batch["x"].ctypes.data
    batch["x"][0, 0] = 42
    assert float(out["x"][0, 0]) == 42.0
    assert type(out["pair"][1]) is Point and out["pair"][1].label == b"lbl"
    assert out["pair"][0].shape == () and int(out["pair"][0]) == 3
    assert out["pair"][1].x.dtype == torch.bool


def test_to_torch_copies_read_only_and_negative_stride_arrays():
    torch = pytest.importorskip("torch", reason="PyTorch (bench extra)")
    frozen = np.arange(4, dtype=np.int32)
    frozen.flags.writeable = False
    reversed_ = np.arange(5)[::-1]
    out = to_torch((frozen, reversed_))
    assert out[0].data_ptr() != frozen.ctypes.data and out[0].tolist() == [0, 1, 2, 3]
    assert out[1].tolist() == [4, 3, 2, 1, 0]
    assert isinstance(out[0], torch.Tensor)


def test_to_torch_over_a_prefetched_cpu_pipeline():
    torch = pytest.importorskip("torch", reason="PyTorch (bench extra)")
    ds = dp.Dataset.range(6).batch(3).apply(prefetch_to_device("cpu"))
    assert [to_torch(b).tolist() for b in ds] == [[0, 1, 2], [3, 4, 5]]
    assert all(isinstance(to_torch(b), torch.Tensor) for b in ds)


def test_to_jax_on_cpu():
    jnp = pytest.importorskip("jax.numpy", reason="JAX is not installed")
    from datapipe.device import to_jax

    out = to_jax({"x": np.arange(4, dtype=np.float32), "s": b"k", "n": np.int32(2)})
    assert isinstance(out["x"], type(jnp.zeros(1))) and out["s"] == b"k"
    np.testing.assert_array_equal(np.asarray(out["x"]), np.arange(4, dtype=np.float32))
