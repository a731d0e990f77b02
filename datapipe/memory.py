"""The process-wide pool of recycled memory behind datapipe's large arrays.

Batches assembled by ``batch``, images from ``dp.image.decode_jpeg`` and
``dp.image.resize`` take their memory (when at least 64 KiB) from a pool of blocks
that earlier arrays gave back: reusing pages that are already mapped saves a page
fault per 4 KiB, which otherwise costs about as much as filling the page (see
docs/performance.md, "Memory"). A block goes back to the pool only when no array or
view uses it any more, so this is invisible to code holding arrays.

The pool keeps at most a limit of *free* bytes: ``DATAPIPE_BUFFER_POOL_MB`` in the
environment, else 256 MiB (or a quarter of RAM, if less). Arrays in use are not
counted. With the pure-Python core (``DATAPIPE_PURE_PYTHON=1``) nothing is pooled.

Example::

    >>> import datapipe as dp
    >>> sorted(dp.memory.buffer_pool_stats())
    ['cached_blocks', 'cached_bytes', 'hits', 'limit', 'misses']
    >>> old = dp.memory.buffer_pool_stats()["limit"]
    >>> dp.memory.set_buffer_pool_limit(64 << 20)  # keep at most 64 MiB free
    >>> dp.memory.clear_buffer_pool()              # give every free block back
    >>> dp.memory.set_buffer_pool_limit(old)
"""

from __future__ import annotations

from datapipe._native import bufpool as _pool

__all__ = ["buffer_pool_stats", "clear_buffer_pool", "set_buffer_pool_limit"]


def buffer_pool_stats() -> dict[str, int]:
    """``cached_bytes`` / ``cached_blocks`` (free, kept for reuse), ``limit``, and the
    ``hits`` / ``misses`` of requests since the process started.

    Example: ``dp.memory.buffer_pool_stats()["hits"]``.
    """
    return _pool.stats()


def set_buffer_pool_limit(nbytes: int) -> None:
    """Keep at most ``nbytes`` of free blocks (0 turns pooling off); the excess is
    released at once.

    Example: ``dp.memory.set_buffer_pool_limit(0)`` before a memory-tight phase.
    """
    _pool.set_limit(int(nbytes))


def clear_buffer_pool() -> None:
    """Give every free block back to the system; arrays in use are unaffected.

    Example: ``dp.memory.clear_buffer_pool()`` after the input pipeline is done.
    """
    _pool.clear()
