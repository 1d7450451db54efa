"""Write files so that readers only ever see the old complete file or the new complete one.

A temp file is written in the target's folder (same filesystem, so ``os.replace`` is atomic),
flushed and fsynced, then renamed over the target. Failures remove the temp file and are turned
into :mod:`digitlab.exceptions` errors naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import time
from pathlib import Path
from typing import IO, Iterator

from .exceptions import CannotCreateError, NoPermissionError, WriteError

PART_MARK = ".part_"
STALE_SECONDS = 24 * 3600


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


@contextlib.contextmanager
def atomic_path(target: os.PathLike | str, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temp path beside *target*; on success it is renamed onto *target*.

    Use it for writers that want a filename (matplotlib, skops). On any exception, including
    KeyboardInterrupt, the temp file is removed and *target* is untouched.
    """
    target = Path(target)
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
    import shutil

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
