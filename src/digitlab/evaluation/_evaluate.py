"""``evaluate``: score a fitted model once, cross-validate it, and write the run's evaluation files."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from ..exceptions import ModelError, ParameterError
from . import metrics as M
from .cv import check_folds, cross_validate, dummy_scores
from .result import EvalResult
from .scoring import final_estimator, score

EVAL_FILE = "eval.json"
PREDICTIONS_FILE = "predictions.npz"
FIGURES_DIR = "figures"


def evaluate(run=None, split=None, *, model=None, detect: int | None = None, cv: int | None = None,
             target_precision: float | None = 0.9, target_recall: float | None = None,
             progress: bool = False, n_jobs: int | None = None, figures: bool = True,
             data_dir=None, cache_dir=None, cv_result=None, train_sample: int | None = None) -> EvalResult:
    """Evaluate a fitted classifier on a split; for a run, also write its evaluation files.

    The model predicts the test set once (labels, probabilities and scores from one pass) and
    the training set once (train accuracy); cross-validation fits each fold once and derives
    fold accuracies, out-of-fold labels and out-of-fold scores from that fit. With a run, this
    writes ``eval.json``, ``predictions.npz`` and ``figures/*.png`` into ``run.path`` and the
    summary into ``run.json``'s ``metrics``; files are replaced only once everything succeeded.

    Parameters
    ----------
    run : Run, str, path-like or fitted estimator
        A :class:`~digitlab.runs.Run` (or a run id, ``"latest"`` or a run folder), whose model and
        split are loaded unless *model*/*split* are given. Or a fitted classifier, evaluated on
        *split* without writing anything: ``evaluate(model, split, detect=5)``.
    split : Split, default=None
        Train and test data (``run.load_split()`` for a run).
    model : fitted classifier, default=None
        Overrides the run's model file.
    detect : int, default=None
        Without a run: evaluate a binary detector of this class (targets ``y == detect``).
        Runs know their task.
    cv : int, default=None
        Stratified folds without shuffling (the notebooks' ``cv=3``); 0 skips cross-validation.
        ``None``: 3, or 0 for a run of an expensive model (:func:`digitlab.training.default_cv`).
    target_precision : float, default=0.9
        Detectors: find the threshold reaching this precision, and the recall there.
    target_recall : float, default=None
        Detectors: find the threshold keeping this recall instead (takes precedence).
    progress : bool, default=False
        Show what is being computed on stderr.
    n_jobs : int, default=None
        Worker processes for the folds (default: one per fold, up to two per core).
    figures : bool, default=True
        Draw the figures (runs only).
    data_dir, cache_dir : path-like, default=None
        Where the run's dataset is found (when the split is rebuilt).
    train_sample : int, default=None
        Score the training accuracy on a stratified sample of at most this many training images
        (the number used is stored as ``train_accuracy_n``). For models whose prediction is
        costly, e.g. k-NN, whose train accuracy needs a neighbour search of the whole set.
    cv_result : CVResult, default=None
        Cross-validation already done on this split's training set (``train`` computes it in
        the same worker pool as the final fit); used instead of fitting the folds again.

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
    from ..runs import Run, resolve_run
    from ..training import default_cv, task_classes

    if isinstance(run, (str, os.PathLike)):
        run = resolve_run(run)
    if isinstance(run, Run):
        target = run
        if split is None:
            split = run.load_split(data_dir=data_dir, cache_dir=cache_dir)
        if model is None:
            model = run.load_model()
        detect = run.task.get("detect") if run.is_binary else None
        classes = run.classes or task_classes(split.train.classes, detect)
        where = str(run.model_path)
    else:
        if run is not None and model is not None:
            raise ParameterError("evaluate: give a run, or a model and a split, not both")
        target, model = None, (run if model is None else model)
        if model is None or split is None:
            raise ParameterError("evaluate: give a run, or a fitted model and a split")
        if detect is not None and not (isinstance(detect, (int, np.integer)) and 0 <= detect < len(split.train.classes)):
            raise ParameterError(f"detect: must be a class index 0–{len(split.train.classes) - 1}, got {detect!r}")
        classes = task_classes(split.train.classes, detect)
        where = type(final_estimator(model)).__name__
    if cv is None:
        spec = target.meta.get("model") if target is not None else None
        cv = default_cv(spec.get("name") if isinstance(spec, dict) else None)
    if cv == 1 or cv < 0:
        raise ParameterError(f"--cv: use 0 to skip cross-validation, or 2 or more folds; got {cv}")
    binary = detect is not None
    check_model(model, split, binary=binary, n_classes=len(classes), where=where)
    if cv and cv_result is None:  # before the first fit: folds the data can fill, a model they fit
        check_folds(split.y_train == detect if binary else split.y_train, cv, classes=classes,
                    models=[model], n_features=split.X_train.shape[1])

    status = _status(progress)
    t_start = time.perf_counter()
    with status:
        X_train, X_test = split.X_train, split.X_test
        y_train = split.y_train == detect if binary else split.y_train
        y_test = split.y_test == detect if binary else split.y_test

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
        result.timings = {"test_predict_seconds": round(t_test, 3), "train_predict_seconds": round(t_train, 3),
                          "cv_seconds": cvr.seconds if cvr else None,
                          "cv_fit_seconds": cvr.fit_seconds if cvr else [],
                          "cv_cpu_seconds": cvr.cpu_seconds if cvr else None,
                          "compute_seconds": round(time.perf_counter() - t_start, 3)}  # before figures
        if target is not None:
            _say(status, "drawing figures" if figures else "writing results")
            _write(target, result, model if figures else None, split.test.images if figures else None)
    return result


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


def _write(run, result: EvalResult, model, images) -> None:
    """Stage every file in a hidden folder inside the run, then move them into place.

    Nothing in the run changes until all files are complete; each file is then replaced
    atomically, ``run.json`` last.
    """
    from .._atomic import PART_MARK, atomic_path, os_error, write_text
    from .._json import dumps as json_dumps
    from .figures import draw_all

    try:
        stage = Path(tempfile.mkdtemp(prefix=f".eval{PART_MARK}", dir=run.path))
    except OSError as exc:
        raise os_error(run.path, exc, "cannot write evaluation") from None
    try:
        with atomic_path(stage / PREDICTIONS_FILE) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **result.predictions)
        result.figures = draw_all(stage / FIGURES_DIR, result, result.predictions, images, model) \
            if images is not None else []
        write_text(stage / EVAL_FILE, result.to_json())
        meta = dict(run.meta, metrics=result.summary())
        run_json = json_dumps(meta) + "\n"
        try:
            _swap_dir(stage / FIGURES_DIR, run.path / FIGURES_DIR)
            os.replace(stage / PREDICTIONS_FILE, run.path / PREDICTIONS_FILE)
            os.replace(stage / EVAL_FILE, run.path / EVAL_FILE)
        except OSError as exc:
            raise os_error(run.path, exc, "cannot write evaluation") from None
        write_text(run.path / "run.json", run_json)
        run.meta["metrics"] = meta["metrics"]
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _swap_dir(new: Path, old: Path) -> None:
    """Put folder *new* where *old* is (two renames), then delete the previous one."""
    import uuid

    from .._atomic import PART_MARK

    if not new.exists():
        new.mkdir()
    if not old.exists():
        os.replace(new, old)
        return
    trash = old.with_name(f".{old.name}{PART_MARK}{uuid.uuid4().hex[:8]}")
    os.replace(old, trash)
    os.replace(new, old)
    shutil.rmtree(trash, ignore_errors=True)


def _status(progress: bool):
    if not progress:
        return nullcontext()
    from rich.console import Console

    return Console(stderr=True).status("evaluating …", spinner="dots")


def _say(status, text: str) -> None:
    if hasattr(status, "update"):
        status.update(f"{text} …")
