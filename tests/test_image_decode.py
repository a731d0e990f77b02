"""datapipe.image decoders: shapes, dtypes, channel conversions, draft mode, errors."""

from __future__ import annotations

import numpy as np
import pytest
from image_samples import encode, png16_rgb, smooth
from PIL import Image

import datapipe as dp
from datapipe.errors import DataLossError, InvalidArgumentError, InvalidTypeError
from datapipe.image import (
    _turbo,
    decode_bmp,
    decode_gif,
    decode_image,
    decode_jpeg,
    decode_png,
    image_format,
    is_jpeg,
)

RGB = smooth(30, 40)
JPEG = encode(RGB, "JPEG", quality=95)


def test_decode_jpeg_rgb_shape_dtype_and_close_to_source():
    out = decode_jpeg(JPEG)
    assert out.shape == (30, 40, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - RGB).mean() < 3


def test_decode_jpeg_accepts_dataset_element_forms():
    """bytes, np.bytes_, 0-d object and 0-d bytes arrays all decode alike."""
    expected = decode_jpeg(JPEG)
    for form in (np.bytes_(JPEG), np.array(JPEG, dtype=object), np.array(JPEG),
                 bytearray(JPEG), memoryview(JPEG)):
        np.testing.assert_array_equal(decode_jpeg(form), expected)


def test_decode_jpeg_channels():
    assert decode_jpeg(JPEG, channels=1).shape == (30, 40, 1)
    assert decode_jpeg(JPEG, channels=3).shape == (30, 40, 3)
    gray = encode(smooth(30, 40, 1), "JPEG")
    assert decode_jpeg(gray).shape == (30, 40, 1)
    rgb = decode_jpeg(gray, channels=3)
    assert rgb.shape == (30, 40, 3)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])


@pytest.mark.parametrize(("ratio", "shape"), [(2, (15, 20)), (4, (8, 10)), (8, (4, 5))])
def test_decode_jpeg_ratio_gives_ceil_of_size_over_ratio(ratio, shape):
    assert decode_jpeg(JPEG, ratio=ratio).shape[:2] == shape


def test_decode_jpeg_target_size_uses_the_largest_scale_still_big_enough():
    big = encode(smooth(256, 256), "JPEG")
    assert decode_jpeg(big, target_size=(100, 120)).shape == (128, 128, 3)
    assert decode_jpeg(big, target_size=(64, 60)).shape == (64, 64, 3)
    assert decode_jpeg(big, target_size=(20, 20)).shape == (32, 32, 3)
    assert decode_jpeg(big, target_size=(200, 20)).shape == (256, 256, 3)


def test_decode_jpeg_draft_is_close_to_full_decode_downscaled():
    big = encode(smooth(256, 256), "JPEG", quality=95)
    full = decode_jpeg(big).astype(np.float32)
    reduced = full.reshape(64, 4, 64, 4, 3).mean((1, 3))
    assert np.abs(decode_jpeg(big, ratio=4) - reduced).mean() < 4


def test_decode_jpeg_bad_arguments():
    with pytest.raises(InvalidArgumentError, match=r"channels must be one of 0, 1, 3 \(got 4\)"):
        decode_jpeg(JPEG, channels=4)
    with pytest.raises(InvalidArgumentError, match="ratio must be 1, 2, 4 or 8"):
        decode_jpeg(JPEG, ratio=3)
    with pytest.raises(InvalidArgumentError, match="dct_method"):
        decode_jpeg(JPEG, dct_method="FLOAT")
    with pytest.raises(InvalidArgumentError, match="not both"):
        decode_jpeg(JPEG, ratio=2, target_size=(4, 4))
    with pytest.raises(InvalidArgumentError, match="target_size must be positive"):
        decode_jpeg(JPEG, target_size=(0, 4))
    with pytest.raises(InvalidTypeError, match="contents must be bytes"):
        decode_jpeg(123)
    with pytest.raises(InvalidArgumentError, match="0-d"):
        decode_jpeg(np.array([JPEG, JPEG]))


def test_decode_jpeg_truncated_raises_data_loss_naming_the_bytes():
    with pytest.raises(DataLossError, match=r"corrupt or truncated JPEG data \(\d+ bytes"):
        decode_jpeg(JPEG[: len(JPEG) // 2])


def test_decode_jpeg_try_recover_truncated_returns_the_full_size():
    out = decode_jpeg(JPEG[: len(JPEG) * 3 // 4], try_recover_truncated=True)
    assert out.shape == (30, 40, 3)


def test_decode_jpeg_garbage_after_magic_raises_data_loss():
    with pytest.raises(DataLossError):
        decode_jpeg(b"\xff\xd8\xff" + b"\x00" * 50)


def test_decode_jpeg_of_png_names_the_expected_format():
    with pytest.raises(InvalidArgumentError, match=r"unknown image format .*expected JPEG"):
        decode_jpeg(encode(RGB, "PNG"))


@pytest.mark.parametrize(("mode", "channels"), [("L", 1), ("LA", 2), ("RGB", 3),
                                                ("RGBA", 4)])
def test_decode_png_is_lossless_per_mode(mode, channels):
    array = smooth(9, 11, 4)[:, :, :channels] if channels != 2 else \
        smooth(9, 11, 4)[:, :, 1:3]
    image = Image.fromarray(array[:, :, 0] if channels == 1 else array, mode)
    out = decode_png(encode(image, "PNG"))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, array.reshape(9, 11, channels))


def test_decode_png_channel_conversions():
    rgba = smooth(5, 6, 4)
    data = encode(Image.fromarray(rgba, "RGBA"), "PNG")
    np.testing.assert_array_equal(decode_png(data, channels=3), rgba[:, :, :3])
    assert decode_png(data, channels=1).shape == (5, 6, 1)
    gray = smooth(5, 6, 1)
    data = encode(gray, "PNG")
    out = decode_png(data, channels=4)
    np.testing.assert_array_equal(out[:, :, :3], np.repeat(gray, 3, 2))
    assert (out[:, :, 3] == 255).all()


def test_decode_png_palette_expands_to_rgb_or_rgba():
    image = Image.fromarray(smooth(6, 7)).convert("P", palette=Image.Palette.ADAPTIVE)
    assert decode_png(encode(image, "PNG")).shape == (6, 7, 3)
    image.info["transparency"] = 0
    assert decode_png(encode(image, "PNG", transparency=0)).shape == (6, 7, 4)


def test_decode_png_16_bit_grayscale():
    values = (np.arange(12, dtype=np.uint16) * 5000).reshape(3, 4)
    data = encode(Image.fromarray(values), "PNG")
    out = decode_png(data, dtype=np.uint16)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out[:, :, 0], values)
    np.testing.assert_array_equal(decode_png(data)[:, :, 0], (values >> 8).astype(np.uint8))
    np.testing.assert_array_equal(decode_png(data, channels=3, dtype=np.uint16)[:, :, 2],
                                  values)


def test_decode_png_8_bit_as_uint16_scales_by_257():
    data = encode(smooth(4, 4), "PNG")
    np.testing.assert_array_equal(decode_png(data, dtype=np.uint16),
                                  decode_png(data).astype(np.uint16) * 257)


def test_decode_png_16_bit_colour_refuses_uint16_and_reads_as_uint8():
    data = png16_rgb((np.arange(2 * 3 * 3, dtype=np.uint16) * 3000).reshape(2, 3, 3))
    with pytest.raises(InvalidArgumentError, match="16-bit colour PNG"):
        decode_png(data, dtype=np.uint16)
    assert decode_png(data).shape == (2, 3, 3)


def test_decode_png_bad_arguments_and_corrupt_data():
    data = encode(smooth(4, 4), "PNG")
    with pytest.raises(InvalidArgumentError, match="dtype must be uint8 or uint16"):
        decode_png(data, dtype=np.float32)
    with pytest.raises(InvalidArgumentError, match="channels must be one of"):
        decode_png(data, channels=5)
    with pytest.raises(DataLossError, match="PNG"):
        decode_png(data[:40])


def test_decode_gif_animated_and_first_frame():
    frames = [Image.fromarray(smooth(6, 8, seed=s)).convert("P") for s in range(3)]
    buf = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    out = decode_gif(buf)
    assert out.shape == (3, 6, 8, 3) and out.dtype == np.uint8
    assert decode_image(buf).shape == (3, 6, 8, 3)
    np.testing.assert_array_equal(decode_image(buf, expand_animations=False), out[0])
    with pytest.raises(InvalidArgumentError, match="0 or 3 for GIF"):
        decode_image(buf, channels=1)


def test_decode_bmp():
    array = smooth(5, 7)
    np.testing.assert_array_equal(decode_bmp(encode(array, "BMP")), array)
    assert decode_bmp(encode(array, "BMP"), channels=1).shape == (5, 7, 1)


def test_decode_image_dispatches_on_magic_bytes():
    assert image_format(JPEG) == "jpeg" and is_jpeg(JPEG)
    assert image_format(encode(RGB, "PNG")) == "png" and not is_jpeg(encode(RGB, "PNG"))
    assert image_format(b"nonsense") is None
    np.testing.assert_array_equal(decode_image(JPEG), decode_jpeg(JPEG))
    np.testing.assert_array_equal(decode_image(encode(RGB, "PNG")), RGB)
    np.testing.assert_array_equal(decode_image(encode(RGB, "BMP")), RGB)


def test_decode_image_dtype_scaling():
    png = encode(RGB, "PNG")
    as_float = decode_image(png, dtype=np.float32)
    assert as_float.dtype == np.float32
    np.testing.assert_allclose(as_float, RGB / 255.0, atol=1e-6)
    np.testing.assert_array_equal(decode_image(png, dtype=np.uint16),
                                  RGB.astype(np.uint16) * 257)
    np.testing.assert_array_equal(decode_image(JPEG, dtype=np.uint16),
                                  decode_jpeg(JPEG).astype(np.uint16) * 256)  # convert_image_dtype


def test_decode_image_unknown_format_lists_supported_ones():
    with pytest.raises(InvalidArgumentError,
                       match=r"unknown image format \(8 bytes starting b'nonsense'\); "
                             r"expected JPEG, PNG, GIF, BMP"):
        decode_image(b"nonsense")
    with pytest.raises(InvalidArgumentError, match="dtype must be"):
        decode_image(JPEG, dtype=np.int32)
    with pytest.raises(InvalidArgumentError, match="0, 1 or 3 for JPEG"):
        decode_image(JPEG, channels=4)


def test_decode_in_a_parallel_dataset_map():
    """Encoded bytes elements decode inside a parallel map, in order."""
    images = [smooth(8, 8, seed=s) for s in range(6)]
    encoded = [encode(a, "PNG") for a in images]
    ds = dp.Dataset.from_tensor_slices(encoded).map(
        lambda b: decode_image(b, channels=3), num_parallel_calls=2).batch(3)
    batches = list(ds.as_numpy_iterator())
    assert [b.shape for b in batches] == [(3, 8, 8, 3)] * 2
    np.testing.assert_array_equal(np.concatenate(batches), np.stack(images))


# ---- the two JPEG decoders: TurboJPEG (simplejpeg) and Pillow -----------------------

turbo_only = pytest.mark.skipif(not _turbo.AVAILABLE, reason="simplejpeg is not installed")


def _jpeg_variants():
    image = Image.fromarray(smooth(50, 70))
    return {
        "420": encode(image, "JPEG", quality=85),
        "422": encode(image, "JPEG", quality=85, subsampling=1),
        "444": encode(image, "JPEG", quality=85, subsampling=0),
        "progressive": encode(image, "JPEG", quality=85, progressive=True),
        "gray": encode(smooth(30, 17, 1), "JPEG", quality=80),
        "odd": encode(smooth(45, 61), "JPEG", quality=90),
    }


@turbo_only
@pytest.mark.parametrize("kind", list(_jpeg_variants()))
@pytest.mark.parametrize("channels", [0, 1, 3])
@pytest.mark.parametrize("ratio", [1, 2, 8])
@pytest.mark.parametrize(("dct_method", "fancy"),
                         [("INTEGER_ACCURATE", True), ("", False), ("INTEGER_FAST", False)])
def test_turbo_and_pillow_give_the_same_pixels_where_both_follow_tf(
        monkeypatch, kind, channels, ratio, dct_method, fancy):
    data = _jpeg_variants()[kind]
    kwargs = dict(channels=channels, ratio=ratio, dct_method=dct_method,
                  fancy_upscaling=fancy)
    turbo = decode_jpeg(data, **kwargs)
    monkeypatch.setattr(_turbo, "AVAILABLE", False)
    np.testing.assert_array_equal(turbo, decode_jpeg(data, **kwargs))


@turbo_only
def test_tf_default_fast_dct_differs_from_the_accurate_one_by_a_few_levels():
    data = _jpeg_variants()["odd"]
    fast = decode_jpeg(data).astype(int)
    accurate = decode_jpeg(data, dct_method="INTEGER_ACCURATE").astype(int)
    assert 0 < np.abs(fast - accurate).max() <= 8


@turbo_only
def test_turbo_decodes_into_a_pooled_block():
    if dp._native.BACKEND != "native":
        pytest.skip("the pure core does not pool")
    out = decode_jpeg(encode(smooth(256, 256), "JPEG", quality=90))
    owner = out
    while isinstance(owner, np.ndarray):
        owner = owner.base
    assert isinstance(owner, dp._native.bufpool.PooledBlock)
    assert out.shape == (256, 256, 3) and out.flags.writeable


def test_cmyk_jpeg_is_decoded_by_pillow():
    cmyk = Image.fromarray(smooth(20, 24, 4), "CMYK")
    data = encode(cmyk, "JPEG", quality=90)
    assert decode_jpeg(data).shape == (20, 24, 4)
    assert decode_jpeg(data, channels=3).shape == (20, 24, 3)


def test_tiny_image_at_a_reduced_scale_keeps_tf_size():
    data = encode(smooth(9, 5), "JPEG", quality=90)
    assert decode_jpeg(data, ratio=2).shape == (5, 3, 3)
    assert decode_jpeg(data, ratio=8).shape == (2, 1, 3)


def test_corrupt_scan_data_is_named_by_either_decoder(monkeypatch):
    data = bytearray(_jpeg_variants()["444"])
    data[len(data) // 2:len(data) // 2 + 40] = b"\xff\x00" * 20
    data = bytes(data[:len(data) * 3 // 4])
    for available in (True, False):
        monkeypatch.setattr(_turbo, "AVAILABLE", available and _turbo._simplejpeg is not None)
        with pytest.raises(DataLossError, match="corrupt or truncated JPEG"):
            decode_jpeg(data)


def test_decoder_can_be_switched_to_pillow_by_environment():
    import os
    import subprocess
    import sys
    env = {**os.environ, "DATAPIPE_JPEG_DECODER": "pillow"}
    code = "import datapipe.image._turbo as t; print(t.AVAILABLE)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_header_claiming_a_huge_image_is_refused_before_any_allocation():
    """Pillow's decompression-bomb rule applies on the TurboJPEG path too: the
    buffer is sized from the header, so the header is checked first."""
    data = bytearray(encode(smooth(64, 64), "JPEG", quality=90))
    sof = data.index(b"\xff\xc0")  # marker, length (2), precision (1), height, width
    data[sof + 5:sof + 9] = (65000).to_bytes(2, "big") * 2
    with pytest.raises(DataLossError, match=r"decompression bomb|exceeds limit"):
        decode_jpeg(bytes(data))


@turbo_only
def test_a_libjpeg_warning_keeps_tf_default_pixels():
    """"Extraneous bytes before marker" (common in camera files) is a warning: the
    image decodes with the fast IDCT, as tf's default, not via Pillow's fallback."""
    clean = encode(smooth(64, 64), "JPEG", quality=90)
    warned = clean[:-2] + b"\x00\x00\x00" + clean[-2:]
    np.testing.assert_array_equal(decode_jpeg(warned), decode_jpeg(clean))
