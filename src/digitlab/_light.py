"""Predict-only linear pipelines, built from a model file's arrays without importing scikit-learn.

``digitlab predict RUN one.png`` spends microseconds predicting and, with a scikit-learn model,
1-3 s importing scikit-learn (which pulls in SciPy's statistics and, when installed, pandas).
For the pipelines most runs hold — ``[PixelScaler], FastLogisticRegression`` (``logreg``) and
``[PixelScaler], SGDClassifier`` with a margin loss (``sgd``) — the prediction is one matrix
product, so :class:`LinearPipeline` does it with numpy alone, in the same dtype and order of
operations as the full estimators (tests compare both on the MNIST test set). Every other model,
or a file from another scikit-learn version, is loaded in full as before.

The file is audited by :mod:`digitlab._skops_reader` first either way: this module only sees
plain states (dicts of arrays and numbers) of allow-listed classes.
"""

from __future__ import annotations

import numpy as np

SCALER = "digitlab.models.scaling.PixelScaler"
PIPELINE = "sklearn.pipeline.Pipeline"
FAST_LOGREG = "digitlab.models.fast_logreg.FastLogisticRegression"
SGD = "sklearn.linear_model._stochastic_gradient.SGDClassifier"
LIGHT = frozenset({PIPELINE, SCALER, FAST_LOGREG, SGD})
# SGD losses whose predict_proba is not a softmax of the scores: left to scikit-learn
_SGD_PROBA_LOSSES = frozenset({"log_loss", "modified_huber"})


class Plain:
    """An allow-listed object's class name and state, not constructed."""

    __slots__ = ("name", "state")

    def __init__(self, name: str, state: dict):
        self.name, self.state = name, state


class LinearPipeline:
    """``scale → X @ coef.T + intercept``: a fitted linear pipeline's predictions, numpy only.

    Attributes
    ----------
    classes_ : ndarray
    n_features_in_ : int
    coef_, intercept_ : ndarray
        As the estimator stored them (float32 for ``logreg``, float64 for ``sgd``).
    estimator : str
        The full estimator's class name (what ``repr`` shows).
    """

    def __init__(self, *, scale, dtype, coef, intercept, classes, n_features: int, proba: bool, estimator: str):
        self.scale, self.dtype = scale, dtype
        self.coef_, self.intercept_, self.classes_ = coef, intercept, classes
        self.n_features_in_ = n_features
        self._proba = proba
        self.estimator = estimator

    def __repr__(self) -> str:
        return f"LinearPipeline({self.estimator.rpartition('.')[2]}, {len(self.classes_)} classes, numpy only)"

    def _input(self, X) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has shape {X.shape}; this model expects (n, {self.n_features_in_})")
        if self.scale is None:  # raw pixels: the estimator's own dtype handling
            return X.astype(self.coef_.dtype if X.dtype.kind in "iub" else X.dtype, copy=False)
        out = np.array(X, dtype=self.dtype, copy=True)  # as PixelScaler.transform: one copy, scaled
        out *= np.asarray(self.scale, dtype=self.dtype)
        return out

    def decision_function(self, X) -> np.ndarray:
        X = self._input(X)
        if self.estimator == FAST_LOGREG:
            X = X.astype(np.float32, copy=False)
        scores = X @ self.coef_.T
        scores += self.intercept_
        if not np.isfinite(scores).all():
            raise ValueError("Input X contains NaN or infinity.")
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X) -> np.ndarray:
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[idx]

    @property
    def predict_proba(self):
        """Softmax of the scores (sigmoid for two classes), as ``FastLogisticRegression`` computes
        them; absent (``AttributeError``) for margin losses, as in scikit-learn."""
        if not self._proba:
            raise AttributeError("predict_proba is not available for this loss")
        return self._predict_proba

    def _predict_proba(self, X) -> np.ndarray:
        scores = self.decision_function(X).astype(np.float64)
        if scores.ndim == 1:
            p = 0.5 * (1.0 + np.tanh(0.5 * scores))
            return np.column_stack([1 - p, p])
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return scores


def linear_pipeline(obj, sklearn_version: str) -> LinearPipeline | None:
    """A :class:`LinearPipeline` for a plain Pipeline of the supported shape whose every part was
    saved by scikit-learn *sklearn_version*'s minor version; None for anything else."""
    if not isinstance(obj, Plain) or obj.name != PIPELINE:
        return None
    steps = obj.state.get("steps")
    if not isinstance(steps, list) or not steps or not all(isinstance(s, tuple) and len(s) == 2 for s in steps):
        return None
    parts = [s[1] for s in steps]
    if not all(isinstance(p, Plain) for p in parts) or not _same_minor([obj, *parts], sklearn_version):
        return None
    *pre, clf = parts
    if len(pre) > 1 or (pre and pre[0].name != SCALER):
        return None
    st = clf.state
    if clf.name == FAST_LOGREG:
        proba = True
    elif clf.name == SGD and st.get("loss") not in _SGD_PROBA_LOSSES:
        proba = False
    else:
        return None
    coef, intercept, classes = st.get("coef_"), st.get("intercept_"), st.get("classes_")
    n = st.get("n_features_in_")
    if not all(isinstance(a, np.ndarray) for a in (coef, intercept, classes)) or not isinstance(n, int):
        return None
    if coef.ndim != 2 or coef.shape[1] != n or intercept.shape != (coef.shape[0],) or len(classes) < 2:
        return None
    if coef.shape[0] != (1 if len(classes) == 2 else len(classes)):
        return None
    scale = dtype = None
    if pre:
        scale, dtype = pre[0].state.get("scale"), pre[0].state.get("dtype")
        if not isinstance(scale, float) or dtype not in ("float32", "float64"):
            return None
    return LinearPipeline(scale=scale, dtype=dtype, coef=coef, intercept=intercept, classes=classes, n_features=n,
                          proba=proba, estimator=clf.name)


def _same_minor(parts, version: str) -> bool:
    """scikit-learn records its version in the state of its own classes only (digitlab's are
    versioned by run.json)."""
    want = tuple(version.split(".")[:2])
    return all(isinstance(p.state.get("_sklearn_version"), str)
               and tuple(p.state["_sklearn_version"].split(".")[:2]) == want
               for p in parts if p.name.startswith("sklearn."))
