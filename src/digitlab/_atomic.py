"""Write files so that readers only ever see the old complete file or the new complete one.

A temp file is written in the target's folder (same filesystem, so ``os.replace`` is atomic),
flushed and fsynced, then renamed over the target. Failures remove the temp file and are turned
into :mod:`digitlab.exceptions` errors naming the path.

A rename replaces whatever has the target's name, so what an output path names is decided first
(H4), once, here, for every writer:

- a regular file, or nothing yet: replaced or created atomically;
- ``-`` (or ``/dev/stdout``): the finished bytes go to standard output;
- a character device or a FIFO (``/dev/null``, a terminal, a named pipe, ``>(cmd)``): written
  through, like the shell's ``>`` (the device node is never replaced); a FIFO must have a reader;
- a symbolic link to a regular file: refused (73), neither replaced nor followed. Replacing would
  break the link; following would let a link planted in a shared run folder or a world-writable
  folder aim digitlab's write at any file the user can write (a rename bypasses the kernel's
  ``fs.protected_symlinks`` check that ``open()`` gets). Name the link's target instead;
- a directory, a socket, a block device, a broken link: refused (73).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import IO, Iterator

from ._files import file_kind
from .exceptions import CannotCreateError, NoPermissionError, WriteError

PART_MARK = ".part_"
STALE_SECONDS = 24 * 3600
STDOUT_NAMES = ("-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1")


def os_error(path: os.PathLike | str, exc: OSError, action: str = "cannot write") -> Exception:
    """Map an OSError on *path* to the digitlab error with the right exit code."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return NoPermissionError(f"{path}: {action} ({reason})")
    if exc.errno in (errno.ENOSPC, errno.EIO, errno.EDQUOT):
        return WriteError(f"{path}: {action} ({reason})")
    return CannotCreateError(f"{path}: {action} ({reason})")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def normal_mode(path: os.PathLike | str, directory: bool = False) -> None:
    """Give a mkstemp/mkdtemp result (0600/0700) the mode a plain open()/mkdir() would have."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def ensure_dir(path: os.PathLike | str) -> Path:
    """Create *path* (and parents) or raise a one-line digitlab error."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(path, exc, "cannot create folder") from None
    return path


def is_stdout(target) -> bool:
    """``-`` or one of the ``/dev/stdout`` aliases."""
    return str(target) in STDOUT_NAMES


def check_output(target: os.PathLike | str) -> bool:
    """Refuse an output path digitlab will not write (H4) before any work is done.

    Returns
    -------
    bool
        ``True`` when the output is written through (standard output, a device, a FIFO),
        ``False`` when a file is created or replaced atomically.

    Raises
    ------
    CannotCreateError
        A symlink to a file, a broken symlink, a directory, a socket or a block device (exit 73).
    """
    if is_stdout(target):
        return True
    target = Path(target)
    try:
        lst = os.lstat(target)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise os_error(target, exc) from None
    if stat.S_ISREG(lst.st_mode):
        return False
    if stat.S_ISDIR(lst.st_mode):
        raise CannotCreateError(f"{target}: is a directory")
    try:
        st = os.stat(target)  # through symlinks, as open() would see it
    except FileNotFoundError:
        raise CannotCreateError(f"{target}: is a broken symbolic link (to {os.readlink(target)}); "
                                "not writing through it") from None
    except OSError as exc:
        raise os_error(target, exc) from None
    if stat.S_ISREG(st.st_mode):
        raise CannotCreateError(f"{target}: is a symbolic link to a file ({os.path.realpath(target)}); "
                                "digitlab neither replaces nor follows it: give the file's own path")
    if not (stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
        raise CannotCreateError(f"{target}: is {file_kind(st.st_mode)}; not writing to it")
    return True


def _write_through_fd(target: Path) -> int | None:
    """``None`` to create or replace *target*, or an open descriptor of the device or FIFO it
    names, to write through (refusals as :func:`check_output`)."""
    if not check_output(target):
        return None
    try:
        # O_NONBLOCK: a FIFO nobody reads fails now (ENXIO) instead of blocking forever
        fd = os.open(target, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise CannotCreateError(f"{target}: is a FIFO (named pipe) that nobody reads; "
                                    "not waiting for a reader") from None
        raise os_error(target, exc) from None
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):  # swapped since the stat
        os.close(fd)
        raise CannotCreateError(f"{target}: changed while being opened; not writing to it")
    os.set_blocking(fd, True)
    return fd


@contextlib.contextmanager
def _write_through(target: Path, sink: IO, close: bool) -> Iterator[Path]:
    """Yield a private temp path; on success its bytes are copied to *sink* (a device, FIFO or
    standard output), so a writer that fails half-way sends nothing."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"digitlab-out{PART_MARK}")
        os.close(fd)
    except OSError as exc:
        if close:
            sink.close()
        raise os_error(tempfile.gettempdir(), exc) from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as src:
            shutil.copyfileobj(src, sink, 1 << 20)
        sink.flush()
    except OSError as exc:
        if isinstance(exc, (WriteError, NoPermissionError, CannotCreateError)):
            raise
        if isinstance(exc, BrokenPipeError) and not close:
            raise  # `digitlab ... -o - | head`: the CLI ends quietly, as for any pipe
        raise os_error(target, exc) from None
    finally:
        _unlink(tmp_path)
        if close:
            with contextlib.suppress(OSError):
                sink.close()


def _stdout_sink() -> IO:
    import sys

    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stdout.flush()  # text already printed comes first
    return sys.stdout.buffer


@contextlib.contextmanager
def atomic_path(target: os.PathLike | str, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temp path beside *target*; on success it is renamed onto *target*.

    Use it for writers that want a filename (matplotlib, skops). On any exception, including
    KeyboardInterrupt, the temp file is removed and *target* is untouched. ``-`` writes to
    standard output, a device or FIFO is written through, and a symlink, folder or socket is
    refused (see the module's docstring).
    """
    if is_stdout(target):
        with _write_through(Path(str(target)), _stdout_sink(), close=False) as tmp:
            yield tmp
        return
    target = Path(target)
    fd = _write_through_fd(target)
    if fd is not None:
        with _write_through(target, os.fdopen(fd, "wb"), close=True) as tmp:
            yield tmp
        return
    ensure_dir(target.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}{PART_MARK}", dir=target.parent)
        os.close(fd)
        normal_mode(tmp)  # the final file is shared like any other output
    except OSError as exc:
        raise os_error(target, exc) from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if not overwrite and target.exists():
            raise CannotCreateError(f"{target}: already exists (use --force to overwrite)")
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    except OSError as exc:
        _unlink(tmp_path)
        if isinstance(exc, (WriteError, NoPermissionError, CannotCreateError)):
            raise
        raise os_error(target, exc) from None
    except BaseException:
        _unlink(tmp_path)
        raise


@contextlib.contextmanager
def atomic_open(target: os.PathLike | str, mode: str = "wb", **kwargs) -> Iterator[IO]:
    """Open a temp file for writing that replaces *target* when the block succeeds."""
    with atomic_path(target) as tmp:
        try:
            fh = open(tmp, mode, **kwargs)
        except OSError as exc:
            raise os_error(target, exc) from None
        with fh:
            yield fh


def write_bytes(target: os.PathLike | str, data: bytes) -> Path:
    with atomic_open(target, "wb") as fh:
        fh.write(data)
    return Path(target)


def write_text(target: os.PathLike | str, text: str) -> Path:
    with atomic_open(target, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(target)


def is_part_file(path: os.PathLike | str) -> bool:
    return PART_MARK in Path(path).name


def remove_stale_parts(folder: os.PathLike | str, max_age: float = STALE_SECONDS) -> int:
    """Delete temp files and folders left by killed runs that are older than *max_age* seconds.

    Younger ones may belong to a run still in progress, so they are left alone (readers ignore
    them: see :func:`is_part_file`).
    """
    removed = 0
    now = time.time()
    with contextlib.suppress(OSError):
        for p in Path(folder).iterdir():
            if is_part_file(p):
                with contextlib.suppress(OSError):
                    if now - p.lstat().st_mtime > max_age:
                        if p.is_dir() and not p.is_symlink():
                            shutil.rmtree(p)
                        else:
                            p.unlink()
                        removed += 1
    return removed


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
