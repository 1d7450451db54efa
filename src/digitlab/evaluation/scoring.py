"""Score a fitted classifier once and derive its labels from those scores.

``predict`` usually recomputes what ``decision_function`` or ``predict_proba`` already gave, so
evaluation asks for the scores once and derives the labels, but only where that is *exactly*
what the estimator's own ``predict`` does (read off scikit-learn's source):

- linear classifiers (``LinearClassifierMixin``): ``classes_[score > 0]`` for one score column,
  ``classes_[argmax]`` for several;
- random forests and extra trees, and the ``most_frequent``/``prior`` dummy: ``classes_[argmax(proba)]``.

Every other estimator gets a separate ``predict`` call, so labels are always the estimator's own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Scored:
    """Labels and scores of one pass over ``X``.

    Attributes
    ----------
    y_pred : ndarray of shape (n_samples,)
        Labels as in the estimator's ``classes_``.
    y_score : ndarray of shape (n_samples,) or None
        Binary tasks only: decision score (``decision_function``) or probability of the positive class.
    y_proba : ndarray of shape (n_samples, n_classes) or None
        ``predict_proba`` when the estimator has it and it was asked for.
    score_kind : {"decision_function", "predict_proba"} or None
    """

    y_pred: np.ndarray
    y_score: np.ndarray | None
    y_proba: np.ndarray | None
    score_kind: str | None


def final_estimator(model):
    return model[-1] if hasattr(model, "steps") else model


def _transform(model, X):
    """Run the pipeline's transformers once, so the classifier's methods share the result."""
    if hasattr(model, "steps") and len(model.steps) > 1:
        return model[:-1].transform(X)
    return X


def _proba_argmax_is_predict(clf) -> bool:
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier

    if isinstance(clf, DummyClassifier):
        # "stratified"/"uniform" draw predict and predict_proba from separate random calls
        return clf.strategy in ("most_frequent", "prior")
    if type(clf) is KNeighborsClassifier:
        # predict takes the (weighted) vote with ties to the lowest class, predict_proba the same
        # vote summed in the same order and divided by the row total: the argmax is the same, and
        # the neighbour search (the whole cost) runs once instead of twice
        return not getattr(clf, "outputs_2d_", False) and clf.weights in ("uniform", "distance")
    return type(clf) in (RandomForestClassifier, ExtraTreesClassifier)


def score(model, X, *, binary: bool, want_proba: bool = True) -> Scored:
    """Predict *X* once: labels, and the scores they come from.

    Parameters
    ----------
    model : fitted classifier or Pipeline
    X : ndarray of shape (n_samples, n_features)
    binary : bool
        Also return a 1-D score for the positive class (``y_score``).
    want_proba : bool, default=True
        Also return ``predict_proba`` when the model has it.
    """
    from sklearn.linear_model._base import LinearClassifierMixin

    clf = final_estimator(model)
    Xt = _transform(model, X)
    classes = clf.classes_
    has_proba = hasattr(clf, "predict_proba")
    has_dec = hasattr(clf, "decision_function")
    is_linear = isinstance(clf, LinearClassifierMixin) and has_dec

    proba = clf.predict_proba(Xt) if has_proba and (want_proba or binary or _proba_argmax_is_predict(clf)) else None
    dec = clf.decision_function(Xt) if has_dec and (is_linear or binary) else None

    if is_linear:
        idx = (dec > 0).astype(np.intp) if dec.ndim == 1 else dec.argmax(axis=1)
        y_pred = classes[idx]
    elif proba is not None and _proba_argmax_is_predict(clf):
        y_pred = classes[proba.argmax(axis=1)]
    else:
        y_pred = clf.predict(Xt)

    y_score, kind = None, None
    if dec is not None and dec.ndim == 1:
        y_score, kind = dec, "decision_function"
    elif proba is not None and binary and proba.shape[1] == 2:
        y_score, kind = proba[:, 1], "predict_proba"
    elif proba is not None:
        kind = "predict_proba"
    return Scored(y_pred, y_score if binary else None, proba if want_proba else None, kind)
