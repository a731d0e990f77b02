"""TFRecord reading and writing (datapipe.io.tfrecord) and TFRecordDataset."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import os
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import datapipe as dp
import datapipe.io.tfrecord as tfrecord_io
from datapipe._native import backends
from datapipe.dataset.sources.tfrecord import TFRecordDataset
from datapipe.errors import (
    DataLossError,
    FailedPreconditionError,
    InvalidArgumentError,
    InvalidTypeError,
    NotFoundError,
)
from datapipe.io.tfrecord import (
    TFRecordOptions,
    TFRecordReader,
    TFRecordWriter,
    tf_record_iterator,
)
from datapipe.structure.convert import STRING
from datapipe.structure.spec import TensorSpec
from datapipe.testing import assert_resumes

RECORDS = backends("records")
COMPRESSIONS = [None, "GZIP", "ZLIB"]


@pytest.fixture(params=sorted(RECORDS))
def backend(request, monkeypatch):
    """Run the test with the native framing module and with its pure twin."""
    monkeypatch.setattr(tfrecord_io, "_records", RECORDS[request.param])
    return request.param


@pytest.fixture(autouse=True, params=["mmap", "mmap-tiny-window", "read"])
def read_mode(request, monkeypatch):
    """Every test with local files read through a memory map (in 64 MiB windows, or
    in windows as small as the next record needs, so they move all the time) and
    through read() into a block buffer."""
    if request.param == "read":
        monkeypatch.setattr(tfrecord_io, "USE_MMAP", False)
    elif request.param == "mmap-tiny-window":
        monkeypatch.setattr(tfrecord_io, "_MAP_WINDOW", 1)
    return request.param


@pytest.fixture
def expected(shared_fixtures):
    return json.loads((shared_fixtures / "expected.json").read_text())["files"]


def _payloads(expected, name):
    return [base64.b64decode(r["serialized_b64"]) for r in expected[name]["records"]]


def _write(path, records, compression=None):
    with TFRecordWriter(str(path), compression) as writer:
        for record in records:
            writer.write(record)
    return str(path)


def _bytes(path):
    return Path(path).read_bytes()


def _read(path, **kwargs):
    return list(TFRecordReader(str(path), **kwargs))


def _read_batches_into(reader, out):
    """Append ``read_batch()``'s records to ``out`` until it raises (or ends)."""
    while batch := reader.read_batch():
        out += batch


# ------------------------------------------------------------------ fixtures


@pytest.mark.parametrize(("name", "compression"), [
    ("examples.tfrecord", None), ("examples.tfrecord.gz", "GZIP"),
    ("examples.tfrecord.zlib", "ZLIB"), ("sequence_examples.tfrecord", None)])
def test_reads_tensorflow_files_exactly(backend, shared_fixtures, expected, name,
                                        compression):
    source = expected[name].get("same_records_as", name)
    want = _payloads(expected, source)
    assert _read(shared_fixtures / name, compression_type=compression) == want
    assert list(TFRecordDataset(str(shared_fixtures / name), compression)) == want
    for record, info in zip(want, expected[source]["records"]):
        assert len(record) == info["serialized_len"]


def test_fixture_headers_and_sizes(shared_fixtures, expected):
    for name, info in expected.items():
        if "first_bytes_hex" in info:
            data = (shared_fixtures / name).read_bytes()
            assert data[:4].hex() == info["first_bytes_hex"]
        if "bytes" in info:
            assert (shared_fixtures / name).stat().st_size == info["bytes"]


@pytest.mark.parametrize(("name", "message"), [
    ("corrupt_data_crc.tfrecord", "corrupted record at 193"),
    ("corrupt_length_crc.tfrecord", "corrupted record at 181"),
    ("truncated_data.tfrecord", "truncated record at 742"),
])
def test_damaged_files_fail_where_tensorflow_does(backend, shared_fixtures, expected,
                                                  name, message):
    info = expected[name]["tf_data"]
    assert message in info["error"]["message"]
    good = _payloads(expected, "examples.tfrecord")
    path = str(shared_fixtures / name)
    reader = TFRecordReader(path)
    got = []
    with pytest.raises(DataLossError, match=f"{message} in {path}"):
        _read_batches_into(reader, got)
    assert got == good[:info["records_before_error"]]
    assert reader.read_batch() == []
    # the dataset: same records, same error, then the end (one file)
    it = iter(TFRecordDataset(path))
    got = [next(it) for _ in range(info["records_before_error"])]
    assert got == good[:len(got)]
    with pytest.raises(DataLossError, match=message):
        next(it)
    with pytest.raises(StopIteration):
        next(it)


def test_cut_header_ends_cleanly_like_tensorflow(backend, shared_fixtures, expected,
                                                 caplog):
    info = expected["truncated_header.tfrecord"]["tf_data"]
    assert info["error"] is None
    path = str(shared_fixtures / "truncated_header.tfrecord")
    reader = TFRecordReader(path)
    with caplog.at_level(logging.WARNING, logger="datapipe"):
        records = list(reader)
    assert records == _payloads(expected, "examples.tfrecord")[:3]
    assert reader.truncated_headers == 1
    assert "ends inside a TFRecord header at offset 283" in caplog.text


@pytest.mark.parametrize("name", ["corrupt_data_crc.tfrecord", "corrupt_length_crc.tfrecord",
                                  "truncated_data.tfrecord", "truncated_header.tfrecord"])
def test_ignore_errors_matches_tensorflow(shared_fixtures, expected, name):
    info = expected[name]["tf_data_ignore_errors"]
    got = list(TFRecordDataset(str(shared_fixtures / name)).ignore_errors())
    assert got == _payloads(expected, "examples.tfrecord")[:info["records"]]


@pytest.mark.parametrize("parallel", [None, 2])
def test_ignore_errors_skips_rest_of_corrupt_file_then_reads_next(shared_fixtures,
                                                                   expected, parallel):
    """tf.data stops at the first corrupt record of a file and goes on with the next."""
    good = _payloads(expected, "examples.tfrecord")
    files = [str(shared_fixtures / "corrupt_data_crc.tfrecord"),
             str(shared_fixtures / "examples.tfrecord")]
    got = list(TFRecordDataset(files, num_parallel_reads=parallel).ignore_errors())
    assert sorted(got) == sorted(good[:2] + good)
    if parallel is None:
        assert got == good[:2] + good
    # without ignore_errors, the error is raised once and the next file follows
    it = iter(TFRecordDataset(files))
    assert [next(it) for _ in range(2)] == good[:2]
    with pytest.raises(DataLossError, match="corrupted record at 193"):
        next(it)
    assert list(it) == good


def test_writer_output_is_byte_identical_to_tensorflow(backend, shared_fixtures, expected,
                                                        tmp_path):
    for name in ("examples.tfrecord", "sequence_examples.tfrecord"):
        path = _write(tmp_path / name, _payloads(expected, name))
        assert _bytes(path) == (shared_fixtures / name).read_bytes()
    with TFRecordWriter(str(tmp_path / "many")) as writer:
        writer.write_many(_payloads(expected, "examples.tfrecord"))
    assert (tmp_path / "many").read_bytes() == (
        shared_fixtures / "examples.tfrecord").read_bytes()


# ------------------------------------------------------------------ reader


@settings(max_examples=25, deadline=None)
@given(st.lists(st.binary(max_size=2000), max_size=12), st.sampled_from(COMPRESSIONS))
def test_writer_reader_roundtrip(tmp_path_factory, records, compression):
    path = _write(tmp_path_factory.mktemp("rt") / "f", records, compression)
    assert _read(path, compression_type=compression) == records
    assert list(TFRecordDataset(path, compression)) == records


def test_gzip_and_zlib_files_are_standard_streams(tmp_path):
    records = [b"a" * 100, b"", b"xyz"]
    plain = _bytes(_write(tmp_path / "p", records))
    assert gzip.decompress(_bytes(_write(tmp_path / "g", records, "GZIP"))) == plain
    assert zlib.decompress(_bytes(_write(tmp_path / "z", records, "ZLIB"))) == plain


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_records_across_block_boundaries(backend, tmp_path, monkeypatch, compression):
    """Blocks far smaller than the records: every record crosses a refill."""
    monkeypatch.setattr(tfrecord_io, "_MIN_READ", 64)
    rng = np.random.default_rng(0)
    records = [rng.bytes(int(n)) for n in rng.integers(0, 300, size=40)]
    path = _write(tmp_path / "f", records, compression)
    assert _read(path, compression_type=compression, buffer_size=1) == records
    assert _read(path, compression_type=compression, buffer_size=37) == records


def test_huge_record_larger_than_the_buffer(tmp_path):
    big = os.urandom(3 << 20) + b"end"
    records = [b"small", big, b"", big[:1 << 20]]
    path = _write(tmp_path / "f", records)
    assert _read(path, buffer_size=1024) == records


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_start_at_offset(backend, tmp_path, compression):
    records = [b"one", b"", b"three", b"four!"]
    path = _write(tmp_path / "f", records, compression)
    offsets = [0]
    for record in records:
        offsets.append(offsets[-1] + len(record) + 16)
    for index, offset in enumerate(offsets):
        assert _read(path, compression_type=compression, offset=offset) == records[index:]
    assert _read(path, compression_type=compression, offset=offsets[-1] + 100) == []


def test_reader_picks_the_memory_map_for_local_plain_files_only(tmp_path, read_mode):
    path = _write(tmp_path / "f", [b"ab", b"cde"])
    mapped = read_mode != "read"
    with TFRecordReader(path) as reader:
        assert reader.read_batch()
        assert (reader._map is not None) == mapped
    zipped = _write(tmp_path / "g", [b"ab"], "GZIP")
    with TFRecordReader(zipped, compression_type="GZIP") as reader:
        assert reader.read_batch() == [b"ab"] and reader._map is None


def test_file_growing_while_read_yields_the_new_records(backend, tmp_path):
    """As TensorFlow (which reads to the current end of the file): records appended
    after the reader reached the old end are read, mapped or not."""
    first = [b"x" * 100, b"y" * 5000]
    path = _write(tmp_path / "f", first)
    reader = TFRecordReader(path)
    got = []
    while len(got) < len(first):
        got += reader.read_batch()
    assert got == first
    extra = [b"z" * 70_000, b""]
    with open(path, "ab") as out:
        out.write(tfrecord_io._records.frame_many(extra))
    assert list(reader) == extra
    reader.close()


@pytest.mark.parametrize("window", [1, 4096, 10_000])
def test_mapped_windows_move_across_records_and_resume(backend, tmp_path, monkeypatch,
                                                       window):
    """Records of every size around small map windows (and the 64-byte scan blocks),
    read whole and from every record's offset; a truncated tail and a damaged record
    fail at the same offsets as the read() path."""
    monkeypatch.setattr(tfrecord_io, "_MAP_WINDOW", window)
    monkeypatch.setattr(tfrecord_io, "_MIN_READ", 64)
    rng = np.random.default_rng(window)
    records = [rng.bytes(int(n)) for n in rng.integers(0, 9000, size=30)]
    path = _write(tmp_path / "f", records)
    assert _read(path, buffer_size=1) == records
    offset = 0
    for index, record in enumerate(records):
        if index % 7 == 0:
            assert _read(path, offset=offset) == records[index:]
        offset += len(record) + 16
    data = Path(path).read_bytes()
    cut = tmp_path / "cut"
    cut.write_bytes(data[:-5])
    last = len(data) - len(records[-1]) - 16
    with pytest.raises(DataLossError, match=f"truncated record at {last} in"):
        _read(str(cut))
    broken = bytearray(data)
    at = len(records[0]) + 16 + len(records[1]) + 16
    broken[at + 12 + len(records[2]) // 2] ^= 1
    bad = tmp_path / "bad"
    bad.write_bytes(bytes(broken))
    with pytest.raises(DataLossError, match=f"corrupted record at {at + 12} in"):
        _read(str(bad))


def test_reader_offset_tracks_records_returned(tmp_path):
    path = _write(tmp_path / "f", [b"ab", b"cde"])
    reader = TFRecordReader(path)
    assert reader.offset == 0
    got = []
    while len(got) < 2:
        got += reader.read_batch()
        assert reader.offset == sum(len(record) + 16 for record in got)
    assert got == [b"ab", b"cde"]
    assert reader.offset == 18 + 19 == reader.bytes_read
    assert reader.read_batch() == []
    assert reader.read_batch() == []


def test_empty_file_and_zero_length_records(tmp_path):
    empty = str(tmp_path / "empty")
    open(empty, "wb").close()
    assert _read(empty) == []
    assert list(TFRecordDataset([empty, empty])) == []
    zeros = _write(tmp_path / "zeros", [b""] * 5)
    assert os.path.getsize(zeros) == 80
    assert _read(zeros) == [b""] * 5
    assert list(TFRecordDataset([empty, zeros, empty])) == [b""] * 5


def test_not_a_tfrecord_file(tmp_path):
    path = tmp_path / "text"
    path.write_bytes(b"this is not a TFRecord file at all")
    with pytest.raises(DataLossError, match=r"corrupted record at 0 .*is this even a "
                                            r"TFRecord file"):
        _read(path)


def test_damaged_gzip_stream_is_data_loss(tmp_path):
    path = _write(tmp_path / "g", [b"x" * 1000] * 10, "GZIP")
    data = _bytes(path)
    Path(path).write_bytes(data[: len(data) // 2])
    with pytest.raises(DataLossError):
        _read(path, compression_type="GZIP")


def test_missing_file_is_not_found_naming_it(tmp_path):
    missing = str(tmp_path / "nope.tfrecord")
    with pytest.raises(NotFoundError, match=r"nope\.tfrecord"):
        _read(missing)
    with pytest.raises(NotFoundError, match=r"nope\.tfrecord"):
        list(TFRecordDataset(missing))
    # (tf.io.TFRecordWriter fails on a missing directory; fsspec creates it)
    with TFRecordWriter(str(tmp_path / "no_dir" / "x.tfrecord")) as writer:
        writer.write(b"ok")


def test_missing_file_is_skipped_by_ignore_errors(tmp_path):
    """Unlike tf.data (which repeats the error forever), the next file follows."""
    good = _write(tmp_path / "good", [b"a", b"b"])
    ds = TFRecordDataset([str(tmp_path / "missing"), good]).ignore_errors()
    assert list(ds) == [b"a", b"b"]


def test_memory_urls(tmp_path):
    import fsspec

    fsspec.filesystem("memory").store.clear()
    _write("memory://bucket/a.tfrecord", [b"in", b"memory"])
    assert list(TFRecordDataset("memory://bucket/a.tfrecord")) == [b"in", b"memory"]
    assert list(tf_record_iterator("memory://bucket/a.tfrecord")) == [b"in", b"memory"]


def test_reader_bad_arguments(tmp_path):
    with pytest.raises(InvalidTypeError, match="url must be a str"):
        TFRecordReader(3)
    with pytest.raises(InvalidArgumentError, match="offset must be an int >= 0"):
        TFRecordReader("x", offset=-1)
    with pytest.raises(InvalidArgumentError, match="compression_type"):
        TFRecordReader("x", compression_type="LZ4")
    with pytest.raises(InvalidArgumentError, match=r"buffer_size must be >= 0 bytes \(got -5\)"):
        TFRecordReader("x", buffer_size=-5)
    with pytest.raises(InvalidTypeError, match="buffer_size must be an int"):
        TFRecordReader("x", buffer_size=1.5)


# ------------------------------------------------------------------ writer


def test_writer_api(tmp_path):
    path = str(tmp_path / "w")
    writer = TFRecordWriter(path)
    writer.write(b"bytes")
    writer.write("str é")
    writer.write(bytearray(b"ba"))
    writer.write(np.bytes_(b"np"))
    writer.flush()
    assert _read(path) == [b"bytes", "str é".encode(), b"ba", b"np"]
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(FailedPreconditionError, match="writer is closed"):
        writer.write(b"late")
    with TFRecordWriter(path) as again, pytest.raises(InvalidTypeError,
                                                      match="must be bytes or str"):
        again.write(3)


@pytest.mark.parametrize("options", [
    "GZIP", "ZLIB", TFRecordOptions("GZIP", compression_level=9),
    TFRecordOptions(compression_type="ZLIB", compression_level=1, window_bits=12,
                    mem_level=5, compression_strategy=1)])
def test_writer_options(tmp_path, options):
    path = str(tmp_path / "w")
    with TFRecordWriter(path, options) as writer:
        writer.write(b"x" * 5000)
        writer.flush()
        writer.write(b"y")
    kind = TFRecordOptions.get_compression_type_string(options)
    assert _read(path, compression_type=kind) == [b"x" * 5000, b"y"]


def test_options_validation():
    assert TFRecordOptions().compression_type == ""
    assert TFRecordOptions("zlib").compression_type == "ZLIB"
    with pytest.raises(InvalidArgumentError, match="compression_type"):
        TFRecordOptions("LZ4")
    with pytest.raises(InvalidArgumentError, match=r"compression_level must be in \[-1, 9\]"):
        TFRecordOptions("GZIP", compression_level=12)
    with pytest.raises(InvalidTypeError, match="window_bits must be an int"):
        TFRecordOptions("GZIP", window_bits="15")
    with pytest.raises(InvalidTypeError, match="options must be a TFRecordOptions"):
        TFRecordWriter("memory://x", options=3)
    with pytest.raises(InvalidArgumentError, match="compression_type"):
        TFRecordWriter("memory://x", "LZ4")


# ------------------------------------------------------------------ dataset


def _files(tmp_path, sizes, compression=None):
    paths = []
    for i, n in enumerate(sizes):
        paths.append(_write(tmp_path / f"f{i}", [f"{i}-{j}".encode() for j in range(n)],
                            compression))
    return paths


def test_dataset_basics(tmp_path):
    paths = _files(tmp_path, [3, 1, 4, 2])
    ds = TFRecordDataset(paths)
    assert isinstance(ds, dp.Dataset)
    assert ds.element_spec == TensorSpec((), STRING)
    assert ds.cardinality() == dp.UNKNOWN if hasattr(dp, "UNKNOWN") else -2
    got = list(ds)
    assert [x.decode() for x in got] == ["0-0", "0-1", "0-2", "1-0", "2-0", "2-1", "2-2",
                                         "2-3", "3-0", "3-1"]
    assert all(type(x) is bytes for x in got)
    assert list(TFRecordDataset(paths[0].encode())) == [b"0-0", b"0-1", b"0-2"]
    assert list(TFRecordDataset(np.array(paths[:2]))) == got[:4]
    assert list(TFRecordDataset([])) == []


# Orders produced by tf.data 2.21 for files of 3, 1, 4, 2 records (checked with
# tensorflow; see test_parallel_order_matches_tensorflow).
_TF_ORDERS = {
    None: ["0-0", "0-1", "0-2", "1-0", "2-0", "2-1", "2-2", "2-3", "3-0", "3-1"],
    1: ["0-0", "0-1", "0-2", "1-0", "2-0", "2-1", "2-2", "2-3", "3-0", "3-1"],
    2: ["0-0", "1-0", "0-1", "0-2", "2-0", "2-1", "3-0", "2-2", "3-1", "2-3"],
    3: ["0-0", "1-0", "2-0", "0-1", "2-1", "0-2", "3-0", "2-2", "3-1", "2-3"],
}


@pytest.mark.parametrize("parallel", sorted(_TF_ORDERS, key=str))
def test_parallel_reads_order(tmp_path, parallel):
    paths = _files(tmp_path, [3, 1, 4, 2])
    got = [x.decode() for x in TFRecordDataset(paths, num_parallel_reads=parallel)]
    assert got == _TF_ORDERS[parallel]
    as_dataset = TFRecordDataset(dp.Dataset.from_tensor_slices(paths),
                                 num_parallel_reads=parallel)
    assert [x.decode() for x in as_dataset] == _TF_ORDERS[parallel]


def test_autotune_parallel_reads_yields_everything(tmp_path):
    paths = _files(tmp_path, [3, 1, 4, 2])
    got = list(TFRecordDataset(paths, num_parallel_reads=dp.AUTOTUNE))
    assert sorted(x.decode() for x in got) == sorted(_TF_ORDERS[None])
    assert len(list(TFRecordDataset(paths, num_parallel_reads=-1))) == 10


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("parallel", [None, 2])
def test_dataset_resumes_exactly(tmp_path, compression, parallel):
    paths = _files(tmp_path, [5, 0, 7, 3], compression)
    assert_resumes(TFRecordDataset(paths, compression, num_parallel_reads=parallel))
    assert_resumes(TFRecordDataset(paths, compression, num_parallel_reads=parallel)
                   .batch(4))


def test_dataset_of_filenames_resumes(tmp_path):
    paths = _files(tmp_path, [2, 3])
    assert_resumes(TFRecordDataset(dp.Dataset.from_tensor_slices(paths)))


def _node_iterator(ds):
    return ds._node.make_iterator(dp.dataset.node.IteratorContext())


def test_state_is_file_index_and_offset(tmp_path):
    paths = _files(tmp_path, [3, 2])
    it = _node_iterator(TFRecordDataset(paths))
    assert it.get_state() == {"file_index": 0, "offset": 0}
    next(it)
    assert it.get_state() == {"file_index": 0, "offset": 3 + 16}
    for _ in range(3):
        next(it)
    assert it.get_state() == {"file_index": 1, "offset": 19}
    fresh = _node_iterator(TFRecordDataset(paths))
    fresh.set_state({"file_index": 1, "offset": 19})
    assert fresh.get_state() == {"file_index": 1, "offset": 19}
    assert list(fresh) == [b"1-1"]
    with pytest.raises(InvalidArgumentError, match="lacks"):
        fresh.set_state({"file_index": 0})
    with pytest.raises(InvalidArgumentError, match="non-negative ints"):
        fresh.set_state({"file_index": -1, "offset": 0})
    it.close()
    fresh.close()


def test_next_many_returns_chunks_across_files(tmp_path):
    paths = _files(tmp_path, [3, 0, 4])
    it = _node_iterator(TFRecordDataset(paths))
    assert [x.decode() for x in it.next_many(2)] == ["0-0", "0-1"]
    assert [x.decode() for x in it.next_many(3)] == ["0-2", "2-0", "2-1"]
    assert [x.decode() for x in it.next_many(10)] == ["2-2", "2-3"]
    assert it.next_many(10) == []
    it.close()


def test_next_many_defers_errors_after_records(shared_fixtures, expected):
    path = str(shared_fixtures / "corrupt_data_crc.tfrecord")
    it = _node_iterator(TFRecordDataset(path))
    assert it.next_many(10) == _payloads(expected, "examples.tfrecord")[:2]
    with pytest.raises(DataLossError, match="corrupted record at 193"):
        it.next_many(10)
    assert it.next_many(10) == []
    it.close()


def test_batch_and_prefetch_over_records(tmp_path):
    paths = _files(tmp_path, [5, 6])
    batches = list(TFRecordDataset(paths).batch(4).prefetch(2))
    assert batches[0].tolist() == [b"0-0", b"0-1", b"0-2", b"0-3"]
    assert sum(len(b) for b in batches) == 11


def test_stats_count_bytes(tmp_path):
    paths = _files(tmp_path, [3])
    ds = TFRecordDataset(paths).with_options(dp.Options(stats=True))
    it = iter(ds)
    list(it)
    stats = [s for s in it._ctx.stats if s.stage.startswith("tfrecord")]
    assert stats and stats[0].produced == 3 and stats[0].bytes_produced == 3 * 19
    it.close()


def test_dataset_bad_arguments(tmp_path):
    with pytest.raises(InvalidTypeError, match="must contain strings"):
        TFRecordDataset([1, 2])
    with pytest.raises(InvalidTypeError, match="must contain strings"):
        TFRecordDataset(dp.Dataset.range(3))
    with pytest.raises(InvalidTypeError, match="filenames must be a string"):
        TFRecordDataset(3)
    with pytest.raises(InvalidArgumentError, match="compression_type"):
        TFRecordDataset("x", compression_type="LZ4")
    with pytest.raises(InvalidArgumentError, match=r"buffer_size must be >= 0 bytes"):
        TFRecordDataset("x", buffer_size=-2)
    with pytest.raises(InvalidArgumentError, match=r"num_parallel_reads must be > 0 or "
                                                   r"AUTOTUNE \(got 0\)"):
        TFRecordDataset("x", num_parallel_reads=0)
    with pytest.raises(InvalidTypeError, match="num_parallel_reads must be"):
        TFRecordDataset("x", num_parallel_reads=1.5)
    with pytest.raises(InvalidTypeError, match="storage_options must be a dict"):
        TFRecordDataset("x", storage_options=[1])


def test_building_does_no_io(tmp_path):
    ds = TFRecordDataset(str(tmp_path / "missing"))  # no error until iteration
    it = iter(ds)
    with pytest.raises(NotFoundError):
        next(it)
    it.close()


# ------------------------------------------------------------------ TensorFlow


@pytest.mark.tfdata
@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_tensorflow_reads_our_files(tmp_path, compression):
    tf = pytest.importorskip("tensorflow", reason="the TensorFlow reference (bench extra)")
    records = [b"", b"a", os.urandom(300_000), "é".encode(), b"\x00" * 17]
    path = _write(tmp_path / "ours", records, compression)
    got = list(tf.data.TFRecordDataset(path, compression_type=compression or "")
               .as_numpy_iterator())
    assert got == records


@pytest.mark.tfdata
def test_writer_matches_tensorflow_writer(tmp_path):
    tf = pytest.importorskip("tensorflow", reason="the TensorFlow reference (bench extra)")
    records = [os.urandom(n) for n in (0, 1, 100, 70_000)]
    with tf.io.TFRecordWriter(str(tmp_path / "tf")) as writer:
        for record in records:
            writer.write(record)
    ours = _write(tmp_path / "ours", records)
    assert _bytes(ours) == (tmp_path / "tf").read_bytes()
    for kind in ("GZIP", "ZLIB"):
        with tf.io.TFRecordWriter(str(tmp_path / kind), kind) as writer:
            for record in records:
                writer.write(record)
        assert _read(tmp_path / kind, compression_type=kind) == records


@pytest.mark.tfdata
@pytest.mark.parametrize("parallel", [None, 1, 2, 3, -1])
def test_parallel_order_matches_tensorflow(tmp_path, parallel):
    tf = pytest.importorskip("tensorflow", reason="the TensorFlow reference (bench extra)")
    paths = _files(tmp_path, [3, 1, 4, 2])
    want = list(tf.data.TFRecordDataset(paths, num_parallel_reads=parallel)
                .as_numpy_iterator())
    assert list(TFRecordDataset(paths, num_parallel_reads=parallel)) == want


def test_a_corrupt_length_without_crc_checks_does_not_allocate_what_it_claims(tmp_path):
    """check_crc=False cannot catch a flipped length bit: the reader once allocated the
    claimed size (8 GiB here) before finding the file too short."""
    import tracemalloc

    path = tmp_path / "a.tfrecord"
    with TFRecordWriter(str(path)) as writer:
        writer.write(b"x" * 100)
        writer.write(b"y" * 100)
    data = bytearray(path.read_bytes())
    data[116 + 4] ^= 0x02  # the second record's length: 100 + 2**33
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        with pytest.raises(DataLossError, match="truncated record at 116"):
            list(TFRecordReader(str(path), check_crc=False))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20
