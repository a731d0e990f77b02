"""TextLineDataset: tf.data's line splitting, compression, multiple files, resume."""

from __future__ import annotations

import gzip
import zlib

import fsspec
import numpy as np
import pytest

import datapipe as dp
from datapipe.dataset.node import UNKNOWN, IteratorContext
from datapipe.dataset.sources.text_line import TextLineDataset
from datapipe.errors import DataLossError, InvalidArgumentError, InvalidTypeError, NotFoundError
from datapipe.structure.convert import STRING
from datapipe.testing import assert_resumes

# (file bytes, lines TensorFlow 2.21's TextLineDataset returns): recorded with
# tf.data.TextLineDataset(path).as_numpy_iterator(). tf drops every "\r" byte.
TF_CASES = {
    "lf": (b"a\nb\nc\n", [b"a", b"b", b"c"]),
    "crlf": (b"a\r\nb\r\nc\r\n", [b"a", b"b", b"c"]),
    "lone_cr": (b"a\rb\rc", [b"abc"]),
    "no_trailing_newline": (b"a\nb", [b"a", b"b"]),
    "empty_lines": (b"\n\na\n\n", [b"", b"", b"a", b""]),
    "empty_file": (b"", []),
    "final_crlf": (b"x\r\n", [b"x"]),
    "mixed": (b"a\r\nb\nc\rd\r\r\ne\n\r", [b"a", b"b", b"cd", b"e"]),
    "only_cr": (b"\r", []),
    "only_crlf": (b"\r\n", [b""]),
    "only_lf": (b"\n", [b""]),
    "cr_at_end": (b"a\r", [b"a"]),
    "cr_cr_lf": (b"a\r\r\n", [b"a"]),
    "whitespace_kept": (b" a \t\n", [b" a \t"]),
    "nul_byte": (b"a\x00b\n", [b"a\x00b"]),
    "lf_then_cr": (b"a\n\rb\n", [b"a", b"b"]),
}


def _write(path, data: bytes) -> str:
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


@pytest.mark.parametrize("case", sorted(TF_CASES))
@pytest.mark.parametrize("buffer_size", [None, 1, 2, 3, 7])
def test_newlines_match_tf(tmp_path, case, buffer_size):
    data, expected = TF_CASES[case]
    path = _write(tmp_path / "f.txt", data)
    assert list(TextLineDataset(path, buffer_size=buffer_size)) == expected


@pytest.mark.parametrize(("kind", "compress"), [("GZIP", gzip.compress), ("ZLIB", zlib.compress)])
@pytest.mark.parametrize("case", ["mixed", "empty_file", "no_trailing_newline"])
def test_compressed_files(tmp_path, kind, compress, case):
    data, expected = TF_CASES[case]
    path = _write(tmp_path / "f.z", compress(data))
    assert list(TextLineDataset(path, compression_type=kind, buffer_size=2)) == expected


def test_gzip_of_several_members(tmp_path):
    path = _write(tmp_path / "f.gz", gzip.compress(b"a\nb\n") + gzip.compress(b"c\nd"))
    assert list(TextLineDataset(path, compression_type="GZIP")) == [b"a", b"b", b"c", b"d"]


def test_truncated_gzip_is_data_loss(tmp_path):
    """tf yields what it inflated; we refuse to cut a file short silently."""
    path = _write(tmp_path / "f.gz", gzip.compress(b"a\nb\n" * 100)[:-10])
    with pytest.raises(DataLossError):
        list(TextLineDataset(path, compression_type="GZIP"))


def test_not_gzip_is_data_loss(tmp_path):
    path = _write(tmp_path / "f.txt", b"plain\n")
    with pytest.raises(DataLossError):
        list(TextLineDataset(path, compression_type="GZIP"))


def test_random_content_against_reference_rules(tmp_path):
    """Split on \\n, drop every \\r, keep a last line only if non-empty (tf's rules)."""
    rng = np.random.default_rng(0)
    for trial in range(30):
        data = bytes(rng.choice(list(b"ab\r\n"), size=int(rng.integers(0, 60))))
        pieces = data.replace(b"\r", b"").split(b"\n")
        expected = pieces[:-1] + ([pieces[-1]] if pieces[-1] else [])
        path = _write(tmp_path / f"r{trial}.txt", data)
        for size in (1, 4, 64):
            assert list(TextLineDataset(path, buffer_size=size)) == expected, data


def test_multiple_files_in_order_with_empty_ones(tmp_path):
    paths = [_write(tmp_path / "a.txt", b"1\n2\n"), _write(tmp_path / "e.txt", b""),
             _write(tmp_path / "b.txt", b"3")]
    assert list(TextLineDataset(paths)) == [b"1", b"2", b"3"]
    assert list(TextLineDataset(np.array(paths))) == [b"1", b"2", b"3"]
    assert list(TextLineDataset([[paths[0]], [paths[2]]])) == [b"1", b"2", b"3"]
    assert list(TextLineDataset(tmp_path / "a.txt")) == [b"1", b"2"]
    assert list(TextLineDataset([])) == []


def test_filenames_as_a_dataset(tmp_path):
    paths = [_write(tmp_path / "a.txt", b"1\n2\n"), _write(tmp_path / "b.txt", b"3\n")]
    ds = TextLineDataset(dp.Dataset.from_tensor_slices(paths))
    assert list(ds) == [b"1", b"2", b"3"]
    assert_resumes(ds)


def test_num_parallel_reads_order_matches_tf(tmp_path):
    """tf: interleave(cycle_length=num_parallel_reads, block_length=1)."""
    paths = [_write(tmp_path / "a.txt", b"a\nb\nc\n"), _write(tmp_path / "b.txt", b"a\nb"),
             _write(tmp_path / "c.txt", b"a\r\nb\r\nc\r\n")]
    expected = [b"a", b"a", b"b", b"b", b"c", b"a", b"b", b"c"]  # recorded from tf 2.21
    assert list(TextLineDataset(paths, num_parallel_reads=2)) == expected
    ds = TextLineDataset(paths, num_parallel_reads=dp.AUTOTUNE)
    assert sorted(ds) == sorted(expected)
    assert TextLineDataset(paths, num_parallel_reads=2).cardinality() == UNKNOWN
    assert_resumes(TextLineDataset(paths, num_parallel_reads=2, buffer_size=2))


def test_element_spec_and_cardinality(tmp_path):
    ds = TextLineDataset(str(tmp_path / "missing.txt"))
    assert ds.element_spec == dp.TensorSpec((), STRING)
    assert ds.cardinality() == UNKNOWN
    assert TextLineDataset([], num_parallel_reads=2).element_spec == dp.TensorSpec((), STRING)


def test_missing_file_names_it(tmp_path):
    missing = str(tmp_path / "nope.txt")
    with pytest.raises(NotFoundError, match=r"nope\.txt"):
        list(TextLineDataset(missing))
    with pytest.raises(FileNotFoundError):
        list(TextLineDataset([missing], num_parallel_reads=2))


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"compression_type": "BZ2"}, InvalidArgumentError, "compression_type"),
    ({"buffer_size": -1}, InvalidArgumentError, "buffer_size must be >= 0"),
    ({"buffer_size": "big"}, InvalidTypeError, "buffer_size"),
    ({"num_parallel_reads": 0}, InvalidArgumentError, "num_parallel_reads"),
    ({"num_parallel_reads": -5}, InvalidArgumentError, "num_parallel_reads"),
    ({"num_parallel_reads": 1.5}, InvalidTypeError, "num_parallel_reads"),
    ({"storage_options": 3}, InvalidTypeError, "storage_options"),
])
def test_bad_arguments(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        TextLineDataset(str(tmp_path / "a.txt"), **kwargs)


def test_bad_filenames():
    with pytest.raises(InvalidTypeError, match="filenames"):
        TextLineDataset(3)
    with pytest.raises(InvalidTypeError, match="scalar strings"):
        TextLineDataset(dp.Dataset.range(3))
    with pytest.raises(InvalidTypeError, match="shape"):
        TextLineDataset(dp.Dataset.from_tensors([b"a", b"b"]))


@pytest.mark.parametrize("compression", [None, "GZIP", "ZLIB"])
@pytest.mark.parametrize("buffer_size", [3, 1 << 20])
def test_resumes_exactly(tmp_path, compression, buffer_size):
    body = b"".join(b"line %d\r\n" % i if i % 3 else b"l%d\n" % i for i in range(40))
    writers = {None: lambda b: b, "GZIP": gzip.compress, "ZLIB": zlib.compress}
    paths = [_write(tmp_path / f"{i}.txt", writers[compression](body + b"tail%d" % i))
             for i in range(2)]
    ds = TextLineDataset(paths, compression_type=compression, buffer_size=buffer_size)
    assert_resumes(ds, limit=100)
    assert_resumes(ds.batch(7), limit=20)


def test_state_is_file_and_offset(tmp_path):
    """The state is plain data: the file-name input's position, URL, byte offset."""
    path = _write(tmp_path / "a.txt", b"ab\r\ncd\nef")
    ds = TextLineDataset(path)
    it = ds._node.make_iterator(IteratorContext())
    assert next(it) == b"ab"
    state = it.get_state()
    assert (state["url"], state["offset"]) == (path, 4)
    assert next(it) == b"cd"
    assert it.get_state()["offset"] == 7
    assert next(it) == b"ef"
    assert it.get_state()["offset"] == 9
    it.close()
    again = ds._node.make_iterator(IteratorContext())
    again.set_state(state)
    assert list(again) == [b"cd", b"ef"]
    again.close()


def test_batched_path_matches_per_line(tmp_path):
    lines = [b"%d" % i * (i % 5) for i in range(1000)]
    path = _write(tmp_path / "a.txt", b"\n".join(lines))
    ds = TextLineDataset(path, buffer_size=100)
    expected = lines[:-1] + ([lines[-1]] if lines[-1] else [])
    assert list(ds) == expected
    assert [x for b in ds.batch(64) for x in b] == expected


def test_memory_filesystem():
    fs = fsspec.filesystem("memory")
    fs.pipe("/datapipe-test/t.txt", b"x\ny\n")
    try:
        assert list(TextLineDataset("memory://datapipe-test/t.txt")) == [b"x", b"y"]
        assert_resumes(TextLineDataset("memory://datapipe-test/t.txt", buffer_size=1))
    finally:
        fs.rm("/datapipe-test", recursive=True)


@pytest.mark.tfdata
def test_live_against_tf(tmp_path):
    tf = pytest.importorskip("tensorflow", reason="the TensorFlow reference (bench extra)")
    paths = [_write(tmp_path / f"{name}.txt", data) for name, (data, _) in TF_CASES.items()]
    expected = list(tf.data.TextLineDataset(paths).as_numpy_iterator())
    assert list(TextLineDataset(paths, buffer_size=2)) == expected
    expected = list(tf.data.TextLineDataset(paths, num_parallel_reads=3).as_numpy_iterator())
    assert list(TextLineDataset(paths, num_parallel_reads=3)) == expected


def test_ignore_errors_gives_up_a_corrupt_gzip_file_and_reads_the_next(tmp_path):
    """A damaged file fails on every read: ignore_errors once retried it forever. Now
    the rest of that file is given up (as TFRecordDataset and tf.data do)."""
    import gzip

    bad = tmp_path / "bad.txt.gz"
    raw = bytearray(gzip.compress(b"".join(b"line%06d\n" % i for i in range(50_000))))
    middle = len(raw) // 2
    raw[middle] ^= 0xFF
    raw[middle + 1] ^= 0xFF
    bad.write_bytes(bytes(raw))
    good = tmp_path / "good.txt.gz"
    good.write_bytes(gzip.compress(b"next-file\n"))
    lines = list(dp.TextLineDataset([str(bad), str(good)], compression_type="GZIP")
                 .ignore_errors())
    assert lines[-1] == b"next-file"
    assert len(lines) - 1 < 50_000  # what inflated before the damage, then the next file
    assert lines[:-1] == [b"line%06d" % i for i in range(len(lines) - 1)]
