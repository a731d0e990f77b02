"""Sharded reads from a real S3-protocol server (moto in server mode on loopback),
through s3:// URLs, list_files and parallel interleave — and the faults of a network."""

from __future__ import annotations

import os
import sys
import threading

import pytest

pytest.importorskip("s3fs", reason="s3:// needs s3fs (in the test extra)")
pytest.importorskip("moto.server", reason="the loopback S3 server needs moto[server] "
                    "(in the test extra)")

sys.path.insert(0, os.path.dirname(__file__))

from s3_server import FaultProxy, S3Server, moto_auth

import datapipe as dp
from datapipe.errors import DataLossError, NotFoundError
from datapipe.io.filesystem import open_input
from datapipe.io.retry import (
    PermissionDeniedError,
    RetryPolicy,
    UnavailableError,
)
from datapipe.testing import assert_resumes, take_all

BUCKET = "datapipe-tests"
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05)
SHARDS = {f"shards/part-{i:02d}.txt": b"".join(
    b"shard %d line %d\n" % (i, j) for j in range(200 + 37 * i)) for i in range(6)}
BIG = bytes(range(256)) * (3 * 4096 + 7)  # ~3 MiB, not a multiple of any block


@pytest.fixture(scope="module")
def server():
    s3 = S3Server().start()
    client = s3.client()
    client.create_bucket(Bucket=BUCKET)
    for key, body in SHARDS.items():
        client.put_object(Bucket=BUCKET, Key=key, Body=body)
    client.put_object(Bucket=BUCKET, Key="big/blob.bin", Body=BIG)
    client.put_object(Bucket=BUCKET, Key="empty/e.bin", Body=b"")
    yield s3
    s3.stop()


@pytest.fixture
def options(server):
    return server.storage_options()


@pytest.fixture
def proxy(server):
    fault = FaultProxy(server.port).start()
    yield fault
    fault.kill()


def read_all(url: bytes, options: dict, **kwargs) -> bytes:
    with open_input(url, options, **kwargs) as f:
        return f.read()


def test_list_files_on_s3_keeps_the_scheme(options):
    got = take_all(dp.Dataset.list_files(f"s3://{BUCKET}/shards/*.txt", shuffle=False,
                              storage_options=options))
    assert got == [f"s3://{BUCKET}/{key}".encode() for key in sorted(SHARDS)]


def test_list_files_on_s3_shuffles_deterministically(options):
    pattern = f"s3://{BUCKET}/shards/*.txt"
    ds = dp.Dataset.list_files(pattern, seed=5, storage_options=options)
    first = take_all(ds)
    assert sorted(first) == take_all(dp.Dataset.list_files(pattern, shuffle=False,
                                                storage_options=options))
    assert take_all(dp.Dataset.list_files(pattern, seed=5, storage_options=options)) == first
    assert_resumes(ds)


def test_list_files_on_s3_no_match(options):
    with pytest.raises(dp.errors.InvalidArgumentError, match="No files matched pattern"):
        take_all(dp.Dataset.list_files(f"s3://{BUCKET}/nothing/*", storage_options=options))


def test_read_whole_object_through_read_ahead(options):
    url = f"s3://{BUCKET}/big/blob.bin"
    for block_size, ahead in ((1 << 20, 4), (300_001, 2), (8 << 20, 1)):
        assert read_all(url, options, block_size=block_size, blocks_in_flight=ahead) == BIG


def test_read_sizes_and_seek_on_s3(options):
    with open_input(f"s3://{BUCKET}/big/blob.bin", options, block_size=1 << 18) as f:
        assert f.size == len(BIG)
        assert f.read(10) == BIG[:10]
        f.seek(2_000_000)
        assert f.read(500_000) == BIG[2_000_000:2_500_000]
        f.seek(-5, os.SEEK_END)
        assert f.read(100) == BIG[-5:]


def test_empty_object(options):
    assert read_all(f"s3://{BUCKET}/empty/e.bin", options) == b""


@pytest.mark.parametrize("deterministic", [True, False])
def test_sharded_read_with_list_files_and_parallel_interleave(options, deterministic):
    """The path users take: list_files + interleave(num_parallel_calls) over shards."""

    def lines(path):
        data = read_all(path, options, block_size=1 << 12)
        return dp.Dataset.from_tensor_slices(data.splitlines())

    ds = dp.Dataset.list_files(f"s3://{BUCKET}/shards/*.txt", shuffle=False,
                               storage_options=options)
    ds = ds.interleave(lines, cycle_length=4, num_parallel_calls=4,
                       deterministic=deterministic)
    got = take_all(ds)
    expected = [line for body in SHARDS.values() for line in body.splitlines()]
    assert sorted(got) == sorted(expected)
    if deterministic:
        sequential = dp.Dataset.list_files(f"s3://{BUCKET}/shards/*.txt", shuffle=False,
                                storage_options=options).interleave(lines, cycle_length=4)
        assert got == take_all(sequential)


def test_whole_shards_with_parallel_map(options):
    ds = dp.Dataset.list_files(f"s3://{BUCKET}/shards/*.txt", seed=1, storage_options=options)
    ds = ds.map(lambda path: read_all(path, options), num_parallel_calls=3)
    assert sorted(take_all(ds)) == sorted(SHARDS.values())


def test_text_line_dataset_over_s3(options):
    files = sorted(f"s3://{BUCKET}/{key}" for key in SHARDS)
    ds = dp.TextLineDataset(files, num_parallel_reads=3, storage_options=options)
    expected = [line for key in sorted(SHARDS) for line in SHARDS[key].splitlines()]
    assert sorted(take_all(ds)) == sorted(expected)


def test_missing_object_is_not_found_naming_url(options):
    url = f"s3://{BUCKET}/shards/missing.txt"
    with pytest.raises(NotFoundError, match=r"s3://datapipe-tests/shards/missing\.txt"):
        open_input(url, options)
    ds = dp.Dataset.from_tensor_slices([url]).map(lambda p: read_all(p, options))
    with pytest.raises(NotFoundError, match=r"missing\.txt"):
        take_all(ds)


def test_missing_bucket_is_not_found(options):
    with pytest.raises(NotFoundError, match="no-such-bucket-xyz"):
        open_input("s3://no-such-bucket-xyz/a.txt", options)


def test_wrong_credentials_raise_access_denied_naming_url(options):
    url = f"s3://{BUCKET}/big/blob.bin"
    bad = dict(options, key="AKIAWRONGWRONGWRONG", secret="nope")
    with moto_auth(), pytest.raises(PermissionDeniedError,
                                    match=r"access denied reading s3://datapipe-tests/big"):
        open_input(url, bad, retry=FAST)


def test_server_killed_mid_read_raises_naming_url_and_offset(server, proxy):
    """A dead server is a clear error naming the URL and the bytes being read."""
    url = f"s3://{BUCKET}/big/blob.bin"
    with open_input(url, proxy.storage_options(), block_size=1 << 20, blocks_in_flight=1,
                    retry=FAST) as f:
        assert f.read(1 << 20) == BIG[:1 << 20]
        proxy.kill()
        with pytest.raises(UnavailableError,
                           match=r"s3://datapipe-tests/big/blob\.bin \(bytes \d+ to \d+\)"):
            f.read()


def test_server_back_during_retries_reads_on_transparently(server, proxy):
    """Killed mid-read and back within the retry budget: every byte, none lost."""
    url = f"s3://{BUCKET}/big/blob.bin"
    patient = RetryPolicy(max_attempts=30, initial_backoff=0.02, max_backoff=0.05)
    with open_input(url, proxy.storage_options(), block_size=1 << 20, blocks_in_flight=1,
                    retry=patient) as f:
        head = f.read(1 << 20)
        proxy.kill()
        # The next block's first attempts fail while the server is down.
        timer = threading.Timer(0.3, proxy.revive)
        timer.name = "test-revive"
        timer.start()
        try:
            rest = f.read()
        finally:
            timer.join()
    assert head + rest == BIG


def test_responses_cut_short_are_never_a_short_shard(server, proxy):
    url = f"s3://{BUCKET}/big/blob.bin"
    proxy.cut_responses(200_000)  # every connection dies 200 kB into its response
    with pytest.raises((UnavailableError, DataLossError), match=r"big/blob\.bin"):
        read_all(url, proxy.storage_options(), block_size=1 << 20, retry=FAST)
    proxy.cut_responses(None)
    assert read_all(url, proxy.storage_options(), block_size=1 << 20, retry=FAST) == BIG


def test_tfrecord_shards_over_s3_with_list_files(options):

    expected = []
    for shard in range(4):
        records = [b"shard %d record %d " % (shard, i) * (1 + i % 5) for i in range(50)]
        expected += records
        url = f"s3://{BUCKET}/tfrecords/part-{shard}.tfrecord"
        with dp.io.TFRecordWriter(url, storage_options=options) as writer:
            for record in records:
                writer.write(record)
    files = dp.Dataset.list_files(f"s3://{BUCKET}/tfrecords/*.tfrecord", seed=3,
                                  storage_options=options)
    ds = dp.TFRecordDataset(files, num_parallel_reads=3, storage_options=options)
    assert sorted(take_all(ds)) == sorted(expected)


def test_io_thread_restarts_reuse_botocore_service_models(options):
    """Each restart of the idle I/O thread makes new filesystems; their sessions share
    one data loader (the parsed S3 service model), so a restart costs ~10 ms of client
    set-up instead of ~100. Each filesystem still has its own session."""
    from datapipe.io import async_reader
    sessions = []
    for _ in range(2):
        with open_input(f"s3://{BUCKET}/big/blob.bin", options) as f:
            assert f.read(10) == BIG[:10]
            state = next(iter(async_reader.io_thread()._states.values()))
            sessions.extend(made.result().session for made in state.filesystems.values())
        async_reader.io_thread().join(5)
        assert not async_reader.io_thread().running
    assert len(sessions) == 2 and sessions[0] is not sessions[1]
    loaders = {id(s.get_component("data_loader")) for s in sessions}
    assert loaders == {id(async_reader._botocore_loader)}
