# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Image resampling kernels: separable, fused, GIL released.

``datapipe.image.resize`` computes, per axis, which input pixels ("taps") each output
pixel reads and with which float32 weights (tf's sample positions and kernels); these
kernels apply them. Both passes run in one loop nest with the GIL released:

- ``resample(images, col_index, col_weight, row_index, row_weight, lerp=False)``:
  for every output row, the input rows it reads are interpolated along the width
  (each input row once, kept in a small ring of row buffers), then combined along the
  height. ``lerp=True`` is tf's 2-tap bilinear form ``a + (b - a) * t`` (``index``
  ``[out, 2]``, ``weight`` ``[out]`` or ``[out, 1]`` holding ``t``); otherwise each
  output is ``w0 * x0 + w1 * x1 + ...`` summed in tap order (``index`` and ``weight``
  ``[out, K]``). Width first, then height, every product and sum in float32 in the
  same order as the NumPy twin — so the results are bit-identical to it (and, for
  bilinear, to ``tf.image.resize``). ``uint8`` and ``float32`` images are read
  directly; other real dtypes are converted to float32 first. Returns float32.
- ``nearest(images, rows, cols)``: ``images[..., rows, :, :][..., cols, :]`` for any
  dtype (pixels copied as bytes), the dtype kept.

``images`` is ``[H, W, C]`` or ``[N, H, W, C]`` (any channel count). Bad tap arrays
(wrong shapes, indices outside the image) raise ``ValueError``.

The pure-Python twin is ``datapipe/_native/fallback/resize.py`` (same names, same
results; tests/test_native_resize.py runs both).

Example::

    >>> import numpy as np
    >>> image = (np.arange(4, dtype=np.uint8) * 10).reshape(1, 4, 1)
    >>> index = np.array([[0, 1], [2, 3]]); weight = np.full((2, 1), 0.5, np.float32)
    >>> same = np.zeros((1, 2), np.intp); ones = np.zeros((1, 1), np.float32)
    >>> resample(image, index, weight, same, ones, lerp=True)[0, :, 0].tolist()
    [5.0, 25.0]
    >>> nearest(image, np.array([0]), np.array([3, 0]))[0, :, 0].tolist()
    [30, 0]
"""

from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

import numpy as np

from datapipe._native._bufpool import empty as _pooled_empty

__all__ = ["nearest", "resample"]

ctypedef fused pixel_t:
    unsigned char
    float

cdef object _uint8 = np.dtype(np.uint8)
cdef object _float32 = np.dtype(np.float32)


cdef inline void _lerp_row(const float* src, float* dst, const Py_ssize_t* offset,
                           const float* weight, Py_ssize_t out_w,
                           Py_ssize_t channels) noexcept nogil:
    """Bilinear along the width: ``a + (b - a) * t`` per output pixel and channel.
    Called with literal channel counts so the compiler unrolls the inner loop."""
    cdef Py_ssize_t x, c
    cdef const float* lo
    cdef const float* hi
    cdef float t
    for x in range(out_w):
        lo = src + offset[2 * x]
        hi = src + offset[2 * x + 1]
        t = weight[x]
        for c in range(channels):
            dst[c] = lo[c] + (hi[c] - lo[c]) * t
        dst += channels


cdef inline void _sum_row(const float* src, float* dst, const Py_ssize_t* offset,
                          const float* weight, Py_ssize_t out_w, Py_ssize_t taps,
                          Py_ssize_t channels) noexcept nogil:
    """Weighted taps along the width, summed in tap order."""
    cdef Py_ssize_t x, c, k
    cdef const float* first
    cdef float w, acc
    for x in range(out_w):
        first = src + offset[x * taps]
        w = weight[x * taps]
        for c in range(channels):
            dst[c] = first[c] * w
        for k in range(1, taps):
            first = src + offset[x * taps + k]
            w = weight[x * taps + k]
            for c in range(channels):
                dst[c] = dst[c] + first[c] * w
        dst += channels


cdef inline void _width_pass(const pixel_t* src, float* dst, float* scratch,
                             Py_ssize_t items, const Py_ssize_t* offset,
                             const float* weight, Py_ssize_t out_w, Py_ssize_t taps,
                             Py_ssize_t channels, bint lerp) noexcept nogil:
    """One input row (``src``, ``items = W * C`` values) -> ``dst`` (``out_w * C``
    floats). A uint8 row is first widened into ``scratch`` (one vectorised loop)."""
    cdef Py_ssize_t i
    cdef const float* row
    if pixel_t is float:
        row = src
    else:
        for i in range(items):
            scratch[i] = <float>src[i]
        row = scratch
    if lerp:
        if channels == 3:
            _lerp_row(row, dst, offset, weight, out_w, 3)
        elif channels == 1:
            _lerp_row(row, dst, offset, weight, out_w, 1)
        elif channels == 4:
            _lerp_row(row, dst, offset, weight, out_w, 4)
        else:
            _lerp_row(row, dst, offset, weight, out_w, channels)
    elif channels == 3:
        _sum_row(row, dst, offset, weight, out_w, taps, 3)
    elif channels == 1:
        _sum_row(row, dst, offset, weight, out_w, taps, 1)
    else:
        _sum_row(row, dst, offset, weight, out_w, taps, channels)


cdef void _resample(const pixel_t* src, float* out, Py_ssize_t images, Py_ssize_t height,
                    Py_ssize_t width, Py_ssize_t channels, const Py_ssize_t* col_offset,
                    const float* col_weight, Py_ssize_t out_w, Py_ssize_t col_taps,
                    const Py_ssize_t* row_index, const float* row_weight,
                    Py_ssize_t out_h, Py_ssize_t row_taps, float* rows,
                    Py_ssize_t* held, Py_ssize_t slots, float* scratch,
                    bint lerp) noexcept nogil:
    """Both passes; ``rows`` holds ``slots`` width-interpolated rows (``held``: which)."""
    cdef Py_ssize_t n, y, k, j, r, s, row_items = out_w * channels
    cdef const pixel_t* image
    cdef float* dst
    cdef float* a
    cdef float* b
    cdef float t, w
    for n in range(images):
        image = src + n * height * width * channels
        for s in range(slots):
            held[s] = -1
        for y in range(out_h):
            for k in range(row_taps):
                r = row_index[y * row_taps + k]
                s = r % slots
                if held[s] != r:
                    _width_pass(image + r * width * channels, rows + s * row_items,
                                scratch, width * channels, col_offset, col_weight, out_w,
                                col_taps, channels, lerp)
                    held[s] = r
            dst = out + (n * out_h + y) * row_items
            if lerp:
                a = rows + (row_index[2 * y] % slots) * row_items
                b = rows + (row_index[2 * y + 1] % slots) * row_items
                t = row_weight[y]
                for j in range(row_items):
                    dst[j] = a[j] + (b[j] - a[j]) * t
            else:
                a = rows + (row_index[y * row_taps] % slots) * row_items
                w = row_weight[y * row_taps]
                for j in range(row_items):
                    dst[j] = a[j] * w
                for k in range(1, row_taps):
                    a = rows + (row_index[y * row_taps + k] % slots) * row_items
                    w = row_weight[y * row_taps + k]
                    for j in range(row_items):
                        dst[j] = dst[j] + a[j] * w


cdef tuple _taps(object index, object weight, Py_ssize_t size, bint lerp, str axis):
    """Validated C-contiguous (index intp [out, K], weight float32 [out * K or out])."""
    index = np.ascontiguousarray(index, dtype=np.intp)
    weight = np.ascontiguousarray(weight, dtype=np.float32)
    if index.ndim != 2 or index.shape[0] == 0 or index.shape[1] == 0:
        raise ValueError(f"{axis}_index must have shape [out, taps] (got {index.shape})")
    if lerp and index.shape[1] != 2:
        raise ValueError(f"{axis}_index must have 2 taps per output with lerp=True "
                         f"(got {index.shape[1]})")
    expected = index.shape[0] if lerp else index.shape[0] * index.shape[1]
    if weight.size != expected:
        raise ValueError(f"{axis}_weight must hold {expected} values for {axis}_index of "
                         f"shape {index.shape} (got shape {weight.shape})")
    cdef const Py_ssize_t[:, ::1] view = index
    cdef Py_ssize_t i, k
    for i in range(view.shape[0]):
        for k in range(view.shape[1]):
            if view[i, k] < 0 or view[i, k] >= size:
                raise ValueError(f"{axis}_index holds {view[i, k]}, outside the image "
                                 f"(size {size})")
    return index, weight.reshape(-1)


cdef Py_ssize_t _ring_slots(const Py_ssize_t[:, ::1] index, Py_ssize_t height):
    """Row buffers needed: the tap count when every output row reads a window of at
    most that many consecutive input rows (all of tf's kernels), else every row."""
    cdef Py_ssize_t i, k, lo, hi, taps = index.shape[1]
    for i in range(index.shape[0]):
        lo = index[i, 0]
        hi = lo
        for k in range(1, taps):
            lo = min(lo, index[i, k])
            hi = max(hi, index[i, k])
        if hi - lo >= taps:
            return height
    return taps


def resample(images, col_index, col_weight, row_index, row_weight, bint lerp=False):
    """Apply width taps then height taps to ``[H, W, C]`` or ``[N, H, W, C]`` images;
    float32 result ``[..., len(row_index), len(col_index), C]``."""
    array = np.asarray(images)
    if array.ndim not in (3, 4):
        raise ValueError(f"images must have rank 3 or 4 (got shape {array.shape})")
    if array.dtype != _uint8 and array.dtype != _float32:
        array = array.astype(np.float32)
    batched = array.ndim == 4
    if not batched:
        array = array[None]
    array = np.ascontiguousarray(array)
    cdef Py_ssize_t count = array.shape[0], height = array.shape[1]
    cdef Py_ssize_t width = array.shape[2], channels = array.shape[3]
    col_index, col_weight = _taps(col_index, col_weight, width, lerp, "col")
    row_index, row_weight = _taps(row_index, row_weight, height, lerp, "row")
    cdef Py_ssize_t out_w = col_index.shape[0], col_taps = col_index.shape[1]
    cdef Py_ssize_t out_h = row_index.shape[0], row_taps = row_index.shape[1]
    out = _pooled_empty((count, out_h, out_w, channels), np.float32)
    if count and channels:
        _run(array, out, col_index, col_weight, row_index, row_weight, lerp)
    return out if batched else out[0]


cdef void _run(object array, object out, const Py_ssize_t[:, ::1] col_index,
               const float[::1] col_weight, const Py_ssize_t[:, ::1] row_index,
               const float[::1] row_weight, bint lerp) except *:
    cdef float[:, :, :, ::1] dst = out
    cdef const unsigned char[:, :, :, ::1] src8
    cdef const float[:, :, :, ::1] src32
    cdef bint is_uint8 = array.dtype == _uint8
    cdef Py_ssize_t count = dst.shape[0], out_h = dst.shape[1], out_w = dst.shape[2]
    cdef Py_ssize_t channels = dst.shape[3], height = array.shape[1]
    cdef Py_ssize_t width = array.shape[2], col_taps = col_index.shape[1]
    cdef Py_ssize_t row_taps = row_index.shape[1], i
    cdef Py_ssize_t slots = _ring_slots(row_index, height)
    if is_uint8:
        src8 = array
    else:
        src32 = array
    cdef Py_ssize_t* offset = <Py_ssize_t*>malloc(out_w * col_taps * sizeof(Py_ssize_t))
    cdef Py_ssize_t* held = <Py_ssize_t*>malloc(slots * sizeof(Py_ssize_t))
    cdef float* rows = <float*>malloc(slots * out_w * channels * sizeof(float))
    cdef float* scratch = <float*>malloc(width * channels * sizeof(float))
    if offset == NULL or held == NULL or rows == NULL or scratch == NULL:
        free(offset)
        free(held)
        free(rows)
        free(scratch)
        raise MemoryError()
    try:
        for i in range(out_w * col_taps):
            offset[i] = (&col_index[0, 0])[i] * channels
        with nogil:
            if is_uint8:
                _resample(&src8[0, 0, 0, 0], &dst[0, 0, 0, 0], count, height, width,
                          channels, offset, &col_weight[0], out_w, col_taps,
                          &row_index[0, 0], &row_weight[0], out_h, row_taps, rows, held,
                          slots, scratch, lerp)
            else:
                _resample(&src32[0, 0, 0, 0], &dst[0, 0, 0, 0], count, height, width,
                          channels, offset, &col_weight[0], out_w, col_taps,
                          &row_index[0, 0], &row_weight[0], out_h, row_taps, rows, held,
                          slots, scratch, lerp)
    finally:
        free(offset)
        free(held)
        free(rows)
        free(scratch)


cdef inline void _copy_pixels(const char* line, char* dst, const Py_ssize_t* cols,
                              Py_ssize_t out_w, Py_ssize_t pixel) noexcept nogil:
    cdef Py_ssize_t x
    for x in range(out_w):
        memcpy(dst + x * pixel, line + cols[x] * pixel, pixel)


cdef void _nearest(const char* src, char* dst, Py_ssize_t images, Py_ssize_t height,
                   Py_ssize_t width, Py_ssize_t pixel, const Py_ssize_t* rows,
                   Py_ssize_t out_h, const Py_ssize_t* cols,
                   Py_ssize_t out_w) noexcept nogil:
    cdef Py_ssize_t n, y, x, row_bytes = out_w * pixel
    cdef const char* line
    for n in range(images):
        for y in range(out_h):
            if y and rows[y] == rows[y - 1]:
                memcpy(dst, dst - row_bytes, row_bytes)
                dst += row_bytes
                continue
            line = src + (n * height + rows[y]) * width * pixel
            if pixel == 3:
                _copy_pixels(line, dst, cols, out_w, 3)
            elif pixel == 1:
                _copy_pixels(line, dst, cols, out_w, 1)
            elif pixel == 4:
                _copy_pixels(line, dst, cols, out_w, 4)
            elif pixel == 12:
                _copy_pixels(line, dst, cols, out_w, 12)
            else:
                _copy_pixels(line, dst, cols, out_w, pixel)
            dst += row_bytes


def nearest(images, rows, cols):
    """``images[..., rows, :, :][..., cols, :]`` (``rows``/``cols``: 1-d indices)."""
    array = np.asarray(images)
    if array.ndim not in (3, 4):
        raise ValueError(f"images must have rank 3 or 4 (got shape {array.shape})")
    batched = array.ndim == 4
    if not batched:
        array = array[None]
    array = np.ascontiguousarray(array)
    rows = np.ascontiguousarray(rows, dtype=np.intp).reshape(-1)
    cols = np.ascontiguousarray(cols, dtype=np.intp).reshape(-1)
    cdef Py_ssize_t count = array.shape[0], height = array.shape[1]
    cdef Py_ssize_t width = array.shape[2], channels = array.shape[3]
    for name, index, size in (("rows", rows, height), ("cols", cols, width)):
        if index.size and (index.min() < 0 or index.max() >= size):
            raise ValueError(f"{name} holds indices outside the image (size {size})")
    out = _pooled_empty((count, rows.size, cols.size, channels), array.dtype)
    cdef Py_ssize_t pixel = channels * array.dtype.itemsize
    if out.size == 0 or array.dtype.hasobject:
        if out.size:
            out[...] = array[:, rows][:, :, cols]
        return out if batched else out[0]
    cdef const unsigned char[:, ::1] src = array.reshape(count * height, -1).view(np.uint8)
    cdef unsigned char[:, ::1] dst = out.reshape(count * rows.size, -1).view(np.uint8)
    cdef const Py_ssize_t[::1] row_view = rows
    cdef const Py_ssize_t[::1] col_view = cols
    with nogil:
        _nearest(<const char*>&src[0, 0], <char*>&dst[0, 0], count, height, width, pixel,
                 &row_view[0], row_view.shape[0], &col_view[0], col_view.shape[0])
    return out if batched else out[0]
