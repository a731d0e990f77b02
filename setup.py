"""Build the native extensions in ``native/`` into ``datapipe._native``.

Everything else about the package is declared in pyproject.toml. Set
``DATAPIPE_CYTHON_ANNOTATE=1`` to write Cython's HTML annotation next to each source,
and ``DATAPIPE_CYTHON_LINETRACE=1`` for line tracing (coverage/profiling of .pyx code).
"""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

LINETRACE = os.environ.get("DATAPIPE_CYTHON_LINETRACE") == "1"

# One extension per concern: (module name under datapipe._native, source in native/).
NATIVE_MODULES = [
    ("_ring", "native/ring.pyx"),
    ("_stack", "native/stack.pyx"),
    ("_shuffle", "native/shuffle.pyx"),
    ("_crc32c", "native/crc32c.pyx"),
    ("_records", "native/records.pyx"),
    ("_example", "native/example.pyx"),
    ("_resize", "native/resize.pyx"),
    ("_bufpool", "native/bufpool.pyx"),
]

extensions = [
    Extension(
        f"datapipe._native.{name}",
        sources=[source],
        extra_compile_args=["-O3"],
        define_macros=[("CYTHON_TRACE_NOGIL", "1")] if LINETRACE else [],
    )
    for name, source in NATIVE_MODULES
]

setup(
    ext_modules=cythonize(
        extensions,
        include_path=["native"],
        annotate=os.environ.get("DATAPIPE_CYTHON_ANNOTATE") == "1",
        compiler_directives={"language_level": "3", "linetrace": LINETRACE},
    ),
)
