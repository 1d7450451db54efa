"""What an estimator needs from its training data, checked before any fitting.

scikit-learn validates parameter values on their own (``_validate_params``), but some values only
fail inside ``fit`` or ``predict``, against the data, after the work has started: more neighbours
or principal components than training images, an early-stopping validation split too small to
hold every class, a constant prediction that is no class. :func:`check_fit_data` says so up
front, naming the value. ``train``, ``evaluate`` (per cross-validation fold) and ``search`` (per
candidate value) call it; what a fold looks like is :func:`digitlab.evaluation.cv.check_folds`'s
business.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np

from ..exceptions import DataError, ParameterError


def check_fit_data(pipe, y, n_features: int, *, what: str = "the training images", classes=None) -> None:
    """Raise if *pipe* cannot be fitted on labels *y* (and then predict), before fitting it.

    Parameters
    ----------
    pipe : Pipeline or estimator
        Unfitted or fitted; only its parameters are read.
    y : array-like of shape (n_samples,)
        The labels of the fit (class indices, or booleans for a detector).
    n_features : int
        Pixels per image.
    what : str, default="the training images"
        How messages name the fit's images, e.g. "the 898 training images of a cross-validation fold".
    classes : sequence of str, default=None
        Class names, indexed by the labels, for messages.

    Raises
    ------
    DataError
        The images are all of one class.
    ParameterError
        A parameter value the data is too small for (the message names it).
    """
    y = np.asarray(y)
    labels, counts = np.unique(y, return_counts=True)
    if len(labels) < 2:
        only = f" of class {label_name(labels[0], classes)!r}" if len(labels) else ""
        raise DataError(f"{what} are all{only}; a classifier needs images of at least two classes")
    n = len(y)
    steps = pipe.steps if hasattr(pipe, "steps") else [("clf", pipe)]
    for step_name, step in steps:
        key = (lambda p: p) if step_name == "clf" else (lambda p, s=step_name: f"{s}__{p}")
        params = step.get_params(deep=False) if hasattr(step, "get_params") else {}
        kind = type(step).__name__
        if kind == "PCA" and isinstance(params.get("n_components"), Integral):
            if params["n_components"] < 1:
                raise ParameterError(f"{key('n_components')}={params['n_components']}: keep at least 1 "
                                     "component")
            most = min(n, n_features)
            if params["n_components"] > most:
                raise ParameterError(f"{key('n_components')}={params['n_components']}: more principal "
                                     f"components than {what} allow (at most {most}); "
                                     f"set {key('n_components')} lower or use more images")
        if "n_neighbors" in params and isinstance(params["n_neighbors"], Integral) \
                and params["n_neighbors"] > n:
            raise ParameterError(f"{key('n_neighbors')}={params['n_neighbors']}: more neighbours than "
                                 f"{what}")
        if params.get("early_stopping") is True and "validation_fraction" in params:
            _check_validation_split(params["validation_fraction"], labels, counts, what, classes, key)
        if kind == "LogisticRegression" and params.get("solver") == "liblinear" and len(labels) > 2:
            raise ParameterError(f"{key('solver')}='liblinear': fits two classes only (a detector), and "
                                 f"{what} hold {len(labels)}; use another solver (lbfgs, saga)")
        if kind == "DummyClassifier" and params.get("strategy") == "constant":
            c = params.get("constant")
            if c is None:
                raise ParameterError(f"{key('strategy')}='constant': also give {key('constant')}=<a class>")
            if not np.isin(np.asarray(c, dtype=object), labels.astype(object)).all():
                raise ParameterError(f"{key('constant')}={c!r}: not a class of {what}")


def _check_validation_split(fraction, labels, counts, what, classes, key) -> None:
    """MLP's and SGD's early stopping hold out a stratified ``validation_fraction``."""
    n, k = int(counts.sum()), len(labels)
    if counts.min() < 2:
        lonely = label_name(labels[np.argmin(counts)], classes)
        raise ParameterError(f"{key('early_stopping')}=True: class {lonely!r} has 1 of {what}; the "
                             f"stratified validation split needs 2 of each class "
                             f"(use {key('early_stopping')}=False or more images)")
    n_val, n_fit = math.ceil(fraction * n), math.floor((1 - fraction) * n)  # as train_test_split
    if n_val < k or n_fit < k:
        side, m = ("validation", n_val) if n_val < k else ("fitting", n_fit)
        raise ParameterError(f"{key('validation_fraction')}={fraction:g}: leaves {m} {side} images of {what} "
                             f"for {k} classes (one of each needed); use {key('early_stopping')}=False, "
                             f"another {key('validation_fraction')} or more images")


def label_name(label, classes) -> str:
    if classes is not None:
        if isinstance(label, (bool, np.bool_)):
            return str(classes[int(label)]) if len(classes) == 2 else str(bool(label))
        if 0 <= int(label) < len(classes):
            return str(classes[int(label)])
    return str(label)
