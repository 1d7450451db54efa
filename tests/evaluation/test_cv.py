"""One fit per fold gives exactly what the three scikit-learn calls give."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_predict, cross_val_score

from digitlab.evaluation import cross_validate, dummy_scores
from digitlab.evaluation.cv import folds
from digitlab.evaluation.scoring import score
from digitlab.models import make_model


@pytest.mark.parametrize("n_jobs", [1, 2], ids=["in-process", "two-workers"])
def test_cross_validate_equals_notebook_calls_for_sgd_detector(mnist_small, n_jobs):
    """Check fold accuracies, out-of-fold labels and decision scores equal the notebooks' three calls."""
    X, y = mnist_small.X_train, mnist_small.y_train == 5
    model = make_model("sgd", raw_pixels=True)
    res = cross_validate(model, X, y, cv=3, binary=True, n_jobs=n_jobs)
    Xf = X.astype(np.float64)  # the notebooks' float64 pixels
    sgd = model[-1]
    assert res.scores == list(cross_val_score(sgd, Xf, y, cv=3, scoring="accuracy"))
    assert np.array_equal(res.y_pred, cross_val_predict(sgd, Xf, y, cv=3))
    dec = cross_val_predict(sgd, Xf, y, cv=3, method="decision_function")
    if n_jobs == 1:
        assert np.array_equal(res.y_score, dec)
    else:  # workers run BLAS on one thread: sums in another order, last bits may differ
        assert np.allclose(res.y_score, dec, rtol=1e-12, atol=0)
    assert len(res.fit_seconds) == 3
    assert not hasattr(model[-1], "coef_")  # the model passed in is cloned, never fitted


def test_cross_validate_multiclass_logreg_equals_cross_val_predict(digits):
    """Check the multiclass case (labels from argmax of decision_function)."""
    model = make_model("logreg")
    res = cross_validate(model, digits.X, digits.y, cv=3)
    assert res.y_score is None
    assert res.scores == list(cross_val_score(model, digits.X, digits.y, cv=3))
    assert np.array_equal(res.y_pred, cross_val_predict(model, digits.X, digits.y, cv=3))


@pytest.mark.parametrize("name,params", [("forest", {"n_estimators": 10, "n_jobs": 1}),
                                         ("knn", {"n_jobs": 1})], ids=["forest-proba", "knn-predict"])
def test_cross_validate_other_models_equal_cross_val_predict(digits, name, params):
    """Check proba-argmax labels (forest) and separate predict calls (knn) stay exact."""
    model = make_model(name, params)
    res = cross_validate(model, digits.X, digits.y, cv=3)
    assert np.array_equal(res.y_pred, cross_val_predict(model, digits.X, digits.y, cv=3))


def test_fold_of_each_sample_matches_stratified_kfold(digits):
    """Check folds are StratifiedKFold(3) without shuffling and every sample is held out once."""
    res = cross_validate(make_model("dummy"), digits.X, digits.y, cv=3)
    expected = StratifiedKFold(3).split(digits.X, digits.y)
    for k, (_, te) in enumerate(expected):
        assert np.array_equal(np.flatnonzero(res.fold == k), te)
    assert len(folds(digits.y, 3)) == 3


def test_dummy_scores_equal_cross_val_score(mnist_small):
    """Check the baseline equals cross_val_score of a most-frequent dummy on the real images."""
    y = mnist_small.y_train == 5
    expected = cross_val_score(DummyClassifier(), mnist_small.X_train, y, cv=3)
    assert dummy_scores(y, 3) == list(expected)
    assert all(s == pytest.approx(np.mean(~y), abs=1e-3) for s in expected)


@pytest.mark.parametrize("name,params", [
    ("logreg", {}), ("sgd", {}), ("dummy", {}), ("forest", {"n_estimators": 10, "n_jobs": 1}),
    ("knn", {"n_jobs": 1}), ("svm", {}), ("mlp", {"max_iter": 5, "early_stopping": False}),
])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("binary", [False, True], ids=["multiclass", "detector"])
def test_score_labels_equal_predict(digits, name, params, binary):
    """Check labels derived from one scoring pass equal the estimator's own predict."""
    split = digits.train_test(0.25, seed=0)
    y = split.y_train == 5 if binary else split.y_train
    model = make_model(name, params).fit(split.X_train, y)
    s = score(model, split.X_test, binary=binary)
    assert np.array_equal(s.y_pred, model.predict(split.X_test))
    if s.y_proba is not None:
        assert np.allclose(s.y_proba.sum(axis=1), 1)
    if binary:
        assert s.y_score is not None and s.y_score.shape == (len(split.X_test),)


class _DiesInFit(DummyClassifier):
    """A classifier whose worker process exits during fit, as an OOM-killed one would."""

    def fit(self, X, y, sample_weight=None):
        import os

        os._exit(9)


def test_dead_worker_is_worker_error(digits):
    """Check a worker process dying maps to WorkerError (exit 71), as BAD-INPUTS F6 asks."""
    from digitlab.exceptions import WorkerError

    with pytest.raises(WorkerError, match="worker process died") as e:
        cross_validate(_DiesInFit(), digits.X, digits.y, cv=2, n_jobs=2)
    assert e.value.exit_code == 71


_ORPHANED_POOL = r"""
import sys, time
import numpy as np
from sklearn.dummy import DummyClassifier
from digitlab.evaluation import cross_validate

class SleepsInFit(DummyClassifier):
    def fit(self, X, y, sample_weight=None):
        time.sleep(3600)

cross_validate(SleepsInFit(), np.zeros((30, 4), np.uint8), np.arange(30) % 3, cv=3, n_jobs=2)
"""


def test_workers_exit_when_their_parent_is_killed(tmp_path):
    """H10: SIGKILL a process whose CV workers are mid-fit: the workers and trackers stop within 10 s."""
    import signal
    import subprocess
    import sys
    import time

    psutil = pytest.importorskip("psutil")
    proc = subprocess.Popen([sys.executable, "-c", _ORPHANED_POOL], stderr=subprocess.DEVNULL)
    parent = psutil.Process(proc.pid)
    tree = []
    try:
        end = time.monotonic() + 120
        while len([p for p in tree if "popen_loky" in " ".join(p.cmdline())]) < 2:
            assert proc.poll() is None and time.monotonic() < end, "no 2 loky workers"
            time.sleep(0.1)
            tree = parent.children(recursive=True)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        gone, alive = psutil.wait_procs(tree, timeout=10)
        assert not alive, [p.cmdline() for p in alive]
    finally:
        for p in tree + [parent]:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()


def test_pool_is_reused_across_calls(digits):
    """The parent-watching initializer is the same each call, so loky keeps the same worker processes."""
    psutil = pytest.importorskip("psutil")

    def workers():
        return {p.pid for p in psutil.Process().children(recursive=True) if "popen_loky" in " ".join(p.cmdline())}

    cross_validate(make_model("dummy"), digits.X, digits.y, cv=2, n_jobs=2)
    first = workers()
    cross_validate(make_model("dummy"), digits.X, digits.y, cv=2, n_jobs=2)
    assert len(first) == 2 and workers() == first


@pytest.mark.torch
def test_cnn_folds_run_one_at_a_time(monkeypatch, digits):
    """§9: the CNN's fits each use torch threads on all cores, so its folds and final fit never
    run side by side, whatever n_jobs asks for; other models keep their worker pool."""
    pytest.importorskip("torch")
    import joblib

    asked = []

    class Recording(joblib.Parallel):
        def __init__(self, *args, **kwargs):
            asked.append(kwargs.get("n_jobs"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(joblib, "Parallel", Recording)
    split = digits.train_test(0.25, seed=0).limit(150)
    res = cross_validate(make_model("cnn", {"max_epochs": 1}), split.X_train, split.y_train, cv=2, n_jobs=4,
                         final=True)
    assert asked == [1] and len(res.scores) == 2 and res.final_model is not None
    cross_validate(make_model("logreg"), split.X_train, split.y_train, cv=2, n_jobs=2)
    assert asked == [1, 2]
