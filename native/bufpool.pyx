# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""A pool of large, already-touched memory blocks for arrays the pipeline allocates.

Why: glibc gives large blocks back to the kernel when they are freed (``munmap``, or
trimming the heap top), so the next array of that size starts as untouched pages and
every 4 KiB page costs a page fault — about as much as the work that fills it. A
batch of 64 float32 224x224x3 images is 38 MB: 9,400 faults each time. Keeping freed
blocks and handing them out again removes that cost, the way PyTorch's caching
allocator and Pillow's block arena do.

``empty(shape, dtype)`` is ``np.empty`` whose memory comes from here when the array
is large (at least ``MIN_BYTES``). The array's ``base`` is a ``PooledBlock``; when the
last array or view over it is gone, the block goes back to the pool — never while any
view is alive, so reuse is safe. Sizes are rounded up to classes (four per power of
two, at most 25% larger) so images of different sizes can share blocks. Free blocks
are kept up to ``limit()`` bytes in all (``set_limit``; 0 disables pooling), beyond
that they are freed at once. Everything here runs with the GIL held, which is what
serialises the pool.

The pure-Python twin (``datapipe/_native/fallback/bufpool.py``) is ``np.empty`` with
the same functions and no pooling.

Example::

    >>> a = empty((512, 512), "float32")
    >>> a.shape, a.dtype.name, a.flags.writeable
    ((512, 512), 'float32', True)
    >>> isinstance(a.base, PooledBlock)
    True
"""

from libc.stdlib cimport free
from libc.string cimport memset

import operator

import numpy as np

from datapipe._native.fallback import bufpool as _twin

__all__ = ["MAX_BYTES", "MIN_BYTES", "PooledBlock", "clear", "empty", "limit", "set_limit",
           "stats"]

cdef extern from "stdlib.h" nogil:
    int posix_memalign(void** memptr, size_t alignment, size_t size)

cdef extern from *:
    int __builtin_clzll(unsigned long long) nogil

cdef enum:
    N_CLASSES = 192  # 4 classes per power of two, 2^16 .. 2^63
    ALIGNMENT = 64   # a cache line; also what SIMD loads and DLPack consumers like

#: Arrays smaller than this come from ``np.empty`` (malloc keeps small blocks itself).
MIN_BYTES = 1 << 16
#: ... and larger than this too (size classes stop there; no machine has that much).
MAX_BYTES = 1 << 56

cdef void* _free_head[N_CLASSES]   # free list per class, linked through each block
cdef Py_ssize_t _free_count[N_CLASSES]
cdef Py_ssize_t _cached_bytes = 0
cdef Py_ssize_t _limit = 0
cdef Py_ssize_t _hits = 0
cdef Py_ssize_t _misses = 0
memset(_free_head, 0, sizeof(_free_head))
memset(_free_count, 0, sizeof(_free_count))

cdef object _ndarray = np.ndarray
cdef object _np_empty = np.empty
cdef object _dtype = np.dtype
cdef object _index = operator.index


cdef inline int _class_of(Py_ssize_t nbytes, Py_ssize_t* capacity) noexcept:
    """The size class holding ``nbytes`` and its capacity: 2^p * (4 + k) / 4."""
    cdef int p = 63 - __builtin_clzll(<unsigned long long>nbytes)
    cdef Py_ssize_t base = (<Py_ssize_t>1) << p
    cdef Py_ssize_t quarter = base >> 2
    cdef int k = <int>((nbytes - base + quarter - 1) // quarter)  # 0..4
    if k == 4:
        p += 1
        k = 0
        base <<= 1
        quarter <<= 1
    capacity[0] = base + k * quarter
    return (p - 16) * 4 + k


cdef class PooledBlock:
    """One block of the pool, exposed as a writable byte buffer of ``nbytes``.

    Created by ``empty``; goes back to the pool when it is garbage.
    """

    cdef void* ptr
    cdef Py_ssize_t nbytes
    cdef Py_ssize_t capacity
    cdef int size_class
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]

    def __getbuffer__(self, Py_buffer* view, int flags):
        self.shape[0] = self.nbytes
        self.strides[0] = 1
        view.buf = self.ptr
        view.obj = self
        view.len = self.nbytes
        view.readonly = 0
        view.itemsize = 1
        view.format = "B"
        view.ndim = 1
        view.shape = self.shape
        view.strides = self.strides
        view.suboffsets = NULL
        view.internal = NULL

    @property
    def nbytes(self):
        return self.nbytes

    @property
    def capacity(self):
        return self.capacity

    def __dealloc__(self):
        global _cached_bytes
        if self.ptr == NULL:
            return
        if _cached_bytes + self.capacity <= _limit:
            (<void**>self.ptr)[0] = _free_head[self.size_class]
            _free_head[self.size_class] = self.ptr
            _free_count[self.size_class] += 1
            _cached_bytes += self.capacity
        else:
            free(self.ptr)
        self.ptr = NULL


cdef PooledBlock _take(Py_ssize_t nbytes):
    """A block of at least ``nbytes``: a free one of its class, else a new one."""
    global _cached_bytes, _hits, _misses
    cdef Py_ssize_t capacity
    cdef int size_class = _class_of(nbytes, &capacity)
    cdef void* ptr = _free_head[size_class]
    if ptr != NULL:
        _free_head[size_class] = (<void**>ptr)[0]
        _free_count[size_class] -= 1
        _cached_bytes -= capacity
        _hits += 1
    else:
        if posix_memalign(&ptr, ALIGNMENT, <size_t>capacity) != 0:
            raise MemoryError(f"cannot allocate {capacity} bytes")
        _misses += 1
    cdef PooledBlock block = PooledBlock.__new__(PooledBlock)
    block.ptr = ptr
    block.nbytes = nbytes
    block.capacity = capacity
    block.size_class = size_class
    return block


def empty(shape, dtype=float):
    """``np.empty(shape, dtype)`` (C order), its memory from the pool when large."""
    dt = _dtype(dtype)
    try:
        shape = (_index(shape),)
    except TypeError:
        shape = tuple(shape)
    count = 1  # a Python int: no overflow before the size check below
    for dim in shape:
        if _index(dim) < 0:
            raise ValueError(f"negative dimensions are not allowed (shape {shape})")
        count *= _index(dim)
    nbytes = count * dt.itemsize
    if nbytes < MIN_BYTES or nbytes > MAX_BYTES or _limit == 0 or dt.hasobject:
        return _np_empty(shape, dt)  # numpy's own errors for sizes it cannot hold
    return _ndarray(shape, dt, _take(nbytes))


def limit():
    """Bytes of free blocks the pool keeps (beyond that, freed blocks are released)."""
    return _limit


def set_limit(Py_ssize_t nbytes):
    """Keep at most ``nbytes`` of free blocks (0: no pooling); releases the excess."""
    global _limit
    if nbytes < 0:
        raise ValueError(f"the limit must be >= 0 bytes (got {nbytes})")
    _limit = nbytes
    _trim(nbytes)


def clear():
    """Release every free block to the system (blocks in use are unaffected)."""
    _trim(0)


cdef void _trim(Py_ssize_t keep) noexcept:
    """Free blocks, largest classes first, until at most ``keep`` bytes are cached."""
    global _cached_bytes
    cdef int c
    cdef void* ptr
    cdef Py_ssize_t capacity
    for c in range(N_CLASSES - 1, -1, -1):
        while _cached_bytes > keep and _free_head[c] != NULL:
            ptr = _free_head[c]
            _free_head[c] = (<void**>ptr)[0]
            _free_count[c] -= 1
            capacity = (<Py_ssize_t>1 << (16 + c // 4)) * (4 + c % 4) // 4
            _cached_bytes -= capacity
            free(ptr)


def stats():
    """``{"cached_bytes", "cached_blocks", "limit", "hits", "misses"}``."""
    cdef Py_ssize_t blocks = 0
    cdef int c
    for c in range(N_CLASSES):
        blocks += _free_count[c]
    return {"cached_bytes": _cached_bytes, "cached_blocks": blocks, "limit": _limit,
            "hits": _hits, "misses": _misses}


_limit = _twin.limit()  # the same starting rule (DATAPIPE_BUFFER_POOL_MB), read once
