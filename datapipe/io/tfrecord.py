"""TFRecord files, bit-compatible with TensorFlow: a block reader and a writer.

A TFRecord file is a sequence of records, each framed as::

    uint64 length (LE) | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)

optionally inside one GZIP or ZLIB stream. :class:`TFRecordReader` reads a file (any
fsspec URL, opened through :func:`datapipe.io.filesystem.open_input`) in large blocks
and frames every complete record of a block in one native call
(``datapipe._native.records.scan``: CRC32C in hardware where the CPU has it, checked
in the same pass that copies each record out, GIL released). A local uncompressed
file is not read() into a block at all: the reader maps it (read-only, in windows of
64 MiB that move along the file) and the records are copied straight from the page
cache. A remote uncompressed file is parsed the same way, in place, from the
responses its read-ahead reader holds (``ReadAheadFile.window``). Near the end of
the mapped file (and for every other stream) it reads blocks,
so files that grow while they are read, end early or end inside a header behave the
same either way. Caveat of the map: a file *truncated by another process while it is
read* kills the process with SIGBUS instead of raising; set ``USE_MMAP = False`` in
this module where that can happen. :class:`TFRecordWriter` writes files TensorFlow
reads; uncompressed output is byte-identical to ``tf.io.TFRecordWriter``'s.

Errors, as TensorFlow reports them (same offsets, plus the file URL):

* a data CRC mismatch: ``DataLossError("corrupted record at <offset of the data> in
  <url> ...")``; a length CRC mismatch: ``"corrupted record at <offset of the record>
  ..."``;
* a file that ends inside a record's data: ``"truncated record at <offset of the
  record> ..."``;
* a file that ends inside a record's 12-byte *header* ends cleanly, as in TensorFlow
  (which cannot tell a cut header from a clean end); the reader counts such cut
  headers in ``truncated_headers`` and logs a warning on the ``datapipe`` logger;
* a missing file: ``NotFoundError`` naming the URL.

After an error the reader is finished (TensorFlow also abandons the rest of the file).
For compressed files, offsets count bytes of the *decompressed* stream (as in
TensorFlow).

Starting at a byte offset (resume): uncompressed files seek there; compressed files
cannot seek, so the stream is inflated from its start and the first ``offset``
decompressed bytes are skipped (cost proportional to the offset).

Example::

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.tfrecord")
    >>> with TFRecordWriter(path) as writer:
    ...     for record in (b"one", b"", b"three"):
    ...         writer.write(record)
    >>> list(TFRecordReader(path))
    [b'one', b'', b'three']
    >>> list(TFRecordReader(path, offset=19))   # the second record starts at 3 + 16
    [b'', b'three']
    >>> with TFRecordWriter(path, TFRecordOptions(compression_type="GZIP")) as writer:
    ...     writer.write(b"zipped")
    >>> list(TFRecordReader(path, compression_type="GZIP"))
    [b'zipped']
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import mmap
import os
import stat
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, BinaryIO

import numpy as np

from datapipe._native import records as _records
from datapipe.errors import (
    DataLossError,
    FailedPreconditionError,
    InvalidArgumentError,
    InvalidTypeError,
    NotFoundError,
)
from datapipe.io.compression import (
    check_compression_type,
    open_compressed_output,
    open_decompressed,
)
from datapipe.io.filesystem import open_input, open_output

__all__ = ["DEFAULT_BUFFER_SIZE", "TFRecordOptions", "TFRecordReader", "TFRecordWriter",
           "check_buffer_size", "tf_record_iterator"]

logger = logging.getLogger("datapipe")

#: tf.data's default read buffer for TFRecord files (256 KiB).
DEFAULT_BUFFER_SIZE = 256 * 1024
# Smallest block actually read per call: one native scan per block, so small blocks
# cost Python overhead without saving memory worth having (tf.data's buffer_size is
# honoured as a lower bound).
_MIN_READ = 1 << 20

# Local uncompressed files are read through a read-only memory map of this many bytes
# at a time (moved along the file; larger when one record needs more): the records are
# copied (and CRC-checked, in one pass) straight from the page cache, with no read()
# into an intermediate block. Set False to always read() (e.g. for files that another
# process may truncate while they are read: touching a mapped page past the new end of
# the file raises SIGBUS, which ends the process).
USE_MMAP = True
_MAP_WINDOW = 64 << 20
_MAP_ALIGN = mmap.ALLOCATIONGRANULARITY

_HEADER = _records.HEADER_BYTES
_FRAME = _records.HEADER_BYTES + _records.FOOTER_BYTES
_NEED_MORE = _records.NEED_MORE
_CORRUPT_LENGTH = _records.CORRUPT_LENGTH


def check_buffer_size(buffer_size: Any, where: str) -> int | None:
    """``buffer_size`` validated: None or an int >= 0 (bytes)."""
    if buffer_size is None:
        return None
    if isinstance(buffer_size, bool) or not isinstance(buffer_size, (int, np.integer)):
        raise InvalidTypeError(
            f"{where}: buffer_size must be an int number of bytes or None "
            f"(got {buffer_size!r})")
    if buffer_size < 0:
        raise InvalidArgumentError(
            f"{where}: buffer_size must be >= 0 bytes (got {buffer_size})")
    return int(buffer_size)


def _open_stream(url: str, kind: str, storage_options: Mapping[str, Any] | None
                 ) -> BinaryIO:
    try:
        raw = open_input(url, storage_options)
    except NotFoundError:
        raise
    except FileNotFoundError as exc:
        raise NotFoundError(f"{url}: no such file or object ({exc})") from exc
    return open_decompressed(raw, kind)


class TFRecordReader:
    """Reads the records of one TFRecord file, a block at a time.

    ``read_batch()`` returns the next records (every complete record of the next
    block; ``[]`` at the end); iterating yields them one by one. ``offset`` is the
    byte offset just past the last record returned by ``read_batch`` (where a new
    reader must start to continue). The file is opened at the first read.
    ``check_crc=False`` skips CRC checks (framing is still validated).
    """

    def __init__(self, url: str, compression_type: str | None = None,
                 buffer_size: int | None = None, offset: int = 0,
                 check_crc: bool = True,
                 storage_options: Mapping[str, Any] | None = None) -> None:
        if not isinstance(url, str):
            raise InvalidTypeError(f"TFRecordReader: url must be a str (got {url!r})")
        if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)) or \
                offset < 0:
            raise InvalidArgumentError(
                f"TFRecordReader: offset must be an int >= 0 (got {offset!r})")
        self.url = url
        self.compression_type = check_compression_type(compression_type,
                                                       "TFRecordReader: compression_type")
        size = check_buffer_size(buffer_size, "TFRecordReader")
        self._block = max(DEFAULT_BUFFER_SIZE if size is None else size, _MIN_READ)
        self._check = bool(check_crc)
        self._storage_options = storage_options
        #: Offset (in the decompressed stream) just past the last record returned.
        self.offset = int(offset)
        #: Bytes of the (decompressed) stream read so far.
        self.bytes_read = 0
        #: Files that ended inside a record header (tf.data ends them silently).
        self.truncated_headers = 0
        self._stream: BinaryIO | None = None
        self._buf: bytearray | None = None
        self._view: memoryview | None = None
        self._base = int(offset)   # stream offset of _buf[0]
        self._start = 0            # next record starts at _buf[_start]
        self._end = 0              # valid bytes end at _buf[_end]
        self._need = 0             # bytes from _start the next record needs (0: scan)
        self._status = _NEED_MORE  # a corruption found behind the records returned
        self._done = False
        # mapped mode (a local file's mmap, or a remote file's response bytes): _base
        # is the file offset of _map[0]
        self._map: mmap.mmap | bytes | None = None
        self._map_len = 0

    # ------------------------------------------------------------------ opening

    def _open(self) -> None:
        stream = _open_stream(self.url, self.compression_type, self._storage_options)
        self._stream = stream
        self._readinto = getattr(stream, "readinto", None)
        if not self.compression_type and self._map_at(self.offset, 0):
            return
        self._buf = bytearray(self._block)
        self._view = memoryview(self._buf)
        if self.offset:
            self._skip_to(self.offset)

    # ------------------------------------------------------------------ mapped mode

    def _map_at(self, offset: int, need: int) -> bool:
        """Map the file from ``offset`` (at least ``need`` bytes, a window if the file
        has it); False where the stream is no local regular file or the file holds
        less than ``max(need, 1)`` bytes from ``offset`` (the read() path takes over,
        and with it the end-of-file and truncation rules).

        A remote file's read-ahead reader offers its blocks the same way
        (``ReadAheadFile.window``): records are then parsed where the response
        landed, with no copy into a read buffer first."""
        window = getattr(self._stream, "window", None)
        if window is not None:
            got = window(offset, need)
            if got is None:
                return False
            data, base = got
            self._map, self._map_len = data, len(data)
            self._base, self._start, self._end = base, offset - base, len(data)
            return True
        if not USE_MMAP:
            return False
        try:
            fileno = self._stream.fileno()  # type: ignore[union-attr]
            info = os.fstat(fileno)
        except (AttributeError, OSError, ValueError):
            return False
        if not stat.S_ISREG(info.st_mode) or info.st_size < offset + max(need, 1):
            return False
        base = offset - offset % _MAP_ALIGN
        length = min(info.st_size - base, max(_MAP_WINDOW, offset - base + need))
        try:
            mapped = mmap.mmap(fileno, length, flags=mmap.MAP_SHARED,
                               prot=mmap.PROT_READ, offset=base)
        except (OSError, ValueError, OverflowError):
            return False
        if hasattr(mapped, "madvise"):
            mapped.madvise(mmap.MADV_SEQUENTIAL)
        self._unmap()
        self._map, self._map_len = mapped, length
        self._base, self._start, self._end = base, offset - base, length
        return True

    def _unmap(self) -> None:
        mapped, self._map = self._map, None
        if isinstance(mapped, mmap.mmap):
            # BufferError: a scan on another thread still reads it; it is unmapped
            # when that scan lets go of it and the map is collected.
            with contextlib.suppress(BufferError):
                mapped.close()

    def _read_mapped(self) -> list[bytes]:
        """``read_batch`` over the map: one scan of (at least) a block per call."""
        scan = _records.scan
        while True:
            start = self._start
            stop = min(start + max(self._block, self._need), self._map_len)
            records, consumed, status, need = scan(self._map, start, stop, self._check)
            self._start = consumed
            self._need = need
            self._status = status
            self.bytes_read += consumed - start
            if records:
                self.offset = self._base + consumed
                return records
            if status != _NEED_MORE:
                self._corrupt(status)
            if stop < self._map_len:
                continue  # the record needs more than a block: scan further
            # The next record runs past the window: move the window to it (at least
            # its header: need is 0 when the window ended exactly at the record, so
            # each move maps more than the last), or hand the rest of the file to the
            # read() path, whose end-of-file rules then apply.
            at = self._base + consumed
            if self._map_at(at, max(need, _HEADER)):
                continue
            self._unmap()
            self._stream.seek(at)  # type: ignore[union-attr]
            self._buf = bytearray(self._block)
            self._view = memoryview(self._buf)
            self._base, self._start, self._end = at, 0, 0
            return self.read_batch()

    def _skip_to(self, offset: int) -> None:
        stream = self._stream
        assert stream is not None
        if not self.compression_type:
            seekable = getattr(stream, "seekable", None)
            if seekable is not None and seekable():
                stream.seek(offset)
                return
        left = offset  # compressed (or unseekable): inflate and drop the first bytes
        while left:
            chunk = stream.read(min(left, 1 << 22))
            if not chunk:
                break  # the offset is past the end: the reader simply ends there
            left -= len(chunk)

    # ------------------------------------------------------------------ reading

    def _grow(self, capacity: int) -> None:
        """Move the unparsed tail into a new buffer of ``capacity`` bytes."""
        start, end = self._start, self._end
        tail = end - start
        grown = bytearray(capacity)
        grown[:tail] = self._view[start:end]
        self._view.release()
        self._buf = grown
        self._view = memoryview(grown)
        self._base += start
        self._start, self._end = 0, tail

    def _fill(self, needed: int) -> bool:
        """Read until ``needed`` bytes from ``_start`` are buffered; False at EOF."""
        start, end = self._start, self._end
        tail = end - start
        buf = self._buf
        assert buf is not None
        capacity = len(buf)
        if needed > capacity:  # a record bigger than the block
            # At most twofold per step, and again only while data keeps coming: a corrupt
            # length field must not allocate the size it claims before the file ends.
            self._grow(min(needed, 2 * capacity))
        elif start + needed > capacity or start >= self._block // 2:
            if tail:
                buf[:tail] = bytes(self._view[start:end])
            self._base += start
            self._start, self._end = 0, tail
        want = max(needed, 1)
        stream = self._stream
        while self._end - self._start < want:
            end = self._end
            if end == len(self._buf):
                self._grow(min(want, 2 * len(self._buf)))
                end = self._end
            view = self._view
            capacity = len(self._buf)
            if self._readinto is not None:
                got = self._readinto(view[end:capacity])
            else:
                chunk = stream.read(capacity - end)
                got = len(chunk)
                view[end:end + got] = chunk
            if not got:
                return False
            self._end = end + got
            self.bytes_read += got
        return True

    def read_batch(self) -> list[bytes]:
        """The next records (at least one), or ``[]`` at the end of the file."""
        if self._done:
            return []
        if self._stream is None:
            self._open()
        if self._status != _NEED_MORE:
            self._corrupt(self._status)
        if self._map is not None:
            return self._read_mapped()
        scan = _records.scan
        while True:
            if self._end - self._start >= self._need:
                records, consumed, status, need = scan(self._buf, self._start, self._end,
                                                       self._check)
                self._start = consumed
                self._need = need
                self._status = status
                if records:
                    self.offset = self._base + consumed
                    return records
                if status != _NEED_MORE:
                    self._corrupt(status)
            if not self._fill(self._need):
                self._at_eof()
                return []

    def _corrupt(self, status: int) -> None:
        at = self._base + self._start
        if status == _CORRUPT_LENGTH:
            what = "its length field fails its CRC"
            hint = " (is this even a TFRecord file?)" if at == 0 else ""
        else:
            what = "its data fails its CRC"
            at += _HEADER
            hint = ""
        self._finish()
        raise DataLossError(f"corrupted record at {at} in {self.url}: {what}{hint}"
                            f"{self._where()}")

    def _at_eof(self) -> None:
        tail = self._end - self._start
        at = self._base + self._start
        self._finish()
        if tail == 0:
            return
        if tail < _HEADER:
            # TensorFlow ends such a file cleanly; we do too, but say so.
            self.truncated_headers += 1
            logger.warning("%s ends inside a TFRecord header at offset %d (%d of 12 "
                           "bytes); treated as the end of the file, as TensorFlow does",
                           self.url, at, tail)
            return
        raise DataLossError(
            f"truncated record at {at} in {self.url}: the file ends {tail} bytes into a "
            f"record of {self._need} bytes{self._where()}")

    def _where(self) -> str:
        if self.compression_type:
            return f" (offset in the {self.compression_type}-decompressed stream)"
        return ""

    def _finish(self) -> None:
        self._done = True
        self.close()

    def __iter__(self) -> Iterator[bytes]:
        while True:
            batch = self.read_batch()
            if not batch:
                return
            yield from batch

    def close(self) -> None:
        """Close the file (idempotent); later reads return nothing."""
        self._done = True
        stream, self._stream = self._stream, None
        self._unmap()
        if self._view is not None:
            self._view.release()
            self._view = None
        self._buf = None
        if stream is not None:
            stream.close()

    def __enter__(self) -> TFRecordReader:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def tf_record_iterator(path: str, options: Any = None,
                       storage_options: Mapping[str, Any] | None = None
                       ) -> Iterator[bytes]:
    """The records of ``path`` (``tf.compat.v1.io.tf_record_iterator``'s equivalent)."""
    opts = TFRecordOptions.from_value(options, "tf_record_iterator()")
    with TFRecordReader(path, opts.compression_type, storage_options=storage_options) \
            as reader:
        yield from reader


# ---------------------------------------------------------------------- writing


def _check_optional_int(value: Any, name: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidTypeError(f"TFRecordOptions: {name} must be an int or None "
                               f"(got {value!r})")
    if not low <= value <= high:
        raise InvalidArgumentError(f"TFRecordOptions: {name} must be in [{low}, {high}] "
                                   f"(got {value})")
    return int(value)


@dataclasses.dataclass(frozen=True)
class TFRecordOptions:
    """Options of a TFRecord file, as ``tf.io.TFRecordOptions``.

    ``compression_type``: None / "" (plain), "GZIP" or "ZLIB". ``compression_level``
    (-1..9, -1 or None is zlib's default, 6), ``window_bits`` (8..15), ``mem_level``
    (1..9) and ``compression_strategy`` (0..4) tune the deflate stream.
    ``flush_mode``, ``input_buffer_size``, ``output_buffer_size`` and
    ``compression_method`` are accepted for compatibility and have no effect.
    """

    compression_type: str | None = None
    flush_mode: int | None = None
    input_buffer_size: int | None = None
    output_buffer_size: int | None = None
    window_bits: int | None = None
    compression_level: int | None = None
    compression_method: int | None = None
    mem_level: int | None = None
    compression_strategy: int | None = None

    def __post_init__(self) -> None:
        kind = check_compression_type(self.compression_type,
                                      "TFRecordOptions: compression_type")
        object.__setattr__(self, "compression_type", kind)
        _check_optional_int(self.compression_level, "compression_level", -1, 9)
        _check_optional_int(self.window_bits, "window_bits", 8, 15)
        _check_optional_int(self.mem_level, "mem_level", 1, 9)
        _check_optional_int(self.compression_strategy, "compression_strategy", 0, 4)
        _check_optional_int(self.compression_method, "compression_method", 8, 8)
        _check_optional_int(self.flush_mode, "flush_mode", 0, 5)
        _check_optional_int(self.input_buffer_size, "input_buffer_size", 0, 1 << 40)
        _check_optional_int(self.output_buffer_size, "output_buffer_size", 0, 1 << 40)

    @classmethod
    def from_value(cls, options: Any, where: str) -> TFRecordOptions:
        """``options`` as TFRecordOptions: None, a compression type string, or itself."""
        if options is None:
            return cls()
        if isinstance(options, cls):
            return options
        if isinstance(options, str):
            return cls(compression_type=options)
        raise InvalidTypeError(f"{where}: options must be a TFRecordOptions, a "
                               f"compression type string or None (got {options!r})")

    @classmethod
    def get_compression_type_string(cls, options: Any) -> str:
        """The compression type ("", "GZIP" or "ZLIB") of ``options``."""
        return cls.from_value(options, "get_compression_type_string()").compression_type

    def _custom_deflate(self) -> bool:
        return any(value is not None for value in (
            self.compression_level, self.window_bits, self.mem_level,
            self.compression_strategy))


class _DeflateOutput:
    """A GZIP or ZLIB stream with explicit deflate parameters; closing closes ``raw``."""

    def __init__(self, raw: BinaryIO, options: TFRecordOptions) -> None:
        self._raw = raw
        level = options.compression_level
        bits = options.window_bits if options.window_bits is not None else zlib.MAX_WBITS
        self._gzip = options.compression_type == "GZIP"
        self._deflate = zlib.compressobj(
            -1 if level is None else level, zlib.DEFLATED,
            bits + 16 if self._gzip else bits,
            options.mem_level if options.mem_level is not None else 8,
            options.compression_strategy or 0)

    def write(self, data: bytes) -> int:
        self._raw.write(self._deflate.compress(data))
        return len(data)

    def flush(self) -> None:
        self._raw.write(self._deflate.flush(zlib.Z_SYNC_FLUSH))
        self._raw.flush()

    def close(self) -> None:
        if self._deflate is not None:
            self._raw.write(self._deflate.flush())
            self._deflate = None
            self._raw.close()


def _as_record(record: Any) -> Any:
    if isinstance(record, (bytes, bytearray, memoryview)):
        return record
    if isinstance(record, str):
        return record.encode("utf-8")
    if isinstance(record, np.bytes_):
        return bytes(record)
    if isinstance(record, np.ndarray) and record.ndim == 0 and record.dtype.kind in "SO":
        return _as_record(record.item())
    raise InvalidTypeError(
        f"TFRecordWriter.write(): record must be bytes or str (got "
        f"{type(record).__name__})")


class TFRecordWriter:
    """Writes records to a TFRecord file, as ``tf.io.TFRecordWriter``.

    ``options``: a :class:`TFRecordOptions`, a compression type string ("", "GZIP",
    "ZLIB") or None. The file is created (truncated) at construction. ``write`` takes
    bytes (or str, encoded as UTF-8); ``write_many`` frames a whole list in one native
    call. Use as a context manager, or call ``close()``.
    """

    def __init__(self, path: str, options: Any = None,
                 storage_options: Mapping[str, Any] | None = None) -> None:
        if not isinstance(path, str):
            raise InvalidTypeError(f"TFRecordWriter: path must be a str (got {path!r})")
        self.options = TFRecordOptions.from_value(options, "TFRecordWriter")
        self.path = path
        try:
            raw = open_output(path, storage_options)
        except NotFoundError:
            raise
        except FileNotFoundError as exc:
            raise NotFoundError(f"{path}: no such directory to create the file in "
                                f"({exc})") from exc
        kind = self.options.compression_type
        if kind and self.options._custom_deflate():
            self._out: Any = _DeflateOutput(raw, self.options)
        else:
            self._out = open_compressed_output(raw, kind)
        self._frame = _records.frame
        self._closed = False

    def _check_open(self) -> Any:
        if self._closed:
            raise FailedPreconditionError(f"TFRecordWriter for {self.path}: writer is "
                                          "closed")
        return self._out

    def write(self, record: Any) -> None:
        """Append one record."""
        out = self._check_open()
        out.write(self._frame(_as_record(record)))

    def write_many(self, records: Iterable[Any]) -> None:
        """Append every record of ``records`` (framed in one native call)."""
        out = self._check_open()
        out.write(_records.frame_many([_as_record(item) for item in records]))

    def flush(self) -> None:
        """Push buffered bytes to the file (a sync flush for compressed files)."""
        self._check_open().flush()

    def close(self) -> None:
        """Finish the file (idempotent)."""
        if not self._closed:
            self._closed = True
            self._out.close()

    def __enter__(self) -> TFRecordWriter:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

