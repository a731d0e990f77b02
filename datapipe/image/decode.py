"""Decode encoded images (JPEG, PNG, GIF, BMP) into NumPy arrays, with Pillow.

Names, arguments and output conventions follow ``tf.io.decode_*``: the result is a
``uint8`` (or ``uint16`` for 16-bit PNGs) array of shape ``[height, width, channels]``
(``[frames, height, width, 3]`` for animated GIFs). ``contents`` is ``bytes`` or what a
dataset element holds: a NumPy 0-d ``bytes``/``object`` array or ``np.bytes_``.

Pillow's decoders run in C with the GIL released, so a ``Dataset.map`` with
``num_parallel_calls`` decodes on several cores at once. When a smaller image is
enough, ``decode_jpeg(..., ratio=2|4|8)`` or ``target_size=(h, w)`` lets libjpeg
decode at 1/2, 1/4 or 1/8 scale (Pillow's draft mode), which is several times faster.

Example::

    >>> import io, numpy as np
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.new("RGB", (32, 16), (200, 10, 10)).save(buf, "JPEG")
    >>> decode_jpeg(buf.getvalue()).shape
    (16, 32, 3)
    >>> decode_jpeg(buf.getvalue(), channels=1, ratio=2).shape
    (8, 16, 1)
    >>> decode_image(buf.getvalue(), dtype=np.float32).dtype
    dtype('float32')
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
from PIL import Image, ImageSequence

from datapipe.errors import DataLossError, InvalidArgumentError, InvalidTypeError
from datapipe.image import _turbo
from datapipe.image._util import check_size
from datapipe.image.convert import convert_image_dtype

__all__ = [
    "decode_bmp",
    "decode_gif",
    "decode_image",
    "decode_jpeg",
    "decode_png",
    "image_format",
    "is_jpeg",
]

_SUPPORTED = "JPEG, PNG, GIF, BMP"
_DCT_METHODS = ("", "INTEGER_FAST", "INTEGER_ACCURATE")


def _as_bytes(contents: Any, where: str) -> bytes:
    """The encoded bytes of ``contents`` (bytes-like, np.bytes_ or a 0-d array)."""
    if isinstance(contents, bytes):
        return contents
    if isinstance(contents, np.ndarray):
        if contents.ndim != 0:
            raise InvalidArgumentError(
                f"{where}: contents must be a scalar (0-d) string "
                f"(got an array of shape {contents.shape})")
        contents = contents.item()
    if isinstance(contents, (bytes, bytearray, memoryview)):
        return bytes(contents)
    raise InvalidTypeError(
        f"{where}: contents must be bytes or a 0-d bytes array "
        f"(got {type(contents).__name__})")


def image_format(contents: Any) -> str | None:
    """``"jpeg"``, ``"png"``, ``"gif"``, ``"bmp"`` from the magic bytes, else None."""
    data = _as_bytes(contents, "image_format()")
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:3] == b"GIF":
        return "gif"
    if data[:2] == b"BM":
        return "bmp"
    return None


def is_jpeg(contents: Any) -> bool:
    """Whether ``contents`` starts like a JPEG (as ``tf.io.is_jpeg``)."""
    return image_format(contents) == "jpeg"


def _describe(data: bytes) -> str:
    return f"{len(data)} bytes starting {data[:8]!r}"


def _unknown(where: str, data: bytes, expected: str = _SUPPORTED) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"{where}: unknown image format ({_describe(data)}); expected {expected}")


def _corrupt(where: str, kind: str, data: bytes, exc: BaseException) -> DataLossError:
    return DataLossError(
        f"{where}: corrupt or truncated {kind} data ({_describe(data)}): {exc}")


def _open(data: bytes, kind: str, where: str) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=[kind])
    except Exception as exc:  # Pillow raises UnidentifiedImageError, OSError, SyntaxError
        raise _corrupt(where, kind.upper(), data, exc) from exc


def _load(image: Image.Image, kind: str, data: bytes, where: str) -> None:
    try:
        image.load()
    except Exception as exc:
        raise _corrupt(where, kind, data, exc) from exc


def _check_channels(channels: Any, allowed: tuple[int, ...], where: str) -> int:
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)):
        raise InvalidTypeError(f"{where}: channels must be an int (got {channels!r})")
    if int(channels) not in allowed:
        raise InvalidArgumentError(
            f"{where}: channels must be one of {', '.join(map(str, allowed))} "
            f"(got {channels})")
    return int(channels)


def _to_array(image: Image.Image) -> np.ndarray:
    array = np.array(image)
    return array[:, :, None] if array.ndim == 2 else array


_MODE_OF = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def _convert(image: Image.Image, channels: int) -> Image.Image:
    """``image`` with ``channels`` channels (0: as stored, palette expanded)."""
    mode = image.mode
    if channels == 0:
        if mode == "P":
            return image.convert("RGBA" if "transparency" in image.info else "RGB")
        if mode == "PA":
            return image.convert("RGBA")
        if mode == "1":
            return image.convert("L")
        return image
    target = _MODE_OF[channels]
    if mode == target:
        return image
    if channels in (1, 3) and mode in ("LA", "RGBA", "PA"):
        image = image.convert(mode[:-1] if mode != "PA" else "RGB")  # drop alpha first
        if image.mode == target:
            return image
    return image.convert(target)


def decode_jpeg(contents: Any, channels: int = 0, ratio: int = 1,
                fancy_upscaling: bool = True, try_recover_truncated: bool = False,
                acceptable_fraction: float = 1, dct_method: str = "",
                name: str | None = None, *,
                target_size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode a JPEG into a ``uint8`` array ``[height, width, channels]``.

    ``channels``: 0 as stored (1 or 3), 1 grayscale (libjpeg's own conversion, as
    tf), 3 RGB. ``ratio`` (1, 2, 4, 8) downscales during decoding (output size
    ``ceil(size / ratio)``, as tf). ``target_size=(h, w)`` (datapipe only) picks the
    largest of those ratios whose output is still at least ``h`` x ``w`` — resize
    afterwards to get the exact size.

    ``dct_method`` and ``fancy_upscaling`` mean what they mean in tf: ``""`` (tf's
    default) and ``"INTEGER_FAST"`` use libjpeg's fast integer IDCT,
    ``"INTEGER_ACCURATE"`` the accurate one; ``fancy_upscaling=False`` upsamples
    chroma by replication. Decoded by libjpeg-turbo through ``simplejpeg`` (see
    ``datapipe.image._turbo``), every combination gives tf's exact pixels. Where
    Pillow decodes instead (simplejpeg missing or turned off, CMYK files,
    ``try_recover_truncated``), chroma upsampling follows ``fancy_upscaling`` and the
    IDCT is the one asked for in two cases: accurate with fancy upsampling, fast
    without. Pillow pairs them that way, so tf's default gets the accurate IDCT and
    accurate-without-fancy the fast one, a few levels from tf's pixels.

    ``try_recover_truncated=True`` decodes a truncated file, the missing part
    filled by libjpeg; ``acceptable_fraction`` is validated but not enforced.
    """
    where = "decode_jpeg()"
    data = _as_bytes(contents, where)
    channels = _check_channels(channels, (0, 1, 3), where)
    if isinstance(ratio, bool) or ratio not in (1, 2, 4, 8):
        raise InvalidArgumentError(f"{where}: ratio must be 1, 2, 4 or 8 (got {ratio!r})")
    if dct_method not in _DCT_METHODS:
        raise InvalidArgumentError(
            f"{where}: dct_method must be one of {_DCT_METHODS} (got {dct_method!r})")
    if not 0 <= float(acceptable_fraction) <= 1:
        raise InvalidArgumentError(
            f"{where}: acceptable_fraction must be in [0, 1] (got {acceptable_fraction!r})")
    if target_size is not None:
        if ratio != 1:
            raise InvalidArgumentError(f"{where}: give ratio or target_size, not both")
        target_h, target_w = check_size(target_size, where, "target_size")
    if data[:3] != b"\xff\xd8\xff":
        raise _unknown(where, data, "JPEG")
    if target_size is not None:
        ratio = _ratio_for(data, target_h, target_w)
    fast_dct = dct_method != "INTEGER_ACCURATE"
    if not try_recover_truncated:
        decoded = _turbo.decode(data, channels, ratio, fancy_upscaling, fast_dct)
        if decoded is not None:
            return decoded
    elif not data.endswith(b"\xff\xd9"):
        data += b"\xff\xd9"
    image = _open(data, "JPEG", where)
    width, height = image.size
    request: tuple[int, int] | None = None
    if ratio > 1:
        request = (max(1, width // ratio), max(1, height // ratio))
    mode = "L" if channels == 1 and image.mode == "RGB" else image.mode
    if request is not None or mode != image.mode:
        image.draft(mode, request)
        if ratio > 1:  # tf's libjpeg output size: ceil(size / ratio)
            expected = (math.ceil(width / ratio), math.ceil(height / ratio))
            if image.size != expected:  # image smaller than the ratio: finish by hand
                _load(image, "JPEG", data, where)
                image = image.resize(expected, Image.Resampling.BOX)
    if not fancy_upscaling:
        _replicate_chroma(image)
    _load(image, "JPEG", data, where)
    if image.mode == "CMYK" and channels == 0:
        return _to_array(image)
    return _to_array(_convert(image, channels or (1 if image.mode == "L" else 3)))


def _ratio_for(data: bytes, target_h: int, target_w: int) -> int:
    """The largest ratio (1, 2, 4, 8) whose output is at least ``target_h x target_w``."""
    try:
        width, height = Image.open(io.BytesIO(data), formats=["JPEG"]).size
    except Exception:  # damaged: the decoder that follows names the damage
        return 1
    for ratio in (8, 4, 2):
        if math.ceil(height / ratio) >= target_h and math.ceil(width / ratio) >= target_w:
            return ratio
    return 1


def _replicate_chroma(image: Image.Image) -> None:
    """Ask Pillow's libjpeg for chroma upsampling by replication. Pillow offers it
    only with the fast IDCT, together as its "draft" decoder flag (the last item of
    ``decoderconfig``, ``(scale, draft)``): tf's ``INTEGER_FAST`` +
    ``fancy_upscaling=False`` exactly."""
    scale = image.decoderconfig[0] if image.decoderconfig else 1
    image.decoderconfig = (scale, 1)


def _png_header(data: bytes) -> tuple[int, int]:
    """(bit depth, colour type) from the IHDR chunk."""
    if len(data) < 26:
        return 8, 2
    return data[24], data[25]


def decode_png(contents: Any, channels: int = 0, dtype: Any = np.uint8,
               name: str | None = None) -> np.ndarray:
    """Decode a PNG into a ``uint8`` or ``uint16`` array ``[height, width, channels]``.

    ``channels``: 0 as stored (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA; palettes
    expanded to 3, or 4 with transparency), or 1, 3, 4. 16-bit grayscale PNGs keep
    their 16 bits with ``dtype=np.uint16``; ``uint8`` keeps the high byte, and 8-bit
    images read as ``uint16`` are scaled by 257 (as tf). 16-bit *colour* PNGs are
    reduced to 8 bits by Pillow, so ``dtype=np.uint16`` refuses them.
    """
    where = "decode_png()"
    data = _as_bytes(contents, where)
    channels = _check_channels(channels, (0, 1, 2, 3, 4), where)
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.uint8), np.dtype(np.uint16)):
        raise InvalidArgumentError(f"{where}: dtype must be uint8 or uint16 (got {dtype})")
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise _unknown(where, data, "PNG")
    depth, colour = _png_header(data)
    image = _open(data, "PNG", where)
    _load(image, "PNG", data, where)
    if image.mode.startswith("I"):  # 16-bit grayscale
        gray = np.array(image).astype(np.uint16)[:, :, None]
        if dtype == np.uint8:
            gray = (gray >> 8).astype(np.uint8)
        return _expand_gray(gray, channels, np.iinfo(gray.dtype).max)
    if depth == 16 and dtype == np.uint16:
        raise InvalidArgumentError(
            f"{where}: 16-bit colour PNGs (colour type {colour}) cannot be decoded at "
            f"16 bits with Pillow; use dtype=np.uint8")
    array = _to_array(_convert(image, channels))
    if dtype == np.uint16:
        array = array.astype(np.uint16) * np.uint16(257)
    return array


def _expand_gray(gray: np.ndarray, channels: int, opaque: int) -> np.ndarray:
    if channels in (0, 1):
        return gray
    if channels == 2:
        return np.concatenate([gray, np.full_like(gray, opaque)], axis=2)
    rgb = np.repeat(gray, 3, axis=2)
    if channels == 3:
        return rgb
    return np.concatenate([rgb, np.full_like(gray, opaque)], axis=2)


def decode_gif(contents: Any, name: str | None = None) -> np.ndarray:
    """Decode a (possibly animated) GIF into ``uint8`` ``[frames, height, width, 3]``."""
    where = "decode_gif()"
    data = _as_bytes(contents, where)
    if data[:3] != b"GIF":
        raise _unknown(where, data, "GIF")
    image = _open(data, "GIF", where)
    try:
        frames = [np.array(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)]
    except Exception as exc:
        raise _corrupt(where, "GIF", data, exc) from exc
    return np.stack(frames)


def decode_bmp(contents: Any, channels: int = 0, name: str | None = None) -> np.ndarray:
    """Decode a BMP into ``uint8`` ``[height, width, channels]`` (0 as stored, 1, 3, 4)."""
    where = "decode_bmp()"
    data = _as_bytes(contents, where)
    channels = _check_channels(channels, (0, 1, 3, 4), where)
    if data[:2] != b"BM":
        raise _unknown(where, data, "BMP")
    image = _open(data, "BMP", where)
    _load(image, "BMP", data, where)
    return _to_array(_convert(image, channels))


def decode_image(contents: Any, channels: int | None = None, dtype: Any = np.uint8,
                 name: str | None = None, expand_animations: bool = True) -> np.ndarray:
    """Decode JPEG, PNG, GIF or BMP, chosen by the magic bytes (as ``tf.io.decode_image``).

    Returns ``[height, width, channels]``, or ``[frames, height, width, 3]`` for a GIF
    when ``expand_animations`` (else its first frame). ``dtype`` uint8, uint16 or a
    float type; values are scaled with :func:`convert_image_dtype` (16-bit PNGs keep
    their precision).
    """
    where = "decode_image()"
    data = _as_bytes(contents, where)
    channels = 0 if channels is None else _check_channels(channels, (0, 1, 3, 4), where)
    dtype = np.dtype(dtype)
    if dtype.kind not in "uf" or (dtype not in (np.uint8, np.uint16) and dtype.kind != "f"):
        raise InvalidArgumentError(
            f"{where}: dtype must be uint8, uint16 or a float type (got {dtype})")
    kind = image_format(data)
    if kind == "png":
        array = decode_png(data, channels, np.uint16 if dtype == np.uint16 else np.uint8)
        return convert_image_dtype(array, dtype) if dtype.kind == "f" else array
    if kind == "jpeg":
        if channels == 4:
            raise InvalidArgumentError(
                f"{where}: channels must be 0, 1 or 3 for JPEG images (got 4)")
        array = decode_jpeg(data, channels)
    elif kind == "gif":
        if channels not in (0, 3):
            raise InvalidArgumentError(
                f"{where}: channels must be 0 or 3 for GIF images (got {channels})")
        array = decode_gif(data)
        if not expand_animations:
            array = array[0]
    elif kind == "bmp":
        array = decode_bmp(data, channels)
    else:
        raise _unknown(where, data)
    return array if dtype == np.uint8 else convert_image_dtype(array, dtype)
