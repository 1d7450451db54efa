"""Downloads against a local HTTP server, the cache, and BAD-INPUTS section E (and F5).

The server (``file_server``) binds 127.0.0.1 only; no test reaches the internet.
"""

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _dataset_factory import (
    NAMES, file_server, fast_retries, free_port, gz, snapshot, tiny_arrays, tiny_remote,  # noqa: F401
)

from digitlab import datasets
from digitlab.datasets import _fetch
from digitlab.datasets._registry import REMOTE, ROLES
from digitlab.datasets.idx import idx_bytes
from digitlab.exceptions import (
    CannotCreateError, ChecksumError, DataError, NoPermissionError, OfflineError, WriteError,
)

MNIST_SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"
GZ_NAMES = [NAMES[r] + ".gz" for r in ROLES]


@pytest.fixture
def tiny(file_server, fast_retries):
    """A tiny dataset registered as 'mnist', served (gzipped) by the local server."""
    arrays = tiny_arrays()
    ds = tiny_remote(arrays, mirrors=(file_server.url,))
    file_server.files.update({NAMES[r] + ".gz": gz(idx_bytes(arrays[r])) for r in ROLES})
    return ds, arrays, file_server


@pytest.fixture
def no_data_env(monkeypatch):
    monkeypatch.delenv("DIGITLAB_DATA_DIR", raising=False)
    monkeypatch.delenv("DIGITLAB_MNIST_URL", raising=False)


def idx_files(folder):
    """Names of the visible files in *folder* (the lock and temp files start with a dot)."""
    return sorted(p.name for p in Path(folder).iterdir() if not p.name.startswith(".")) if Path(folder).exists() else []


def part_files(folder):
    return [p.name for p in Path(folder).rglob("*") if ".part" in p.name] if Path(folder).exists() else []


def test_fetch_downloads_verifies_and_caches_uncompressed(tmp_path, tiny):
    """Good files: downloaded once each, stored as uncompressed IDX, no temp files left."""
    ds, arrays, srv = tiny
    paths = _fetch.fetch(ds, tmp_path, progress=False)
    assert idx_files(tmp_path / "mnist") == sorted(NAMES.values())
    for role in ROLES:
        assert paths[role].read_bytes() == idx_bytes(arrays[role])
        assert srv.hits[NAMES[role] + ".gz"] == 1
    assert part_files(tmp_path) == []
    _fetch.fetch(ds, tmp_path, progress=False)  # second call: verified from the cache, no request
    assert all(srv.hits[n] == 1 for n in GZ_NAMES)


def test_fetch_with_progress_bar(tmp_path, tiny, capsys):
    """progress=True works without tqdm (a Rich bar on stderr); nothing goes to stdout."""
    ds, _, _ = tiny
    _fetch.fetch(ds, tmp_path, progress=True)
    assert capsys.readouterr().out == ""
    assert len(idx_files(tmp_path / "mnist")) == 4


@pytest.mark.skipif(not (MNIST_SHARED / "train-images-idx3-ubyte.gz").exists(), reason="no real MNIST files")
def test_fetch_real_mnist_then_load_from_cache(tmp_path, file_server, fast_retries, monkeypatch, no_data_env):
    """The real registry and real files, served locally through $DIGITLAB_MNIST_URL."""
    for name in GZ_NAMES:
        file_server.files[name] = (MNIST_SHARED / name).read_bytes()
    monkeypatch.setenv("DIGITLAB_MNIST_URL", file_server.url.rstrip("/"))  # a missing / is added
    datasets.fetch("mnist", cache_dir=tmp_path, progress=False)
    ds = datasets.load("mnist", cache_dir=tmp_path, download=False)
    assert ds.source == str(tmp_path / "mnist") and ds.verified
    assert ds.train_test().train.class_counts().tolist()[:3] == [5923, 6742, 5958]
    assert (tmp_path / "mnist" / "train-labels-idx1-ubyte").stat().st_size == 60_008


def test_fetch_checksum_mismatch(tmp_path, tiny):
    """E4: a mirror serving other bytes: retried, then ChecksumError; nothing in the cache."""
    ds, arrays, srv = tiny
    other = arrays["train-images"].copy()
    other[0, 0, 0] ^= 1
    srv.files["train-images-idx3-ubyte.gz"] = gz(idx_bytes(other))
    got = hashlib.md5(idx_bytes(other)).hexdigest()
    with pytest.raises(ChecksumError, match=re.escape(
            f"{srv.url}train-images-idx3-ubyte.gz: md5 of the uncompressed file is {got}, "
            f"expected {ds.md5['train-images']} (after 3 tries from 1 mirror; nothing was written to the cache)")):
        _fetch.fetch(ds, tmp_path, progress=False)
    assert srv.hits["train-images-idx3-ubyte.gz"] == _fetch.RETRIES
    assert idx_files(tmp_path / "mnist") == [] and part_files(tmp_path) == []


def test_fetch_error_page_instead_of_file(tmp_path, tiny):
    """E4: an HTML page served with status 200 is bad content (exit 65), not 'offline'."""
    ds, _, srv = tiny
    srv.files["t10k-labels-idx1-ubyte.gz"] = b"<html><body>Access denied</body></html>"
    with pytest.raises(DataError, match=re.escape(
            f"{srv.url}t10k-labels-idx1-ubyte.gz: bad IDX magic 0x3C68746D (named .gz but not gzip-compressed)")) as info:
        _fetch.fetch(ds, tmp_path, progress=False)
    assert info.value.exit_code == 65
    assert idx_files(tmp_path / "mnist") == []  # the three good files were not moved in either


@pytest.mark.parametrize("mode", ["drop", "drop-nolength"])
def test_fetch_dropped_connection_is_retried(tmp_path, tiny, mode):
    """E3: the connection drops after half the body once per file; the retry succeeds."""
    ds, arrays, srv = tiny
    for name in GZ_NAMES:
        srv.modes[name] = [mode]
    paths = _fetch.fetch(ds, tmp_path, progress=False)
    assert all(srv.hits[n] == 2 for n in GZ_NAMES)
    assert all(paths[r].read_bytes() == idx_bytes(arrays[r]) for r in ROLES)
    assert part_files(tmp_path) == []


@pytest.mark.parametrize("mode", ["drop", "drop-nolength"])
def test_fetch_connection_always_dropped(tmp_path, tiny, mode):
    """E3: every try is cut: exit 69 naming the failure and the remedies; no partial file."""
    ds, _, srv = tiny
    srv.modes["train-images-idx3-ubyte.gz"] = [mode] * 10
    with pytest.raises(OfflineError) as info:
        _fetch.fetch(ds, tmp_path, progress=False)
    msg = str(info.value)
    assert msg.startswith(f"{srv.url}train-images-idx3-ubyte.gz: ")
    assert ("transfer interrupted" if mode == "drop" else "corrupt gzip (Compressed file ended") in msg
    assert "(after 3 tries from 1 mirror); put the 4 files" in msg and "digitlab data import" in msg
    assert info.value.exit_code == 69
    assert srv.hits["train-images-idx3-ubyte.gz"] == 3
    assert idx_files(tmp_path / "mnist") == [] and part_files(tmp_path) == []


def test_fetch_http_404(tmp_path, tiny):
    """A server that answers 404: not offline, but the download failed (exit 69)."""
    ds, _, srv = tiny
    del srv.files["train-labels-idx1-ubyte.gz"]
    with pytest.raises(OfflineError, match=re.escape(f"{srv.url}train-labels-idx1-ubyte.gz: 404 Client Error")):
        _fetch.fetch(ds, tmp_path, progress=False)


def test_fetch_network_unavailable(tmp_path, fast_retries):
    """E6: connection refused everywhere: the 4 files, --data-dir/DIGITLAB_DATA_DIR and `data import`."""
    ds = tiny_remote(tiny_arrays(), mirrors=(f"http://127.0.0.1:{free_port()}/",))
    with pytest.raises(OfflineError) as info:
        _fetch.fetch(ds, tmp_path, progress=False)
    assert str(info.value) == (
        "mnist: offline? cannot download train-images-idx3-ubyte.gz and no local copy; put the 4 files "
        "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz) in a folder and pass --data-dir DIR (or set DIGITLAB_DATA_DIR), "
        f"or run `digitlab data import DIR` to copy them into {tmp_path / 'mnist'}"
    )
    assert info.value.exit_code == 69 and isinstance(info.value, ConnectionError)
    assert idx_files(tmp_path / "mnist") == [] and part_files(tmp_path) == []


def test_fetch_falls_back_to_second_mirror(tmp_path, tiny):
    """The first mirror refuses connections; the second one serves the files."""
    ds, _, srv = tiny
    _fetch.fetch(ds, tmp_path, mirrors=(f"http://127.0.0.1:{free_port()}/", srv.url), progress=False)
    assert len(idx_files(tmp_path / "mnist")) == 4


def test_fetch_mirror_from_environment(tmp_path, tiny, monkeypatch):
    """$DIGITLAB_<NAME>_URL overrides the registry's mirrors."""
    ds, _, srv = tiny
    ds = tiny_remote(tiny_arrays(), mirrors=(f"http://127.0.0.1:{free_port()}/",))
    monkeypatch.setenv("DIGITLAB_MNIST_URL", srv.url)
    _fetch.fetch(ds, tmp_path, progress=False)
    assert all(srv.hits[n] == 1 for n in GZ_NAMES)


def test_fetch_disk_full_mid_download(tmp_path, tiny, monkeypatch):
    """E2: ENOSPC while writing: exit 74, temp files removed, the previous cache entry intact."""
    ds, _, _ = tiny
    _fetch.fetch(ds, tmp_path, progress=False)
    cached = tmp_path / "mnist" / "t10k-images-idx3-ubyte"
    cached.write_bytes(cached.read_bytes()[:-5])  # damaged: will be downloaded again
    before = snapshot(tmp_path / "mnist")

    def full(fh, array):
        fh.write(b"\0" * 10)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_fetch, "write_idx_to", full)
    with pytest.raises(WriteError, match=r"t10k-images-idx3-ubyte: cannot write \(No space left on device\)") as info:
        _fetch.fetch(ds, tmp_path, progress=False)
    assert info.value.exit_code == 74
    assert snapshot(tmp_path / "mnist") == before and part_files(tmp_path) == []


def test_fetch_redownloads_corrupt_cached_file(tmp_path, tiny, caplog):
    """E5: a bit flip in a cached file is detected, warned about, and repaired."""
    ds, arrays, srv = tiny
    paths = _fetch.fetch(ds, tmp_path, progress=False)
    data = bytearray(paths["test-labels"].read_bytes())
    data[-1] ^= 0x01
    paths["test-labels"].write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        _fetch.fetch(ds, tmp_path, progress=False)
    assert f"{paths['test-labels']}: cached copy is corrupt (md5 " in caplog.text
    assert "downloading it again" in caplog.text
    assert paths["test-labels"].read_bytes() == idx_bytes(arrays["test-labels"])
    assert srv.hits["t10k-labels-idx1-ubyte.gz"] == 2 and srv.hits["t10k-images-idx3-ubyte.gz"] == 1


def test_load_repairs_corrupt_cache(tmp_path, tiny, monkeypatch, caplog, no_data_env):
    """E5 through load(): a cached file cut short (A1/A6) is downloaded again, then loads."""
    ds, arrays, srv = tiny
    monkeypatch.setitem(REMOTE, "mnist", ds)
    paths = _fetch.fetch(ds, tmp_path, progress=False)
    paths["train-images"].write_bytes(paths["train-images"].read_bytes()[:5000])
    with caplog.at_level(logging.WARNING):
        loaded = datasets.load("mnist", cache_dir=tmp_path, progress=False, download=True)
    assert "cached copy is corrupt (header says 20×28×28 = 15,680 bytes; payload has 4,984)" in caplog.text
    assert loaded.verified
    np.testing.assert_array_equal(loaded.images[:20], arrays["train-images"])


def test_load_corrupt_cache_without_downloads(tmp_path, tiny, monkeypatch, no_data_env):
    """E5 with download=False: the error says how to repair; the cache is left as it is."""
    ds, _, _ = tiny
    monkeypatch.setitem(REMOTE, "mnist", ds)
    paths = _fetch.fetch(ds, tmp_path, progress=False)
    paths["train-labels"].write_bytes(paths["train-labels"].read_bytes()[:-1] + b"\x0b")
    before = snapshot(tmp_path)
    with pytest.raises(ChecksumError, match=re.escape(f"{paths['train-labels']}: md5 of the uncompressed file is ")
                       + ".*" + re.escape("(cached copy is corrupt; run `digitlab data fetch mnist` to download it again)")):
        datasets.load("mnist", cache_dir=tmp_path, download=False)
    assert snapshot(tmp_path) == before


def test_load_corrupt_user_files_are_not_touched(tmp_path, tiny, monkeypatch, no_data_env):
    """E5 applies to the cache only: a bad file in the user's data dir is reported, not replaced."""
    ds, arrays, srv = tiny
    monkeypatch.setitem(REMOTE, "mnist", ds)
    from _dataset_factory import write_set

    paths = write_set(tmp_path / "mine", arrays)
    paths["test-images"].write_bytes(paths["test-images"].read_bytes()[:-20])
    with pytest.raises(DataError, match=re.escape(f"{paths['test-images']}: corrupt gzip")):
        datasets.load("mnist", data_dir=tmp_path / "mine", cache_dir=tmp_path / "cache")
    assert sum(srv.hits.values()) == 0


def test_fetch_cache_path_through_a_file(tmp_path, tiny):
    """E1 (real, even as root): the cache's parent is a regular file: exit 73, nothing written."""
    ds, _, srv = tiny
    (tmp_path / "blocker").write_text("I am a file")
    cache = tmp_path / "blocker" / "cache"
    with pytest.raises(CannotCreateError) as info:
        _fetch.fetch(ds, cache, progress=False)
    assert str(info.value) == (
        f"cannot write to cache dir {cache / 'mnist'} (Not a directory); set DIGITLAB_DATA_DIR or "
        "--data-dir to a folder holding the files, or --cache-dir (DIGITLAB_CACHE_DIR) to a writable folder"
    )
    assert info.value.exit_code == 73
    assert sum(srv.hits.values()) == 0  # refused before any download


def test_fetch_cache_is_a_file(tmp_path, tiny):
    """E1: the dataset's cache folder exists as a regular file."""
    ds, _, _ = tiny
    (tmp_path / "mnist").write_text("not a folder")
    with pytest.raises(CannotCreateError, match=re.escape(f"cannot write to cache dir {tmp_path / 'mnist'} (Not a directory)")):
        _fetch.fetch(ds, tmp_path, progress=False)


def _deny_writes_like_a_normal_user(monkeypatch):
    """Root passes os.access on a chmod 555 folder; make it answer as for a normal user."""
    real = os.access

    def access(path, mode, **kw):
        if mode & os.W_OK and not os.stat(path).st_mode & 0o200:
            return False
        return real(path, mode, **kw)

    monkeypatch.setattr(os, "access", access)


def test_fetch_read_only_cache(tmp_path, tiny, monkeypatch):
    """E1: a chmod 555 cache folder: exit 77 with the remedy; no files, no partial files."""
    ds, _, srv = tiny
    folder = tmp_path / "mnist"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        _deny_writes_like_a_normal_user(monkeypatch)
    try:
        with pytest.raises(NoPermissionError) as info:
            _fetch.fetch(ds, tmp_path, progress=False)
        assert str(info.value).startswith(f"cannot write to cache dir {folder} (Permission denied); set DIGITLAB_DATA_DIR")
        assert info.value.exit_code == 77 and isinstance(info.value, PermissionError)
        assert list(folder.iterdir()) == [] and sum(srv.hits.values()) == 0
    finally:
        folder.chmod(0o755)


def test_fetch_complete_read_only_cache_needs_no_write(tmp_path, tiny, monkeypatch):
    """A read-only cache that already holds good files is fine: nothing needs writing."""
    ds, _, _ = tiny
    _fetch.fetch(ds, tmp_path, progress=False)
    monkeypatch.setattr(_fetch, "writable_cache", lambda folder: pytest.fail("tried to write"))
    assert len(_fetch.fetch(ds, tmp_path, progress=False)) == 4


@pytest.mark.skipif(os.geteuid() != 0 or not hasattr(os, "setuid"), reason="needs root to switch user")
def test_import_into_read_only_cache_as_unprivileged_user(tmp_path):
    """E1 for real: `data import` run as 'nobody' into a root-owned cache (exit 77)."""
    import tempfile

    from _dataset_factory import write_set

    base = Path(tempfile.mkdtemp(prefix="digitlab-ro-", dir="/tmp"))
    try:
        base.chmod(0o755)
        write_set(base / "src", tiny_arrays())
        (base / "cache").mkdir(mode=0o755)
        (base / "mpl").mkdir(mode=0o777)
        env = {"PATH": os.environ["PATH"], "HOME": str(base), "MPLCONFIGDIR": str(base / "mpl"),
               "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            probe = subprocess.run([sys.executable, "-c", "import digitlab"], env=env, user=65534,
                                   group=65534, capture_output=True, timeout=60)
        except PermissionError:
            probe = None
        if probe is None or probe.returncode != 0:
            pytest.skip("this Python or digitlab cannot be run by 'nobody' (installed under /root?)")
        r = subprocess.run([sys.executable, "-m", "digitlab", "data", "import", str(base / "src"),
                            "--cache-dir", str(base / "cache")], env=env, user=65534, group=65534,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 77, r.stderr
        assert r.stderr == (f"digitlab: error: cannot write to cache dir {base / 'cache' / 'mnist'} "
                            "(Permission denied); set DIGITLAB_DATA_DIR or --data-dir to a folder holding "
                            "the files, or --cache-dir (DIGITLAB_CACHE_DIR) to a writable folder\n")
        assert list((base / "cache").iterdir()) == []
    finally:
        import shutil

        shutil.rmtree(base, ignore_errors=True)


def test_fetch_removes_old_part_files_and_ignores_young_ones(tmp_path, tiny):
    """E7: temp files of killed runs older than 24 h are removed; younger ones left alone."""
    ds, _, _ = tiny
    folder = tmp_path / "mnist"
    folder.mkdir()
    old = folder / ".train-images-idx3-ubyte.part_old"
    old.write_bytes(b"x")
    old_dir = folder / ".download.part_old"
    old_dir.mkdir()
    (old_dir / "train-images-idx3-ubyte.gz").write_bytes(b"x")
    young = folder / ".t10k-images-idx3-ubyte.part_young"
    young.write_bytes(b"y")
    day_ago = time.time() - 25 * 3600
    for p in (old, old_dir):
        os.utime(p, (day_ago, day_ago))
    _fetch.fetch(ds, tmp_path, progress=False)
    assert not old.exists() and not old_dir.exists() and young.exists()
    assert idx_files(folder) == sorted(NAMES.values())


def test_import_idx_then_load_without_data_dir(tmp_path, tiny, monkeypatch, no_data_env):
    """`import` verifies and copies into the cache; load() then finds the files there."""
    ds, arrays, srv = tiny
    monkeypatch.setitem(REMOTE, "mnist", ds)
    from _dataset_factory import write_set

    write_set(tmp_path / "usb", arrays)
    paths = datasets.import_idx(tmp_path / "usb", cache_dir=tmp_path / "cache")
    assert sorted(p.name for p in paths.values()) == sorted(NAMES.values())
    loaded = datasets.load("mnist", cache_dir=tmp_path / "cache", download=False)
    assert loaded.verified and loaded.source == str(tmp_path / "cache" / "mnist")
    assert sum(srv.hits.values()) == 0


def test_import_idx_checksum_mismatch_writes_nothing(tmp_path, tiny, monkeypatch):
    """A file that is not the registry's: ChecksumError naming it; the cache stays empty."""
    ds, arrays, _ = tiny
    monkeypatch.setitem(REMOTE, "mnist", ds)
    from _dataset_factory import write_set

    arrays = dict(arrays, **{"test-labels": arrays["test-labels"][::-1].copy()})
    paths = write_set(tmp_path / "usb", arrays)
    with pytest.raises(ChecksumError, match=re.escape(f"{paths['test-labels']}: md5 of the uncompressed file is ")):
        datasets.import_idx(tmp_path / "usb", cache_dir=tmp_path / "cache")
    assert idx_files(tmp_path / "cache" / "mnist") == []


@pytest.mark.parametrize("kind", ["missing", "file", "incomplete"])
def test_import_idx_bad_source(tmp_path, kind):
    """A14 for `import`: the source folder is missing, a file, or lacks a file (exit 66)."""
    src = tmp_path / "src"
    expected = {"missing": f"{src}: no such folder",
                "file": f"{src}: is a file; expected a folder holding the 4 mnist IDX files",
                "incomplete": f"{src}: does not hold the 4 mnist files (train-images-idx3-ubyte[.gz]"}[kind]
    if kind == "file":
        src.write_bytes(b"")
    elif kind == "incomplete":
        src.mkdir()
        (src / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=re.escape(expected)) as info:
        datasets.import_idx(src, cache_dir=tmp_path / "cache")
    assert info.value.exit_code == 66


_CONCURRENT = """
import json, sys
from digitlab.datasets import _fetch
from digitlab.datasets._registry import MNIST, RemoteDataset
md5, url, cache = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
ds = RemoteDataset(name="mnist", files=MNIST.files, md5=md5, mirrors=(url,), classes=MNIST.classes)
print(len(_fetch.fetch(ds, cache, progress=False)))
"""


def test_fetch_concurrent_processes_share_one_download(tmp_path, tiny):
    """F5: 6 processes fill an empty cache at once: all succeed, 4 good files, no .part files."""
    ds, arrays, srv = tiny
    srv.delay = 0.1  # keep the first download in flight while the others start
    args = [sys.executable, "-c", _CONCURRENT, json.dumps(ds.md5), srv.url, str(tmp_path / "cache")]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(6)]
    results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
    assert [r[0] for r in results] == [0] * 6, results
    assert all(r[1].strip() == "4" for r in results)
    folder = tmp_path / "cache" / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(NAMES.values())  # no .part, no lock file
    for role in ROLES:
        assert (folder / NAMES[role]).read_bytes() == idx_bytes(arrays[role])
    assert all(srv.hits[n] == 1 for n in GZ_NAMES)  # the lock made the others reuse the download
