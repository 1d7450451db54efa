"""Save and load models with skops — never pickle.

Saving uses skops. Loading checks, in order: the path exists (66); it is a zip whose members are
within size caps (65: a pickle, random bytes or a zip bomb are refused before anything is parsed);
its SHA-256 matches the one recorded when it was saved (65: tampered or corrupted); the
scikit-learn version it was saved with matches the running one (65 unless
``allow_version_mismatch``); then :mod:`digitlab._skops_reader` reads it as data: exact class
names only, nothing the file names is ever called (65: there is no auto-trust).
"""

from __future__ import annotations

import hashlib
import json
import sys
import types
import warnings
import zipfile
from pathlib import Path

from ._atomic import atomic_path
from ._files import open_input
from .exceptions import InputMissingError, ModelError

MAX_MEMBER_BYTES = 512 * 2**20  # a model member larger than this is a zip bomb, not a model
MAX_TOTAL_BYTES = 2 * 2**30  # many members just under the member cap are a bomb too
MAX_MODEL_BYTES = MAX_TOTAL_BYTES  # the file itself (zip members are stored or deflated: never larger)
META_MEMBER = "digitlab.json"

def file_sha256(path) -> str:
    with open_input(path, max_bytes=MAX_MODEL_BYTES, what="model") as fh:
        return _sha256(fh)


def _sha256(fh) -> str:
    h = hashlib.sha256()
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        h.update(chunk)
    return h.hexdigest()


def skops_io():
    """``skops.io``, imported without importing torch.

    At import skops lists scikit-learn's estimators by walking every scikit-learn package, and
    one of them, ``sklearn.externals.array_api_compat.torch``, imports torch when it is installed:
    ~1.8 s for nothing, in every process that saves or loads a model. An empty placeholder stands
    in for that package (it defines no estimator) while skops.io is imported, then is removed.
    """
    if "skops.io" in sys.modules:
        return sys.modules["skops.io"]
    name = "sklearn.externals.array_api_compat.torch"
    placeholder = None
    if name not in sys.modules and "torch" not in sys.modules:
        placeholder = types.ModuleType(name)
        placeholder.__path__ = []  # a package with nothing inside: the walk stops here
        sys.modules[name] = placeholder
    try:
        import skops.io as sio
    finally:
        if placeholder is not None and sys.modules.get(name) is placeholder:
            del sys.modules[name]
    return sio


def save_model(model, path, *, meta: dict | None = None) -> str:
    """Write *model* to *path* in skops format, atomically; return the file's SHA-256."""
    sio = skops_io()

    path = Path(path)
    with atomic_path(path) as tmp:
        sio.dump(model, tmp)
        if meta is not None:
            with zipfile.ZipFile(tmp, "a") as zf:
                zf.writestr(META_MEMBER, json.dumps(meta))
    return file_sha256(path)


def _check_name(path: Path) -> None:
    if path.suffix.lower() in (".pkl", ".pickle", ".joblib"):
        raise ModelError(f"{path}: pickle files are never loaded (they can run code); "
                         "retrain to get a .skops model")
    if not path.exists():
        raise InputMissingError(f"{path}: model not found — run `digitlab train` first")
    if path.is_dir():
        raise InputMissingError(f"{path}: is a directory, expected a .skops model file")


def _open_zip(fh, path: Path) -> zipfile.ZipFile:
    """The skops zip in *fh*, its members' claimed sizes checked before anything is inflated (D8)."""
    try:
        zf = zipfile.ZipFile(fh)
        total = 0
        for info in zf.infolist():
            total += info.file_size
            if info.file_size > MAX_MEMBER_BYTES:
                raise ModelError(f"{path}: not a digitlab model (member {info.filename} claims "
                                 f"{info.file_size:,} bytes)")
        if total > MAX_TOTAL_BYTES:
            raise ModelError(f"{path}: not a digitlab model (members claim {total:,} bytes in all)")
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelError(f"{path}: not a digitlab model (skops zip): {exc}") from None
    if "schema.json" not in zf.namelist():
        raise ModelError(f"{path}: not a digitlab model (skops zip): no schema.json")
    return zf


def load_model(path, *, sha256: str | None = None, expect_sklearn: str | None = None,
               allow_version_mismatch: bool = False):
    """Load a model saved by :func:`save_model`, refusing anything untrusted or altered.

    The file is opened once (its checks and its reading see the same bytes) and read by
    :mod:`digitlab._skops_reader`, which constructs only the exact classes digitlab's models are
    made of and never calls anything the file names.

    Parameters
    ----------
    path : path-like
    sha256 : str, default=None
        Expected SHA-256 of the file (recorded in ``run.json``); a mismatch raises ModelError.
    expect_sklearn : str, default=None
        scikit-learn version the model was saved with.
    allow_version_mismatch : bool, default=False
        Load a model saved with another scikit-learn version (it may predict wrongly).
    """
    path = Path(path)
    _check_name(path)
    # H3: a FIFO, /dev/zero or a socket is refused (66) before a byte is read or sklearn imported
    with open_input(path, max_bytes=MAX_MODEL_BYTES, what="model") as fh:
        with _open_zip(fh, path) as zf:  # first: a pickle or random bytes is named as such (D2)
            fh.seek(0)
            if sha256 is not None and _sha256(fh) != sha256:
                raise ModelError(f"{path}: model file corrupted or modified (SHA-256 differs from the one "
                                 "recorded at save)")
            return _read(zf, path, expect_sklearn, allow_version_mismatch)


def _read(zf: zipfile.ZipFile, path: Path, expect_sklearn, allow_version_mismatch: bool):
    import sklearn
    from sklearn.exceptions import InconsistentVersionWarning

    from ._skops_reader import read_model

    if expect_sklearn and not allow_version_mismatch and _minor(expect_sklearn) != _minor(sklearn.__version__):
        raise ModelError(f"{path}: saved with scikit-learn {expect_sklearn}, running {sklearn.__version__}; "
                         "retrain or pass --allow-version-mismatch")
    try:
        with warnings.catch_warnings():
            # D6: an estimator pickled by another scikit-learn version may predict wrongly
            if not allow_version_mismatch:
                warnings.simplefilter("error", InconsistentVersionWarning)
            return read_model(zf, where=str(path))
    except InconsistentVersionWarning as w:
        raise ModelError(f"{path}: saved with scikit-learn {w.original_sklearn_version}, running "
                         f"{w.current_sklearn_version}; retrain or pass --allow-version-mismatch") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelError(f"{path}: model file corrupted or modified ({type(exc).__name__}: {exc})") from None


def _minor(version: str) -> tuple:
    return tuple(version.split(".")[:2])
