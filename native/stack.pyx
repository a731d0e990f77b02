# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Batch assembly: copy same-shape, same-dtype arrays into one preallocated array.

``stack(items)`` returns what ``np.stack(items)`` returns. When every item is a
C-contiguous ``ndarray`` of one shape and one (non-object) dtype, or every item is a
NumPy scalar of one numeric type, the output is allocated once and each item's bytes
are copied into its row; anything else (mixed shapes or dtypes, strided views, object
arrays, subclasses) is handed to ``np.stack`` unchanged, so results and errors are
NumPy's own. ``stack_uniform(items)`` is the fast path alone: it returns ``None``
instead of falling back.

Arrays are read through the buffer protocol: every item's buffer is acquired (which
also pins it: it cannot be resized meanwhile), then the copy loop runs with the GIL
released when the batch is large enough for that to pay (:data:`GIL_RELEASE_BYTES`;
dropping the GIL for a few kilobytes costs more than the copy and can hand the
interpreter to another thread for a whole switch interval). Scalars are copied from
the value field of NumPy's scalar objects (``PyObject_HEAD`` then the value, the
layout ``numpy/arrayscalars.h`` publishes); that offset is verified per type at import
and a type that does not match is simply not fast-pathed. The scalar loop keeps the
GIL: it reads Python objects.

The pure-Python twin is ``datapipe/_native/fallback/stack.py`` (same names, same
results; tests/test_native_stack.py runs both).

Example::

    >>> import numpy as np
    >>> stack([np.zeros(2, np.float32), np.ones(2, np.float32)]).tolist()
    [[0.0, 0.0], [1.0, 1.0]]
    >>> stack([np.int64(1), np.int64(2)]).dtype
    dtype('int64')
    >>> stack_uniform([np.zeros(2), np.zeros(3)]) is None
    True
"""

from cpython.buffer cimport (
    PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer,
)
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.object cimport PyObject, PyTypeObject
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memcpy, strchr, strcmp

import numpy as np

from datapipe._native._bufpool import empty as _pooled_empty

__all__ = ["GIL_RELEASE_BYTES", "stack", "stack_uniform"]

#: Copies of at least this many bytes run with the GIL released.
GIL_RELEASE_BYTES = 1 << 16
cdef Py_ssize_t _gil_release_bytes = GIL_RELEASE_BYTES

cdef extern from "Python.h":
    PyTypeObject* Py_TYPE(PyObject* ob)

cdef object _ndarray = np.ndarray
cdef object _empty = np.empty
cdef object _np_stack = np.stack
cdef Py_ssize_t _SCALAR_OFFSET = sizeof(PyObject)
# Scalar type -> value size, for the types whose layout was verified below.
cdef dict _scalar_sizes = {}


cdef bytes _scalar_bytes(object value, Py_ssize_t size):
    return (<char*><PyObject*>value)[_SCALAR_OFFSET:_SCALAR_OFFSET + size]


def _verify_scalar_layouts():
    for code in "?bBhHiIlLqQefdgFDG":
        dtype = np.dtype(code)
        kind_ok = True
        probes = [True, False] if code == "?" else [7, 3]
        for value in probes:
            probe = np.array(value).astype(dtype)[()]
            copied = np.frombuffer(_scalar_bytes(probe, dtype.itemsize), dtype)[0]
            if copied != probe or type(probe) is not dtype.type:
                kind_ok = False
        if kind_ok:
            _scalar_sizes[dtype.type] = dtype.itemsize


_verify_scalar_layouts()


cdef object _stack_scalars(list items, Py_ssize_t n, object first, Py_ssize_t size):
    cdef PyTypeObject* kind = Py_TYPE(<PyObject*>first)
    cdef Py_ssize_t i
    for i in range(n):
        if Py_TYPE(PyList_GET_ITEM(items, i)) != kind:
            return None
    out = _empty(n, first.dtype)
    cdef Py_buffer view
    PyObject_GetBuffer(out, &view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS)
    cdef char* dst = <char*>view.buf
    for i in range(n):
        memcpy(dst + i * size, <char*>PyList_GET_ITEM(items, i) + _SCALAR_OFFSET, size)
    PyBuffer_Release(&view)
    return out


cdef inline bint _same_layout(Py_buffer* a, Py_buffer* b) noexcept:
    if a.len != b.len or a.ndim != b.ndim or a.itemsize != b.itemsize:
        return False
    if a.ndim and memcmp(a.shape, b.shape, a.ndim * sizeof(Py_ssize_t)) != 0:
        return False
    return strcmp(a.format, b.format) == 0


cdef object _stack_arrays(list items, Py_ssize_t n, object first):
    cdef Py_buffer* views = <Py_buffer*>malloc(n * sizeof(Py_buffer))
    if views == NULL:
        raise MemoryError()
    cdef Py_ssize_t acquired = 0
    cdef Py_ssize_t i, row
    cdef char* dst
    cdef Py_buffer out_view
    cdef object item
    try:
        for i in range(n):
            item = <object>PyList_GET_ITEM(items, i)
            if type(item) is not _ndarray:
                return None
            try:
                PyObject_GetBuffer(item, &views[i], PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
            except (BufferError, ValueError, TypeError):
                return None  # a strided view or a dtype without a buffer format
            acquired += 1
            if i == 0:
                if strchr(views[0].format, b"O") != NULL:
                    return None  # object references must be counted: np.stack does it
            elif not _same_layout(&views[0], &views[i]):
                return None
        out = _pooled_empty((n, *first.shape), first.dtype)
        PyObject_GetBuffer(out, &out_view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS)
        dst = <char*>out_view.buf
        row = views[0].len
        if row * n >= _gil_release_bytes:
            with nogil:
                for i in range(n):
                    memcpy(dst + i * row, views[i].buf, row)
        else:
            for i in range(n):
                memcpy(dst + i * row, views[i].buf, row)
        PyBuffer_Release(&out_view)
        return out
    finally:
        for i in range(acquired):
            PyBuffer_Release(&views[i])
        free(views)


def stack_uniform(items):
    """``np.stack(items)`` through the native copy, or ``None`` when it does not apply."""
    cdef list seq = items if type(items) is list else list(items)
    cdef Py_ssize_t n = PyList_GET_SIZE(seq)
    if n == 0:
        return None
    first = <object>PyList_GET_ITEM(seq, 0)
    if type(first) is _ndarray:
        return _stack_arrays(seq, n, first)
    size = _scalar_sizes.get(type(first))
    if size is None:
        return None
    return _stack_scalars(seq, n, first, size)


def stack(items):
    """``np.stack(items)``: one preallocated output filled by native copies when the
    items are uniform (see the module docstring), else ``np.stack`` itself."""
    cdef list seq = items if type(items) is list else list(items)
    out = stack_uniform(seq)
    if out is None:
        return _np_stack(seq)
    return out
