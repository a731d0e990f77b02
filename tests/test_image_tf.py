"""datapipe.image against TensorFlow's own ops (run with the tf venv's pytest)."""

from __future__ import annotations

import numpy as np
import pytest
from image_samples import encode, smooth
from PIL import Image

import datapipe.image as dpi
from datapipe.image import _turbo
from datapipe.image.resize import METHODS

tf = pytest.importorskip("tensorflow", reason="the TensorFlow reference (bench extra)")
pytestmark = pytest.mark.tfdata

RNG = np.random.default_rng(0)
NOISE = RNG.integers(0, 256, (2, 37, 53, 3)).astype(np.uint8)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("size", [(20, 31), (80, 101), (37, 20)])
def test_resize_matches_tf(method, antialias, size):
    ref = tf.image.resize(NOISE, size, method=method, antialias=antialias).numpy()
    got = dpi.resize(NOISE, size, method=method, antialias=antialias)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    tolerance = 0 if method in ("nearest", "bilinear") and not antialias else 3e-3
    np.testing.assert_allclose(got, ref, rtol=0, atol=tolerance)


def test_resize_preserve_aspect_ratio_matches_tf():
    for size in [(20, 20), (100, 90), (7, 200)]:
        ref = tf.image.resize(NOISE[0], size, preserve_aspect_ratio=True).numpy()
        np.testing.assert_allclose(dpi.resize(NOISE[0], size, preserve_aspect_ratio=True),
                                   ref, atol=1e-4)


def _jpegs():
    image = Image.fromarray(smooth(50, 70))
    subsampled = [encode(image, "JPEG", quality=85, subsampling=s) for s in (0, 1, 2)]
    return [encode(smooth(45, 61), "JPEG", quality=90),
            encode(smooth(30, 17, 1), "JPEG", quality=80),  # grayscale
            encode(image, "JPEG", quality=85, progressive=True), *subsampled]


DECODE_SETTINGS = [(dct, fancy) for dct in ("", "INTEGER_FAST", "INTEGER_ACCURATE")
                   for fancy in (True, False)]


@pytest.mark.skipif(not _turbo.AVAILABLE, reason="simplejpeg is not installed")
@pytest.mark.parametrize("channels", [0, 1, 3])
@pytest.mark.parametrize("ratio", [1, 2, 4, 8])
@pytest.mark.parametrize(("dct_method", "fancy_upscaling"), DECODE_SETTINGS)
def test_decode_jpeg_is_bit_identical_to_tf(channels, ratio, dct_method, fancy_upscaling):
    for data in _jpegs():
        kwargs = dict(channels=channels, ratio=ratio, dct_method=dct_method,
                      fancy_upscaling=fancy_upscaling)
        ref = tf.io.decode_jpeg(data, **kwargs).numpy()
        np.testing.assert_array_equal(dpi.decode_jpeg(data, **kwargs), ref)


@pytest.mark.parametrize("channels", [0, 1, 3])
@pytest.mark.parametrize("ratio", [1, 2, 4, 8])
@pytest.mark.parametrize(("dct_method", "fancy_upscaling"), DECODE_SETTINGS)
def test_decode_jpeg_with_pillow_matches_tf(monkeypatch, channels, ratio, dct_method,
                                            fancy_upscaling):
    """Pillow's decoder: exact where libjpeg gets tf's settings, else a few levels
    (Pillow pairs the accurate IDCT with fancy upsampling, the fast one without)."""
    monkeypatch.setattr(_turbo, "AVAILABLE", False)
    exact = (dct_method == "INTEGER_ACCURATE") == fancy_upscaling
    for data in _jpegs():
        kwargs = dict(channels=channels, ratio=ratio, dct_method=dct_method,
                      fancy_upscaling=fancy_upscaling)
        ref = tf.io.decode_jpeg(data, **kwargs).numpy().astype(int)
        got = dpi.decode_jpeg(data, **kwargs).astype(int)
        assert got.shape == ref.shape
        assert np.abs(got - ref).max() <= (0 if exact else 8)


def _pngs():
    rgba = smooth(9, 11, 4)
    palette = Image.fromarray(rgba[:, :, :3]).convert("P", palette=Image.Palette.ADAPTIVE)
    return {
        "L": encode(rgba[:, :, :1], "PNG"),
        "LA": encode(Image.fromarray(rgba[:, :, :2], "LA"), "PNG"),
        "RGB": encode(rgba[:, :, :3], "PNG"),
        "RGBA": encode(rgba, "PNG"),
        "P": encode(palette, "PNG"),
        "P+tRNS": encode(palette, "PNG", transparency=0),
        "I16": encode(Image.fromarray((np.arange(99, dtype=np.uint16) * 661).reshape(9, 11)),
                      "PNG"),
    }


@pytest.mark.parametrize("kind", list(_pngs()))
@pytest.mark.parametrize("channels", [0, 1, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_decode_png_matches_tf(kind, channels, dtype):
    data = _pngs()[kind]
    ref = tf.io.decode_png(data, channels=channels, dtype=tf.as_dtype(dtype)).numpy()
    got = dpi.decode_png(data, channels=channels, dtype=dtype)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    # colour -> gray: libpng's and Pillow's luma weights round differently (<= 1 level)
    tolerance = 0 if channels != 1 or kind in ("L", "LA", "I16") else (1 if dtype == np.uint8
                                                                     else 257)
    np.testing.assert_allclose(got.astype(int), ref.astype(int), atol=tolerance, rtol=0)


def test_decode_gif_and_bmp_match_tf():
    frames = [Image.fromarray(smooth(6, 8, seed=s)).convert("P") for s in range(3)]
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    np.testing.assert_array_equal(dpi.decode_gif(gif), tf.io.decode_gif(gif).numpy())
    bmp = encode(smooth(5, 7), "BMP")
    np.testing.assert_array_equal(dpi.decode_bmp(bmp), tf.io.decode_bmp(bmp).numpy())
    for data in (gif, bmp, encode(smooth(5, 7), "PNG")):
        for dtype in (np.uint8, np.float32):
            np.testing.assert_allclose(dpi.decode_image(data, dtype=dtype),
                                       tf.io.decode_image(data, dtype=dtype).numpy())


@pytest.mark.parametrize("source", [np.uint8, np.uint16, np.int8, np.int32, np.float32,
                                    np.float64])
@pytest.mark.parametrize("target", [np.uint8, np.uint16, np.int16, np.int32, np.float16,
                                    np.float32, np.float64])
@pytest.mark.parametrize("saturate", [False, True])
def test_convert_image_dtype_matches_tf(source, target, saturate):
    if np.dtype(source).kind == "f":
        values = np.linspace(0, 1, 101).astype(source)
    else:
        info = np.iinfo(source)
        values = np.linspace(max(info.min, -1000), info.max, 101).astype(source)
    ref = tf.image.convert_image_dtype(values, target, saturate=saturate).numpy()
    got = dpi.convert_image_dtype(values, target, saturate=saturate)
    assert got.dtype == ref.dtype
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("fraction", [0.1, 0.33, 0.5, 0.875, 0.9, 1.0])
def test_central_crop_matches_tf(fraction):
    for image in (NOISE[0], NOISE):
        np.testing.assert_array_equal(dpi.central_crop(image, fraction),
                                      tf.image.central_crop(image, fraction).numpy())


def test_flips_match_tf():
    np.testing.assert_array_equal(dpi.flip_left_right(NOISE),
                                  tf.image.flip_left_right(NOISE).numpy())
    np.testing.assert_array_equal(dpi.flip_up_down(NOISE), tf.image.flip_up_down(NOISE).numpy())
