"""Open the files digitlab reads: regular files only, size-capped, checked before any byte is read.

A path may name a FIFO (a plain ``open()`` blocks until a writer comes), a device such as
``/dev/zero`` (endless data), a socket or a folder, directly or through a symlink. Every reader
goes through :func:`open_input`, which refuses all of these with a one-line error in
microseconds: the path is ``stat``-ed first (so a device is never even opened), then opened with
``O_NONBLOCK`` (a FIFO swapped in meanwhile cannot block the open) and the *opened* descriptor is
``fstat``-ed again, so what is read is what was checked (no check-then-use race).
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from typing import BinaryIO

from .exceptions import DataError, InputMissingError, NoPermissionError

__all__ = ["open_input", "read_input_bytes", "check_input", "is_stdin", "InputTooLargeError",
           "MAX_JSON_BYTES", "MAX_ARRAY_BYTES", "MAX_IMAGE_BYTES", "file_kind"]

# Caps by kind of file; each is far above what digitlab itself writes (a run.json is ~5 kB, an
# eval.json ~100 kB, MNIST's predictions.npz ~10 MB) and far below what would exhaust memory.
MAX_JSON_BYTES = 64 * 2**20
MAX_ARRAY_BYTES = 2 * 2**30  # .npy stacks and predictions.npz
MAX_IMAGE_BYTES = 64 * 2**20  # an image file larger than this is not a photo of a digit

# Names that mean "the standard input" for readers that accept a stream (predict's images).
STDIN_NAMES = ("-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0")

_O_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


class InputTooLargeError(DataError):
    """An input file is larger than digitlab reads for its kind (exit 65)."""


def file_kind(mode: int) -> str:
    """What a non-regular file is, for messages: ``"a FIFO (named pipe)"``, ``"a character device"``."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def is_stdin(path) -> bool:
    """``-`` or one of the ``/dev/stdin`` aliases."""
    return str(path) in STDIN_NAMES


def _missing(path, exc: OSError) -> Exception:
    if exc.errno == errno.ENOENT:
        # a dangling symlink is "no such file" too, but say where it points
        if os.path.islink(path):
            return InputMissingError(f"{path}: no such file (broken symbolic link to {os.readlink(path)})")
        return InputMissingError(f"{path}: no such file")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return NoPermissionError(f"{path}: permission denied")
    if exc.errno == errno.EISDIR:
        return InputMissingError(f"{path}: is a directory, expected a file")
    if exc.errno == errno.ENXIO:  # open() of a socket file
        return InputMissingError(f"{path}: is a socket, not a regular file")
    if exc.errno == errno.ELOOP:
        return InputMissingError(f"{path}: too many levels of symbolic links")
    return InputMissingError(f"{path}: cannot read ({exc.strerror or exc})")


def _check_stat(path, st: os.stat_result, max_bytes: int | None, what: str) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise InputMissingError(f"{path}: is a directory, expected a file")
    if not stat.S_ISREG(st.st_mode):
        raise InputMissingError(f"{path}: is {file_kind(st.st_mode)}, not a regular file")
    if max_bytes is not None and st.st_size > max_bytes:
        raise InputTooLargeError(f"{path}: {st.st_size:,} bytes, more than the {_size(max_bytes)} "
                                 f"limit for {_article(what)} {what} file")


def _size(n: int) -> str:
    if n >= 2**30 and n % 2**30 == 0:
        return f"{n // 2**30} GiB"
    return f"{n // 2**20} MiB" if n >= 2**20 and n % 2**20 == 0 else f"{n:,}-byte"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeio" else "a"


def check_input(path, *, max_bytes: int | None = None, what: str = "input") -> os.stat_result:
    """Refuse *path* unless it is (a symlink to) a regular file of at most *max_bytes*.

    Only ``stat`` is called: nothing is opened. Use :func:`open_input` to read.

    Raises
    ------
    InputMissingError
        Missing, a folder, a FIFO, a device or a socket (exit 66).
    NoPermissionError
        Permission denied (exit 77).
    InputTooLargeError
        Larger than *max_bytes* (exit 65).
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise _missing(path, exc) from None
    _check_stat(path, st, max_bytes, what)
    return st


def open_input(path, *, max_bytes: int | None, what: str = "input") -> BinaryIO:
    """Open a regular file for binary reading, after checking it is one and not too large.

    Parameters
    ----------
    path : path-like
    max_bytes : int or None
        Size cap checked on the opened file's ``fstat`` before anything is read; ``None`` for
        readers that bound their own reads (the IDX reader checks sizes against the header).
    what : str, default="input"
        The kind of file, for messages (``"model"``, ``"image"``, ``"dataset"``...).

    Returns
    -------
    file object opened in ``"rb"`` mode; the caller closes it.
    """
    check_input(path, max_bytes=max_bytes, what=what)  # a device is refused before it is opened
    try:
        fd = os.open(path, _O_FLAGS)
    except OSError as exc:
        raise _missing(path, exc) from None
    try:
        # the path may have been swapped since the stat: judge what was actually opened
        _check_stat(path, os.fstat(fd), max_bytes, what)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_input_bytes(path, *, max_bytes: int, what: str = "input", stdin: bool = False) -> bytes:
    """The bytes of a regular file (see :func:`open_input`), or of the standard input.

    Parameters
    ----------
    stdin : bool, default=False
        Read ``-`` and ``/dev/stdin`` from the process's standard input stream (a pipe, a file
        or a terminal) instead of refusing them; at most *max_bytes* are accepted.
    """
    if stdin and is_stdin(path):
        stream = sys.stdin.buffer if sys.stdin is not None else None
        if stream is None:
            raise InputMissingError(f"{path}: there is no standard input to read")
        data = _read_upto(stream, b"", max_bytes + 1)
    else:
        with open_input(path, max_bytes=max_bytes, what=what) as fh:
            # read(n) allocates n bytes up front: ask for the real size (+ 1 to see growth)
            size = os.fstat(fh.fileno()).st_size
            data = fh.read(size + 1)
            if len(data) > size:  # the file grew after the check
                data = _read_upto(fh, data, max_bytes + 1)
    if len(data) > max_bytes:
        raise InputTooLargeError(f"{path}: more than the {_size(max_bytes)} limit for "
                                 f"{_article(what)} {what} file")
    return data


def _read_upto(fh, head: bytes, limit: int) -> bytes:
    """*head* and what follows in *fh*, at most *limit* bytes in all, read in 1 MiB chunks."""
    chunks, total = [head], len(head)
    while total < limit:
        chunk = fh.read(min(1 << 20, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


NPY_MAX_HEADER = 10_000  # numpy's own default max_header_size


def read_npy_header(fh, size: int) -> tuple[tuple, bool, "object"]:
    """``(shape, fortran_order, dtype)`` of the .npy data at *fh*'s position, *size* bytes long.

    Checked before numpy reads anything: numpy reads a header of the length the file claims
    *before* comparing it with its limit, so 20 bytes claiming a 2 GB header made it allocate 2 GB
    (found by fuzzing); its tokenizer also leaks ``TokenError``. Raises ``ValueError`` with the
    reason; callers turn it into their own error.
    """
    import struct
    import tokenize
    import warnings

    from numpy.lib import format as npf

    start = fh.tell()
    try:
        version = npf.read_magic(fh)
        if version not in ((1, 0), (2, 0)):  # 3.0 only adds UTF-8 field names: not our arrays
            raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
        width = 2 if version == (1, 0) else 4
        raw = fh.read(width)
        if len(raw) != width:
            raise ValueError("truncated header")
        hlen = struct.unpack("<H" if width == 2 else "<I", raw)[0]
        if hlen > NPY_MAX_HEADER or hlen > size - (fh.tell() - start):
            raise ValueError(f"header claims {hlen:,} bytes")
        fh.seek(start + 6 + 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "created on Python 2": irrelevant to a refusal or a read
            read = npf.read_array_header_1_0 if version == (1, 0) else npf.read_array_header_2_0
            shape, fortran, dtype = read(fh)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError, tokenize.TokenError) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from None
    if dtype.hasobject:
        raise ValueError("object arrays are never loaded")
    if any(d < 0 for d in shape):  # numpy's header reader lets (-1, 3) through
        raise ValueError(f"negative dimension in shape {shape}")
    return shape, fortran, dtype
