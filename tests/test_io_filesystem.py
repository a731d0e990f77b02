"""The I/O layer without a server: URLs, errors, the read-ahead reader, the I/O thread."""

from __future__ import annotations

import io
import os
import threading

import fsspec
import pytest

import datapipe as dp
from datapipe.errors import DataLossError, InvalidArgumentError, InvalidTypeError, NotFoundError
from datapipe.io import async_reader
from datapipe.io.async_reader import ReadAheadFile, ReadAheadOptions, configure, io_thread
from datapipe.io.filesystem import open_input, open_output
from datapipe.io.retry import (
    RetryPolicy,
    ShortReadError,
    UnavailableError,
    is_transient,
    translate_error,
)
from datapipe.testing import assert_resumes, take_all

DATA = bytes(range(256)) * 40 + b"tail"  # 10244 bytes: blocks of 1000 end unevenly
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.001, max_backoff=0.01)


@pytest.fixture
def memfile():
    url = "memory://io-tests/data.bin"
    with fsspec.open(url, "wb") as f:
        f.write(DATA)
    yield url
    fsspec.filesystem("memory").rm("/io-tests", recursive=True)


@pytest.fixture
def folder(tmp_path):
    for name in ("b.txt", "a.txt", "c.txt", "skip.log"):
        (tmp_path / name).write_bytes(name.encode())
    (tmp_path / "sub").mkdir()
    return tmp_path


def test_open_input_local_path_file_url_bytes_and_pathlike(tmp_path):
    path = tmp_path / "x.bin"
    with open_output(str(path)) as f:
        f.write(b"abc")
    for url in (str(path), f"file://{path}", os.fsencode(str(path)), path):
        with open_input(url) as f:
            assert f.read() == b"abc"


def test_local_file_uses_plain_buffered_open(tmp_path):
    (tmp_path / "x").write_bytes(b"1")
    with open_input(str(tmp_path / "x")) as f:
        assert isinstance(f, io.BufferedReader)


def test_missing_local_and_memory_files_raise_not_found_naming_url(tmp_path):
    missing = str(tmp_path / "nope.bin")
    with pytest.raises(NotFoundError, match=r"nope\.bin"):
        open_input(missing)
    with pytest.raises(NotFoundError, match=r"memory://io-tests/none\.bin"):
        open_input("memory://io-tests/none.bin")
    with pytest.raises(NotFoundError, match=r"memory://io-tests/none\.bin"):
        open_input("memory://io-tests/none.bin", read_ahead=True)


def test_directory_is_invalid_argument(tmp_path):
    with pytest.raises((InvalidArgumentError, OSError)):
        open_input(str(tmp_path))


def test_bad_url_and_storage_options_types():
    with pytest.raises(InvalidTypeError, match="url must be a str"):
        open_input(3)
    with pytest.raises(InvalidTypeError, match="storage_options must be a dict"):
        open_input("memory://x", storage_options=[1])


@pytest.mark.parametrize(("block_size", "ahead"), [(1000, 1), (1000, 3), (4096, 4), (1 << 20, 2)])
@pytest.mark.parametrize("chunk", [1, 7, 999, 1000, 1001, 5000, 20000])
def test_read_ahead_returns_every_byte_in_order(memfile, block_size, ahead, chunk):
    with open_input(memfile, read_ahead=True, block_size=block_size,
                    blocks_in_flight=ahead) as f:
        assert isinstance(f, ReadAheadFile)
        assert f.size == len(DATA)
        parts, position = [], 0
        while True:
            part = f.read(chunk)
            if not part:
                break
            assert len(part) == min(chunk, len(DATA) - position)  # full reads until EOF
            position += len(part)
            assert f.tell() == position
            parts.append(part)
        assert b"".join(parts) == DATA
        assert f.read() == b"" and f.read(5) == b""


def test_read_ahead_read_all_read1_readinto(memfile):
    with ReadAheadFile(memfile, block_size=1000) as f:
        assert f.read(0) == b""
        # read1: at most one response; the first covers the window (4 blocks)
        assert f.read1(5000) == DATA[:4000]
        buffer = bytearray(50)
        assert f.readinto(buffer) == 50 and bytes(buffer) == DATA[4000:4050]
        assert f.read() == DATA[4050:]


@pytest.mark.parametrize("target", [0, 5, 999, 1000, 1001, 3500, 10243, 10244, 20000])
def test_read_ahead_seek_and_tell(memfile, target):
    with ReadAheadFile(memfile, block_size=1000, blocks_in_flight=2) as f:
        f.read(1500)
        assert f.seek(target) == target and f.tell() == target
        assert f.read(700) == DATA[target:target + 700]
        assert f.seek(-4, io.SEEK_END) == len(DATA) - 4 and f.read() == b"tail"
        f.seek(0)
        f.seek(10, io.SEEK_CUR)
        assert f.read(3) == DATA[10:13]
        with pytest.raises(InvalidArgumentError, match="negative position"):
            f.seek(-1)


def test_empty_file_reads_nothing():
    with fsspec.open("memory://io-tests/empty", "wb"):
        pass
    with open_input("memory://io-tests/empty", read_ahead=True) as f:
        assert f.size == 0 and f.read() == b"" and f.read(10) == b""


def test_close_stops_work_and_the_io_thread_exits(memfile):
    f = open_input(memfile, read_ahead=True, block_size=100, blocks_in_flight=4)
    f.read(10)
    assert any(t.name == "datapipe-io" for t in threading.enumerate())
    f.close()
    f.close()  # idempotent
    with pytest.raises(ValueError, match="closed file"):
        f.read(1)
    io_thread().join(5)
    assert not io_thread().running


def test_one_io_thread_serves_many_open_files(memfile):
    files = [open_input(memfile, read_ahead=True, block_size=512) for _ in range(5)]
    try:
        names = [t.name for t in threading.enumerate() if t.name == "datapipe-io"]
        assert names == ["datapipe-io"]
        assert all(f.read() == DATA for f in files)
    finally:
        for f in files:
            f.close()


def test_short_bodies_are_retried_then_raise_data_loss(memfile, monkeypatch):
    """A block shorter than asked is retried; if it stays short, DataLossError names
    the URL and the offset — never a silently short file."""
    calls = []
    real = fsspec.implementations.memory.MemoryFileSystem.cat_file

    def flaky(self, path, start=None, end=None, **kwargs):
        calls.append(start)
        data = real(self, path, start=start, end=end, **kwargs)
        return data[:-1] if start == 5000 and calls.count(5000) < 3 else data

    monkeypatch.setattr(fsspec.implementations.memory.MemoryFileSystem, "cat_file", flaky)
    with ReadAheadFile(memfile, block_size=1000, retry=FAST) as f:
        assert f.read() == DATA  # short twice, then whole: the third attempt wins
    calls.clear()
    policy = RetryPolicy(max_attempts=2, initial_backoff=0.001)
    with ReadAheadFile(memfile, block_size=1000, retry=policy) as f, \
            pytest.raises(DataLossError, match=r"short read at 5000 in memory://io-tests"):
        f.read()


def test_transient_errors_are_retried_with_backoff(memfile, monkeypatch):
    failures = {"left": 2}
    real = fsspec.implementations.memory.MemoryFileSystem.cat_file

    def flaky(self, path, start=None, end=None, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionResetError("reset by peer")
        return real(self, path, start=start, end=end, **kwargs)

    monkeypatch.setattr(fsspec.implementations.memory.MemoryFileSystem, "cat_file", flaky)
    with ReadAheadFile(memfile, block_size=4096, blocks_in_flight=1, retry=FAST) as f:
        assert f.read() == DATA
    failures["left"] = 10
    with ReadAheadFile(memfile, block_size=4096, blocks_in_flight=1, retry=FAST) as f, \
            pytest.raises(UnavailableError, match=r"io-tests/data\.bin .*after 3 attempt"):
        f.read()


def test_a_failed_block_is_asked_for_again_never_skipped(memfile, monkeypatch):
    """A block that fails for good raises, leaves the position where it was (the bytes
    already gathered by that read are not lost) and is requested again by the next
    read: the read-ahead once went on with the block after it, silently."""
    fail = {"at": 4096}
    real = fsspec.implementations.memory.MemoryFileSystem.cat_file

    def flaky(self, path, start=None, end=None, **kwargs):
        if start == fail["at"]:
            raise PermissionError("injected")  # final at once: no retry
        return real(self, path, start=start, end=end, **kwargs)

    monkeypatch.setattr(fsspec.implementations.memory.MemoryFileSystem, "cat_file", flaky)
    # one block per request (blocks_in_flight=1), so block 1 fails on its own
    with ReadAheadFile(memfile, block_size=4096, blocks_in_flight=1, retry=FAST) as f:
        assert f.read(4000) == DATA[:4000]
        with pytest.raises(OSError, match="4096"):
            f.read(200)  # 96 bytes from block 0, then block 1 fails
        assert f.tell() == 4000
        fail["at"] = None
        assert f.read() == DATA[4000:]
    fail["at"] = 4000
    with ReadAheadFile(memfile, block_size=1000, blocks_in_flight=4, retry=FAST) as f:
        assert f.read(10) == DATA[:10]  # the window [0, 4000), then [4000, 5000) asked
        with pytest.raises(OSError):
            f.seek(4500)  # the target lies in a pending block that fails
        fail["at"] = None
        f.seek(4500)
        assert f.read() == DATA[4500:]


@pytest.fixture
def ranges(monkeypatch):
    """The (start, end) of every request made to the memory filesystem."""
    made = []
    real = fsspec.implementations.memory.MemoryFileSystem.cat_file

    def recording(self, path, start=None, end=None, **kwargs):
        made.append((start, end))
        return real(self, path, start=start, end=end, **kwargs)

    monkeypatch.setattr(fsspec.implementations.memory.MemoryFileSystem, "cat_file",
                        recording)
    return made


def test_first_request_covers_the_read_ahead_window(memfile, ranges):
    """A file no larger than blocks_in_flight * block_size costs one request (as
    cat_file); a larger one gets the window first, then a block per request."""
    with ReadAheadFile(memfile, block_size=4096, blocks_in_flight=4) as f:
        assert f.read() == DATA
    assert ranges == [(0, 16384)]
    ranges.clear()
    with ReadAheadFile(memfile, block_size=1000, blocks_in_flight=4) as f:
        assert f.read(10) == DATA[:10]
        assert f.seek(3990) == 3990 and f.read(20) == DATA[3990:4010]  # across
        assert f.read() == DATA[4010:]
    assert ranges[0] == (0, 4000)
    # the last request asks for a byte past the end: an object that grew shows itself
    assert sorted(ranges[1:]) == [(k, k + 1000 if k + 1000 < len(DATA) else len(DATA) + 1)
                                  for k in range(4000, len(DATA), 1000)]


def test_retry_policy_delays_and_validation():
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=3, multiplier=3, jitter=False)
    assert [policy.delay(k) for k in range(4)] == [0.5, 1.5, 3, 3]
    jittered = RetryPolicy(initial_backoff=1, jitter=True)
    assert all(0.5 <= jittered.delay(0) <= 1 for _ in range(20))
    with pytest.raises(InvalidArgumentError, match="max_attempts must be an int >= 1"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(InvalidArgumentError, match="initial_backoff"):
        RetryPolicy(initial_backoff=-1)


def test_transient_classification():
    class Response(Exception):
        def __init__(self, status):
            self.response = {"Error": {"Code": "X"},
                             "ResponseMetadata": {"HTTPStatusCode": status}}

    assert is_transient(ConnectionResetError()) and is_transient(TimeoutError())
    assert is_transient(Response(503)) and is_transient(Response(429))
    assert not is_transient(Response(404)) and not is_transient(Response(403))
    assert is_transient(OSError(16, "SlowDown"))  # s3fs: EBUSY for 503 SlowDown
    assert is_transient(ShortReadError("short"))
    assert not is_transient(FileNotFoundError()) and not is_transient(PermissionError())
    assert not is_transient(ValueError())


def test_translate_error_names_url():
    assert isinstance(translate_error(FileNotFoundError("x"), "s3://b/k"), NotFoundError)
    denied = translate_error(PermissionError("Forbidden"), "s3://b/k")
    assert "access denied reading s3://b/k" in str(denied) and "credentials" in str(denied)
    assert isinstance(translate_error(ShortReadError("short read at 5 in u"), "u"),
                      DataLossError)


def test_configure_changes_defaults_and_validates():
    previous = configure(block_size=1234)
    try:
        assert async_reader.get_options().block_size == 1234
    finally:
        configure(block_size=previous.block_size)
    with pytest.raises(InvalidArgumentError, match="block_size must be a positive int"):
        ReadAheadOptions(block_size=0)
    with pytest.raises(InvalidArgumentError, match="retry must be a RetryPolicy"):
        ReadAheadOptions(retry=3)


# ----------------------------------------------------------------------- list_files


def test_list_files_sorted_bytes_paths(folder):
    ds = dp.Dataset.list_files(str(folder / "*.txt"), shuffle=False)
    assert take_all(ds) == [str(folder / n).encode() for n in ("a.txt", "b.txt", "c.txt")]
    assert ds.cardinality() == -2
    assert ds.element_spec.shape == ()


def test_list_files_list_of_patterns_pools_and_keeps_duplicates(folder):
    patterns = [str(folder / "c*"), str(folder / "a*"), str(folder / "*.txt")]
    got = take_all(dp.Dataset.list_files(patterns, shuffle=False))
    names = [os.path.basename(p).decode() for p in got]
    assert names == ["a.txt", "a.txt", "b.txt", "c.txt", "c.txt"]  # as tf.data


def test_list_files_shuffles_by_default_deterministic_under_seed(folder):
    for name in range(20):
        (folder / f"f{name:02d}.dat").write_bytes(b"")
    pattern = str(folder / "*.dat")
    ds = dp.Dataset.list_files(pattern, seed=7)
    first, second = take_all(ds), take_all(ds)
    in_order = take_all(dp.Dataset.list_files(pattern, shuffle=False))
    assert sorted(first) == sorted(second) == in_order
    assert first != second  # a new order each iteration
    again = dp.Dataset.list_files(pattern, seed=7)
    assert take_all(again) == first and take_all(again) == second


def test_list_files_no_match_raises_like_tf(folder):
    ds = dp.Dataset.list_files(str(folder / "*.zz"))
    with pytest.raises(InvalidArgumentError, match=r"No files matched pattern: .*zz"):
        take_all(ds)
    with pytest.raises(InvalidArgumentError, match="No files matched pattern"):
        take_all(dp.Dataset.list_files([]))
    # one pattern matching is enough
    assert len(take_all(dp.Dataset.list_files([str(folder / "*.zz"), str(folder / "a.txt")]))) == 1


def test_list_files_skips_directories_and_keeps_scheme(folder):
    got = take_all(dp.Dataset.list_files(f"file://{folder}/*", shuffle=False))
    assert got[0].startswith(b"file://") and not any(p.endswith(b"sub") for p in got)
    for index in range(3):
        with fsspec.open(f"memory://lf-tests/s{index}.bin", "wb") as f:
            f.write(b"x" * index)
    got = take_all(dp.Dataset.list_files("memory://lf-tests/*.bin", shuffle=False))
    assert got == [f"memory://lf-tests/s{i}.bin".encode() for i in range(3)]
    assert [len(open_input(p).read()) for p in got] == [0, 1, 2]
    fsspec.filesystem("memory").rm("/lf-tests", recursive=True)


def test_list_files_resolves_once_per_iteration(folder):
    ds = dp.Dataset.list_files(str(folder / "*.txt"), shuffle=False)
    iterator = iter(ds)
    assert next(iterator).endswith(b"a.txt")
    (folder / "d.txt").write_bytes(b"")
    assert len(list(iterator)) == 2        # this iteration keeps its list
    assert len(take_all(ds)) == 4          # the next one sees the new file


def test_list_files_bad_arguments():
    with pytest.raises(InvalidTypeError, match="file_pattern must be a str"):
        dp.Dataset.list_files(3)
    with pytest.raises(InvalidTypeError, match="shuffle must be a bool"):
        dp.Dataset.list_files("x", shuffle="yes")
    with pytest.raises(InvalidTypeError, match="seed must be an int"):
        dp.Dataset.list_files("x", seed=1.5)
    with pytest.raises(InvalidTypeError, match="storage_options must be a dict"):
        dp.Dataset.list_files("x", storage_options=[])


@pytest.mark.parametrize("shuffle", [False, True])
def test_list_files_resumes(folder, shuffle):
    for name in range(9):
        (folder / f"r{name}.dat").write_bytes(b"")
    assert_resumes(dp.Dataset.list_files(str(folder / "*.dat"), shuffle=shuffle, seed=3))
    assert_resumes(dp.Dataset.list_files(str(folder / "*.dat"), shuffle=shuffle, seed=3).repeat(3))


def test_list_files_resume_keeps_the_saved_list(folder):
    ds = dp.Dataset.list_files(str(folder / "*.txt"), seed=1)
    iterator = iter(ds)
    head = [next(iterator)]
    state = iterator.get_state()
    rest = list(iterator)
    (folder / "z.txt").write_bytes(b"")
    restored = iter(ds)
    restored.set_state(state)
    assert list(restored) == rest and len(head + rest) == 3


def test_list_files_then_interleave_reads_every_file(folder):
    ds = dp.Dataset.list_files(str(folder / "*.txt"), shuffle=False)
    ds = ds.map(lambda p: open_input(p).read())
    assert sorted(take_all(ds)) == [b"a.txt", b"b.txt", b"c.txt"]


def test_a_long_retry_policy_does_not_overflow():
    policy = RetryPolicy(max_attempts=10**6, initial_backoff=0.1, max_backoff=2.0,
                         jitter=False)
    assert policy.delay(1024) == 2.0


def test_list_files_returns_names_that_are_not_utf8(tmp_path):
    try:
        (tmp_path / os.fsdecode(b"caf\xe9.txt")).write_bytes(b"x")
    except (OSError, UnicodeError):
        pytest.skip("this filesystem refuses names that are not UTF-8")
    names = take_all(dp.Dataset.list_files(str(tmp_path / "*.txt"), shuffle=False))
    assert [os.path.basename(n) for n in names] == [b"caf\xe9.txt"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_a_fresh_io_thread():
    """The child inherits the parent's I/O thread state but not its thread: it must
    start its own (a remote read once waited forever there)."""
    parent = io_thread()
    pid = os.fork()
    if pid == 0:  # the child: exit status says whether the state was reset
        fresh = io_thread()
        os._exit(0 if fresh is not parent and fresh._loop is None else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0


def test_a_restarted_io_thread_and_a_stopping_one_each_close_their_own_sessions():
    """A thread still closing its sessions and a new one started meanwhile once shared
    one filesystem cache: the new loop's session was never closed."""
    import asyncio
    import time

    from fsspec.asyn import AsyncFileSystem
    from fsspec.registry import register_implementation

    payload = bytes(range(200))
    sessions = []

    class SlowSession:
        def __init__(self):
            self.closed = False
            sessions.append(self)

        async def close(self):
            await asyncio.sleep(0.3)  # a close that takes a moment (TLS shutdown)
            self.closed = True

    class SlowCloseFS(AsyncFileSystem):
        protocol = "slowclose"
        async_impl = True

        @classmethod
        def _strip_protocol(cls, path):
            return path.split("://", 1)[-1]

        async def set_session(self):
            self._session = SlowSession()

        async def _info(self, path, **kwargs):
            return {"name": path, "size": len(payload), "type": "file"}

        async def _cat_file(self, path, start=None, end=None, **kwargs):
            return payload[start:end]

    register_implementation("slowclose", SlowCloseFS, clobber=True)
    previous = configure(idle_timeout=0.0)
    try:
        with ReadAheadFile("slowclose://a") as f:
            assert f.read() == payload
        time.sleep(0.05)  # the first loop is stopping, its session still closing
        with ReadAheadFile("slowclose://b") as g:
            assert g.read() == payload
            time.sleep(0.5)  # the first thread finishes closing while g is open
        io_thread().join(5)
    finally:
        configure(idle_timeout=previous.idle_timeout)
    assert len(sessions) == 2 and all(s.closed for s in sessions)


# ---- sizes from listings; objects that change under the reader ----------------------

@pytest.fixture
def counted_info(monkeypatch):
    """How many size requests the reader made."""
    calls = []
    real = async_reader._info

    async def counting(*args, **kwargs):
        calls.append(args[4])  # the URL
        return await real(*args, **kwargs)

    monkeypatch.setattr(async_reader, "_info", counting)
    return calls


def test_listed_files_open_without_a_size_request(memfile, counted_info):
    """A file that fits in the first response (blocks_in_flight * block_size) opens
    with the size its listing gave; larger ones ask for it."""
    listed = take_all(dp.Dataset.list_files("memory://io-tests/*.bin", shuffle=False))
    assert listed == [memfile.encode()]
    with open_input(memfile, read_ahead=True, block_size=4096) as f:  # one response
        assert f.size == len(DATA) and f.read() == DATA
    assert counted_info == []
    with open_input(memfile, read_ahead=True, block_size=1000) as f:  # 4000: too small
        assert f.read() == DATA  # a listed size it could not confirm: asked for
    assert counted_info == [memfile]
    counted_info.clear()
    with open_input("memory://io-tests/data.bin", {"x": 1}, read_ahead=True) as f:
        assert f.read() == DATA  # other storage options: other objects, asked for
    assert counted_info == ["memory://io-tests/data.bin"]


@pytest.mark.parametrize("listed", [len(DATA) - 100, len(DATA) - 1, len(DATA) + 1,
                                    len(DATA) + 100, 0, 20000])
@pytest.mark.parametrize("first", ["read", "read_all", "seek_end", "seek_past", "size"])
def test_a_stale_listed_size_never_gives_wrong_bytes(memfile, counted_info, listed, first):
    """Whatever is done first — read everything, seek from the end, seek past the
    listed end, ask the size — the real object is what comes back."""
    async_reader.remember_sizes({memfile: listed})
    with open_input(memfile, read_ahead=True, block_size=4096) as f:
        if first == "read":
            assert f.read(10) == DATA[:10] and f.read() == DATA[10:]
        elif first == "read_all":
            assert f.read() == DATA
        elif first == "seek_end":
            f.seek(-4, io.SEEK_END)
            assert f.read() == b"tail"
        elif first == "seek_past":
            f.seek(len(DATA) - 50)
            assert f.read() == DATA[-50:]
        else:
            assert f.size == len(DATA)
    assert counted_info == ([] if listed == len(DATA) else [memfile])


def test_a_stale_listed_size_costs_no_retries(memfile, ranges, counted_info):
    async_reader.remember_sizes({memfile: len(DATA) + 100})  # it shrank since
    with open_input(memfile, read_ahead=True, block_size=4096) as f:
        assert f.read() == DATA
    assert ranges == [(0, len(DATA) + 101), (0, 16384)] and counted_info == [memfile]


def test_a_listed_file_exactly_the_window_opens_on_its_listed_size(counted_info):
    url = "memory://io-tests/window.bin"
    with fsspec.open(url, "wb") as f:
        f.write(DATA[:4000])
    async_reader.remember_sizes({url: 4000})
    with open_input(url, read_ahead=True, block_size=1000, blocks_in_flight=4) as f:
        assert f.read() == DATA[:4000] and f.read() == b""
    assert counted_info == []
    with fsspec.open(url, "wb") as f:
        f.write(DATA[:4001])  # one byte more than listed: the probe byte shows it
    with open_input(url, read_ahead=True, block_size=1000, blocks_in_flight=4) as f:
        assert f.read() == DATA[:4001]
    assert counted_info == [url]


def test_a_listed_object_that_is_gone_is_not_found(memfile, counted_info):
    async_reader.remember_sizes({"memory://io-tests/gone.bin": 100})
    with pytest.raises(NotFoundError, match=r"gone\.bin"), \
            open_input("memory://io-tests/gone.bin", read_ahead=True) as f:
        f.read()


def test_an_object_that_grows_while_read_raises_data_loss(memfile):
    with open_input(memfile, read_ahead=True, block_size=1000, blocks_in_flight=1) as f:
        assert f.read(1000) == DATA[:1000]
        with fsspec.open(memfile, "wb") as out:
            out.write(DATA + b"appended")
        with pytest.raises(DataLossError, match=r"changed while being read.*10244 bytes"):
            f.read()


def test_window_gives_the_response_itself_and_joins_only_across_responses(memfile):
    with ReadAheadFile(memfile, block_size=1000, blocks_in_flight=2) as f:
        data, base = f.window(10, 100)  # inside the first response [0, 2000)
        assert base == 0 and len(data) == 2000 and data[10:110] == DATA[10:110]
        assert f.window(1500, 400)[0] is data  # still inside it: no copy
        data, base = f.window(1900, 300)  # runs on into [2000, 3000): joined once
        assert base == 1900 and data[:300] == DATA[1900:2200]
        assert f.tell() == 1900
        assert f.read(20) == DATA[1900:1920]  # reading goes on from the window
        assert f.window(len(DATA) - 4, 4)[0][-4:] == b"tail"
        assert f.window(len(DATA) - 4, 5) is None  # fewer bytes than asked for
        assert f.window(len(DATA), 0) is None


def test_tfrecord_reader_parses_remote_blocks_in_place(tmp_path, monkeypatch):
    """Records that straddle responses (blocks of 1000 bytes, records up to 3000)
    come out whole and in order through the read-ahead reader."""
    import numpy as np

    from datapipe.io import tfrecord
    rng = np.random.default_rng(0)
    records = [rng.bytes(int(n)) for n in rng.integers(0, 3000, 60)]
    url = "memory://io-tests/records.tfrecord"
    with tfrecord.TFRecordWriter(url) as writer:
        for record in records:
            writer.write(record)
    real = tfrecord.open_input
    monkeypatch.setattr(tfrecord, "open_input", lambda u, o=None: real(
        u, o, read_ahead=True, block_size=1000, blocks_in_flight=2))
    with tfrecord.TFRecordReader(url) as reader:
        assert list(reader) == records
    for offset in (0, 16 + len(records[0])):  # resume from a record boundary
        with tfrecord.TFRecordReader(url, offset=offset) as reader:
            assert list(reader) == records[(offset > 0):]
