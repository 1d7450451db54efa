"""ConfusionMatrixDisplay: scikit-learn's, with errors-only and from_run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from digitlab.plots import ConfusionMatrixDisplay


@pytest.fixture(scope="module")
def preds(digits_run):
    with np.load(digits_run.path / "predictions.npz") as z:
        return z["y_true"], z["y_pred"]


def test_counts_are_sklearns(pyplot, preds):
    """Check the counts drawn are sklearn's matrix, with sklearn's axis labels."""
    y_true, y_pred = preds
    disp = ConfusionMatrixDisplay.from_predictions(y_true, y_pred, title="counts")
    assert np.array_equal(disp.im_.get_array(), confusion_matrix(y_true, y_pred))
    assert disp.ax_.get_xlabel() == "Predicted label" and disp.ax_.get_ylabel() == "True label"
    assert disp.ax_.get_title() == "counts"


def test_errors_only_zeroes_diagonal_and_normalises_rows(pyplot, preds):
    """Check errors_only: share of each true class, diagonal 0, percentages in the cells."""
    y_true, y_pred = preds
    labels = np.arange(10)
    disp = ConfusionMatrixDisplay.from_predictions(y_true, y_pred, labels=labels, errors_only=True)
    shown = np.asarray(disp.im_.get_array())
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    assert np.all(np.diag(shown) == 0)
    assert np.allclose(shown.sum(axis=1), 1 - np.diag(cm) / cm.sum(axis=1))
    assert disp.text_[0, 0].get_text() == "0.0%"
    assert [t.get_text() for t in disp.ax_.get_xticklabels()] == [str(i) for i in range(10)]
    disp.figure_.canvas.draw()
    bar = [t.get_text() for t in disp.im_.colorbar.ax.get_yticklabels() if t.get_text()]
    assert bar and all(t.endswith("%") for t in bar), bar  # the colour bar in the cells' unit


@pytest.mark.parametrize("source", ["cv", "test"])
def test_from_run(pyplot, digits_run, source):
    """Check from_run reads the run's cross-validated or test predictions and class names."""
    disp = ConfusionMatrixDisplay.from_run(digits_run, source=source)
    ev = json.loads((digits_run.path / "eval.json").read_text())
    key = "cv_confusion_matrix" if source == "cv" else "confusion_matrix"
    assert disp.im_.get_array().tolist() == ev[key]
    assert ("cross-validated" in disp.ax_.get_title()) == (source == "cv")


def test_from_run_detector_labels(pyplot, detector_run):
    """Check a detector's matrix is labelled with its task classes."""
    disp = ConfusionMatrixDisplay.from_run(detector_run)
    assert [t.get_text() for t in disp.ax_.get_yticklabels()] == ["not 5", "5"]


def test_from_run_without_evaluation(pyplot, digits_run, run_copy):
    """Check a run without predictions.npz names the file and the fix."""
    from digitlab.exceptions import InputMissingError

    run = run_copy(digits_run)
    (run.path / "predictions.npz").unlink()
    with pytest.raises(InputMissingError, match="digitlab evaluate"):
        ConfusionMatrixDisplay.from_run(run)
