"""Detector curves: precision/recall vs threshold, PR curve and ROC curve with the chosen point."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve, roc_auc_score

from digitlab.plots import PrecisionRecallDisplay, PrecisionRecallThresholdDisplay, RocCurveDisplay


@pytest.fixture(scope="module")
def cv_scores(detector_run):
    with np.load(detector_run.path / "predictions.npz") as z:
        ev = json.loads((detector_run.path / "eval.json").read_text())
        return z["cv_y_true"], z["cv_score"], ev["detector"]["target"]


@pytest.mark.parametrize("constructor", ["from_predictions", "from_run"])
def test_threshold_display_draws_both_curves(pyplot, detector_run, cv_scores, constructor):
    """Check the lines hold precision_recall_curve's data and the threshold line sits at the target."""
    y, s, target = cv_scores
    if constructor == "from_run":
        disp = PrecisionRecallThresholdDisplay.from_run(detector_run)
    else:
        disp = PrecisionRecallThresholdDisplay.from_predictions(y, s, target=target)
    p, r, t = precision_recall_curve(y, s)
    assert np.array_equal(disp.line_precision_.get_xdata(), t)
    assert np.array_equal(disp.line_precision_.get_ydata(), p[:-1])
    assert np.array_equal(disp.line_recall_.get_ydata(), r[:-1])
    assert disp.line_threshold_.get_xdata()[0] == target["threshold"]
    assert disp.ax_.get_xlabel() == "Threshold (decision score)"
    assert [t.get_text() for t in disp.ax_.get_legend().get_texts()][:2] == ["Precision", "Recall"]


def test_threshold_display_without_target(pyplot, cv_scores):
    """Check no threshold line is drawn without a target."""
    y, s, _ = cv_scores
    disp = PrecisionRecallThresholdDisplay.from_predictions(y, s)
    assert disp.line_threshold_ is None and disp.figure_ is disp.ax_.figure


def test_pr_curve_marks_target(pyplot, detector_run, cv_scores):
    """Check the PR curve from a run marks the precision/recall reached at the threshold."""
    _, _, target = cv_scores
    disp = PrecisionRecallDisplay.from_run(detector_run)
    assert disp.target_line_.get_xdata()[0] == target["recall"]
    assert disp.target_line_.get_ydata()[0] == target["precision"]
    assert disp.ax_.get_xlabel().startswith("Recall") and "cross-validated" in disp.ax_.get_title()


def test_pr_curve_replot_keeps_marker(pyplot, cv_scores):
    """Check plot() on new axes draws the marker again (Display pattern: plot is repeatable)."""
    y, s, target = cv_scores
    disp = PrecisionRecallDisplay.from_predictions(y, s, target=target)
    _, ax = pyplot.subplots()
    disp.plot(ax=ax)
    assert disp.ax_ is ax and disp.target_line_.axes is ax


def test_roc_from_run(pyplot, detector_run, cv_scores):
    """Check the ROC curve's AUC and the marked point's true-positive rate at the threshold."""
    y, s, target = cv_scores
    disp = RocCurveDisplay.from_run(detector_run)
    assert disp.roc_auc == pytest.approx(roc_auc_score(y, s))
    fpr, tpr = disp.point_
    assert tpr == pytest.approx(target["recall"])
    assert fpr == pytest.approx(np.mean(s[y == 0] >= target["threshold"]))
    assert disp.ax_.get_xlabel().startswith("False Positive Rate")
