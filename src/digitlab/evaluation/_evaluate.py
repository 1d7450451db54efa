"""``evaluate``: score a fitted model once on a split and cross-validate it (nothing is written)."""

from __future__ import annotations

import math
import time

import numpy as np

from ..exceptions import ModelError, ParameterError
from . import metrics as M
from .cv import check_folds, cross_validate, dummy_scores
from .result import AddedScore, EvalResult
from .scoring import final_estimator, score

ROBUSTNESS_IMAGES = 2000  # 36 corrupted copies of each are predicted: seconds for most models


def evaluate(model, split, *, detect: int | None = None, cv: int = 3, target_precision: float | None = 0.9,
             target_recall: float | None = None, progress: bool = False, n_jobs: int | None = None,
             cv_result=None, train_sample: int | None = None, where: str | None = None,
             robustness: bool = False, robustness_images: int | None = ROBUSTNESS_IMAGES) -> EvalResult:
    """Evaluate a fitted classifier on a split; nothing is written (see :func:`evaluate_run`).

    The model predicts the test set once (labels, probabilities and scores from one pass) and
    the training set once (train accuracy); cross-validation fits each fold once and derives
    fold accuracies, out-of-fold labels and out-of-fold scores from that fit.

    Parameters
    ----------
    model : fitted classifier or Pipeline
        Fitted on *split*'s training set (for a detector, on ``split.y_train == detect``).
    split : Split
        Train and test data.
    detect : int, default=None
        Evaluate a binary detector of this class (targets ``y == detect``).
    cv : int, default=3
        Stratified folds without shuffling (the notebooks' ``cv=3``); 0 skips cross-validation.
    target_precision : float, default=0.9
        Detectors: find the threshold reaching this precision, and the recall there.
    target_recall : float, default=None
        Detectors: find the threshold keeping this recall instead (takes precedence).
    progress : bool, default=False
        Show what is being computed on stderr.
    n_jobs : int, default=None
        Worker processes for the folds (default: one per fold, up to one more than the cores).
    cv_result : CVResult, default=None
        Cross-validation already done on this split's training set (``train`` computes it in
        the same worker pool as the final fit); used instead of fitting the folds again.
    train_sample : int, default=None
        Score the training accuracy on a stratified sample of at most this many training images
        (the number used is stored as ``train_accuracy_n``). For models whose prediction is
        costly, e.g. k-NN, whose train accuracy needs a neighbour search of the whole set.
    where : str, default=None
        How errors name the model (a run's model file; default: the estimator's class).
    robustness : bool, default=False
        Also measure accuracy under every corruption at three severities
        (:func:`digitlab.robustness.robustness`, seeded), stored in
        :attr:`EvalResult.robustness`.
    robustness_images : int or None, default=2000
        A stratified, seeded sample of this many test images for the robustness report (36
        corrupted copies of each are predicted); ``None``: the whole test set.

    Returns
    -------
    EvalResult
        With :attr:`~EvalResult.predictions` holding the arrays of ``predictions.npz``.

    Examples
    --------
    >>> import digitlab
    >>> from digitlab.datasets import load
    >>> split = load("digits").train_test(test_size=0.25, seed=0)
    >>> model = digitlab.make_model("logreg").fit(split.X_train, split.y_train == 5)
    >>> result = digitlab.evaluate(model, split, detect=5)
    >>> result.summary()["cv_mean"] > result.summary()["dummy_cv_mean"]
    True
    """
    from ..datasets import Task

    task = Task(split.train.classes, detect)
    classes = task.names
    where = where or type(final_estimator(model)).__name__
    if isinstance(cv, bool) or not isinstance(cv, (int, np.integer)) or cv == 1 or cv < 0:
        raise ParameterError(f"cv={cv!r}: use 0 to skip cross-validation, or 2 or more folds")
    if robustness and robustness_images is not None and (
            isinstance(robustness_images, bool) or not isinstance(robustness_images, (int, np.integer))
            or robustness_images < 1):
        raise ParameterError(f"robustness_images={robustness_images!r}: must be a whole number of test images, "
                             "at least 1")
    binary = task.is_binary
    check_model(model, split, binary=binary, n_classes=len(classes), where=where)
    if cv and cv_result is None:  # before the first fit: folds the data can fill, a model they fit
        check_folds(task.target(split.y_train), cv, classes=classes, models=[model],
                    n_features=split.X_train.shape[1])

    status = _status(progress)
    t_start = time.perf_counter()
    with status:
        X_train, X_test = split.X_train, split.X_test
        y_train, y_test = task.target(split.y_train), task.target(split.y_test)

        _say(status, f"predicting {len(y_test):,} test images")
        t0 = time.perf_counter()
        test = score(model, X_test, binary=binary, want_proba=True)
        t_test = time.perf_counter() - t0
        rows = _sample_rows(y_train, train_sample)
        n_rows = len(y_train[rows])
        _say(status, f"predicting {n_rows:,} training images")
        t0 = time.perf_counter()
        train = score(model, X_train[rows], binary=binary, want_proba=False)
        t_train = time.perf_counter() - t0

        clf = final_estimator(model)
        y_true_i, y_pred_i = _as_index(y_test), _as_index(test.y_pred)
        arrays = {"y_true": y_true_i, "y_pred": y_pred_i}
        if test.y_proba is not None:
            arrays["y_proba"] = _expand_proba(test.y_proba, _as_index(clf.classes_), len(classes))
        if binary and test.y_score is not None:
            arrays["y_score"] = np.asarray(test.y_score, dtype=np.float64)

        cvr, dummy = None, []
        if cv:
            _say(status, f"cross-validating: {cv} folds of {len(y_train):,} training images")
            cvr = cv_result or cross_validate(model, X_train, y_train, cv=cv, binary=binary, n_jobs=n_jobs)
            dummy = dummy_scores(y_train, cv)
            arrays["cv_y_true"] = _as_index(y_train)
            arrays["cv_pred"] = _as_index(cvr.y_pred)
            arrays["cv_fold"] = cvr.fold
            if cvr.y_score is not None:
                arrays["cv_score"] = cvr.y_score

        n = len(classes)
        cm = M.confusion(y_true_i, y_pred_i, n)
        pairs = M.confused_pairs(cm, 5)
        for p in pairs:  # a few examples of each, for galleries and the web app
            p["examples"] = np.flatnonzero((y_true_i == p["true"]) & (y_pred_i == p["pred"]))[:6].tolist()
        result = EvalResult(
            task="binary" if binary else "multiclass", classes=list(classes), detect=detect,
            n_train=len(y_train), n_test=len(y_test),
            test_accuracy=float(np.mean(y_true_i == y_pred_i)),
            train_accuracy=float(np.mean(_as_index(y_train[rows]) == _as_index(train.y_pred))),
            train_accuracy_n=n_rows,
            cv=int(cv), cv_scores=cvr.scores if cvr else [], cv_mean=cvr.mean if cvr else None,
            dummy_cv_scores=dummy, dummy_cv_mean=float(np.mean(dummy)) if dummy else None,
            confusion_matrix=cm.tolist(),
            cv_confusion_matrix=M.confusion(arrays["cv_y_true"], arrays["cv_pred"], n).tolist() if cvr else None,
            per_class=M.per_class(y_true_i, y_pred_i, classes), confused_pairs=pairs,
            score_kind=test.score_kind, has_proba=test.y_proba is not None,
            linear=getattr(clf, "coef_", None) is not None,
            image_shape=list(split.test.images.shape[1:]),
            warnings=cvr.warnings if cvr else [],
            predictions=arrays,
        )
        if binary:
            result.detector = _detector(arrays, cvr is not None, target_precision, target_recall)
        t_rob = None
        if robustness:
            t0 = time.perf_counter()
            result.robustness = _robustness(model, split, task, robustness_images, status)
            t_rob = round(time.perf_counter() - t0, 3)
        if getattr(split, "added", None) is not None:
            _say(status, f"predicting {len(split.added):,} held-out added images")
            result.added = _added_score(model, split, task, classes, binary)
        result.timings = {"test_predict_seconds": round(t_test, 3), "train_predict_seconds": round(t_train, 3),
                          "robustness_seconds": t_rob,
                          "cv_seconds": cvr.seconds if cvr else None,
                          "cv_fit_seconds": cvr.fit_seconds if cvr else [],
                          "cv_cpu_seconds": cvr.cpu_seconds if cvr else None,
                          "compute_seconds": round(time.perf_counter() - t_start, 3)}
    return result


def _robustness(model, split, task, n_images: int | None, status) -> dict:
    """The robustness report on a stratified sample of the test set, as stored in eval.json."""
    from ..robustness import robustness

    y = task.target(split.y_test)
    rows = _sample_rows(y, n_images)

    def step(done, total, label):
        _say(status, f"robustness: {label} ({done}/{total})")

    report = robustness(model.predict, split.test.images[rows], y[rows], seed=0, progress=step)
    return report.to_dict()


def _added_score(model, split, task, classes, binary: bool) -> AddedScore:
    """Accuracy on the held-out added samples, overall and per class."""
    held = split.added
    out = AddedScore(name=held.name, n_train=int(split.n_added_train), n_test=len(held))
    if len(held):
        y_true = _as_index(task.target(held.y))
        y_pred = _as_index(score(model, held.X, binary=binary, want_proba=False).y_pred)
        out.accuracy = float(np.mean(y_true == y_pred))
        out.per_class = [{"class": c, "n": int(np.sum(y_true == i)), "correct": int(np.sum((y_true == i) & (y_pred == i)))}
                         for i, c in enumerate(classes) if np.any(y_true == i)]
    return out


def _sample_rows(y, n: int | None):
    """All rows (a slice: no copy), or a stratified, seeded sample of *n* of them, sorted."""
    if n is None or n >= len(y):
        return slice(None)
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(np.arange(len(y)), train_size=n, random_state=0, stratify=y)
    return np.sort(keep)


def check_model(model, split, *, binary: bool, n_classes: int, where: str) -> None:
    """Refuse a model that is unfitted or does not match the data or the task (65)."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    clf = final_estimator(model)
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise ModelError(f"{where}: the model is not fitted; fit it first (model.fit(split.X_train, y)) "
                         "or use digitlab.train") from None
    except TypeError as exc:
        raise ModelError(f"{where}: not a scikit-learn estimator ({exc})") from None
    nf = getattr(model, "n_features_in_", None)
    have = split.X_test.shape[1]
    if nf is not None and nf != have:
        raise ModelError(f"{where}: model expects {nf} pixels ({_shape_words(nf)} images) but "
                         f"{split.test.name} has {have} ({_shape_words(have, split.test.images.shape[1:])}); "
                         "evaluate it on the kind of data it was trained on")
    classes = getattr(clf, "classes_", None)
    if classes is None:
        return
    is_bool = np.asarray(classes).dtype == bool
    if binary and (len(classes) > 2 or not (is_bool or set(np.asarray(classes).tolist()) <= {0, 1})):
        raise ModelError(f"{where}: model predicts {len(classes)} classes, not a yes/no detector")
    if not binary and is_bool:
        raise ModelError(f"{where}: model is a yes/no detector; evaluate it with detect=<class>")
    if not binary and not set(np.asarray(classes).tolist()) <= set(range(n_classes)):
        raise ModelError(f"{where}: model predicts classes {np.asarray(classes).tolist()}, "
                         f"the data has classes 0–{n_classes - 1}")


def _shape_words(n, shape=None) -> str:
    if shape is not None and len(shape) == 2:
        return f"{shape[0]}×{shape[1]}"
    side = math.isqrt(n)
    return f"{side}×{side}" if side * side == n else f"{n}-pixel"


def _as_index(y) -> np.ndarray:
    """Task labels (class indices or booleans of a detector) as int64 class indices."""
    return np.asarray(y).astype(np.int64)


def _expand_proba(proba, model_classes, n_classes) -> np.ndarray:
    """Probabilities in task-class columns (a model fitted on a subset lacks some classes)."""
    if proba.shape[1] == n_classes and np.array_equal(model_classes, np.arange(n_classes)):
        return np.asarray(proba, dtype=np.float64)
    out = np.zeros((len(proba), n_classes))
    out[:, model_classes] = proba
    return out


def _detector(arrays, from_cv: bool, target_precision, target_recall) -> dict:
    """Detector scores from cross-validated predictions (as the notebooks), else from the test set."""
    if from_cv:
        y_t, y_p, y_s = arrays["cv_y_true"], arrays["cv_pred"], arrays.get("cv_score")
    else:
        y_t, y_p, y_s = arrays["y_true"], arrays["y_pred"], arrays.get("y_score")
    d = {"source": "cv" if from_cv else "test", **M.detector_scores(y_t, y_p, y_s), "target": None}
    if y_s is not None and (target_recall is not None or target_precision is not None):
        kw = {"recall": target_recall} if target_recall is not None else {"precision": target_precision}
        d["target"] = M.threshold_at(y_t, y_s, **kw)
    d["test"] = M.detector_scores(arrays["y_true"], arrays["y_pred"], arrays.get("y_score"))
    return d


def _status(progress: bool):
    from .._progress import status

    return status(progress, "evaluating")


def _say(status, text: str) -> None:
    if hasattr(status, "update"):
        status.update(f"{text} …")
