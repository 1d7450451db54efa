"""Find the IDX files of a known dataset, or download them into the cache.

Search order: explicit folder > ``$DIGITLAB_DATA_DIR`` > system folders (Debian packages) > the
user cache > a download. Downloads go through pooch into a temp folder inside the cache, are
decompressed with the bounded IDX reader, checked against the registry's MD5 of the uncompressed
bytes, and only then renamed into place, so a partial or wrong file never looks like valid data.
A file lock serialises processes populating the same cache.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import filelock

from .. import _config
from .._atomic import atomic_path, ensure_dir, os_error, remove_stale_parts
from ..exceptions import ChecksumError, DataError, DigitlabError, OfflineError
from ._registry import ROLES, RemoteDataset
from .idx import read_idx

log = logging.getLogger(__name__)

RETRIES = 3
BACKOFF = 0.5  # seconds, doubled per attempt
TIMEOUT = 30


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
            if p.is_file():
                found[role] = p
                break
        else:
            return None
    return found


def locate(ds: RemoteDataset, data_dir=None, cache_dir=None) -> dict[str, Path] | None:
    folders = _config.data_dirs(data_dir)
    # a data dir may hold several datasets in sub-folders named after them
    folders = [sub for f in folders for sub in (f, f / ds.name)]
    folders += [Path(p) for p in ds.system_dirs]
    folders.append(_config.cache_dir(cache_dir) / ds.name)
    for folder in folders:
        found = find_files(folder, ds.files)
        # MNIST and Fashion-MNIST share file names: the (small) label file tells them apart
        if found and _labels_match(found["train-labels"], ds.md5["train-labels"]):
            return found
    return None


def _labels_match(path: Path, md5: str) -> bool:
    try:
        return read_idx(path, ndim=1)[1] == md5
    except DigitlabError:
        return True  # let the full load report what is wrong with it


def missing_message(ds: RemoteDataset, cache_dir=None, reason: str = "offline?") -> str:
    names = ", ".join(ds.files[r] + ".gz" for r in ROLES)
    target = _config.cache_dir(cache_dir) / ds.name
    return (
        f"{ds.name}: {reason} cannot download and no local copy; put the 4 files ({names}) in a "
        f"folder and pass --data-dir DIR (or set DIGITLAB_DATA_DIR), or run "
        f"`digitlab data import DIR` to copy them into {target}"
    )


def fetch(ds: RemoteDataset, cache_dir=None, *, mirrors=None, progress: bool = True) -> dict[str, Path]:
    """Download whatever of *ds* is missing from the cache and return the cached paths."""
    folder = ensure_dir(_config.cache_dir(cache_dir) / ds.name)
    remove_stale_parts(folder)
    mirrors = tuple(mirrors or _mirrors_from_env(ds) or ds.mirrors)
    lock = filelock.FileLock(str(folder / ".lock"))
    try:
        lock.acquire(timeout=600)
    except OSError as exc:
        raise os_error(folder, exc, "cannot lock cache") from None
    try:
        paths = {}
        for role in ROLES:
            target = folder / ds.files[role]
            if not (target.is_file() and _cached_ok(target, ds.md5[role])):
                _download_one(ds, role, target, mirrors, progress)
            paths[role] = target
        return paths
    finally:
        lock.release()


def _mirrors_from_env(ds: RemoteDataset):
    env = os.environ.get(f"DIGITLAB_{ds.name.upper().replace('-', '_')}_URL")
    return (env if env.endswith("/") else env + "/",) if env else None


def _cached_ok(path: Path, md5: str) -> bool:
    """A cached file is trusted only if its checksum matches; a bad one is dropped (E5)."""
    try:
        _, got = read_idx(path)
    except DigitlabError:
        got = None
    if got == md5:
        return True
    log.warning("%s: cached copy is corrupt; it will be downloaded again", path)
    with contextlib.suppress(OSError):
        path.unlink()
    return False


def _download_one(ds, role, target: Path, mirrors, progress) -> None:
    import pooch

    fname = ds.files[role] + ".gz"
    errors: list[str] = []
    offline = True
    for attempt in range(RETRIES):
        for base in mirrors:
            url = base + fname
            try:
                tmpdir = tempfile.mkdtemp(prefix=".download.part_", dir=target.parent)
            except OSError as exc:
                raise os_error(target.parent, exc) from None
            try:
                downloader = pooch.HTTPDownloader(progressbar=progress, timeout=TIMEOUT)
                gz = pooch.retrieve(url, known_hash=None, fname=fname, path=tmpdir, downloader=downloader)
                offline = False
                with atomic_path(target) as tmp:
                    array, md5 = read_idx(gz)
                    if md5 != ds.md5[role]:
                        raise ChecksumError(
                            f"{url}: md5 of the uncompressed file is {md5}, expected {ds.md5[role]}"
                        )
                    # the cache keeps uncompressed IDX: loading it needs no inflate
                    from .idx import idx_bytes

                    tmp.write_bytes(idx_bytes(array))
                return
            except DataError as exc:
                offline = False
                errors.append(str(exc))
            except DigitlabError:
                raise
            except Exception as exc:  # network errors from requests/urllib3: retried
                if _is_http_error(exc):
                    offline = False
                errors.append(f"{url}: {type(exc).__name__}: {exc}")
            finally:
                shutil.rmtree(tmpdir, ignore_errors=True)
        time.sleep(BACKOFF * 2**attempt)
    if offline:
        raise OfflineError(missing_message(ds))
    last = errors[-1] if errors else "download failed"
    if any("md5" in e or "corrupt" in e or "IDX" in e for e in errors[-len(mirrors):]):
        raise ChecksumError(last)
    raise OfflineError(f"{fname}: download failed after {RETRIES} tries ({last})")


def _is_http_error(exc: Exception) -> bool:
    """An HTTP status error means the server answered: not 'offline'."""
    return type(exc).__name__ == "HTTPError" and getattr(exc, "response", None) is not None


def import_files(src: Path, ds: RemoteDataset, cache_dir=None) -> dict[str, Path]:
    """Verify the four IDX files in *src* and copy them (uncompressed) into the cache."""
    from .idx import idx_bytes

    found = find_files(Path(src), ds.files)
    if not found:
        names = ", ".join(ds.files[r] + "[.gz]" for r in ROLES)
        from ..exceptions import InputMissingError

        if not Path(src).is_dir():
            raise InputMissingError(f"{src}: no such folder")
        raise InputMissingError(f"{src}: does not hold the 4 {ds.name} files ({names})")
    arrays = {}
    for role, path in found.items():
        array, md5 = read_idx(path)
        if md5 != ds.md5[role]:
            raise ChecksumError(f"{path}: md5 of the uncompressed file is {md5}, expected {ds.md5[role]}")
        arrays[role] = array
    folder = ensure_dir(_config.cache_dir(cache_dir) / ds.name)
    out = {}
    with filelock.FileLock(str(folder / ".lock")):
        for role, array in arrays.items():
            target = folder / ds.files[role]
            with atomic_path(target) as tmp:
                try:
                    tmp.write_bytes(idx_bytes(array))
                except OSError as exc:
                    raise os_error(target, exc) from None
            out[role] = target
    return out
