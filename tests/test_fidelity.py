"""digitlab reproduces the published notebooks' numbers exactly, through its own code path.

Notebook settings: raw pixels 0–255 (float64 there; digitlab keeps uint8, which the estimators
convert to the same float64 values), the first 60,000 images as training set, ``cv=3``
(``StratifiedKFold(3)`` without shuffling). digitlab fits each fold once, where the notebooks fit
three times; equal numbers prove the shortcut changes nothing.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import digitlab
from digitlab.models import make_model


@pytest.fixture(scope="module")
def canonical(mnist):
    split = mnist.train_test()
    assert (len(split.train), len(split.test)) == (60_000, 10_000)
    return split


@pytest.mark.slow
def test_sgd_five_detector_matches_notebook(canonical, mnist, tmp_path):
    """SGDClassifier(random_state=42) 5-detector: CV accuracy, confusion, P/R/F1, threshold, AUC, dummy."""
    run = digitlab.train(mnist, "sgd", detect=5, raw_pixels=True, runs_dir=tmp_path)
    m = run.metrics()
    assert [round(s, 5) for s in m["cv_scores"]] == [0.95035, 0.96035, 0.9604]
    ev = json.loads((run.path / "eval.json").read_text())
    assert ev["cv_confusion_matrix"] == [[53892, 687], [1891, 3530]]
    assert (round(m["precision"], 4), round(m["recall"], 4), round(m["f1"], 4)) == (0.8371, 0.6512, 0.7325)
    assert round(m["threshold_at_target"], 2) == 3370.02
    assert round(m["recall_at_target"], 4) == 0.4800
    assert ev["detector"]["target"]["precision"] >= 0.9
    assert round(m["roc_auc"], 4) == 0.9605
    # the "never 5" baseline: 90.965% in every fold
    assert [round(s, 5) for s in ev["dummy_cv_scores"]] == [0.90965] * 3
    # one fit per fold, and the out-of-fold scores the threshold came from are stored
    assert len(ev["timings"]["cv_fit_seconds"]) == 3
    with np.load(run.path / "predictions.npz") as z:
        assert z["cv_score"].shape == (60_000,)
        assert np.array_equal(z["cv_pred"], (z["cv_score"] > 0).astype(np.int64))


@pytest.mark.slow
def test_logreg_two_detector_matches_notebook(canonical):
    """LogisticRegression(tol=0.1) 2-detector: CV accuracy [0.97705, 0.97765, 0.98015]."""
    from sklearn.linear_model import LogisticRegression

    # LogisticRegression(tol=0.1) spelled out: digitlab's logreg defaults differ (C=0.1, ...), and
    # naming scikit-learn's solver selects scikit-learn's estimator
    model = make_model("logreg", {"C": 1.0, "max_iter": 100, "tol": 0.1, "solver": "lbfgs"}, raw_pixels=True)
    assert type(model[-1]) is LogisticRegression and model[-1].get_params() == LogisticRegression(tol=0.1).get_params()
    model.fit(canonical.X_train, canonical.y_train == 2)
    result = digitlab.evaluate(model, canonical, detect=2)
    assert [round(s, 5) for s in result.cv_scores] == [0.97705, 0.97765, 0.98015]
    assert result.classes == ["not 2", "2"]


@pytest.mark.parametrize("seed", [0, 1])
def test_digits_saga_logreg_in_notebook_range(digits, seed):
    """digits, LogisticRegression(C=50, solver='saga', max_iter=10000), 25% unstratified test split."""
    split = digits.train_test(0.25, seed=0, stratify=False)  # train_test_split(..., random_state=0)
    model = make_model("logreg", {"C": 50, "solver": "saga", "max_iter": 10000, "random_state": seed},
                       raw_pixels=True).fit(split.X_train, split.y_train)
    result = digitlab.evaluate(model, split, cv=0)
    # saga visits samples in random order; the notebook's result moves within these digits
    assert 0.953 <= result.test_accuracy <= 0.956
    assert result.test_accuracy == pytest.approx(model.score(split.X_test, split.y_test), abs=0)
