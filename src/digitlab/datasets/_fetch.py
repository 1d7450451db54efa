"""Find the IDX files of a known dataset, or download them into the cache.

Search order: explicit folder > ``$DIGITLAB_DATA_DIR`` > system folders (Debian packages) > the
user cache > a download. Downloads go through pooch's HTTP downloader into a temp folder inside
the cache, are decompressed with the bounded IDX reader, checked against the registry's MD5 of the
uncompressed bytes, and only then renamed into place, so a partial or wrong file never looks like
valid data. A file lock serialises processes populating the same cache.

Download failures are told apart, because the user's remedy differs:

* nothing answered (connection refused, DNS, connect timeout): "offline?" with the two ways to
  provide the files by hand (``OfflineError``, exit 69);
* a server answered but the transfer broke (dropped connection, HTTP error): retried, then
  ``OfflineError`` naming the last failure (exit 69);
* a file arrived complete but is wrong (checksum, not IDX): retried, then ``ChecksumError`` /
  ``DataError`` (exit 65).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import filelock

from .. import _config
from .._atomic import os_error, remove_stale_parts
from ..exceptions import (
    ChecksumError,
    DataError,
    DigitlabError,
    InputMissingError,
    NoPermissionError,
    OfflineError,
)
from ._registry import ROLES, RemoteDataset
from .idx import TruncatedError, read_idx, write_idx_to

log = logging.getLogger(__name__)

RETRIES = 3
BACKOFF = 0.5  # seconds before the 2nd try, doubled for each further try
TIMEOUT = 30  # seconds without an answer (connect or between two reads), not for the whole file
CHUNK = 64 * 1024
LOCK_TIMEOUT = 600  # another process may be downloading 55 MB on a slow line


def candidate_names(canonical: str) -> list[str]:
    """File names accepted for one IDX role, e.g. ``t10k-images-idx3-ubyte[.gz]`` or ``...idx3.ubyte``."""
    dotted = canonical.replace("-idx", ".idx")
    names = [canonical, dotted]
    if canonical.startswith("t10k-"):
        names += [n.replace("t10k-", "test-", 1) for n in names]
    return [n + ext for n in names for ext in ("", ".gz")]


def find_files(folder: Path, files: dict[str, str]) -> dict[str, Path] | None:
    """The four IDX files in *folder*, or None if any is missing. Temp files are ignored."""
    found = {}
    for role in ROLES:
        for cand in candidate_names(files[role]):
            p = folder / cand
            if p.exists() and not p.is_dir():  # a FIFO or device is found, and refused when read
                found[role] = p
                break
        else:
            return None
    return found


def cache_folder(ds: RemoteDataset, cache_dir=None) -> Path:
    return _config.cache_dir(cache_dir) / ds.name


def locate(ds: RemoteDataset, data_dir=None, cache_dir=None) -> dict[str, Path] | None:
    """The dataset's four files from the first folder that holds them, or None."""
    folders = _config.data_dirs(data_dir)
    if folders and not folders[0].is_dir():
        # the most specific data dir was asked for explicitly: a typo there must not silently
        # fall through to a 55 MB download
        how = "data_dir" if data_dir is not None else f"${_config.DATA_ENV}"
        what = "is not a folder" if folders[0].exists() else "no such folder"
        raise InputMissingError(f"{folders[0]}: {what} (given as {how})")
    # a data dir may hold several datasets in sub-folders named after them
    folders = [sub for f in folders for sub in (f, f / ds.name)]
    folders += [Path(p) for p in ds.system_dirs]
    for folder in folders:
        found = find_files(folder, ds.files)
        # MNIST and Fashion-MNIST share file names: the (small) label file tells them apart
        if found and _labels_match(found["train-labels"], ds.md5["train-labels"]):
            return found
    # the cache folder is named after the dataset: no need to sniff, and a corrupt file there
    # must reach the loader so that it is reported and repaired (E5), not taken for "missing"
    return find_files(cache_folder(ds, cache_dir), ds.files)


def in_cache(files: dict[str, Path], ds: RemoteDataset, cache_dir=None) -> bool:
    """True if *files* (from :func:`locate`) are the cache's copies, which digitlab may replace."""
    return Path(files["train-images"]).parent == cache_folder(ds, cache_dir)


def _labels_match(path: Path, md5: str) -> bool:
    try:
        return read_idx(path, ndim=1)[1] == md5
    except DigitlabError:
        return True  # let the full load report what is wrong with it


def _remedies(ds: RemoteDataset, cache_dir=None) -> str:
    names = ", ".join(ds.files[r] + ".gz" for r in ROLES)
    return (
        f"put the 4 files ({names}) in a folder and pass --data-dir DIR (or set "
        f"{_config.DATA_ENV}), or run `digitlab data import DIR` to copy them into "
        f"{cache_folder(ds, cache_dir)}"
    )


def missing_message(ds: RemoteDataset, cache_dir=None, reason: str = "offline? cannot download and") -> str:
    return f"{ds.name}: {reason} no local copy; {_remedies(ds, cache_dir)}"


def cache_error(folder: Path, exc: OSError) -> DigitlabError:
    """E1: the cache cannot be written. Says which folder and how to use another one."""
    reason = exc.strerror or str(exc)
    msg = (
        f"cannot write to cache dir {folder} ({reason}); set {_config.DATA_ENV} or --data-dir to a "
        f"folder holding the files, or --cache-dir ({_config.CACHE_ENV}) to a writable folder"
    )
    err = os_error(folder, exc)  # picks the exit code: 77 permission, 74 disk full, 73 otherwise
    return type(err)(msg)


def writable_cache(folder: Path) -> Path:
    """Create *folder* if needed and make sure files can be created in it, before any download.

    ``os.access`` is not enough on its own: root passes it everywhere, and a read-only mount or a
    path through a regular file only fails when something is actually created.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if isinstance(exc, FileExistsError):  # the path is a regular file
            exc = NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        raise cache_error(folder, exc) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise cache_error(folder, PermissionError(errno.EACCES, os.strerror(errno.EACCES)))
    try:
        fd, probe = tempfile.mkstemp(prefix=".probe.part_", dir=folder)
    except OSError as exc:
        raise cache_error(folder, exc) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return folder


@contextlib.contextmanager
def _cache_lock(folder: Path):
    """Serialise processes filling *folder*: an ``flock`` on the folder itself.

    Locking the folder rather than a lock file leaves nothing behind in the cache. If the folder
    was removed while we waited (a failed run cleaning up the folder it created), it is made
    again and locked anew.
    """
    try:
        import fcntl
    except ImportError:  # Windows: a lock file it is
        with _file_lock(folder):
            yield
        return
    deadline = time.monotonic() + LOCK_TIMEOUT
    while True:
        try:
            fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as exc:
            raise cache_error(folder, exc) from None
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise OfflineError(
                            f"{folder}: another digitlab process has been filling the cache for "
                            f"{LOCK_TIMEOUT // 60} minutes; try again later"
                        ) from None
                    time.sleep(0.05)
            locked = os.fstat(fd)
            try:
                now = os.stat(folder)
                same = (now.st_dev, now.st_ino) == (locked.st_dev, locked.st_ino)
            except OSError:
                same = False
            if same:
                yield
                return
        finally:
            os.close(fd)  # releases the lock
        writable_cache(folder)


@contextlib.contextmanager
def _file_lock(folder: Path):
    lock = filelock.FileLock(str(folder / ".lock"), timeout=LOCK_TIMEOUT)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise OfflineError(
            f"{folder / '.lock'}: another digitlab process has been filling the cache for "
            f"{LOCK_TIMEOUT // 60} minutes; try again later"
        ) from None
    except OSError as exc:
        raise cache_error(folder, exc) from None
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def _undo_new_folders(folder: Path):
    """On failure, remove the (empty) folders this run created, so the cache is as it was."""
    new = []
    p = folder
    while not p.exists() and p != p.parent:
        new.append(p)
        p = p.parent
    try:
        yield
    except BaseException:
        for d in new:  # deepest first; rmdir refuses non-empty folders
            with contextlib.suppress(OSError):
                d.rmdir()
        raise


def fetch(ds: RemoteDataset, cache_dir=None, *, mirrors=None, progress: bool = True) -> dict[str, Path]:
    """Download whatever of *ds* is missing or corrupt in the cache; return the cached paths.

    Files already in the cache are verified (MD5 of their bytes) and kept when good. A corrupt
    cached file is reported with a warning and downloaded again (E5); it is only replaced once a
    good copy has been verified, so a failed download leaves the cache as it was.

    Parameters
    ----------
    ds : RemoteDataset
    cache_dir : path-like, default=None
        Cache root (the files go in ``<cache_dir>/<ds.name>/``).
    mirrors : sequence of str, default=None
        Base URLs, each ending in ``/``; default ``$DIGITLAB_<NAME>_URL`` or the registry's.
    progress : bool, default=True
        Show a progress bar on stderr.
    """
    folder = cache_folder(ds, cache_dir)
    paths = {role: folder / ds.files[role] for role in ROLES}
    todo = _not_cached(ds, paths, warn=True)
    if not todo:
        return paths  # nothing to write: works on a read-only cache
    mirrors = tuple(mirrors or _mirrors_from_env(ds) or ds.mirrors)
    with _undo_new_folders(folder):
        writable_cache(folder)
        remove_stale_parts(folder)
        with _cache_lock(folder):
            todo = _not_cached(ds, paths, warn=False)  # another process may have filled it meanwhile
            if todo:
                _download_into(ds, todo, paths, folder, mirrors, progress, cache_dir)
    return paths


def _download_into(ds, todo, paths, folder, mirrors, progress, cache_dir) -> None:
    try:
        stage = Path(tempfile.mkdtemp(prefix=".download.part_", dir=folder))
    except OSError as exc:
        raise cache_error(folder, exc) from None
    try:
        # all missing files are downloaded and verified before any is moved into place
        staged = {role: _download_one(ds, role, stage, mirrors, progress, cache_dir) for role in todo}
        for role, path in staged.items():
            try:
                os.replace(path, paths[role])
            except OSError as exc:
                raise os_error(paths[role], exc) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _mirrors_from_env(ds: RemoteDataset):
    env = os.environ.get(f"DIGITLAB_{ds.name.upper().replace('-', '_')}_URL")
    return (env if env.endswith("/") else env + "/",) if env else None


def _not_cached(ds: RemoteDataset, paths: dict[str, Path], *, warn: bool) -> list[str]:
    """Roles whose cached file is missing or does not match the registry's MD5."""
    todo = []
    for role in ROLES:
        path = paths[role]
        if not path.is_file():
            todo.append(role)
            continue
        try:
            _, got = read_idx(path)
            problem = None if got == ds.md5[role] else f"md5 {got}, expected {ds.md5[role]}"
        except DigitlabError as exc:
            problem = str(exc).removeprefix(f"{path}: ")
        if problem:
            todo.append(role)
            if warn:
                log.warning("digitlab: warning: %s: cached copy is corrupt (%s); downloading it again",
                            path, problem)
    return todo


def _download_one(ds, role, stage: Path, mirrors, progress, cache_dir=None) -> Path:
    """Download one file into *stage*, verify it, and return the uncompressed copy's path."""
    import pooch
    import requests

    fname = ds.files[role] + ".gz"
    gz = stage / fname
    out = stage / ds.files[role]
    failures: list[tuple[str, str]] = []  # (kind, message), kind: unreachable|broken|content
    for attempt in range(RETRIES):
        if attempt:
            time.sleep(BACKOFF * 2 ** (attempt - 1))
        for base in mirrors:
            url = base + fname
            downloader = pooch.HTTPDownloader(progressbar=_progressbar(progress, fname),
                                              chunk_size=CHUNK, timeout=TIMEOUT)
            try:
                try:
                    downloader(url, str(gz), None)
                except requests.HTTPError as exc:
                    failures.append(("broken", f"{url}: {exc}"))
                    continue
                except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ReadTimeout,
                        requests.exceptions.ContentDecodingError) as exc:
                    failures.append(("broken", f"{url}: transfer interrupted ({_short(exc)})"))
                    continue
                except requests.RequestException as exc:
                    failures.append(("unreachable", f"{url}: {_short(exc)}"))
                    continue
                except OSError as exc:  # our side: disk full, permissions (requests' errors are above)
                    raise os_error(stage.parent / ds.files[role], exc, "cannot write download") from None
                try:
                    array, md5 = read_idx(gz)
                except TruncatedError as exc:  # a cut transfer without Content-Length
                    failures.append(("broken", str(exc).replace(str(gz), url, 1)))
                    continue
                except DataError as exc:
                    failures.append(("content", str(exc).replace(str(gz), url, 1)))
                    continue
                if md5 != ds.md5[role]:
                    failures.append(("content", f"{url}: md5 of the uncompressed file is {md5}, "
                                                f"expected {ds.md5[role]}"))
                    continue
                # the cache keeps uncompressed IDX: loading it needs no inflate
                try:
                    with open(out, "wb") as fh:
                        write_idx_to(fh, array)
                        fh.flush()
                        os.fsync(fh.fileno())
                except OSError as exc:
                    raise os_error(out, exc) from None
                return out
            finally:
                with contextlib.suppress(OSError):
                    gz.unlink()
    kinds = {kind for kind, _ in failures}
    tries = f"{RETRIES} tries from {len(mirrors)} mirror{'s' if len(mirrors) > 1 else ''}"
    if "content" in kinds:
        last = [msg for kind, msg in failures if kind == "content"][-1]
        cls = ChecksumError if "md5" in last else DataError
        raise cls(f"{last} (after {tries}; nothing was written to the cache)")
    if kinds == {"unreachable"}:
        raise OfflineError(missing_message(ds, cache_dir, f"offline? cannot download {fname} and"))
    raise OfflineError(f"{failures[-1][1]} (after {tries}); {_remedies(ds, cache_dir)}")


def _short(exc: Exception) -> str:
    """requests' messages nest urllib3's reprs; keep the innermost reason."""
    msg = str(exc)
    for marker in ("Caused by ", "Connection broken: "):
        if marker in msg:
            msg = msg.split(marker, 1)[1]
    return msg.strip("()' ") or type(exc).__name__


def _progressbar(progress: bool, label: str):
    """In Jupyter one updated output; else pooch's tqdm bar when tqdm is installed, else a Rich
    one (Rich is a core dependency)."""
    if not progress:
        return False
    from .._progress import bar

    cell = bar(progress, label)  # in Jupyter: one output updated in place, not a terminal bar
    if cell is not None:
        return cell
    try:
        import tqdm  # noqa: F401

        return True
    except ImportError:
        return _RichBar(label)


class _RichBar:
    """The progress-bar protocol pooch expects (``total``, ``update``, ``reset``, ``close``)."""

    def __init__(self, label: str):
        self.label = label
        self.total = 0
        self._progress = None
        self._task = None

    def _start(self):
        from rich.console import Console
        from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

        self._progress = Progress(*Progress.get_default_columns(), DownloadColumn(),
                                  TransferSpeedColumn(), console=Console(stderr=True), transient=True)
        self._progress.start()
        self._task = self._progress.add_task(self.label, total=self.total or None)

    def update(self, n: int) -> None:
        if self._progress is None:
            self._start()
        self._progress.advance(self._task, n)

    def reset(self) -> None:
        if self._progress is not None:
            self._progress.reset(self._task, total=self.total or None)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def import_files(src, ds: RemoteDataset, cache_dir=None) -> dict[str, Path]:
    """Verify the four IDX files in folder *src* and copy them (uncompressed) into the cache.

    Nothing is written unless all four files are good.
    """
    from .idx import write_idx

    src = Path(src)
    if not src.exists():
        raise InputMissingError(f"{src}: no such folder")
    if not src.is_dir():
        raise InputMissingError(f"{src}: is a file; expected a folder holding the 4 {ds.name} IDX files")
    if not os.access(src, os.R_OK | os.X_OK):
        raise NoPermissionError(f"{src}: permission denied")
    found = find_files(src, ds.files)
    if not found:
        names = ", ".join(ds.files[r] + "[.gz]" for r in ROLES)
        raise InputMissingError(f"{src}: does not hold the 4 {ds.name} files ({names})")
    folder = cache_folder(ds, cache_dir)
    out = {}
    with _undo_new_folders(folder):
        writable_cache(folder)  # before reading 55 MB, not after
        arrays = {}
        for role, path in found.items():
            array, md5 = read_idx(path, ndim=1 if role.endswith("labels") else 3)
            if md5 != ds.md5[role]:
                raise ChecksumError(
                    f"{path}: md5 of the uncompressed file is {md5}, expected {ds.md5[role]} "
                    f"(not the {ds.name} {role.replace('-', ' ')} file)"
                )
            arrays[role] = array
        remove_stale_parts(folder)
        with _cache_lock(folder):
            for role, array in arrays.items():
                out[role] = write_idx(folder / ds.files[role], array, compress=False)
    return out
