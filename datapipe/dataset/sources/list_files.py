"""``Dataset.list_files``: the files matching glob patterns, on any fsspec filesystem.

``file_pattern`` is one pattern or a list of them (``"/data/train-*.tfrecord"``,
``"s3://bucket/shards/*.txt"``, ``"memory://x/**"``); ``storage_options`` go to the
filesystem. As in tf.data the matches of all patterns are pooled and sorted (a file
matched by two patterns appears twice), then shuffled unless ``shuffle=False``: a new
order every iteration, reproducible under ``seed`` (or ``Options.seed``). Elements are
``bytes`` paths as tf.data yields them; remote matches keep their scheme
(``b"s3://bucket/key"``), local ones are plain paths unless the pattern said ``file://``.

The globs run when an iteration starts (not when the dataset is built: building does
no I/O), once per iteration. Because of that the cardinality is ``UNKNOWN`` (tf.data,
which globs eagerly when the dataset is built, knows it), and a pattern list matching
nothing raises ``InvalidArgumentError`` ("No files matched pattern: ...") on the first
``next``. The iterator state holds the resolved, ordered list and the position, so a
restored iterator continues exactly, even if files were added since.

Example::

    >>> import os, tempfile
    >>> import datapipe as dp
    >>> folder = tempfile.mkdtemp()
    >>> for name in ("b.txt", "a.txt", "c.log"):
    ...     open(os.path.join(folder, name), "w").close()
    >>> ds = dp.Dataset.list_files(os.path.join(folder, "*.txt"), shuffle=False)
    >>> [os.path.basename(p) for p in ds]
    [b'a.txt', b'b.txt']
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping
from typing import Any

import fsspec
import numpy as np
from fsspec.core import split_protocol

from datapipe.dataset.node import (
    UNKNOWN,
    DatasetIterator,
    DatasetNode,
    IteratorContext,
    check_state,
)
from datapipe.dataset.seeding import SeedStream, make_generator
from datapipe.errors import InvalidArgumentError, InvalidTypeError
from datapipe.io.async_reader import remember_sizes
from datapipe.io.filesystem import normalize_url
from datapipe.io.retry import translate_error
from datapipe.structure.convert import STRING
from datapipe.structure.spec import TensorSpec

__all__ = ["ListFilesIterator", "ListFilesNode", "glob_files"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _check_patterns(file_pattern: Any) -> tuple[str, ...]:
    if isinstance(file_pattern, np.ndarray):
        file_pattern = file_pattern.tolist()
    if isinstance(file_pattern, (list, tuple)):
        patterns = file_pattern
    else:
        patterns = [file_pattern]
    out = []
    for item in patterns:
        try:
            out.append(normalize_url(item))
        except InvalidTypeError:
            raise InvalidTypeError(
                "list_files(): file_pattern must be a str (or bytes) or a list of them "
                f"(got {type(item).__name__}: {item!r})") from None
    return tuple(out)


def _check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InvalidTypeError(f"list_files(): seed must be an int or None (got {seed!r})")
    seed = int(seed)
    if not _INT64_MIN <= seed <= _INT64_MAX:
        raise InvalidArgumentError(
            f"list_files(): seed must fit in a signed 64-bit int (got {seed})")
    return seed % 2**64


def glob_files(patterns: tuple[str, ...] | list[str],
               storage_options: Mapping[str, Any] | None = None) -> list[bytes]:
    """The sorted matches of every pattern as ``bytes`` URLs (duplicates kept)."""
    matches: list[bytes] = []
    for pattern in patterns:
        protocol, _ = split_protocol(pattern)
        try:
            if protocol is None and not storage_options:
                # A plain local pattern: matches stay relative when the pattern is.
                found = [path for path in glob.glob(pattern, include_hidden=True)
                         if os.path.isfile(path)]
            else:
                fs, stripped = fsspec.core.url_to_fs(pattern, **dict(storage_options or {}))
                if not fsspec.core.has_magic(stripped):
                    stripped = glob.escape(stripped)  # glob() still reports the type
                details = fs.glob(stripped, detail=True)
                found = [path for path, info in details.items()
                         if info.get("type") != "directory"]
        except Exception as exc:
            translated = translate_error(exc, pattern)
            if translated is exc:
                raise
            raise translated from exc
        if protocol:  # keep the scheme the user wrote: s3://bucket/key
            urls = [f"{protocol}://{path.lstrip('/')}" if protocol not in ("file", "local")
                    else f"{protocol}://{path}" for path in found]
            # The listing gave each object's size: opening it then needs no request
            # for it (see datapipe.io.async_reader).
            if protocol not in ("file", "local"):
                remember_sizes({url: details[path]["size"]
                                for url, path in zip(urls, found)
                                if isinstance(details[path].get("size"), int)},
                               storage_options)
            found = urls
        # surrogateescape: local names that are not UTF-8 come back from glob escaped
        # (os.fsdecode); encoding them back gives the file's real bytes, as os.fsencode.
        matches.extend(path.encode("utf-8", "surrogateescape") for path in found)
    matches.sort()
    return matches


class ListFilesNode(DatasetNode):
    """The sorted (then optionally shuffled) matches of ``patterns``."""

    kind = "list_files"

    def __init__(self, file_pattern: Any, shuffle: bool | None = None,
                 seed: int | None = None, name: str | None = None,
                 storage_options: Mapping[str, Any] | None = None) -> None:
        super().__init__((), name=name)
        self.patterns = _check_patterns(file_pattern)
        if shuffle is None:
            shuffle = True
        if not isinstance(shuffle, (bool, np.bool_)):
            raise InvalidTypeError(
                f"list_files(): shuffle must be a bool or None (got {shuffle!r})")
        self.shuffle = bool(shuffle)
        self.seed = _check_seed(seed)
        if storage_options is not None and not isinstance(storage_options, Mapping):
            raise InvalidTypeError(
                "list_files(): storage_options must be a dict or None "
                f"(got {type(storage_options).__name__})")
        self.storage_options = dict(storage_options or {})
        self.seeds = SeedStream(self.seed, advance_each_iteration=True)

    def compute_cardinality(self) -> int:
        return UNKNOWN  # known only once the globs ran (see the module docstring)

    def compute_element_spec(self) -> TensorSpec:
        return TensorSpec((), STRING)

    def make_iterator(self, ctx: IteratorContext) -> ListFilesIterator:
        return ListFilesIterator(self, ctx)


class ListFilesIterator(DatasetIterator):
    """Globs on first use; state = the ordered file list and the next index."""

    def __init__(self, node: ListFilesNode, ctx: IteratorContext) -> None:
        super().__init__(node, ctx)
        self._files: list[bytes] | None = None
        self._index = 0
        self._base, self._epoch = (node.seeds.next_epoch(ctx.options, ctx.plan_position(node))
                                   if node.shuffle else (0, 0))

    def _resolve(self) -> list[bytes]:
        node = self.node
        files = glob_files(node.patterns, node.storage_options)
        if not files:
            raise InvalidArgumentError(
                f"list_files(): No files matched pattern: {', '.join(node.patterns)}")
        if node.shuffle:
            order = make_generator(self._base, self._epoch).permutation(len(files))
            files = [files[i] for i in order]
        self._files = files
        return files

    def __next__(self) -> bytes:
        files = self._files
        if files is None:
            files = self._resolve()
        index = self._index
        if index >= len(files):
            raise StopIteration
        self._index = index + 1
        return files[index]

    def next_many(self, count: int) -> list:
        files = self._files if self._files is not None else self._resolve()
        begin = self._index
        end = min(begin + count, len(files))
        self._index = max(begin, end)
        return files[begin:end]

    def get_state(self) -> dict[str, Any]:
        files = None if self._files is None else [f.decode("utf-8", "surrogateescape")
                                                  for f in self._files]
        return {"files": files, "index": self._index, "seed": [self._base, self._epoch]}

    def set_state(self, state: dict[str, Any]) -> None:
        check_state(state, self.node, ("files", "index", "seed"))
        files = state["files"]
        if files is not None and not (isinstance(files, list)
                                      and all(isinstance(f, str) for f in files)):
            raise InvalidArgumentError(
                f"{self.node.stage}: state 'files' must be a list of str or None")
        self._files = None if files is None else [
            f.encode("utf-8", "surrogateescape") for f in files]
        self._index = int(state["index"])
        self._base, self._epoch = (int(v) for v in state["seed"])
        if self.node.shuffle:
            self.node.seeds.restore(self._base, self._epoch)
