"""Cross-validation that fits each fold once and gets accuracy, labels and scores from that fit.

The notebooks call ``cross_val_score``, ``cross_val_predict`` and
``cross_val_predict(method="decision_function")`` one after the other: nine fits for three folds.
The folds are the same each time (``StratifiedKFold(3)`` without shuffling, what ``cv=3`` means
for a classifier) and each fit is deterministic, so one fit per fold gives the same numbers
exactly, three times faster, and the folds run in parallel.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np

from .._workers import cores
from ..exceptions import ParameterError
from ..runs import FitInfo
from .scoring import score


@dataclass
class CVResult:
    """Cross-validated predictions on the training set.

    Attributes
    ----------
    scores : list of float
        Accuracy of each fold, in fold order (``cross_val_score``).
    y_pred : ndarray of shape (n_samples,)
        Out-of-fold labels (``cross_val_predict``).
    y_score : ndarray of shape (n_samples,) or None
        Out-of-fold decision scores or positive-class probabilities (binary tasks).
    fold : ndarray of shape (n_samples,), dtype=int8
        Which fold held each sample out.
    fit_seconds : list of float
        Wall time of each fold (fit and scoring).
    cpu_seconds : float
        CPU time of all folds (fit and scoring), summed over the workers.
    warnings : list of str
        Convergence warnings raised while fitting the folds (first line each, deduplicated).
    seconds : float
        Wall time of the whole cross-validation.
    """

    scores: list
    y_pred: np.ndarray
    y_score: np.ndarray | None
    fold: np.ndarray
    fit_seconds: list = field(default_factory=list)
    cpu_seconds: float = 0.0
    warnings: list = field(default_factory=list)
    seconds: float = 0.0
    final_model: object = None  # with final=True: the model fitted on all of X
    final_fit: FitInfo | None = None  # and fitting.fit_model's record of that fit

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))


def folds(y, cv: int):
    """The notebooks' folds: ``StratifiedKFold(cv)`` without shuffling (``check_cv(cv, y, classifier=True)``)."""
    from sklearn.model_selection import StratifiedKFold

    # StratifiedKFold only looks at y; a 1-column placeholder avoids touching X.
    return list(StratifiedKFold(n_splits=cv).split(np.zeros((len(y), 1)), y))


def check_folds(y, cv: int, *, classes=None, models=(), n_features: int | None = None,
                more: str = "more images") -> None:
    """Refuse, before any fitting, *cv* folds the labels cannot fill, or a model a fold is too small for.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Training labels (class indices, or booleans for a detector).
    cv : int
        Folds (at least 2); every class needs at least *cv* images.
    classes : sequence of str, default=None
        Class names for messages.
    models : iterable of Pipeline, default=()
        Each is checked against every fold's training images
        (:func:`digitlab.models._fit_checks.check_fit_data`).
    n_features : int, default=None
        Pixels per image (needed with *models*).
    more : str, default="more images"
        What else the user could give, in the message ("a larger limit").
    """
    from ..models._fit_checks import check_fit_data, label_name

    if isinstance(cv, bool) or not isinstance(cv, Integral) or cv < 2:
        raise ParameterError(f"cv={cv!r}: need 2 or more folds (0 skips cross-validation)")
    y = np.asarray(y)
    labels, counts = np.unique(y, return_counts=True)
    if len(labels) and counts.min() < cv:
        i = int(np.argmin(counts))
        few = int(counts[i])
        raise ParameterError(f"cv={cv}: the smallest class, {label_name(labels[i], classes)!r}, has only "
                             f"{few} training image{'s' * (few != 1)}, fewer than the folds "
                             f"(use fewer folds, cv=0 to skip cross-validation, or {more})")
    models = list(models)
    if models:
        for train, _ in folds(y, cv):
            for model in models:
                check_fit_data(model, y[train], n_features, classes=classes,
                               what=f"the {len(train):,} training images of a cross-validation fold")


# Below this many pixel values (about 2,500 MNIST images) starting worker processes costs more
# than the fits themselves, so the folds run in this process.
SMALL_DATA = 2_000_000


def default_n_jobs(cv: int, size: int | None = None) -> int:
    """One worker per fit, up to one more than the cores; 1 on one core or for small data.

    One more worker than cores pays off for a few fits: 3 folds on 2 cores all run at once and
    finish after 1.5 fit-times, where 2 workers need 2 (the third fold runs alone); with the final
    fit alongside (twice a fold's work), 3 workers beat 4, which leave it alone on a core at the
    end (the 5-detector's four fits on MNIST: 31.7-36.5 s against 37.4-38.6 s).
    """
    if size is not None and size < SMALL_DATA:
        return 1
    n = cores()
    return 1 if n == 1 else max(1, min(cv, n + 1))


def runs_own_threads(model) -> bool:
    """An estimator with an ``n_threads`` parameter (the CNN's torch threads) is fitted one at a
    time: n parallel fits would put n × n_threads busy threads on the cores."""
    est = model[-1] if hasattr(model, "steps") else model
    return "n_threads" in est.get_params(deep=False)


def _fit_fold(model, X, y, train, test, binary):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        t0, c0 = time.perf_counter(), time.process_time()
        model.fit(X[train], y[train])
        s = score(model, X[test], binary=binary, want_proba=False)
        fit_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    msgs = [str(w.message).split("\n")[0] for w in caught if issubclass(w.category, ConvergenceWarning)]
    return s.y_pred, s.y_score, fit_s, cpu_s, msgs


@dataclass
class CVJobs:
    """The fits of one cross-validation, as joblib calls any pool can run, and how to read them.

    ``calls`` holds the final fit first (when asked; the longest job starts first), then one fit
    per fold. :func:`cross_validate` runs them in a pool of its own; ``digitlab study`` runs the
    calls of several trainings in one pool (:mod:`digitlab.scheduling`), so no core waits.
    """

    calls: list
    splits: list
    y: np.ndarray
    binary: bool
    final: bool

    def collect(self, out: list, seconds: float = 0.0) -> CVResult:
        """The :class:`CVResult` from the calls' outputs, in the order of ``calls``."""
        from sklearn.metrics import accuracy_score

        out = list(out)
        final_model, final_fit = out.pop(0) if self.final else (None, None)
        y = self.y
        y_pred = np.empty(len(y), dtype=np.asarray(out[0][0]).dtype)
        y_score = np.empty(len(y), dtype=np.float64) if self.binary and out[0][1] is not None else None
        fold = np.empty(len(y), dtype=np.int8)
        scores, fit_seconds, cpu, msgs = [], [], 0.0, []
        for k, ((_, te), (pred, sc, fit_s, cpu_s, w)) in enumerate(zip(self.splits, out)):
            y_pred[te] = pred
            if y_score is not None:
                y_score[te] = sc
            fold[te] = k
            # the same metric as cross_val_score's default scorer for classifiers
            scores.append(float(accuracy_score(y[te], pred)))
            fit_seconds.append(round(fit_s, 3))
            cpu += cpu_s
            msgs += [m for m in w if m not in msgs]
        return CVResult(scores, y_pred, y_score, fold, fit_seconds, round(cpu, 3), msgs, round(seconds, 3),
                        final_model, final_fit)


def cv_jobs(model, X, y, *, cv: int = 3, binary: bool = False, final: bool = False) -> CVJobs:
    """The fits :func:`cross_validate` runs (parameters as there), without running them."""
    from joblib import delayed
    from sklearn.base import clone

    from ..fitting import fit_returning

    y = np.asarray(y)
    splits = folds(y, cv)
    calls = [delayed(_fit_fold)(clone(model), X, y, tr, te, binary) for tr, te in splits]
    if final:
        calls.insert(0, delayed(fit_returning)(clone(model), X, y))  # the longest job starts first
    return CVJobs(calls, splits, y, binary, final)


def cross_validate(model, X, y, *, cv: int = 3, binary: bool = False, n_jobs: int | None = None,
                   final: bool = False) -> CVResult:
    """Fit *model* (cloned) once per fold; return fold accuracies and out-of-fold labels and scores.

    Parameters
    ----------
    model : classifier or Pipeline
        Cloned before fitting; it is not changed.
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    cv : int, default=3
        Number of stratified folds, not shuffled (the notebooks' ``cv=3``).
    binary : bool, default=False
        Also collect out-of-fold scores of the positive class.
    n_jobs : int, default=None
        Worker processes; ``None``: see :func:`default_n_jobs`. The joblib backend is loky
        processes that exit when this process dies (:mod:`digitlab._workers`), unless another
        backend is set with ``joblib.parallel_config``. Always 1 for an estimator that runs its
        own threads (:func:`runs_own_threads`, the CNN).
    final : bool, default=False
        Also fit the model on all of *X* in the same pool (``final_model``/``final_fit`` of the
        result). On two cores the final fit then fills the core a lone last fold leaves idle,
        instead of running on its own before or after the folds.
    """
    from .._workers import run_parallel

    jobs = cv_jobs(model, X, y, cv=cv, binary=binary, final=final)
    if runs_own_threads(model):
        n_jobs = 1  # its fits already use the cores: parallel folds would multiply the threads
    n_jobs = default_n_jobs(cv + final, np.asarray(X).size) if n_jobs is None else n_jobs
    t0 = time.perf_counter()
    out = run_parallel(jobs.calls, n_jobs)
    return jobs.collect(out, time.perf_counter() - t0)


def dummy_scores(y, cv: int = 3) -> list[float]:
    """CV accuracy of always predicting the most frequent class: the baseline to beat."""
    from sklearn.dummy import DummyClassifier
    from sklearn.model_selection import cross_val_score

    # The dummy ignores X; a 1-column placeholder keeps it from copying the images.
    placeholder = np.zeros((len(y), 1))
    return [float(s) for s in cross_val_score(DummyClassifier(strategy="most_frequent"), placeholder, y,
                                              cv=cv)]
