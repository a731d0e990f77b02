"""JPEG decoding through libjpeg-turbo's TurboJPEG API (the ``simplejpeg`` package).

``decode_jpeg`` uses this path when ``simplejpeg`` is installed (it is a dependency;
``DATAPIPE_JPEG_DECODER=pillow`` turns it off) and the file is a plain YCbCr or
grayscale JPEG; everything else — CMYK, tiny images decoded at a reduced scale,
images over Pillow's ``MAX_IMAGE_PIXELS`` (its decompression-bomb guard),
``try_recover_truncated``, truncated files and any file TurboJPEG rejects — goes to
Pillow, which also writes the error messages for damaged files.

Why: TurboJPEG decodes straight into the output array (here a recycled block from
``datapipe._native.bufpool``), where Pillow decodes into its own 4-byte-per-pixel
image and copies out twice; and it honours both of tf's knobs, so every
``dct_method`` / ``fancy_upscaling`` / ``ratio`` combination gives tf's exact pixels
(tf's default is the fast integer IDCT with fancy upsampling, which Pillow cannot
select). On a 256x256 photo-like JPEG it takes about half Pillow's time.

Example::

    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.new("RGB", (32, 16), (200, 10, 10)).save(buf, "JPEG")
    >>> image = decode(buf.getvalue(), channels=3, ratio=1, fancy_upscaling=True,
    ...                fast_dct=True)
    >>> image is None or image.shape == (16, 32, 3)  # None: Pillow's turn
    True
"""

from __future__ import annotations

import math
import os

import numpy as np
from PIL import Image

from datapipe._native import bufpool

try:
    import simplejpeg as _simplejpeg
except ImportError:  # pragma: no cover - simplejpeg is a dependency; Pillow remains
    _simplejpeg = None

__all__ = ["AVAILABLE", "decode"]

#: Whether this path is in use (simplejpeg importable and not turned off).
AVAILABLE = (_simplejpeg is not None
             and os.environ.get("DATAPIPE_JPEG_DECODER", "").strip().lower() != "pillow")

# Below this many pixels on a side a reduced scale may tie with a smaller one (both
# round up to the same size), and TurboJPEG would pick the smaller: Pillow decides.
_MIN_SCALED_SIDE = 16


def decode(data: bytes, channels: int, ratio: int, fancy_upscaling: bool,
           fast_dct: bool) -> np.ndarray | None:
    """``[h, w, c]`` uint8 decoded by TurboJPEG, or None when Pillow must do it.

    ``channels`` 0 (as stored), 1 or 3; ``ratio`` 1, 2, 4 or 8 (output
    ``ceil(size / ratio)``, as tf).
    """
    if not AVAILABLE:
        return None
    try:
        height, width, colorspace, _ = _simplejpeg.decode_jpeg_header(data)
    except ValueError:
        return None
    if colorspace not in ("YCbCr", "Gray"):
        return None
    if Image.MAX_IMAGE_PIXELS and height * width > Image.MAX_IMAGE_PIXELS:
        return None  # Pillow's decompression-bomb rule decides, before any allocation
    if ratio > 1 and min(height, width) < _MIN_SCALED_SIDE:
        return None
    if channels == 0:
        channels = 1 if colorspace == "Gray" else 3
    out_h, out_w = math.ceil(height / ratio), math.ceil(width / ratio)
    out = bufpool.empty((out_h, out_w, channels), np.uint8)
    # min_height/min_width pick TurboJPEG's scaling factor 1/ratio: the smallest
    # output at least that large (exactly that large for sides >= 16).
    options = dict(fastdct=fast_dct, fastupsample=not fancy_upscaling, min_height=out_h,
                   min_width=out_w, buffer=out)
    colours = "GRAY" if channels == 1 else "RGB"
    try:
        return _simplejpeg.decode_jpeg(data, colours, **options)
    except ValueError:
        pass
    # libjpeg warned. A file that ends without its end-of-image marker is truncated:
    # Pillow names that (as tf refuses it). Other warnings ("extraneous bytes before
    # marker", common in camera files) are decoded anyway, as tf and Pillow do.
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return None
    try:
        return _simplejpeg.decode_jpeg(data, colours, strict=False, **options)
    except ValueError:
        return None  # damaged beyond a warning: Pillow decodes it or names the damage
