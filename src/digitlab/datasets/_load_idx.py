"""Load a dataset made of the four IDX files into one uint8 block (train first, then test)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..exceptions import ChecksumError, DataError
from .dataset import Dataset
from .idx import peek_idx_dims, read_idx


def load_idx_files(files: dict[str, Path], *, name: str, classes=None, md5=None,
                   expect_shape=None) -> Dataset:
    """Read train/test images and labels; both parts share one array, so no concatenation copy."""
    d_train = peek_idx_dims(files["train-images"], ndim=3)
    d_test = peek_idx_dims(files["test-images"], ndim=3)
    if d_train[1:] != d_test[1:]:
        raise DataError(
            f"{files['test-images']}: images are {d_test[1]}×{d_test[2]}, "
            f"but training images are {d_train[1]}×{d_train[2]}"
        )
    if expect_shape and tuple(d_train[1:]) != tuple(expect_shape):
        raise DataError(
            f"{files['train-images']}: images are {d_train[1]}×{d_train[2]}, "
            f"expected {expect_shape[0]}×{expect_shape[1]}"
        )
    n_train, n_test = d_train[0], d_test[0]
    images = np.empty((n_train + n_test, *d_train[1:]), dtype=np.uint8)
    labels = np.empty(n_train + n_test, dtype=np.uint8)
    sums = {}
    for role, out in (
        ("train-images", images[:n_train]), ("test-images", images[n_train:]),
    ):
        _, sums[role] = read_idx(files[role], ndim=3, out=out)
    for role, n, sl in (("train-labels", n_train, slice(0, n_train)),
                        ("test-labels", n_test, slice(n_train, None))):
        n_labels = peek_idx_dims(files[role], ndim=1)[0]
        if n_labels != n:
            kind = role.split("-")[0]
            raise DataError(f"{files[role]}: {n} {kind} images but {n_labels} labels")
        _, sums[role] = read_idx(files[role], ndim=1, out=labels[sl])
    verified = False
    if md5:
        for role, got in sums.items():
            if got != md5[role]:
                raise ChecksumError(
                    f"{files[role]}: md5 of the uncompressed file is {got}, expected {md5[role]}"
                )
        verified = True
    n_classes = len(classes) if classes else 10
    check_labels(labels, n_classes, files)
    return Dataset(
        name=name,
        images=images,
        labels=labels.astype(np.int64),
        classes=tuple(classes) if classes else tuple(str(i) for i in range(n_classes)),
        split="all",
        source=str(Path(files["train-images"]).parent),
        checksums={Path(files[r]).name: f"md5:{sums[r]}" for r in sums},
        verified=verified,
        n_train=n_train,
    )


def check_labels(labels: np.ndarray, n_classes: int, files) -> None:
    bad = np.flatnonzero(labels >= n_classes)
    if bad.size:
        i = int(bad[0])
        n_train = None
        where = files.get("train-labels") if isinstance(files, dict) else files
        if isinstance(files, dict):
            n_train = int(peek_idx_dims(files["train-labels"], ndim=1)[0])
            if i >= n_train:
                where, i = files["test-labels"], i - n_train
        raise DataError(f"{where}: label {int(labels[bad[0]])} at index {i} is outside 0–{n_classes - 1}")
