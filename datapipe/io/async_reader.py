"""Read-ahead of remote files on one background asyncio (uvloop) thread.

Remote files (``s3://``, ``gs://``, ``http(s)://`` ...) are read as consecutive byte
ranges ("blocks", 8 MiB by default). A :class:`ReadAheadFile` keeps up to
``blocks_in_flight`` (4) of them requested ahead of the reader, so a file's bytes
arrive while the pipeline decodes the previous ones; memory stays bounded at
``(blocks_in_flight + 1) * block_size`` per open file.

Every request of the process runs on ONE thread, ``datapipe-io``, running an asyncio
event loop (uvloop when it imports, else the default loop). Filesystems with an async
implementation in fsspec (s3fs, gcsfs, HTTP) are driven natively there
(``fs._cat_file(path, start=, end=)``); the others run their blocking calls on a small
executor owned by that thread. A semaphore bounds the requests in flight over all
files (``max_concurrent_requests``). The thread starts when the first remote file
opens and stops ``idle_timeout`` seconds after the last one closes, closing its
filesystem sessions, so no thread outlives the pipelines that use it.

Each block is retried on transient failures with exponential backoff (see
:mod:`datapipe.io.retry`). A block's length is checked against the object's size: a
short body is retried, then raises ``DataLossError`` naming the URL and offset; a
file is never silently cut short. The last request of a file reaches past the end
(by one byte, or because the first request's window does), so an object that grew
since its size was taken raises ``DataLossError`` instead of being read to its old
length; the one exception is a file exactly the size of the first window whose size
came from a size request.

The size comes from a request of its own, sent with the first block, unless the
file was just listed: ``Dataset.list_files`` records the sizes its listing returned
(:func:`remember_sizes`), saving one request per file (half the requests for small
objects such as one image each). Such a size is used only for a file that fits in
the first request, and opening waits for that response: a size that turns out
stale (the object changed since the listing) is asked for before the file is used.

Example::

    >>> import fsspec
    >>> with fsspec.open("memory://doc/a.bin", "wb") as f:
    ...     _ = f.write(bytes(range(10)))
    >>> with ReadAheadFile("memory://doc/a.bin", block_size=4) as f:
    ...     f.read(3), f.read(), f.read()
    (b'\\x00\\x01\\x02', b'\\x03\\x04\\x05\\x06\\x07\\x08\\t', b'')
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import functools
import io
import os
import threading
from collections.abc import Mapping
from typing import Any

import fsspec
from fsspec.utils import tokenize

from datapipe.errors import DataLossError, InvalidArgumentError
from datapipe.io.retry import RetryPolicy, ShortReadError, is_transient, translate_error

try:  # uvloop is optional: the default loop works everywhere
    import uvloop as _uvloop
except ImportError:  # pragma: no cover - depends on the platform
    _uvloop = None

__all__ = ["IOThread", "ReadAheadFile", "ReadAheadOptions", "configure", "get_options",
           "remember_sizes",
           "io_thread"]

MiB = 1 << 20


@dataclasses.dataclass(frozen=True)
class ReadAheadOptions:
    """Process-wide knobs of remote reads (change them with :func:`configure`)."""

    #: Bytes per range request.
    block_size: int = 8 * MiB
    #: Blocks requested ahead of the reader, per open file (memory bound).
    blocks_in_flight: int = 4
    #: Range requests in flight over all open files of the process.
    max_concurrent_requests: int = 64
    #: Retries of transient failures.
    retry: RetryPolicy = dataclasses.field(default_factory=RetryPolicy)
    #: Seconds the I/O thread waits after the last remote file closed before it stops.
    idle_timeout: float = 1.0

    def __post_init__(self) -> None:
        for field in ("block_size", "blocks_in_flight", "max_concurrent_requests"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(
                    f"ReadAheadOptions: {field} must be a positive int (got {value!r})")
        if not isinstance(self.retry, RetryPolicy):
            raise InvalidArgumentError(
                f"ReadAheadOptions: retry must be a RetryPolicy (got {self.retry!r})")
        if not isinstance(self.idle_timeout, (int, float)) or self.idle_timeout < 0:
            raise InvalidArgumentError(
                "ReadAheadOptions: idle_timeout must be a number >= 0 "
                f"(got {self.idle_timeout!r})")


_options = ReadAheadOptions()
_options_lock = threading.Lock()

#: Sizes from recent listings, by (URL, storage options token); most recent last.
_size_hints: collections.OrderedDict[tuple[str, str], int] = collections.OrderedDict()
_size_hints_lock = threading.Lock()
_SIZE_HINTS_MAX = 100_000


class _StaleSizeError(DataLossError):
    """The first response of a file disagrees with the size its listing gave."""


def remember_sizes(sizes: Mapping[str, int],
                   storage_options: Mapping[str, Any] | None = None) -> None:
    """Record object sizes a listing returned (``{url: size}``, read with
    ``storage_options``), so opening one of them needs no size request. A stale
    entry costs a retry, never wrong bytes: see the module docstring.
    """
    token = tokenize(dict(storage_options or {}))
    with _size_hints_lock:
        for url, size in sizes.items():
            key = (url, token)
            _size_hints[key] = int(size)
            _size_hints.move_to_end(key)
        while len(_size_hints) > _SIZE_HINTS_MAX:
            _size_hints.popitem(last=False)


def _size_hint(url: str, storage_options: Mapping[str, Any]) -> int | None:
    with _size_hints_lock:
        return _size_hints.get((url, tokenize(dict(storage_options))))


def _forget_size(url: str, storage_options: Mapping[str, Any]) -> None:
    with _size_hints_lock:
        _size_hints.pop((url, tokenize(dict(storage_options))), None)


def get_options() -> ReadAheadOptions:
    """The current process-wide read-ahead options."""
    return _options


def configure(**changes: Any) -> ReadAheadOptions:
    """Change process-wide read-ahead options; returns the previous ones.

    ``configure(block_size=16 << 20, retry=RetryPolicy(max_attempts=10))``. Files
    opened afterwards use the new values; pass the returned object's fields back (or
    ``configure(**dataclasses.asdict(old))``) to undo.
    """
    global _options
    with _options_lock:
        previous = _options
        _options = dataclasses.replace(previous, **changes)
        return previous


class IOThread:
    """The process's I/O thread and its event loop, started on demand.

    ``acquire()`` (one per open remote file) starts the thread if needed and returns
    its loop; ``release()`` undoes it, and the thread stops ``idle_timeout`` seconds
    after the count reaches zero. Async filesystem instances are created on the loop
    (one per protocol and storage options) and closed with it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refs = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._generation = 0
        # A thread that was told to stop and may still be closing its sessions.
        self._stopping: threading.Thread | None = None
        # Per-loop state (filesystems, request limit), touched only on its loop's thread.
        # Keyed by loop: a stopping thread and a newly started one may overlap, and each
        # must close only its own sessions.
        self._states: dict[asyncio.AbstractEventLoop, _LoopState] = {}

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None

    def acquire(self) -> asyncio.AbstractEventLoop:
        """Count one user of the loop, starting the thread if none runs; return the loop."""
        with self._lock:
            self._refs += 1
            self._generation += 1
            if self._loop is None:
                self._start()
            assert self._loop is not None
            return self._loop

    def release(self) -> None:
        """Drop one user; the thread stops after ``idle_timeout`` without users."""
        with self._lock:
            self._refs -= 1
            if self._refs > 0 or self._loop is None:
                return
            loop, generation = self._loop, self._generation
        delay = get_options().idle_timeout
        with contextlib.suppress(RuntimeError):  # the loop is already closing
            loop.call_soon_threadsafe(loop.call_later, delay, self._stop_if_idle, generation)

    def _start(self) -> None:
        loop = _uvloop.new_event_loop() if _uvloop is not None else asyncio.new_event_loop()
        ready = threading.Event()
        thread = threading.Thread(target=self._run, args=(loop, ready), name="datapipe-io",
                                  daemon=True)
        self._loop, self._thread = loop, thread
        thread.start()
        ready.wait()

    def _run(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=8, thread_name_prefix="datapipe-io-sync")
        loop.set_default_executor(executor)
        state = _LoopState(asyncio.Semaphore(get_options().max_concurrent_requests))
        self._states[loop] = state
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
            loop.run_until_complete(_close_filesystems(state))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
            self._states.pop(loop, None)
            loop.close()

    def _stop_if_idle(self, generation: int) -> None:
        # Runs on the loop thread. A new acquire() since release() keeps it running.
        with self._lock:
            if self._refs > 0 or generation != self._generation or self._loop is None:
                return
            loop = self._loop
            self._stopping = self._thread
            self._loop = self._thread = None
        loop.stop()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the running or stopping thread to end (tests)."""
        for thread in (self._thread, self._stopping):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout)

    # ------------------------------------------------ helpers run on the loop thread

    async def filesystem(self, protocol: str, storage_options: Mapping[str, Any]) -> Any:
        """An fsspec filesystem for ``protocol`` bound to this loop (cached)."""
        key = f"{protocol}:{tokenize(dict(storage_options))}"
        filesystems = self._states[asyncio.get_running_loop()].filesystems
        task = filesystems.get(key)
        if task is None or (task.done() and task.exception() is not None):
            # One task per key, so concurrent first requests share one instance.
            task = asyncio.ensure_future(_make_filesystem(protocol, storage_options))
            filesystems[key] = task
        return await asyncio.shield(task)

    @property
    def semaphore(self) -> asyncio.Semaphore:
        """The request limit of the running loop (call on the loop's thread)."""
        return self._states[asyncio.get_running_loop()].semaphore


@dataclasses.dataclass
class _LoopState:
    """What one I/O loop owns: its request limit and its filesystem instances."""

    semaphore: asyncio.Semaphore
    filesystems: dict[str, Any] = dataclasses.field(default_factory=dict)


async def _close_filesystems(state: _LoopState) -> None:
    for task in state.filesystems.values():
        if task.done() and not task.cancelled() and task.exception() is None:
            await _close_async_fs(task.result())
        else:
            task.cancel()
    state.filesystems.clear()


async def _make_filesystem(protocol: str, storage_options: Mapping[str, Any]) -> Any:
    cls = fsspec.get_filesystem_class(protocol)
    loop = asyncio.get_running_loop()
    if getattr(cls, "async_impl", False):
        fs = cls(asynchronous=True, loop=loop, skip_instance_cache=True, **storage_options)
        if isinstance(getattr(fs, "retries", None), int):
            # Our RetryPolicy retries each block; retries inside the filesystem too
            # would multiply the attempts (s3fs: 5 per call, with its own backoff).
            fs.retries = 1
        if hasattr(fs, "set_session"):
            _share_botocore_loader(fs)
            await fs.set_session()
        return fs
    return await loop.run_in_executor(
        None, lambda: fsspec.filesystem(protocol, **storage_options))


_botocore_loader: Any = None


def _share_botocore_loader(fs: Any) -> None:
    """Give an s3fs filesystem an aiobotocore session whose data loader (botocore's
    parsed service models) is shared by the whole process.

    Why: the I/O thread stops when idle, and each restart makes new filesystems;
    with a fresh session each would parse the S3 service model again — 60-120 ms
    of every cold start, where the client with a shared loader takes 10 ms. Only
    the loader is shared (it is plain cached data); the session itself, whose
    credentials may hold locks bound to one event loop, stays per filesystem.
    Filesystems that are not s3fs, or were given a session, are left alone.
    """
    global _botocore_loader
    if getattr(fs, "session", True) is not None or not hasattr(fs, "_session_is_owned"):
        return
    try:
        from aiobotocore.session import AioSession
        session = AioSession(**getattr(fs, "kwargs", {}))
        if _botocore_loader is None:
            _botocore_loader = session.get_component("data_loader")
        else:
            session.register_component("data_loader", _botocore_loader)
    except Exception:  # an s3fs/aiobotocore we do not know: it makes its own session
        return
    fs.session = session
    fs._session_is_owned = True  # s3fs may refresh and close it as its own


async def _close_async_fs(fs: Any) -> None:
    """Close the HTTP sessions of an async filesystem created on our loop."""
    if not getattr(fs, "async_impl", False):
        return
    try:
        client = getattr(fs, "_s3", None)  # s3fs: an aiobotocore client
        if client is not None:
            await client.__aexit__(None, None, None)
            fs._s3 = None
        session = getattr(fs, "_session", None)  # HTTPFileSystem, gcsfs: aiohttp session
        if session is not None and hasattr(session, "close"):
            await session.close()
    except Exception:  # a session that fails to close must not block shutdown
        pass


_io_thread = IOThread()


def _reset_after_fork() -> None:
    # A forked child (multiprocessing workers) inherits the I/O thread's state but not
    # the thread: without a fresh one its first remote read would wait forever.
    global _io_thread, _size_hints_lock
    _io_thread = IOThread()
    _size_hints_lock = threading.Lock()  # a thread of the parent may have held it


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def io_thread() -> IOThread:
    """The process-wide :class:`IOThread`."""
    return _io_thread


async def _info(thread: IOThread, protocol: str, options: Mapping[str, Any], path: str,
                url: str, policy: RetryPolicy) -> int:
    """Size of the file at ``path`` (retried on transient failures)."""
    for attempt in range(policy.max_attempts):
        try:
            fs = await thread.filesystem(protocol, options)
            if getattr(fs, "async_impl", False):
                info = await fs._info(path)
            else:
                info = await asyncio.get_running_loop().run_in_executor(None, fs.info, path)
            if info.get("type") == "directory":
                raise IsADirectoryError(path)
            size = info.get("size")
            if size is None:
                raise InvalidArgumentError(
                    f"{url}: the filesystem reports no size; read-ahead needs one "
                    "(open it with read_ahead=False)")
            return int(size)
        except Exception as exc:
            if not is_transient(exc) or attempt + 1 == policy.max_attempts:
                raise translate_error(exc, url, attempts=attempt + 1) from exc
        await asyncio.sleep(policy.delay(attempt))
    raise AssertionError("unreachable")


async def _fetch(thread: IOThread, protocol: str, options: Mapping[str, Any], path: str,
                 url: str, start: int, end: int, size_task: asyncio.Future | None,
                 policy: RetryPolicy, request_end: int | None = None,
                 size_is_listed: bool = False) -> bytes:
    """Bytes ``[start, end)`` of the file; ``end`` is clipped to the size once known.

    ``request_end`` (>= ``end``) asks for more: bytes beyond ``end`` mean the object
    is larger than its size said (``DataLossError``). ``size_is_listed``: the size
    came from a listing, and any other length raises ``_StaleSizeError`` at once
    (no retries: the caller asks for the real size)."""
    asked = end if request_end is None else request_end
    for attempt in range(policy.max_attempts):
        try:
            fs = await thread.filesystem(protocol, options)
            async with thread.semaphore:
                if getattr(fs, "async_impl", False):
                    data = await fs._cat_file(path, start=start, end=asked)
                else:
                    data = await asyncio.get_running_loop().run_in_executor(
                        None, functools.partial(fs.cat_file, path, start=start, end=asked))
            if size_task is not None:  # a block requested before the size was known
                end = min(end, await size_task)
            if len(data) != end - start and size_is_listed:
                raise _StaleSizeError(f"{url} is not the {end} bytes it was listed as")
            if len(data) > end - start:
                raise DataLossError(
                    f"{url} changed while being read: it holds more than the "
                    f"{end} bytes it had when opened (at byte {start})")
            if len(data) != end - start:
                raise ShortReadError(
                    f"short read at {start} in {url}: got {len(data)} of "
                    f"{end - start} bytes")
            return data
        except Exception as exc:
            if size_task is not None and start >= await _size_or_none(size_task):
                return b""  # a speculative first block of an empty file
            if not is_transient(exc) or attempt + 1 == policy.max_attempts:
                raise translate_error(exc, url, start, end, attempts=attempt + 1) from exc
        await asyncio.sleep(policy.delay(attempt))
    raise AssertionError("unreachable")


async def _size_or_none(size_task: asyncio.Future) -> float:
    """The size once known, or infinity when finding it failed (its own error wins)."""
    try:
        return await asyncio.shield(size_task)
    except Exception:
        return float("inf")


class ReadAheadFile(io.BufferedIOBase):
    """A read-only, seekable binary file whose blocks are fetched ahead on the I/O thread.

    ``read(n)`` returns exactly ``n`` bytes unless the end of the file comes first.
    ``seek`` drops the blocks in flight and starts reading ahead at the new position.
    ``close`` cancels outstanding requests and releases the I/O thread. Opening waits
    for the file's size (so a missing file raises ``NotFoundError`` here) while the
    first block is already being requested; for a file whose listing gave its size,
    it waits for the first response instead, which confirms that size.
    """

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None, *,
                 block_size: int | None = None, blocks_in_flight: int | None = None,
                 retry: RetryPolicy | None = None) -> None:
        super().__init__()
        options = get_options()
        if block_size is not None or blocks_in_flight is not None or retry is not None:
            options = dataclasses.replace(
                options,
                block_size=options.block_size if block_size is None else block_size,
                blocks_in_flight=(options.blocks_in_flight if blocks_in_flight is None
                                  else blocks_in_flight),
                retry=options.retry if retry is None else retry)
        self.name = url
        self._url = url
        self._block = options.block_size
        self._ahead = options.blocks_in_flight
        self._policy = options.retry
        protocol, _ = fsspec.core.split_protocol(url)
        self._protocol = protocol or "file"
        self._storage_options = dict(storage_options or {})
        cls = fsspec.get_filesystem_class(self._protocol)
        self._path = cls._strip_protocol(url)
        # (start, end, future, base) per block; ``future`` gives the bytes from file
        # offset ``base``, which may hold several blocks (then they share it).
        self._pending: collections.deque[
            tuple[int, int, concurrent.futures.Future, int]] = collections.deque()
        self._buf = b""
        self._buf_pos = 0
        self._buf_start = 0      # file offset of self._buf[0]
        self._next_fetch = 0     # file offset of the next block to request
        self._size = -1
        self._thread = _io_thread
        self._loop = self._thread.acquire()
        self._released = False
        # A listed size is used when the first response can confirm it: the file fits
        # in that response, whose extra byte shows a larger object, a short one a
        # smaller. (Larger files get their size asked for; that request is small
        # next to theirs.)
        hint = _size_hint(url, self._storage_options)
        if hint is not None and not 0 < hint <= self._block * self._ahead:
            hint = None
        try:
            if hint is None or not self._open_with_listed_size(hint):
                self._open()
        except BaseException:
            self.close()
            raise

    # ---------------------------------------------------------------- opening

    def _open_with_listed_size(self, hint: int) -> bool:
        """Open with the size a listing gave, if the first response confirms it.

        That response is waited for here, so nothing (``size``, ``read()``, a seek
        from the end) ever uses an unconfirmed size. False when it disagrees (the
        object changed since it was listed): nothing is kept, the caller opens anew.
        """
        self._open(hint)
        try:
            self._pending[0][2].result()  # other errors: the caller closes the file
        except _StaleSizeError:
            _forget_size(self._url, self._storage_options)
            self._cancel_pending()
            self._next_fetch, self._size = 0, -1
            return False
        return True

    def _open(self, hint: int | None = None) -> None:
        ready: concurrent.futures.Future = concurrent.futures.Future()

        async def start() -> None:
            if hint is None:
                size_task = asyncio.ensure_future(
                    _info(self._thread, self._protocol, self._storage_options,
                          self._path, self._url, self._policy))
            else:
                size_task = asyncio.get_running_loop().create_future()
                size_task.set_result(hint)
            first = asyncio.ensure_future(
                _fetch(self._thread, self._protocol, self._storage_options, self._path,
                       self._url, 0, window, size_task, self._policy,
                       request_end=hint + 1 if hint is not None else None,
                       size_is_listed=hint is not None))
            ready.set_result((size_task, first))

        # The first request covers the whole read-ahead window: a shard no larger than
        # that costs one GET, like fsspec's cat_file, instead of one per block. Its
        # blocks are listed one by one, so the window is not requested again until
        # the reader has moved past them. When the window holds the whole file, a
        # byte more is asked for (or the window already reaches past the end), so an
        # object larger than its size shows itself.
        window = self._block * self._ahead
        asyncio.run_coroutine_threadsafe(start(), self._loop).result()
        size_task, first = ready.result()
        first_future = _wrap(first, self._loop)
        try:
            self._size = _wrap(size_task, self._loop).result()
        except BaseException:
            first_future.cancel()
            raise
        end = min(window, self._size)
        self._pending.extend((block, min(block + self._block, end), first_future, 0)
                             for block in range(0, max(end, 1), self._block))
        self._next_fetch = end
        self._schedule()

    # ------------------------------------------------------------- read-ahead

    def _schedule(self) -> None:
        """Request blocks until ``blocks_in_flight`` are pending or the file is covered."""
        while len(self._pending) < self._ahead and self._next_fetch < self._size:
            start = self._next_fetch
            end = min(start + self._block, self._size)
            coroutine = _fetch(self._thread, self._protocol, self._storage_options,
                               self._path, self._url, start, end, None, self._policy,
                               request_end=end + 1 if end == self._size else end)
            future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
            self._pending.append((start, end, future, start))
            self._next_fetch = end

    def _advance(self) -> bool:
        """Make the next block current; False at the end of the file."""
        self._buf_start += len(self._buf)
        self._buf, self._buf_pos = b"", 0
        # Blocks that came with the buffer just read (one request for several) are done.
        while self._pending and self._pending[0][1] <= self._buf_start:
            self._pending.popleft()
        if not self._pending:
            self._schedule()
            if not self._pending:
                return False
        return self._enter(self._buf_start)

    def _enter(self, position: int) -> bool:
        """Make the first pending block current, positioned at ``position`` in it.

        The buffer is the whole response of the block's request, which may hold the
        blocks after it too (``base`` is the request's first byte)."""
        start, _, future, base = self._pending.popleft()
        self._schedule()
        try:
            data = future.result()
        except BaseException:
            self._forget_from(start)
            raise
        self._buf, self._buf_start, self._buf_pos = data, base, position - base
        return True

    def _drop_first(self) -> None:
        """Forget the first pending block, cancelling its request unless the next
        block shares it."""
        future = self._pending.popleft()[2]
        if not (self._pending and self._pending[0][2] is future):
            future.cancel()

    def _forget_from(self, position: int) -> None:
        """Drop the read-ahead after a failed block: the next read asks for ``position``
        again instead of silently going on with the block after it."""
        self._cancel_pending()
        self._buf, self._buf_pos = b"", 0
        self._buf_start = self._next_fetch = position

    def _cancel_pending(self) -> None:
        while self._pending:
            self._pending.popleft()[2].cancel()

    # ------------------------------------------------------------- file API

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    @property
    def size(self) -> int:
        """The file's size in bytes."""
        return self._size

    def tell(self) -> int:
        self._check_open()
        return self._buf_start + self._buf_pos

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        if size is None or size < 0:
            size = max(0, self._size - self.tell())
        buf, pos = self._buf, self._buf_pos
        if len(buf) - pos >= size:  # fast path: inside the current block
            self._buf_pos = pos + size
            if pos == 0 and size == len(buf):
                return buf
            return buf[pos:pos + size]
        parts = []
        position = self.tell()
        while size > 0:
            available = len(self._buf) - self._buf_pos
            if available == 0:
                try:
                    advanced = self._advance()
                except BaseException:
                    # Nothing is returned, so nothing is consumed: the position stays.
                    self._forget_from(position)
                    raise
                if not advanced:
                    break
                continue
            take = min(available, size)
            pos = self._buf_pos
            chunk = self._buf if pos == 0 and take == len(self._buf) else (
                self._buf[pos:pos + take])
            parts.append(chunk)
            self._buf_pos = pos + take
            size -= take
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def window(self, offset: int, need: int) -> tuple[bytes, int] | None:
        """``(data, base)``: a buffer holding the file from ``offset`` on
        (``data[offset - base:]``), at least ``max(need, 1)`` bytes of it; None when
        the file holds fewer bytes from ``offset``. The position moves to ``offset``.

        For readers that parse in place (the TFRecord reader): when one response
        holds the bytes, ``data`` is that response itself, not a copy; only bytes
        that run on into later responses are joined (one copy, kept as the
        current block so later windows inside it are free).
        """
        self._check_open()
        need = max(need, 1)
        if offset + need > self._size:
            return None
        if not self._buf_start <= offset < self._buf_start + len(self._buf):
            self.seek(offset)
            if self._buf_pos >= len(self._buf) and not self._advance():
                return None
        pos = offset - self._buf_start
        self._buf_pos = pos
        if len(self._buf) - pos >= need:
            return self._buf, self._buf_start
        parts = [memoryview(self._buf)[pos:]]
        held = len(parts[0])
        try:
            while held < need:
                self._buf_pos = len(self._buf)
                if not self._advance():  # shorter than its size: the read path decides
                    self._forget_from(offset)
                    return None
                parts.append(memoryview(self._buf))
                held += len(self._buf)
        except BaseException:
            self._forget_from(offset)  # nothing consumed: the position stays
            raise
        joined = b"".join(parts)
        self._buf, self._buf_start, self._buf_pos = joined, offset, 0
        return joined, offset

    def read1(self, size: int = -1) -> bytes:
        self._check_open()
        if self._buf_pos >= len(self._buf) and not self._advance():
            return b""
        available = len(self._buf) - self._buf_pos
        take = available if size is None or size < 0 else min(size, available)
        return self.read(take)

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` straight from the blocks (one copy per byte, no bytes
        object in between); fewer bytes only at the end of the file."""
        self._check_open()
        target = memoryview(buffer).cast("B")
        wanted, filled = len(target), 0
        position = self.tell()
        while filled < wanted:
            available = len(self._buf) - self._buf_pos
            if available == 0:
                try:
                    advanced = self._advance()
                except BaseException:
                    self._forget_from(position)  # nothing consumed: the position stays
                    raise
                if not advanced:
                    break
                continue
            take = min(available, wanted - filled)
            pos = self._buf_pos
            target[filled:filled + take] = memoryview(self._buf)[pos:pos + take]
            self._buf_pos = pos + take
            filled += take
        return filled

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self.tell() + offset
        elif whence == io.SEEK_END:
            target = self._size + offset
        else:
            raise InvalidArgumentError(f"seek(): whence must be 0, 1 or 2 (got {whence!r})")
        if target < 0:
            raise InvalidArgumentError(f"seek(): negative position {target} in {self._url}")
        if self._buf_start <= target <= self._buf_start + len(self._buf):
            self._buf_pos = target - self._buf_start  # inside the current block
            return target
        # Keep pending blocks when the target lies in one of them (a forward skip).
        while self._pending and self._pending[0][1] <= target:
            self._drop_first()
        if self._pending and self._pending[0][0] <= target:
            try:
                self._enter(target)
            except BaseException:
                self._forget_from(target)
                raise
            return target
        self._cancel_pending()
        self._buf, self._buf_pos = b"", 0
        self._buf_start = self._next_fetch = min(target, self._size)
        if target > self._size:  # past the end: reads return b""
            self._buf_start = target
        self._schedule()
        return target

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError(f"I/O operation on closed file {self._url}")

    def close(self) -> None:
        if not self._released:
            self._released = True
            self._cancel_pending()
            self._buf = b""
            self._thread.release()
        super().close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def __repr__(self) -> str:
        return f"<ReadAheadFile {self._url} size={self._size}>"


def _wrap(task: asyncio.Future, loop: asyncio.AbstractEventLoop) -> concurrent.futures.Future:
    """A thread-safe future completed with ``task`` (a task running on ``loop``)."""
    out: concurrent.futures.Future = concurrent.futures.Future()

    def copy(done: asyncio.Future) -> None:
        if out.done():  # cancelled by the reader meanwhile
            return
        if done.cancelled():
            out.cancel()
        elif done.exception() is not None:
            out.set_exception(done.exception())
        else:
            out.set_result(done.result())

    def attach() -> None:
        task.add_done_callback(copy)

    out.add_done_callback(
        lambda f: loop.call_soon_threadsafe(task.cancel) if f.cancelled() else None)
    loop.call_soon_threadsafe(attach)
    return out
