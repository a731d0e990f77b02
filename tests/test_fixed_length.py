"""FixedLengthRecordDataset: tf.data's header/footer/partial-record rules, resume."""

from __future__ import annotations

import gzip
import zlib

import fsspec
import pytest

import datapipe as dp
from datapipe.dataset.node import UNKNOWN
from datapipe.dataset.sources.fixed_length import FixedLengthRecordDataset
from datapipe.errors import DataLossError, InvalidArgumentError, InvalidTypeError, NotFoundError
from datapipe.structure.convert import STRING
from datapipe.testing import assert_resumes

WRITERS = {None: lambda b: b, "GZIP": gzip.compress, "ZLIB": zlib.compress}


def _write(path, data: bytes) -> str:
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


@pytest.mark.parametrize("compression", [None, "GZIP", "ZLIB"])
@pytest.mark.parametrize("buffer_size", [None, 0, 1, 5])
def test_header_and_footer_are_skipped(tmp_path, compression, buffer_size):
    """Recorded from tf 2.21: b"0123456789", header 1, footer 1."""
    path = _write(tmp_path / "d", WRITERS[compression](b"0123456789"))
    ds = FixedLengthRecordDataset(path, 2, 1, 1, buffer_size, compression)
    assert list(ds) == [b"12", b"34", b"56", b"78"]
    ds = FixedLengthRecordDataset(path, 4, header_bytes=1, footer_bytes=1,
                                  compression_type=compression)
    assert list(ds) == [b"1234", b"5678"]


def test_partial_record_uncompressed_raises_before_any_record(tmp_path):
    """tf: InvalidArgumentError naming the file's body length, no record returned."""
    path = _write(tmp_path / "d10.bin", b"0123456789")
    it = iter(FixedLengthRecordDataset(path, 3))
    with pytest.raises(InvalidArgumentError, match=r"body length 10 bytes.*record length \(3"):
        next(it)
    it.close()
    with pytest.raises(InvalidArgumentError, match="body length 7 bytes"):
        list(FixedLengthRecordDataset(path, 3, header_bytes=1, footer_bytes=2))
    with pytest.raises(InvalidArgumentError, match="body length -2 bytes"):
        list(FixedLengthRecordDataset(_write(tmp_path / "e", b""), 3, header_bytes=2))


@pytest.mark.parametrize("compression", ["GZIP", "ZLIB"])
def test_partial_record_compressed_is_data_loss_after_whole_records(tmp_path, compression):
    """tf: DataLossError for a compressed file; the whole records come first."""
    path = _write(tmp_path / "d", WRITERS[compression](b"0123456789"))
    it = iter(FixedLengthRecordDataset(path, 3, compression_type=compression, buffer_size=3))
    assert [next(it), next(it), next(it)] == [b"012", b"345", b"678"]
    with pytest.raises(DataLossError, match="not an exact multiple"):
        next(it)
    it.close()


def test_empty_and_multiple_files(tmp_path):
    paths = [_write(tmp_path / "a", b"abcd"), _write(tmp_path / "e", b""),
             _write(tmp_path / "b", b"ef")]
    assert list(FixedLengthRecordDataset(paths, 2)) == [b"ab", b"cd", b"ef"]
    assert list(FixedLengthRecordDataset(paths, 2, num_parallel_reads=2)) == [
        b"ab", b"cd", b"ef"]
    assert list(FixedLengthRecordDataset(dp.Dataset.from_tensor_slices(paths), 1)) == [
        b"a", b"b", b"c", b"d", b"e", b"f"]


def test_num_parallel_reads_interleaves(tmp_path):
    paths = [_write(tmp_path / "a", b"a1a2a3"), _write(tmp_path / "b", b"b1b2")]
    ds = FixedLengthRecordDataset(paths, 2, num_parallel_reads=2)
    assert list(ds) == [b"a1", b"b1", b"a2", b"b2", b"a3"]
    assert_resumes(ds)


def test_spec_and_cardinality(tmp_path):
    ds = FixedLengthRecordDataset(str(tmp_path / "x"), 4)
    assert ds.element_spec == dp.TensorSpec((), STRING)
    assert ds.cardinality() == UNKNOWN


def test_missing_file(tmp_path):
    with pytest.raises(NotFoundError, match=r"nope\.bin"):
        list(FixedLengthRecordDataset(str(tmp_path / "nope.bin"), 2))


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"record_bytes": 0}, InvalidArgumentError, "record_bytes must be > 0"),
    ({"record_bytes": -1}, InvalidArgumentError, "record_bytes must be > 0"),
    ({"record_bytes": "4"}, InvalidTypeError, "record_bytes must be an int"),
    ({"record_bytes": 2, "header_bytes": -1}, InvalidArgumentError, "header_bytes must be >= 0"),
    ({"record_bytes": 2, "footer_bytes": -1}, InvalidArgumentError, "footer_bytes must be >= 0"),
    ({"record_bytes": 2, "buffer_size": -5}, InvalidArgumentError, "buffer_size must be >= 0"),
    ({"record_bytes": 2, "compression_type": "LZ4"}, InvalidArgumentError, "compression_type"),
    ({"record_bytes": 2, "num_parallel_reads": 0}, InvalidArgumentError, "num_parallel_reads"),
])
def test_bad_arguments(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        FixedLengthRecordDataset(str(tmp_path / "x"), **kwargs)


@pytest.mark.parametrize("compression", [None, "GZIP", "ZLIB"])
@pytest.mark.parametrize("buffer_size", [1, 8, None])
def test_resumes_exactly(tmp_path, compression, buffer_size):
    body = bytes(range(60))
    paths = [_write(tmp_path / f"{i}", WRITERS[compression](b"HH" + body + b"F"))
             for i in range(2)]
    ds = FixedLengthRecordDataset(paths, 3, 2, 1, buffer_size, compression)
    assert len(list(ds)) == 40
    assert_resumes(ds)
    assert_resumes(ds.batch(3))


def test_memory_filesystem():
    fs = fsspec.filesystem("memory")
    fs.pipe("/datapipe-fixed/r.bin", b"xxyyzz")
    try:
        ds = FixedLengthRecordDataset("memory://datapipe-fixed/r.bin", 2)
        assert list(ds) == [b"xx", b"yy", b"zz"]
        assert_resumes(ds)
    finally:
        fs.rm("/datapipe-fixed", recursive=True)


@pytest.mark.tfdata
def test_live_against_tf(tmp_path):
    tf = pytest.importorskip("tensorflow", reason="the TensorFlow reference (bench extra)")
    path = _write(tmp_path / "d", bytes(range(100)))
    for args in [(5,), (7, 2), (3, 4, 3), (1, 0, 99)]:
        expected = list(tf.data.FixedLengthRecordDataset(path, *args).as_numpy_iterator())
        assert list(FixedLengthRecordDataset(path, *args)) == expected
