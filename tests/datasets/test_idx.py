"""The IDX reader/writer: round trips and every broken file of BAD-INPUTS section A."""

import gzip
import re
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from _dataset_factory import bad_crc, corrupt_deflate, gz, gzip_bomb, header

from digitlab.datasets.idx import (
    MAX_PAYLOAD, TruncatedError, idx_bytes, peek_idx_dims, read_idx, read_idx_bytes, write_idx,
)
from digitlab.exceptions import DataError, InputMissingError


@pytest.mark.parametrize("suffix", ["", ".gz"], ids=["raw", "gz"])
@pytest.mark.parametrize("shape", [(7,), (5, 28, 28), (3, 4, 5, 2)], ids=["1d", "3d", "4d"])
def test_idx_write_read_round_trip(tmp_path, suffix, shape):
    """write_idx then read_idx gives back the same array and the MD5 of the raw IDX bytes."""
    a = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    path = write_idx(tmp_path / f"a-idx{len(shape)}-ubyte{suffix}", a)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    back, md5 = read_idx(path, ndim=len(shape))
    np.testing.assert_array_equal(back, a)
    assert back.dtype == np.uint8
    import hashlib

    assert md5 == hashlib.md5(idx_bytes(a)).hexdigest()
    assert peek_idx_dims(path) == shape
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp files left


def test_idx_write_is_deterministic(tmp_path):
    """The gzip header's mtime is 0, so the same array always gives the same .gz bytes."""
    a = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    one = write_idx(tmp_path / "one.gz", a).read_bytes()
    assert one[4:8] == bytes(4)  # MTIME field
    assert gzip.decompress(one) == idx_bytes(a)
    assert write_idx(tmp_path / "two.gz", a).read_bytes() == one
    assert write_idx(tmp_path / "x", a, compress=True).read_bytes() == one


def test_idx_write_refuses_non_uint8_and_writes_nothing(tmp_path):
    """Only uint8 arrays have an IDX encoding here; nothing is created on refusal."""
    with pytest.raises(DataError, match="uint8 arrays only, got float64"):
        write_idx(tmp_path / "f.idx", np.zeros((2, 2)))
    with pytest.raises(DataError, match="non-empty array"):
        write_idx(tmp_path / "e.idx", np.zeros((0, 28), dtype=np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_read_idx_bytes_reads_raw_and_gzip():
    """read_idx_bytes detects gzip by content and names the source in errors."""
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    for data in (idx_bytes(a), gz(idx_bytes(a))):
        back, _ = read_idx_bytes(data, ndim=3)
        np.testing.assert_array_equal(back, a)
    with pytest.raises(DataError, match=r"^upload\.idx: bad IDX magic"):
        read_idx_bytes(b"\x00\x00\x09\x03" + bytes(12), name="upload.idx")


def test_read_idx_into_preallocated_out():
    """out= fills a slice of a bigger array in place; a shape mismatch is refused."""
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    big = np.zeros((5, 3, 4), dtype=np.uint8)
    read_idx_bytes(idx_bytes(a), out=big[1:3])
    np.testing.assert_array_equal(big[1:3], a)
    assert not big[0].any() and not big[3:].any()
    with pytest.raises(DataError, match=r"expected shape \(3, 3, 4\), file has 2×3×4"):
        read_idx_bytes(idx_bytes(a), out=big[:3])


# --- A1-A3: broken gzip -------------------------------------------------------------------

def test_read_idx_truncated_gzip(tmp_path):
    """A1: a cut .gz is a TruncatedError (a DataError) quoting gzip's end-of-stream message."""
    data = gz(idx_bytes(np.ones((50, 28, 28), dtype=np.uint8) * 7))
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(data[: len(data) // 2])
    msg = (f"{p}: corrupt gzip (Compressed file ended before the end-of-stream marker was reached)")
    with pytest.raises(TruncatedError, match=re.escape(msg)):
        read_idx(p)


def test_read_idx_corrupt_deflate_stream_is_caught(tmp_path):
    """A2: zlib.error (not an OSError) becomes a DataError naming the file."""
    p = tmp_path / "t10k-labels-idx1-ubyte.gz"
    p.write_bytes(corrupt_deflate(idx_bytes(np.zeros(100, dtype=np.uint8))))
    with pytest.raises(DataError, match=re.escape(f"{p}: corrupt gzip (bad deflate stream: Error -3")):
        read_idx(p)


def test_read_idx_bad_crc(tmp_path):
    """A3: a flipped CRC in the gzip trailer is caught after decompression."""
    p = tmp_path / "x.gz"
    p.write_bytes(bad_crc(idx_bytes(np.zeros(100, dtype=np.uint8))))
    with pytest.raises(DataError, match=re.escape(f"{p}: corrupt gzip (CRC check failed")):
        read_idx(p)


def test_read_idx_not_gzip_under_gz_name(tmp_path):
    """A3: an HTML page saved as .gz: bad magic, and the message says it is not gzip at all."""
    p = tmp_path / "train-labels-idx1-ubyte.gz"
    p.write_bytes(b"<!DOCTYPE html><html>Not Found</html>")
    with pytest.raises(DataError, match=re.escape(
            f"{p}: bad IDX magic 0x3C21444F; expected 0x00000801 (uint8, 1-D) "
            "(named .gz but not gzip-compressed)")):
        read_idx(p, ndim=1)


def test_read_idx_bad_gzip_header(tmp_path):
    """A3: gzip magic followed by an unknown compression method is a BadGzipFile, caught."""
    p = tmp_path / "x.gz"
    p.write_bytes(b"\x1f\x8b\x07" + bytes(40))
    with pytest.raises(DataError, match=re.escape(f"{p}: corrupt gzip (Unknown compression method)")):
        read_idx(p)


# --- A4-A8: headers -----------------------------------------------------------------------

@pytest.mark.parametrize("data, n", [(b"", 0), (gz(b""), 0), (b"\x00\x00", 2)],
                         ids=["empty", "empty-gzip", "2-bytes"])
def test_read_idx_too_short_for_header(tmp_path, data, n):
    """A4: an empty file, or an empty gzip (which decompresses to b'' silently)."""
    p = tmp_path / "f"
    p.write_bytes(data)
    with pytest.raises(DataError, match=re.escape(f"{p}: too short for IDX header ({n} bytes)")):
        read_idx(p)


def test_read_idx_header_cut_inside_dims():
    """A4: the magic announces 3 dims but only one follows."""
    with pytest.raises(DataError, match=re.escape("<bytes>: too short for IDX header (8 bytes)")):
        read_idx_bytes(header(5, 28, 28)[:8])


@pytest.mark.parametrize("head, expected", [
    (b"\x08\x00\x08\x03", "bad IDX magic 0x08000803; expected 0x00000803 (uint8, 3-D)"),
    (b"\x00\x00\x0d\x03", "bad IDX magic 0x00000D03; expected 0x00000803 (uint8, 3-D)"),  # float: A13
    (b"\x00\x00\x08\x01", "bad IDX magic 0x00000801; expected 0x00000803 (uint8, 3-D)"),
    (b"\x00\x00\x08\x04", "bad IDX magic 0x00000804; expected 0x00000803 (uint8, 3-D)"),
], ids=["nonzero-lead", "float-type", "labels-as-images", "4-d"])
def test_read_idx_wrong_magic(head, expected):
    """A5/A13: first bytes not 0, a type other than ubyte (no NaN can enter), the wrong ndim."""
    data = head + bytes(16) + bytes(100)
    with pytest.raises(DataError, match=re.escape(f"train-images-idx3-ubyte: {expected}")):
        read_idx_bytes(data, name="train-images-idx3-ubyte", ndim=3)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_read_idx_payload_shorter_than_header(tmp_path, compress):
    """A6: the header says 60000×28×28 but fewer bytes follow."""
    data = header(60000, 28, 28) + bytes(47_040_000 - 784)
    p = tmp_path / ("f.gz" if compress else "f")
    p.write_bytes(gz(data) if compress else data)
    with pytest.raises(TruncatedError, match=re.escape(
            f"{p}: header says 60000×28×28 = 47,040,000 bytes; payload has 47,039,216")):
        read_idx(p)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_read_idx_trailing_bytes(tmp_path, compress):
    """A6: bytes after the announced payload are an error, not silently ignored."""
    data = header(2, 2, 2) + bytes(8) + b"extra"
    p = tmp_path / "f"
    p.write_bytes(gz(data) if compress else data)
    expected = "payload has trailing data" if compress else "payload has 13"
    with pytest.raises(DataError, match=re.escape(f"{p}: header says 2×2×2 = 8 bytes; {expected}")):
        read_idx(p)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_read_idx_absurd_dims_refused_before_allocating(tmp_path, compress):
    """A7: 0xFFFFFFFF×28×28 (3.37 TB) is refused by integer arithmetic; memory stays flat."""
    data = header(0xFFFFFFFF, 28, 28) + bytes(1000)
    p = tmp_path / "f"
    p.write_bytes(gz(data) if compress else data)
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=re.escape(
                f"{p}: IDX header claims 4294967295×28×28 = 3,367,254,359,280 bytes, "
                f"more than the {MAX_PAYLOAD // 2**20} MiB limit")):
            read_idx(p)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 * 2**20


def test_read_idx_small_gzip_claiming_too_much_refused_before_allocating(tmp_path):
    """A7: under the cap, but more than a gzip this small could ever hold (deflate ≤ 1032:1)."""
    p = tmp_path / "f.gz"
    p.write_bytes(gz(header(500_000, 28, 28) + bytes(10)))
    tracemalloc.start()
    try:
        with pytest.raises(TruncatedError, match=re.escape(
                f"{p}: IDX header claims 500000×28×28 = 392,000,000 bytes, more than a "
                f"{p.stat().st_size}-byte gzip file can hold (truncated?)")):
            read_idx(p)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 * 2**20


@pytest.mark.parametrize("dims", [(0, 28, 28), (10, 0, 28), (10, 28, 0)])
def test_read_idx_zero_dimension(dims):
    """A8: a dim of 0 passes the byte count (0 == 0) but is refused: every dim must be ≥ 1."""
    with pytest.raises(DataError, match=re.escape("f: IDX header has a dimension of 0")):
        read_idx_bytes(header(*dims), name="f")


def test_read_idx_gzip_bomb_is_bounded(tmp_path):
    """A9: 256 MiB of zeros behind a 10-image header: decompression stops after 7,841 bytes."""
    p = tmp_path / "bomb.gz"
    p.write_bytes(gzip_bomb(header(10, 28, 28)))
    assert p.stat().st_size < 300_000
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(DataError, match=re.escape(
                f"{p}: header says 10×28×28 = 7,840 bytes; payload has trailing data")):
            read_idx(p)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 1.0
    assert peak < 16 * 2**20


def test_read_idx_gzip_bomb_without_header():
    """A9: a bomb of zeros has magic 0x00000000 and is refused after reading 4 bytes."""
    with pytest.raises(DataError, match=re.escape("b.gz: bad IDX magic 0x00000000")):
        read_idx_bytes(gzip_bomb(b"", zeros=64 * 2**20), name="b.gz")


def test_read_idx_max_bytes_is_configurable():
    """The size cap is a parameter; a header over it is refused."""
    with pytest.raises(DataError, match="more than the 0 MiB limit"):
        read_idx_bytes(header(100, 28, 28) + bytes(78400), max_bytes=1000)


# --- A14: paths ---------------------------------------------------------------------------

def test_read_idx_missing_path(tmp_path):
    """A14: a missing file is InputMissingError (exit 66), also a FileNotFoundError."""
    p = tmp_path / "nope.gz"
    with pytest.raises(InputMissingError, match=re.escape(f"{p}: no such file")) as info:
        read_idx(p)
    assert isinstance(info.value, FileNotFoundError)
    assert info.value.exit_code == 66


def test_read_idx_directory_path(tmp_path):
    """A14: a folder where a file is expected is InputMissingError (exit 66)."""
    with pytest.raises(InputMissingError, match=re.escape(f"{tmp_path}: is a directory, expected a file")):
        read_idx(tmp_path)


def test_gzip_module_still_behaves_as_documented():
    """Guard for A4: the stdlib really decompresses an empty gzip to b'' silently."""
    assert gzip.decompress(gz(b"")) == b""


def test_read_idx_permission_denied(tmp_path, monkeypatch):
    """A14: an unreadable file is NoPermissionError (exit 77). Simulated: root can read anything."""
    import os

    from digitlab import _files
    from digitlab.exceptions import NoPermissionError

    p = tmp_path / "locked.gz"
    p.write_bytes(b"")

    def denied(path, flags, *a, **kw):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(_files.os, "open", denied)
    assert _files.os is os  # the gate every reader goes through opens with os.open
    with pytest.raises(NoPermissionError, match=re.escape(f"{p}: permission denied")) as info:
        read_idx(p)
    assert info.value.exit_code == 77 and isinstance(info.value, PermissionError)


_SMALL = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
_SEEDS = [idx_bytes(_SMALL), gz(idx_bytes(_SMALL)), gz(idx_bytes(np.zeros(3000, dtype=np.uint8)))]


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(seed=st.sampled_from(_SEEDS), cut=st.integers(0, 2000),
       flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=3),
       junk=st.binary(max_size=16))
def test_read_idx_bytes_fuzz_only_raises_data_error(seed, cut, flips, junk):
    """Mutated, cut or extended files either load or raise DataError: no zlib.error, no MemoryError."""
    data = bytearray(seed)
    for pos, value in flips:
        data[pos % len(data)] = value
    data = bytes(data[: max(cut, 1)]) + junk if cut < len(data) else bytes(data) + junk
    try:
        array, _ = read_idx_bytes(data)
    except DataError:
        return
    assert array.dtype == np.uint8 and array.size >= 1
