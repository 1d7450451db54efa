"""ErrorGalleryDisplay, ConfusedPairsDisplay and ProbaBarsDisplay on real predictions."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_rgba

from digitlab.evaluation.metrics import confusion
from digitlab.plots import ConfusedPairsDisplay, ErrorGalleryDisplay, ProbaBarsDisplay


@pytest.fixture(scope="module")
def arrays(digits_run):
    with np.load(digits_run.path / "predictions.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def test_images(digits_run):
    return digits_run.load_split().test.images


def test_error_gallery_shows_only_errors_most_confident_first(pyplot, arrays, test_images):
    """Check every image shown is misclassified, ordered by the probability of the wrong class."""
    y, p, proba = arrays["y_true"], arrays["y_pred"], arrays["y_proba"]
    disp = ErrorGalleryDisplay.from_predictions(test_images, y, p, y_proba=proba, max_images=8)
    assert disp.n_errors_total == int(np.sum(y != p))
    assert all(y[i] != p[i] for i in disp.indices)
    conf = proba[disp.indices, p[disp.indices]]
    assert np.all(np.diff(conf) <= 0) and np.array_equal(disp.confidence, conf)
    first = disp.indices[0]
    assert disp.axes_[0].get_title() == f"true {y[first]} → {p[first]} ({conf[0]:.2f})"
    assert np.array_equal(disp.axes_[0].images[0].get_array(), test_images[first])


def test_error_gallery_from_run(pyplot, digits_run, arrays):
    """Check from_run rebuilds the split and finds the same errors."""
    disp = ErrorGalleryDisplay.from_run(digits_run, max_images=5)
    assert len(disp.indices) == min(5, int(np.sum(arrays["y_true"] != arrays["y_pred"])))
    assert disp.figure_._suptitle.get_text().startswith("Misclassified test images")


def test_error_gallery_detector_ordered_by_score(pyplot, detector_run):
    """Check a detector without probabilities shows errors furthest from the threshold first."""
    with np.load(detector_run.path / "predictions.npz") as z:
        y, p, s = z["y_true"], z["y_pred"], z["y_score"]
    disp = ErrorGalleryDisplay.from_run(detector_run)
    assert all(y[i] != p[i] for i in disp.indices) and disp.confidence is None
    assert np.all(np.diff(np.abs(s[disp.indices])) <= 0)
    assert disp.axes_[0].get_title().startswith("true ")


def test_confused_pairs_rows_follow_confusion(pyplot, arrays, test_images):
    """Check each row is one of the largest off-diagonal cells, with examples of exactly that mistake."""
    y, p = arrays["y_true"], arrays["y_pred"]
    disp = ConfusedPairsDisplay.from_predictions(test_images, y, p, n_pairs=3, n_examples=4)
    cm = confusion(y, p, 10)
    for r, pair in enumerate(disp.pairs):
        assert cm[pair["true"], pair["pred"]] == pair["count"]
        assert disp.axes_[r, 0].get_ylabel() == f"true {pair['true']}\n→ {pair['pred']}\n({pair['count']}×)"
        idx = disp.example_indices[r]
        assert np.all(y[idx] == pair["true"]) and np.all(p[idx] == pair["pred"])
        assert len(disp.axes_[r, 0].images) == 1
    assert disp.axes_.shape == (3, 4)


def test_proba_bars_heights_are_probabilities(pyplot, arrays, test_images):
    """Check bars equal predict_proba rows; predicted class blue, wrong true class red."""
    y, proba = arrays["y_true"], arrays["y_proba"]
    disp = ProbaBarsDisplay.from_predictions(test_images, proba, y_true=y, classes=[str(i) for i in range(10)])
    assert disp.axes_.shape == (5, 2)
    wrong = [i for i in disp.indices if proba[i].argmax() != y[i]]
    assert len(wrong) == min(3, int(np.sum(proba.argmax(1) != y)))
    for r, i in enumerate(disp.indices):
        bars = disp.bars_[r]
        assert np.allclose([b.get_height() for b in bars], proba[i])
        pred = proba[i].argmax()
        assert bars[pred].get_facecolor() == to_rgba("tab:blue")
        if pred != y[i]:
            assert bars[y[i]].get_facecolor() == to_rgba("tab:red")
        assert [t.get_text() for t in disp.axes_[r, 1].get_xticklabels()] == [str(k) for k in range(10)]


def test_proba_bars_need_proba(pyplot, detector_run):
    """Check a model without predict_proba (SGD hinge) gives a clear error from from_run."""
    from digitlab.exceptions import DataError

    with pytest.raises(DataError, match="no 'y_proba' array"):
        ProbaBarsDisplay.from_run(detector_run)
