"""The objects every later step receives: a :class:`Dataset` and a train/test :class:`Split`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from numbers import Integral, Real

import numpy as np

from ..exceptions import DataError, ParameterError

# what numpy's and scikit-learn's random_state accept: an unsigned 32-bit seed
MAX_SEED = 2**32 - 1
# Added samples (train --add): this share is held out and scored on its own, the rest is trained on.
# Held out, not cross-validated: CV over the added digits would refit the whole model (MNIST
# included) once per fold -- minutes to hours for the expensive models -- while a held-out part
# is scored by the very model the run stores. Below ADD_MIN_HELD_OUT samples none is held out
# (a user's first few corrections are worth more as training data than as a one-sample score).
ADD_TEST_FRACTION = 0.25
ADD_MIN_HELD_OUT = 4


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images and labels of one dataset (or one part of it).

    Attributes
    ----------
    name : str
        ``"mnist"``, ``"fashion-mnist"``, ``"digits"`` or the user file/folder name.
    images : ndarray of shape (n_samples, height, width), dtype=uint8
        Pixel intensities, 0 = background. Never converted to float here: full MNIST is 55 MB.
    labels : ndarray of shape (n_samples,), dtype=int64
        Class indices into :attr:`classes`.
    classes : tuple of str
        Class names (``"0"``..``"9"`` for digits).
    split : str
        Which part this is: ``"all"``, ``"train"``, ``"test"`` (canonical) or a description of a
        random split such as ``"train (stratified, test_size=0.2, seed=0)"``.
    source : str
        Where the data was read from.
    checksums : dict of str to str
        ``{file name: "md5:<hex>"}`` of the files read; ``verified`` says if they matched the registry.
    verified : bool
    n_train : int or None
        For datasets with a canonical split, the number of leading samples that form the training set.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    split: str = "all"
    source: str = ""
    checksums: dict = field(default_factory=dict)
    verified: bool = False
    n_train: int | None = None

    @property
    def X(self) -> np.ndarray:
        """Flat ``(n_samples, height*width)`` uint8 view of :attr:`images` (no copy)."""
        return self.images.reshape(len(self.images), -1)

    @property
    def y(self) -> np.ndarray:
        return self.labels

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.images.shape[1:])

    @property
    def n_features(self) -> int:
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        return int(self.images.nbytes + self.labels.nbytes)

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        h, w = self.shape
        return (
            f"Dataset({self.name!r}, split={self.split!r}, n={len(self):,}, {h}x{w} uint8, "
            f"classes={len(self.classes)}, source={self.source!r})"
        )

    def _repr_html_(self) -> str:
        """Jupyter's display: the facts and a strip of the first images (a small inline PNG)."""
        from .. import _html

        h, w = self.shape
        n = min(16, len(self))
        counts = self.class_counts()
        shown = ", ".join(f"{c} ({k:,})" for c, k in zip(self.classes[:20], counts[:20]))
        more = f", … {len(self.classes) - 20} more" if len(self.classes) > 20 else ""
        strip = _html.png_strip(self.images[:n]) if n else ""
        labels = " ".join(self.classes[i] for i in self.labels[:n])
        return _html.card(
            f"Dataset {self.name}",
            _html.facts([
                ("images", f"{len(self):,} of {h}×{w} pixels, uint8 ({self.nbytes / 2**20:.1f} MiB)"),
                ("part", self.split),
                ("classes", f"{len(self.classes)}: {shown}{more}"),
                ("canonical split", f"first {self.n_train:,} train" if self.n_train else None),
                ("source", self.source),
                ("checksums", ("verified against the registry" if self.verified else "recorded")
                 if self.checksums else None),
            ]),
            f'<div style="margin-top:4px">{strip}</div>' if strip else "",
            f'<div style="color:#555">labels: {_html.esc(labels)}</div>' if n else "",
            kind="digitlab-dataset",
        )

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(self.classes))

    def subset(self, index, split: str | None = None) -> "Dataset":
        """Rows *index* (a slice gives views, an index array a copy)."""
        return replace(
            self, images=self.images[index], labels=self.labels[index],
            split=split or self.split, n_train=None,
        )

    def where(self, label: int) -> "Dataset":
        return self.subset(np.flatnonzero(self.labels == label), self.split)

    def train_test(self, test_size: float | int | None = None, *, seed: int = 0,
                   limit: int | None = None, stratify: bool = True) -> "Split":
        """Split into train and test.

        Parameters
        ----------
        test_size : float or int, default=None
            ``None`` uses the canonical split when the dataset has one (MNIST: the first 60,000
            images train), else 0.2. A float is a fraction, an int a count, drawn at random with
            *seed*, stratified by class unless ``stratify=False`` (the notebooks' unstratified
            ``train_test_split`` is ``stratify=False``).
        seed : int, default=0
            0 to 2**32-1.
        limit : int, default=None
            Keep a stratified subset of at most *limit* training images, and the test set cut in
            the same proportion, for quick runs.

        Raises
        ------
        ParameterError
            A seed, test size or limit out of range, or a test size that leaves a side of a
            stratified split with fewer images than there are classes.
        DataError
            A stratified split of a dataset with a class of a single image, or too few images.
        """
        from sklearn.model_selection import train_test_split

        check_seed(seed)
        if limit is not None:
            check_limit(limit)
        if test_size is None and self.n_train is not None:
            train = self.subset(slice(0, self.n_train), "train")
            test = self.subset(slice(self.n_train, None), "test")
            how = "canonical"
        else:
            size = 0.2 if test_size is None else test_size
            _check_size(size, len(self), "test_size")
            _check_split_sizes(self, size, stratify)
            idx = np.arange(len(self))
            tr, te = train_test_split(
                idx, test_size=size, random_state=seed,
                stratify=self.labels if stratify else None,
            )
            kind = "stratified" if stratify else "random"
            desc = f"{kind}, test_size={size:g}, seed={seed}"
            train = self.subset(np.sort(tr) if stratify else tr, f"train ({desc})")
            test = self.subset(np.sort(te) if stratify else te, f"test ({desc})")
            how = desc
        split = Split(train, test, how)
        return split.limit(limit, seed=seed) if limit else split


def check_seed(seed) -> None:
    """Refuse a seed numpy and scikit-learn would refuse later (after the data is loaded)."""
    if isinstance(seed, bool) or not isinstance(seed, Integral) or not 0 <= seed <= MAX_SEED:
        raise ParameterError(f"seed={seed!r}: must be an integer between 0 and 2**32-1")


def check_limit(limit) -> None:
    if isinstance(limit, bool) or not isinstance(limit, Integral) or limit < 1:
        raise ParameterError(f"limit={limit!r}: must be a positive number of training images")


def _check_size(size, n, field_name):
    if isinstance(size, bool) or not isinstance(size, Real):
        raise ParameterError(f"{field_name}={size!r}: must be a fraction between 0 and 1 or a count")
    if not isinstance(size, Integral) and not 0 < size < 1:
        raise ParameterError(f"{field_name}={size:g}: must be between 0 and 1 (a fraction of the images)")
    if isinstance(size, Integral) and not 0 < size < n:
        raise ParameterError(f"{field_name}={size}: must be a count between 1 and {n - 1}")


def _check_split_sizes(ds: Dataset, size, stratify: bool) -> None:
    """What ``train_test_split`` would refuse after the data is loaded, said with the values.

    The sizes are computed as scikit-learn does (``ceil`` for the test side, ``floor`` for the
    train side of a fraction); a stratified split needs every class on both sides.
    """
    n = len(ds)
    if not isinstance(size, Integral):
        n_test, n_train = math.ceil(size * n), math.floor((1 - size) * n)
    else:
        n_test, n_train = int(size), n - int(size)
    counts = ds.class_counts()
    present = np.flatnonzero(counts)
    k = len(present) if stratify else 1
    if stratify:
        lonely = present[counts[present] < 2]
        if len(lonely):
            raise DataError(f"{ds.name}: class {ds.classes[lonely[0]]!r} has only 1 image; a stratified "
                            "split needs at least 2 images of each class")
    if n < 2 * k:
        raise DataError(f"{ds.name}: {n} images are too few to split {k} classes into train and test "
                        f"(at least {2 * k} needed)")
    if n_test >= k and n_train >= k:
        return
    side, m = ("test", n_test) if n_test < k else ("training", n_train)
    images = f"{m} {side} image{'s' * (m != 1)} of {n:,}"
    if stratify:
        why = f"fewer than the {k} classes (a stratified split needs one of each on both sides)"
    else:
        why = "and each side needs at least one"
    lo, hi = math.ceil(k / n * 1000) / 1000, math.floor((n - k) / n * 1000) / 1000
    hint = f"; use test_size between {lo:g} and {hi:g}" if lo <= hi else ""
    raise ParameterError(f"test_size={size:g}: gives {images}, {why}{hint}")


def _stratified_take(ds: Dataset, n: int, seed: int) -> Dataset:
    from sklearn.model_selection import train_test_split

    if n >= len(ds):
        return ds
    counts = ds.class_counts()
    k = np.count_nonzero(counts)
    # stratified only when both the kept and the dropped part can hold every class
    strat = ds.labels if (counts[counts > 0] >= 2).all() and min(n, len(ds) - n) >= k else None
    keep, _ = train_test_split(np.arange(len(ds)), train_size=n, random_state=seed, stratify=strat)
    return ds.subset(np.sort(keep), ds.split)


@dataclass(frozen=True, eq=False)
class Split:
    """A train and a test :class:`Dataset`, and how they were made."""

    train: Dataset
    test: Dataset
    how: str = "canonical"
    added: Dataset | None = None  # held-out added samples (train --add), scored on their own
    n_added_train: int = 0  # added samples appended to the training set

    @property
    def X_train(self):
        return self.train.X

    @property
    def y_train(self):
        return self.train.y

    @property
    def X_test(self):
        return self.test.X

    @property
    def y_test(self):
        return self.test.y

    def limit(self, n_train: int, *, seed: int = 0) -> "Split":
        """Stratified subset with at most *n_train* training images; test cut in proportion."""
        check_limit(n_train)
        check_seed(seed)
        n_test = max(1, round(n_train * len(self.test) / len(self.train)))
        return Split(
            _stratified_take(self.train, n_train, seed),
            _stratified_take(self.test, n_test, seed),
            f"{self.how}, limit={n_train}",
        )

    def describe(self) -> dict:
        return {"how": self.how, "n_train": len(self.train), "n_test": len(self.test)}

    def add(self, extra: Dataset, *, seed: int = 0, what: str | None = None) -> "Split":
        """Train on *extra*'s samples too, holding ``ADD_TEST_FRACTION`` of them out as :attr:`added`.

        The test set is unchanged, so the test accuracy stays comparable with runs without
        added samples; the held-out added samples are scored separately.

        Raises
        ------
        DataError
            *extra* has another image size or other classes, or no samples.
        """
        from sklearn.model_selection import train_test_split

        check_seed(seed)
        what = what or extra.source or extra.name
        base = self.train
        if extra.shape != base.shape:
            raise DataError(f"add={what!r}: its images are {extra.shape[0]}×{extra.shape[1]}, {base.name}'s are "
                            f"{base.shape[0]}×{base.shape[1]}; added samples need the dataset's image size")
        if tuple(extra.classes) != tuple(base.classes):
            raise DataError(f"add={what!r}: its classes are {', '.join(extra.classes[:12])}, {base.name}'s are "
                            f"{', '.join(base.classes[:12])}; added samples need the dataset's classes")
        if len(extra) == 0:
            raise DataError(f"add={what!r}: no samples yet (correct some predictions in `digitlab serve "
                            "--collect DIR` first)")
        n = len(extra)
        n_test = math.floor(n * ADD_TEST_FRACTION) if n >= ADD_MIN_HELD_OUT else 0
        idx = np.arange(n)
        if n_test:
            counts = extra.class_counts()
            k = np.count_nonzero(counts)
            strat = extra.labels if (counts[counts > 0] >= 2).all() and min(n_test, n - n_test) >= k else None
            tr, te = train_test_split(idx, test_size=n_test, random_state=seed, stratify=strat)
            tr, te = np.sort(tr), np.sort(te)
        else:
            tr, te = idx, idx[:0]
        train = replace(base, images=np.concatenate([base.images, extra.images[tr]]),
                        labels=np.concatenate([base.labels, extra.labels[tr]]), n_train=None,
                        split=f"{base.split} + {len(tr)} added")
        held = extra.subset(te, f"added (held out, seed={seed})")
        return Split(train, self.test, f"{self.how}, + {len(tr)} added ({len(te)} held out)", held, len(tr))

    def __repr__(self) -> str:
        return (f"Split({self.train.name!r}, {self.how!r}, n_train={len(self.train):,}, "
                f"n_test={len(self.test):,})")

    def _repr_html_(self) -> str:
        """Jupyter's display: how the split was made and the class counts on each side."""
        from .. import _html

        tr, te = self.train.class_counts(), self.test.class_counts()
        rows = [[c, int(a), int(b)] for c, a, b in zip(self.train.classes, tr, te)]
        return _html.card(
            f"Split of {self.train.name}: {len(self.train):,} train / {len(self.test):,} test",
            _html.facts([("how", self.how)]),
            _html.details("images per class", _html.table(["class", "train", "test"], rows)),
            kind="digitlab-split",
        )
