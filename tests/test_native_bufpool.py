"""The buffer pool (native/bufpool.pyx) and its pure twin: reuse only when unreferenced."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from datapipe._native import backends

BACKENDS = backends("bufpool")
native_only = pytest.mark.skipif("native" not in BACKENDS, reason="native core not built")
LARGE = (256, 256, 3)  # 768 KiB of float32: pooled


def _fresh(module):
    old = module.limit()
    module.set_limit(64 << 20)
    module.clear()
    yield module
    module.clear()
    module.set_limit(old)


@pytest.fixture(params=sorted(BACKENDS))
def pool(request):
    yield from _fresh(BACKENDS[request.param])


@pytest.fixture
def native_pool():
    if "native" not in BACKENDS:
        pytest.skip("native core not built")
    yield from _fresh(BACKENDS["native"])


def _address(array: np.ndarray) -> int:
    return array.__array_interface__["data"][0]


@pytest.mark.parametrize("shape", [LARGE, (1 << 20,), 70000, (0, 5), (3, 4)])
@pytest.mark.parametrize("dtype", ["float32", "uint8", "int64", "complex128"])
def test_empty_is_an_ordinary_writable_c_array(pool, shape, dtype):
    array = pool.empty(shape, dtype)
    expected = (shape,) if isinstance(shape, int) else shape
    assert array.shape == expected and array.dtype == np.dtype(dtype)
    assert array.flags.c_contiguous and array.flags.writeable
    array[...] = 7
    assert (array == 7).all()
    again = pickle.loads(pickle.dumps(array))
    np.testing.assert_array_equal(again, array)
    np.testing.assert_array_equal(np.from_dlpack(array), array)


def test_negative_dimension_is_refused(pool):
    with pytest.raises(ValueError, match="negative"):
        pool.empty((4, -1), np.float32)


def test_object_and_small_arrays_come_from_numpy(pool):
    assert pool.empty((100000,), object).dtype == object
    assert not isinstance(pool.empty((3, 3), np.float32).base, pool.PooledBlock)


@native_only
def test_large_arrays_are_aligned_pooled_blocks():
    pool = BACKENDS["native"]
    array = pool.empty(LARGE, np.float32)
    assert isinstance(array.base, pool.PooledBlock)
    assert _address(array) % 64 == 0
    assert array.base.nbytes == array.nbytes <= array.base.capacity


def test_a_freed_block_is_handed_out_again(native_pool):
    pool = native_pool
    first = pool.empty(LARGE, np.float32)
    address = _address(first)
    hits = pool.stats()["hits"]
    del first
    assert pool.stats()["cached_blocks"] == 1
    second = pool.empty(LARGE, np.float32)
    assert _address(second) == address and pool.stats()["hits"] == hits + 1
    assert pool.stats()["cached_blocks"] == 0


def test_a_block_is_not_reused_while_a_view_lives(native_pool):
    pool = native_pool
    first = pool.empty(LARGE, np.float32)
    first[...] = 1.0
    view = first[::2]
    del first
    assert pool.stats()["cached_blocks"] == 0  # still referenced through the view
    second = pool.empty(LARGE, np.float32)
    second[...] = 2.0
    assert not np.shares_memory(view, second)
    assert (view == 1.0).all()
    del view
    assert pool.stats()["cached_blocks"] == 1


def test_sizes_share_a_class_within_a_quarter(native_pool):
    pool = native_pool
    small = pool.empty((100_000,), np.uint8)
    address = _address(small)
    del small
    larger = pool.empty((110_000,), np.uint8)  # same class: 2^16 * 7/4 = 114,688
    assert _address(larger) == address


@native_only
@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1 << 16, max_value=1 << 26))
def test_class_capacity_is_at_most_a_quarter_above_the_size(nbytes):
    pool = BACKENDS["native"]
    old = pool.limit()
    pool.set_limit(1)  # pooled, but nothing is cached; untouched pages cost nothing
    try:
        block = pool.empty((nbytes,), np.uint8).base
        assert nbytes <= block.capacity <= nbytes * 1.25
    finally:
        pool.set_limit(old)


def test_limit_zero_keeps_nothing_and_clear_releases(pool):
    arrays = [pool.empty(LARGE, np.float32) for _ in range(3)]
    del arrays
    cached = pool.stats()["cached_bytes"]
    assert cached <= pool.limit()
    pool.clear()
    assert pool.stats()["cached_bytes"] == 0
    pool.set_limit(0)
    array = pool.empty(LARGE, np.float32)
    del array
    assert pool.stats()["cached_bytes"] == 0 and pool.limit() == 0
    with pytest.raises(ValueError, match=">= 0"):
        pool.set_limit(-1)


def test_lowering_the_limit_trims_the_cache(native_pool):
    pool = native_pool
    arrays = [pool.empty(LARGE, np.float32) for _ in range(4)]
    del arrays
    assert pool.stats()["cached_blocks"] == 4
    pool.set_limit(1 << 20)
    assert pool.stats()["cached_bytes"] <= 1 << 20


def test_stats_have_the_same_keys_on_both_backends():
    keys = {name: set(module.stats()) for name, module in BACKENDS.items()}
    assert all(k == {"cached_bytes", "cached_blocks", "limit", "hits", "misses"}
               for k in keys.values())


def test_threads_never_get_overlapping_live_blocks(pool):
    errors: list[str] = []
    live: list[np.ndarray] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(200):
            array = pool.empty((int(rng.integers(70_000, 300_000)),), np.uint8)
            array[...] = seed
            with lock:
                live.append(array)
                if len(live) > 16:
                    live.pop(0)
            if not (array == seed).all():
                errors.append(f"thread {seed}: its block was overwritten")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for i, a in enumerate(live):
        for b in live[i + 1:]:
            assert not np.shares_memory(a, b)


def test_numpy_style_shapes_and_sizes_numpy_cannot_hold(pool):
    assert pool.empty(np.int64(100_000), np.uint8).shape == (100_000,)
    assert pool.empty([np.int32(300), 300], np.float32).shape == (300, 300)
    assert pool.empty((), np.float64).shape == ()
    with pytest.raises(ValueError, match="too big"):
        pool.empty((1 << 40, 1 << 40), np.float64)


def test_a_malformed_limit_in_the_environment_warns_and_keeps_the_default():
    import os
    import subprocess
    import sys
    code = ("import datapipe as dp; print(dp.memory.buffer_pool_stats()['limit'] > 0)")
    for value, expected in (("256MB", "True"), ("16", "True"), ("0", "False")):
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "DATAPIPE_BUFFER_POOL_MB": value},
                             check=True)
        assert run.stdout.strip() == expected
        assert ("not a number of MiB" in run.stderr) == (value == "256MB")
