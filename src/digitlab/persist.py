"""Save and load models with skops — never pickle.

Loading checks, in order: the path exists (66); it is a zip whose members are within size caps
(65: a pickle, random bytes or a zip bomb are refused before anything is parsed); its SHA-256
matches the one recorded when it was saved (65: tampered or corrupted); every type it contains is
on digitlab's explicit allow-list (65: there is no auto-trust); the scikit-learn version it was
saved with matches the running one (65 unless ``allow_version_mismatch``).
"""

from __future__ import annotations

import hashlib
import json
import os
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

# Types a digitlab model may contain. Anything else (os.system, builtins.eval, an unknown class)
# makes loading fail.
TRUSTED_PREFIXES = (
    "sklearn.", "digitlab.models.", "digitlab.deskew.",
)
TRUSTED_EXACT = {
    "numpy.ndarray", "numpy.dtype", "numpy.float64", "numpy.float32", "numpy.int64", "numpy.int32",
    "numpy.uint8", "numpy.bool_", "numpy.random.mtrand.RandomState", "numpy.random._mt19937.MT19937",
    "numpy.random.bit_generator.SeedSequence", "numpy.random._generator.Generator",
    "numpy.random._pcg64.PCG64", "numpy.core.multiarray._reconstruct",
    "builtins.slice", "builtins.float", "builtins.int", "builtins.list", "builtins.dict",
    "builtins.tuple", "builtins.str", "builtins.bool", "builtins.set", "builtins.frozenset",
    "math.inf", "collections.OrderedDict", "collections.defaultdict",
    "scipy.sparse._csr.csr_matrix", "scipy.sparse._csr.csr_array",
}
# Types that are never trusted even under a trusted prefix.
NEVER = {"builtins.eval", "builtins.exec", "posix.system", "os.system", "builtins.__import__"}


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open_input(path, max_bytes=MAX_MODEL_BYTES, what="model") as fh:
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


def is_trusted(type_name: str) -> bool:
    if type_name in NEVER:
        return False
    return type_name in TRUSTED_EXACT or type_name.startswith(TRUSTED_PREFIXES)


def check_file(path) -> None:
    """Refuse anything that is not a well-formed skops zip before skops parses it."""
    path = Path(path)
    if path.suffix.lower() in (".pkl", ".pickle", ".joblib"):
        raise ModelError(f"{path}: pickle files are never loaded (they can run code); "
                         "retrain to get a .skops model")
    if not path.exists():
        raise InputMissingError(f"{path}: model not found — run `digitlab train` first")
    if path.is_dir():
        raise InputMissingError(f"{path}: is a directory, expected a .skops model file")
    with open_input(path, max_bytes=MAX_MODEL_BYTES, what="model"):
        pass  # H3: a FIFO, /dev/zero or a socket is refused (66) before a byte is read; 77 if unreadable
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            total = 0
            for info in zf.infolist():
                total += info.file_size
                if info.file_size > MAX_MEMBER_BYTES:
                    raise ModelError(f"{path}: not a digitlab model (member {info.filename} claims "
                                     f"{info.file_size:,} bytes)")
            if total > MAX_TOTAL_BYTES:
                raise ModelError(f"{path}: not a digitlab model (members claim {total:,} bytes in all)")
    except zipfile.BadZipFile as exc:
        raise ModelError(f"{path}: not a digitlab model (skops zip): {exc}") from None
    except OSError as exc:
        raise ModelError(f"{path}: not a digitlab model (skops zip): {exc}") from None
    if "schema.json" not in names:
        raise ModelError(f"{path}: not a digitlab model (skops zip): no schema.json")


def load_model(path, *, sha256: str | None = None, expect_sklearn: str | None = None,
               allow_version_mismatch: bool = False):
    """Load a model saved by :func:`save_model`, refusing anything untrusted or altered.

    Parameters
    ----------
    path : path-like
    sha256 : str, default=None
        Expected SHA-256 of the file (recorded in ``run.json``); a mismatch raises ModelError.
    expect_sklearn : str, default=None
        scikit-learn version the model was saved with.
    """
    import sklearn

    sio = skops_io()
    path = Path(path)
    check_file(path)
    if sha256 is not None and file_sha256(path) != sha256:
        raise ModelError(f"{path}: model file corrupted or modified (SHA-256 differs from the one recorded at save)")
    if expect_sklearn and not allow_version_mismatch and _minor(expect_sklearn) != _minor(sklearn.__version__):
        raise ModelError(f"{path}: saved with scikit-learn {expect_sklearn}, running {sklearn.__version__}; "
                         "retrain or pass --allow-version-mismatch")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # noqa: BLE001 - any parse failure means a damaged file
        raise ModelError(f"{path}: model file corrupted or modified ({type(exc).__name__}: {exc})") from None
    bad = sorted(t for t in untrusted if not is_trusted(t))
    if bad:
        raise ModelError(f"{path}: model contains untrusted types {bad}")
    from sklearn.exceptions import InconsistentVersionWarning

    try:
        with warnings.catch_warnings():
            # D6: an estimator pickled by another scikit-learn version may predict wrongly
            if not allow_version_mismatch:
                warnings.simplefilter("error", InconsistentVersionWarning)
            return sio.load(path, trusted=sorted(untrusted))
    except InconsistentVersionWarning as w:
        raise ModelError(f"{path}: saved with scikit-learn {w.original_sklearn_version}, running "
                         f"{w.current_sklearn_version}; retrain or pass --allow-version-mismatch") from None
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{path}: model file corrupted or modified ({type(exc).__name__}: {exc})") from None


def _minor(version: str) -> tuple:
    return tuple(version.split(".")[:2])
