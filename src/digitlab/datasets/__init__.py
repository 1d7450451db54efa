"""Datasets: MNIST, Fashion-MNIST, scikit-learn's 8x8 digits, and the user's own files.

>>> from digitlab import datasets
>>> ds = datasets.load("digits")
>>> ds.images.shape, ds.images.dtype
((1797, 8, 8), dtype('uint8'))
>>> split = ds.train_test(test_size=0.25, seed=0)
>>> len(split.train), len(split.test)
(1347, 450)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..exceptions import DataError, InputMissingError, ParameterError
from . import _fetch
from ._registry import NAMES, REMOTE
from .dataset import Dataset, Split
from .idx import read_idx, write_idx
from .task import Task

__all__ = ["Dataset", "Split", "Task", "load", "load_digits", "fetch", "import_idx", "read_idx",
           "write_idx", "NAMES"]

SPLITS = ("all", "train", "test")


def load(name: str | os.PathLike, *, split: str = "all", data_dir=None, cache_dir=None,
         download: bool = False, progress: bool = True, header: str = "auto") -> Dataset:
    """Load a dataset by name or path.

    Parameters
    ----------
    name : str or path-like
        ``"mnist"``, ``"fashion-mnist"``, ``"digits"``, ``"wild-digits"`` (a frozen test set of
        real-world-style digits, see ``_load_wild.py``), or a path: a folder with the four IDX
        files, a ``.csv`` file (``label,pixel1..pixelN``), or a folder with one image
        sub-folder per class.
    split : {"all", "train", "test"}, default="all"
        ``"all"`` keeps train and test together; use :meth:`Dataset.train_test` to split.
    data_dir : path-like, default=None
        Folder with the dataset's files; else ``$DIGITLAB_DATA_DIR``, then the user cache.
    cache_dir : path-like, default=None
        Writable cache for downloads (default: the platform's user cache).
    download : bool, default=False
        Download a known dataset's missing files into the cache (checksums verified). Without it
        a missing dataset raises ``OfflineError`` saying where the files were looked for;
        ``load`` never touches the network unless asked (``train``, ``search`` and the CLI ask).
    progress : bool, default=True
        Show a progress bar while downloading.
    header : {"auto", "yes", "no"}, default="auto"
        For a CSV: whether the first line is a header (``"auto"``: it is when its first cell is
        not a number).

    Returns
    -------
    Dataset
    """
    if split not in SPLITS:
        raise ParameterError(f"split: must be one of {', '.join(SPLITS)}, got {split!r}")
    key = str(name).lower()
    if key in REMOTE:
        ds = _load_remote(REMOTE[key], data_dir, cache_dir, download, progress)
    elif key == "digits":
        ds = load_digits()
    elif key == "wild-digits":
        from ._load_wild import load_wild_digits

        ds = load_wild_digits()
    else:
        ds = _load_path(Path(name), header=header)
    if split == "all":
        return ds
    if ds.n_train is None:
        raise DataError(f"{ds.name}: has no canonical {split} split; use train_test(test_size=...)")
    parts = ds.train_test()
    return parts.train if split == "train" else parts.test


def _load_remote(remote, data_dir, cache_dir, download, progress) -> Dataset:
    from ._load_idx import load_idx_files

    files = _fetch.locate(remote, data_dir, cache_dir)
    if files is None:
        if not download:
            raise _offline(remote, cache_dir, "downloads are off and there is")
        files = _fetch.fetch(remote, cache_dir, progress=progress)
    kwargs = dict(name=remote.name, classes=remote.classes, md5=remote.md5, expect_shape=remote.shape)
    try:
        return load_idx_files(files, **kwargs)
    except DataError as exc:
        # E5: the cache is ours to repair (a bit flip, a file cut by an old version); a user's
        # data dir is not, so its errors are reported as they are
        if not _fetch.in_cache(files, remote, cache_dir):
            raise
        if not download:
            raise type(exc)(f"{exc} (cached copy is corrupt; run `digitlab data fetch {remote.name}` "
                            "to download it again)") from None
    # fetch() warns about the corrupt file, downloads a good copy and only then replaces it
    files = _fetch.fetch(remote, cache_dir, progress=progress)
    return load_idx_files(files, **kwargs)


def _offline(remote, cache_dir, reason):
    from ..exceptions import OfflineError

    return OfflineError(_fetch.missing_message(remote, cache_dir, reason))


def fetch(name: str, *, cache_dir=None, progress: bool = True) -> dict[str, Path]:
    """Download *name*'s files into the cache (if missing) and return their paths."""
    if name not in REMOTE:
        raise ParameterError(f"dataset: {name!r} cannot be downloaded; choose from {', '.join(REMOTE)}")
    return _fetch.fetch(REMOTE[name], cache_dir, progress=progress)


def import_idx(path, name: str = "mnist", *, cache_dir=None) -> dict[str, Path]:
    """Verify the four IDX files in folder *path* and copy them into the cache."""
    if name not in REMOTE:
        raise ParameterError(f"dataset: {name!r} is not a known IDX dataset; choose from {', '.join(REMOTE)}")
    return _fetch.import_files(path, REMOTE[name], cache_dir)


def load_digits() -> Dataset:
    """scikit-learn's bundled 8x8 digits (1,797 images), rescaled from 0–16 to uint8 0–255."""
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    return Dataset(
        name="digits",
        images=images,
        labels=bunch.target.astype(np.int64),
        classes=tuple(str(i) for i in range(10)),
        split="all",
        source="sklearn.datasets.load_digits",
        checksums={},
        verified=False,
    )


def _load_path(path: Path, header: str = "auto") -> Dataset:
    if not path.exists():
        choices = ", ".join(NAMES)
        raise InputMissingError(f"{path}: no such file or folder, and not a dataset name ({choices})")
    if not path.is_dir():
        from .._files import check_input

        check_input(path, what="dataset")  # a FIFO or a device is named as such, not "permission denied"
        if path.suffix.lower() in (".csv", ".txt"):
            from ._load_csv import load_csv

            return load_csv(path, header=header)
        raise DataError(f"{path}: unknown dataset file type; expected a .csv, an IDX folder or an image folder")
    if not os.access(path, os.R_OK | os.X_OK):
        from ..exceptions import NoPermissionError

        raise NoPermissionError(f"{path}: permission denied")
    files = _fetch.find_files(path, REMOTE["mnist"].files)
    if files:
        from ._load_idx import load_idx_files

        return load_idx_files(files, name=path.name)
    from ._load_images import load_image_folder

    return load_image_folder(path)
