"""Read and write IDX files (the MNIST format), plain or gzip-compressed.

The reader trusts nothing in the file: the header's dimensions are checked with Python integers
against a size cap and the file's real size *before* any allocation, gzip streams are decompressed
only up to the size the header announces (plus one byte to detect trailing data), and every
decompression failure — including ``zlib.error``, which is not an ``OSError`` — becomes a
:class:`~digitlab.exceptions.DataError` naming the file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .._files import open_input
from ..exceptions import DataError

# Only unsigned bytes: every MNIST-format dataset is uint8, and refusing the float type codes
# means NaN/inf can never enter through an IDX file.
UBYTE = 0x08
MAX_PAYLOAD = 512 * 2**20  # refuse headers claiming more than 512 MiB
# deflate cannot compress better than 1032:1, so a gzip of S bytes holds at most ~1032*S bytes:
# a header claiming more is refused before allocating (the slack covers tiny files' headers)
MAX_GZIP_RATIO = 1032
_CHUNK = 4 * 2**20


class TruncatedError(DataError):
    """The file ends before the data its header announces (typically a cut download)."""


def _is_gzip(fh) -> bool:
    head = fh.read(2)
    fh.seek(0)
    return head == b"\x1f\x8b"


class _Reader:
    """Bounded reads from a raw or gzip stream; decompression errors become DataError."""

    def __init__(self, fh, name: str):
        self.name = name
        self.gz = _is_gzip(fh)
        self.fh = gzip.GzipFile(fileobj=fh, mode="rb") if self.gz else fh
        self.raw = fh

    def readinto(self, buf: memoryview) -> int:
        total = 0
        try:
            while total < len(buf):
                n = self.fh.readinto(buf[total : total + _CHUNK])
                if not n:
                    break
                total += n
        except EOFError as exc:
            raise TruncatedError(f"{self.name}: corrupt gzip ({exc})") from None
        except zlib.error as exc:
            raise DataError(f"{self.name}: corrupt gzip (bad deflate stream: {exc})") from None
        except gzip.BadGzipFile as exc:
            raise DataError(f"{self.name}: corrupt gzip ({exc})") from None
        except OSError as exc:
            raise DataError(f"{self.name}: cannot read ({exc})") from None
        return total

    def read(self, n: int) -> bytes:
        buf = bytearray(n)
        got = self.readinto(memoryview(buf))
        return bytes(buf[:got])


def _expected_magic(ndim: int) -> int:
    return (UBYTE << 8) | ndim


def parse_header(head: bytes, name: str, ndim: int | None = None) -> tuple[int, ...]:
    """Validate the 4-byte magic and return the dimensions that follow it."""
    if len(head) < 4:
        raise DataError(f"{name}: too short for IDX header ({len(head)} bytes)")
    zero, dtype, nd = struct.unpack(">HBB", head[:4])
    magic = struct.unpack(">I", head[:4])[0]
    want = f"; expected 0x{_expected_magic(ndim):08X} (uint8, {ndim}-D)" if ndim else ""
    if zero != 0 or dtype != UBYTE or nd == 0 or (ndim is not None and nd != ndim):
        raise DataError(f"{name}: bad IDX magic 0x{magic:08X}{want}")
    if len(head) < 4 + 4 * nd:
        raise DataError(f"{name}: too short for IDX header ({len(head)} bytes)")
    dims = struct.unpack(f">{nd}I", head[4 : 4 + 4 * nd])
    if any(d < 1 for d in dims):
        raise DataError(f"{name}: IDX header has a dimension of 0 ({_fmt_dims(dims)})")
    return dims


def _fmt_dims(dims) -> str:
    return "×".join(str(d) for d in dims)


def read_idx(
    path: str | os.PathLike,
    *,
    ndim: int | None = None,
    out: np.ndarray | None = None,
    max_bytes: int = MAX_PAYLOAD,
) -> tuple[np.ndarray, str]:
    """Read an IDX file of unsigned bytes.

    Parameters
    ----------
    path : path-like
        The file, gzip-compressed or not (detected from its content, not its name).
    ndim : int, default=None
        Required number of dimensions (3 for images, 1 for labels); ``None`` accepts any.
    out : ndarray of dtype uint8, default=None
        Preallocated, C-contiguous array to read into (its size must match the header). Lets a
        caller read train and test into one block without a concatenating copy.
    max_bytes : int, default=512 MiB
        Largest payload accepted; bigger headers are refused before anything is allocated.

    Returns
    -------
    array : ndarray of dtype uint8 with the header's shape
    md5 : str
        MD5 of the uncompressed file bytes (header + payload), the registry's checksum.
    """
    name = str(path)
    with open_input(path, max_bytes=_file_cap(max_bytes), what="dataset") as fh:
        return _read_idx_stream(fh, name, ndim=ndim, out=out, max_bytes=max_bytes)


def read_idx_bytes(data: bytes, name: str = "<bytes>", **kwargs) -> tuple[np.ndarray, str]:
    """:func:`read_idx` on bytes in memory (uploads, tests, fuzzing)."""
    return _read_idx_stream(io.BytesIO(data), name, **kwargs)


def _read_idx_stream(fh, name, *, ndim=None, out=None, max_bytes=MAX_PAYLOAD):
    reader = _Reader(fh, name)
    head, dims = _checked_header(fh, reader, name, ndim, max_bytes)
    n_bytes = math.prod(dims)
    if out is None:
        out = np.empty(dims, dtype=np.uint8)
    elif out.shape != tuple(dims) or out.dtype != np.uint8 or not out.flags.c_contiguous:
        raise DataError(f"{name}: expected shape {out.shape}, file has {_fmt_dims(dims)}")
    view = memoryview(out.reshape(-1))
    got = reader.readinto(view)
    if got < n_bytes:
        raise TruncatedError(f"{name}: header says {_fmt_dims(dims)} = {n_bytes:,} bytes; payload has {got:,}")
    extra = reader.read(1)
    if extra:
        raise DataError(f"{name}: header says {_fmt_dims(dims)} = {n_bytes:,} bytes; payload has trailing data")
    md5 = hashlib.md5(head)
    md5.update(view)
    return out, md5.hexdigest()


def peek_idx_dims(path: str | os.PathLike, ndim: int | None = None,
                  max_bytes: int = MAX_PAYLOAD) -> tuple[int, ...]:
    """Read only the header of an IDX file, for preallocation.

    The dimensions get every check :func:`read_idx` makes before allocating (size cap, raw file
    size, gzip ratio), so a caller may allocate what they announce.
    """
    name = str(path)
    with open_input(path, max_bytes=_file_cap(max_bytes), what="dataset") as fh:
        return _checked_header(fh, _Reader(fh, name), name, ndim, max_bytes)[1]


def _file_cap(max_bytes: int) -> int:
    """Largest IDX file worth opening: the payload cap plus a header (or gzip's overhead on
    incompressible data, ~0.1%); the header is then checked against the exact size."""
    return max_bytes + max_bytes // 512 + 2**16


def _checked_header(fh, reader: _Reader, name: str, ndim, max_bytes) -> tuple[bytes, tuple[int, ...]]:
    """Read the header and refuse dimensions the file cannot hold, using Python ints only."""
    head, dims = _read_header(reader, name, ndim)
    n_bytes = math.prod(dims)  # Python int: cannot overflow
    if n_bytes > max_bytes:
        raise DataError(
            f"{name}: IDX header claims {_fmt_dims(dims)} = {n_bytes:,} bytes, "
            f"more than the {max_bytes // 2**20} MiB limit"
        )
    pos = fh.tell()
    file_size = fh.seek(0, io.SEEK_END)
    fh.seek(pos)
    if reader.gz:
        if n_bytes > MAX_GZIP_RATIO * file_size + 2**16:
            raise TruncatedError(
                f"{name}: IDX header claims {_fmt_dims(dims)} = {n_bytes:,} bytes, more than a "
                f"{file_size:,}-byte gzip file can hold (truncated?)"
            )
    else:
        payload = file_size - len(head)
        if payload != n_bytes:
            cls = TruncatedError if payload < n_bytes else DataError
            raise cls(
                f"{name}: header says {_fmt_dims(dims)} = {n_bytes:,} bytes; payload has {payload:,}"
            )
    return head, dims


def _read_header(reader: _Reader, name: str, ndim: int | None) -> tuple[bytes, tuple[int, ...]]:
    head = reader.read(4)
    nd = head[3] if len(head) == 4 else 0
    if nd:
        head += reader.read(4 * nd)
    try:
        return head, parse_header(head, name, ndim)
    except DataError as exc:
        # an HTML error page or a raw file saved under a .gz name: say so
        if not reader.gz and name.endswith(".gz") and "magic" in str(exc):
            raise DataError(f"{exc} (named .gz but not gzip-compressed)") from None
        raise


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array."""
    array = np.asarray(array)
    return _idx_header(array) + np.ascontiguousarray(array).tobytes()


def _idx_header(array: np.ndarray) -> bytes:
    if array.dtype != np.uint8:
        raise DataError(f"IDX writer supports uint8 arrays only, got {array.dtype}")
    if array.ndim < 1 or 0 in array.shape:
        raise DataError(f"IDX writer needs a non-empty array, got shape {array.shape}")
    return struct.pack(">HBB", 0, UBYTE, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)


def write_idx_to(fh, array: np.ndarray) -> None:
    """Write the IDX encoding of a uint8 *array* to the binary file object *fh* (no copy of the data)."""
    array = np.asarray(array)
    head = _idx_header(array)
    fh.write(head)
    fh.write(memoryview(np.ascontiguousarray(array).reshape(-1)))


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write *array* as an IDX file, atomically; gzip it when *compress* or the name ends in .gz.

    Parameters
    ----------
    path : path-like
        Target file; readers only ever see the old complete file or the new one.
    array : ndarray of dtype uint8
    compress : bool, default=None
        ``None`` compresses when *path* ends in ``.gz``. The gzip header's mtime is 0, so the
        same array always gives the same bytes.
    """
    from .._atomic import atomic_open

    path = Path(path)
    _idx_header(np.asarray(array))  # validate before creating anything
    with atomic_open(path, "wb") as fh:
        if compress or (compress is None and path.suffix == ".gz"):
            with gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as gz:
                write_idx_to(gz, array)
        else:
            write_idx_to(fh, array)
    return path
