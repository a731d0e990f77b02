"""Pure-Python twin of ``native/bufpool.pyx``: ``np.empty`` with the pool's functions.

There is no pooling here (Python cannot hand out raw blocks cheaply); the limit is
kept and reported so code and tests behave the same on both backends.

Example::

    >>> empty((2, 3), "float32").shape
    (2, 3)
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

__all__ = ["MAX_BYTES", "MIN_BYTES", "PooledBlock", "clear", "default_limit", "empty",
           "limit", "set_limit", "stats"]

MIN_BYTES = 1 << 16
MAX_BYTES = 1 << 56
_limit = 0


class PooledBlock:
    """Never created by this twin; named so ``isinstance`` checks work on both."""


def empty(shape: Any, dtype: Any = float) -> np.ndarray:
    """``np.empty(shape, dtype)``."""
    return np.empty(shape, dtype)


def limit() -> int:
    """The configured limit (nothing is cached by this twin)."""
    return _limit


def set_limit(nbytes: int) -> None:
    """Record the limit; ``nbytes`` must be >= 0."""
    global _limit
    if nbytes < 0:
        raise ValueError(f"the limit must be >= 0 bytes (got {nbytes})")
    _limit = int(nbytes)


def clear() -> None:
    """Nothing is cached, so nothing to release."""


def stats() -> dict[str, int]:
    """The same keys as the native pool; every count is 0."""
    return {"cached_bytes": 0, "cached_blocks": 0, "limit": _limit, "hits": 0, "misses": 0}


def default_limit() -> int:
    """The pool's starting limit (both backends): ``DATAPIPE_BUFFER_POOL_MB`` if set
    to a number, else 256 MiB or a quarter of RAM, whichever is less."""
    text = os.environ.get("DATAPIPE_BUFFER_POOL_MB", "").strip()
    if text:
        try:
            return max(0, int(float(text) * (1 << 20)))
        except ValueError:
            warnings.warn(f"DATAPIPE_BUFFER_POOL_MB={text!r} is not a number of MiB; "
                          "using the default limit", RuntimeWarning, stacklevel=2)
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        ram = 1 << 32
    return min(256 << 20, ram // 4)


_limit = default_limit()
