"""Metric helpers on real predictions (digits, an MNIST subset)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_curve, precision_score, recall_score

from digitlab.evaluation import metrics as M
from digitlab.models import make_model


@pytest.fixture(scope="module")
def digits_pred(digits):
    split = digits.train_test(0.25, seed=0)
    model = make_model("logreg").fit(split.X_train, split.y_train)
    return split.y_test, model.predict(split.X_test)


@pytest.fixture(scope="module")
def five_scores(mnist_small):
    """Decision scores of the notebooks' SGD 5-detector on a 3,000-image MNIST subset."""
    model = make_model("sgd", raw_pixels=True).fit(mnist_small.X_train, mnist_small.y_train == 5)
    return mnist_small.y_test == 5, model.decision_function(mnist_small.X_test)


def test_confusion_matches_sklearn_and_counts_every_image(digits_pred):
    """Check counts: sklearn's layout, every class present, total = number of images."""
    y_true, y_pred = digits_pred
    cm = M.confusion(y_true, y_pred, 10)
    assert cm.shape == (10, 10) and cm.sum() == len(y_true)
    assert np.array_equal(cm, confusion_matrix(y_true, y_pred))
    assert np.array_equal(cm.sum(axis=1), np.bincount(y_true, minlength=10))


def test_confusion_errors_is_row_share_without_diagonal(digits_pred):
    """Check the errors-only matrix: zero diagonal, rows add up to each class's error rate."""
    y_true, y_pred = digits_pred
    cm = M.confusion(y_true, y_pred, 10)
    err = M.confusion_errors(cm)
    assert np.all(np.diag(err) == 0)
    for i in range(10):
        rate = np.mean(y_pred[y_true == i] != i)
        assert err[i].sum() == pytest.approx(rate)


def test_confusion_errors_absent_class_row_is_zero():
    """Check a class without images gives a zero row, not NaN."""
    err = M.confusion_errors([[3, 1, 0], [0, 0, 0], [1, 0, 2]])
    assert np.array_equal(err[1], [0, 0, 0])
    assert np.isfinite(err).all()


def test_per_class_recall_is_diagonal_share(digits_pred):
    """Check per-class recall and support read off the confusion matrix."""
    y_true, y_pred = digits_pred
    cm = M.confusion(y_true, y_pred, 10)
    rows = M.per_class(y_true, y_pred, [str(i) for i in range(10)])
    assert [r["support"] for r in rows] == cm.sum(axis=1).tolist()
    for i, r in enumerate(rows):
        assert r["recall"] == pytest.approx(cm[i, i] / cm[i].sum())
        assert r["precision"] == pytest.approx(cm[i, i] / cm[:, i].sum())


def test_threshold_at_precision_follows_notebook_recipe(five_scores):
    """Check the threshold is the notebooks' ``thresholds[(precisions >= 0.90).argmax()]``."""
    y, s = five_scores
    precisions, recalls, thresholds = precision_recall_curve(y, s)
    expected = thresholds[(precisions >= 0.90).argmax()]
    t = M.threshold_at(y, s, precision=0.9)
    assert t["reached"] and t["threshold"] == expected
    assert t["precision"] == precision_score(y, s >= expected) >= 0.9
    assert t["recall"] == recall_score(y, s >= expected)
    # the lowest such threshold: one step lower falls short of the target
    lower = thresholds[thresholds < expected].max()
    assert precision_score(y, s >= lower) < 0.9


def test_threshold_at_recall_is_highest_keeping_target(five_scores):
    """Check a recall target gives the highest threshold whose recall still reaches it."""
    y, s = five_scores
    t = M.threshold_at(y, s, recall=0.8)
    assert t["metric"] == "recall" and t["reached"]
    assert t["recall"] >= 0.8
    higher = np.unique(s[s > t["threshold"]]).min()
    assert recall_score(y, s >= higher) < 0.8


def test_threshold_at_unreachable_target():
    """Check a precision no threshold reaches is reported as not reached."""
    t = M.threshold_at([0, 1, 0, 1], [4.0, 3.0, 2.0, 1.0], precision=0.9)
    assert t["reached"] is False and t["threshold"] is None


def test_threshold_at_needs_exactly_one_target():
    """Check asking for both targets (or none) is refused."""
    with pytest.raises(ValueError, match="exactly one"):
        M.threshold_at([0, 1], [0.1, 0.9], precision=0.9, recall=0.9)


def test_detector_scores_on_real_scores(five_scores):
    """Check precision/recall/F1 of the positive class and a ROC AUC well above chance."""
    y, s = five_scores
    d = M.detector_scores(y, s > 0, s)
    p, r = precision_score(y, s > 0), recall_score(y, s > 0)
    assert (d["precision"], d["recall"]) == (p, r)
    assert d["f1"] == pytest.approx(2 * p * r / (p + r))
    assert 0.9 < d["roc_auc"] <= 1


def test_confused_pairs_are_largest_off_diagonal_cells(digits_pred):
    """Check the pairs are sorted by count and are off-diagonal cells of the matrix."""
    y_true, y_pred = digits_pred
    cm = M.confusion(y_true, y_pred, 10)
    pairs = M.confused_pairs(cm, 4)
    counts = [p["count"] for p in pairs]
    assert counts == sorted(counts, reverse=True)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    assert counts[0] == off.max()
    for p in pairs:
        assert p["true"] != p["pred"] and cm[p["true"], p["pred"]] == p["count"]
