"""Resampling kernels: native and pure-NumPy twins give identical bits (differential),
and both match tf.image.resize (tfdata-marked test)."""

from __future__ import annotations

import importlib
import threading

import numpy as np
import pytest

from datapipe._native import BACKEND, backends

R = importlib.import_module("datapipe.image.resize")  # the module, not the function
BACKENDS = backends("resize")
RNG = np.random.default_rng(7)
SIZES = [(20, 31), (80, 101), (37, 20), (1, 1), (3, 200)]


@pytest.fixture(params=sorted(BACKENDS))
def kernels(request):
    return BACKENDS[request.param]


def _run(module, image, size, method, antialias):
    height, width = image.shape[-3], image.shape[-2]
    if method == "nearest":
        return module.nearest(image, R._nearest_taps(height, size[0]),
                              R._nearest_taps(width, size[1]))
    return module.resample(image, *R._taps(width, size[1], method, antialias),
                           *R._taps(height, size[0], method, antialias),
                           lerp=method == "bilinear" and not antialias)


def _image(shape, dtype):
    values = RNG.random(shape) * 255
    return values.astype(dtype)


def test_native_resize_is_built_unless_pure_is_requested():
    if BACKEND == "native":
        assert "native" in BACKENDS


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64, np.int16])
@pytest.mark.parametrize("shape", [(37, 53, 3), (6, 7, 1), (2, 9, 11, 4), (1, 1, 2),
                                   (5, 6, 5)])
@pytest.mark.parametrize("method", ["bilinear", "nearest", "bicubic", "area", "lanczos3"])
@pytest.mark.parametrize("antialias", [False, True])
def test_native_and_pure_give_identical_bits(shape, dtype, method, antialias):
    if "native" not in BACKENDS:
        pytest.skip("native extension not built")
    image = _image(shape, dtype)
    for size in SIZES:
        native = _run(BACKENDS["native"], image, size, method, antialias)
        pure = _run(BACKENDS["pure"], image, size, method, antialias)
        assert native.dtype == pure.dtype and native.shape == pure.shape
        assert native.flags.c_contiguous
        np.testing.assert_array_equal(native, pure)


def test_kernels_by_hand(kernels):
    image = (np.arange(4, dtype=np.uint8) * 10).reshape(1, 4, 1)
    index = np.array([[0, 1], [2, 3]])
    half = np.full((2, 1), 0.5, np.float32)
    one_row = (np.zeros((1, 2), np.intp), np.zeros((1, 1), np.float32))
    out = kernels.resample(image, index, half, *one_row, lerp=True)
    assert out.dtype == np.float32 and out.shape == (1, 2, 1)
    assert out[0, :, 0].tolist() == [5.0, 25.0]
    # general taps: 3 taps, weights summed in order
    taps = np.array([[0, 1, 2]])
    weights = np.array([[0.25, 0.5, 0.25]], np.float32)
    out = kernels.resample(image, taps, weights, np.zeros((1, 1), np.intp),
                           np.ones((1, 1), np.float32))
    assert out[0, 0, 0] == 10.0
    assert kernels.nearest(image, np.array([0, 0]), np.array([3, 0])).tolist() == \
        [[[30], [0]], [[30], [0]]]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float64, np.bool_, "V3",
                                   "M8[s]"])
def test_nearest_keeps_every_dtype(kernels, dtype):
    base = np.arange(4 * 5 * 3).reshape(4, 5, 3) % 7
    image = base.astype(dtype) if dtype != "V3" else np.zeros((4, 5, 3), "V3")
    rows, cols = np.array([3, 3, 0, 1]), np.array([4, 0, 2])
    out = kernels.nearest(image, rows, cols)
    assert out.dtype == image.dtype
    np.testing.assert_array_equal(out, image[rows][:, cols])


def test_non_contiguous_and_batched_input(kernels):
    image = _image((2, 12, 16, 3), np.uint8)
    view = image[:, ::2, ::-1]  # strided, negative strides
    size = (5, 7)
    got = _run(kernels, view, size, "bilinear", False)
    expected = _run(kernels, np.ascontiguousarray(view), size, "bilinear", False)
    np.testing.assert_array_equal(got, expected)
    for i in range(2):
        np.testing.assert_array_equal(got[i], _run(kernels, view[i], size, "bilinear",
                                                   False))


def test_empty_batch_and_zero_channels(kernels):
    empty = np.zeros((0, 4, 4, 3), np.uint8)
    assert _run(kernels, empty, (2, 2), "bilinear", False).shape == (0, 2, 2, 3)
    assert _run(kernels, empty, (2, 2), "nearest", False).shape == (0, 2, 2, 3)
    no_channels = np.zeros((4, 4, 0), np.float32)
    assert _run(kernels, no_channels, (3, 5), "bicubic", False).shape == (3, 5, 0)


def test_bad_taps_raise_value_error(kernels):
    image = np.zeros((4, 4, 3), np.uint8)
    ok = (np.zeros((2, 2), np.intp), np.zeros((2, 1), np.float32))
    with pytest.raises(ValueError, match="outside the image"):
        kernels.resample(image, np.full((2, 2), 4), ok[1], *ok, lerp=True)
    with pytest.raises(ValueError, match="outside the image"):
        kernels.resample(image, *ok, np.full((2, 2), -1), ok[1], lerp=True)
    with pytest.raises(ValueError, match="2 taps"):
        kernels.resample(image, np.zeros((2, 3), np.intp), ok[1], *ok, lerp=True)
    with pytest.raises(ValueError, match="must hold 6 values"):
        kernels.resample(image, np.zeros((2, 3), np.intp), np.zeros(2, np.float32), *ok)
    with pytest.raises(ValueError, match="rank 3 or 4"):
        kernels.resample(np.zeros((4, 4)), *ok, *ok, lerp=True)
    with pytest.raises(ValueError, match="outside the image"):
        kernels.nearest(image, np.array([4]), np.array([0]))


def test_row_windows_that_are_not_contiguous_still_work(kernels):
    """Taps in any order (not tf's consecutive windows) fall back to a buffer per row."""
    image = _image((6, 5, 2), np.float32)
    rows = np.array([[0, 5], [4, 1], [2, 2]])
    weights = np.array([[0.5, 0.5], [1.0, 2.0], [0.25, 0.75]], np.float32)
    cols = np.array([[4], [0]])
    cols_w = np.ones((2, 1), np.float32)
    out = kernels.resample(image, cols, cols_w, rows, weights)
    expected = np.stack([image[r[0]] * w[0] + image[r[1]] * w[1]
                         for r, w in zip(rows, weights, strict=True)])[:, [4, 0]]
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_resize_runs_in_threads_with_the_same_result():
    image = _image((64, 64, 3), np.uint8)
    expected = R.resize(image, (50, 40))
    results: list = []

    def work():
        results.extend(R.resize(image, (50, 40)) for _ in range(20))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 60
    assert all(np.array_equal(r, expected) for r in results)


@pytest.mark.tfdata
@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("method", ["bilinear", "nearest", "bicubic", "area"])
@pytest.mark.parametrize("antialias", [False, True])
def test_both_backends_match_tf(backend, method, antialias):
    tf = pytest.importorskip("tensorflow", reason="the TensorFlow reference (bench extra)")
    image = _image((2, 37, 53, 3), np.uint8)
    for size in [(20, 31), (80, 101), (224, 224)]:
        ref = tf.image.resize(image, size, method=method, antialias=antialias).numpy()
        got = _run(BACKENDS[backend], image, size, method, antialias)
        assert got.dtype == ref.dtype and got.shape == ref.shape
        tolerance = 0 if method in ("nearest", "bilinear") and not antialias else 3e-3
        if method == "area" and size == (224, 224):
            tolerance = 1e-2  # large upscale: coverage weights' float32 rounding
        np.testing.assert_allclose(got, ref, rtol=0, atol=tolerance)
