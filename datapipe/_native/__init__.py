"""The native core, or its pure-Python twin.

Modules: ``ring`` (bounded ring buffer), ``stack`` (batch assembly), ``shuffle`` (the
shuffle buffer's chunk loop), ``crc32c`` (masked CRC32C), ``records`` (TFRecord framing
over whole buffers), ``example`` (``tf.train.Example`` wire decoding), ``resize`` (image
resampling kernels), ``bufpool`` (recycled memory for large arrays). The compiled
extensions ``datapipe._native._<name>``, built from ``native/<name>.pyx``, are used
unless the environment sets ``DATAPIPE_PURE_PYTHON=1``, which selects the twins in
``datapipe._native.fallback``. ``BACKEND`` says which one is in use.

Example::

    >>> from datapipe._native import BACKEND, ring, shuffle, stack
    >>> BACKEND in ("native", "pure")
    True
"""

from __future__ import annotations

import contextlib
import importlib
import os
from types import ModuleType

__all__ = ["BACKEND", "MODULES", "backends", "bufpool", "crc32c", "example", "records",
           "resize", "ring", "shuffle", "stack"]

#: Every native module, by its short name.
MODULES = ("ring", "stack", "shuffle", "crc32c", "records", "example", "resize", "bufpool")


def _want_pure() -> bool:
    return os.environ.get("DATAPIPE_PURE_PYTHON", "").strip() not in ("", "0")


def _pure(module: str) -> ModuleType:
    return importlib.import_module(f"datapipe._native.fallback.{module}")


def backends(module: str = "ring") -> dict[str, ModuleType]:
    """Every implementation of ``module`` (one of ``MODULES``) importable here, by
    backend name (for differential tests)."""
    if module not in MODULES:
        raise ValueError(f"unknown native module {module!r}; expected one of {MODULES}")
    found = {"pure": _pure(module)}
    with contextlib.suppress(ImportError):
        found["native"] = importlib.import_module(f"datapipe._native._{module}")
    return found


def _load_all() -> tuple[str, dict[str, ModuleType]]:
    if _want_pure():
        return "pure", {name: _pure(name) for name in MODULES}
    # A missing extension is a broken install, not a reason to slow down silently.
    try:
        loaded = {name: importlib.import_module(f"datapipe._native._{name}")
                  for name in MODULES}
    except ImportError as exc:
        raise ImportError(
            "datapipe's native extension is not built. Reinstall with "
            "`pip install -e .` (needs a C compiler), or set DATAPIPE_PURE_PYTHON=1 to "
            f"use the pure-Python core. ({exc})") from exc
    return "native", loaded


BACKEND, _LOADED = _load_all()
ring = _LOADED["ring"]
stack = _LOADED["stack"]
shuffle = _LOADED["shuffle"]
crc32c = _LOADED["crc32c"]
records = _LOADED["records"]
example = _LOADED["example"]
resize = _LOADED["resize"]
bufpool = _LOADED["bufpool"]
