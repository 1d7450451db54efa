"""What the Displays' ``from_run`` constructors read: a run's stored evaluation (one loader:
:func:`digitlab.evaluation.store.load_result`) and its test images."""

from __future__ import annotations

import os

from ..evaluation.store import as_run, load_result
from ..exceptions import DataError
from ..runs import PREDICTIONS_FILE

__all__ = ["as_run", "load_result", "require", "detector_curve_data", "test_images"]


def require(arrays: dict, key: str, run, what: str):
    if key not in arrays:
        path = os.path.join(str(as_run(run).path), PREDICTIONS_FILE)
        raise DataError(f"{path}: has no {key!r} array, needed for {what}")
    return arrays[key]


def detector_curve_data(run, what: str):
    """A detector run's ``(y_true, y_score, where, result, detector)`` for its curves.

    The scores are the cross-validated ones on the training set when the evaluation had CV (the
    notebooks' curves), else the test set's; *what* names the figure in error messages.
    """
    run = as_run(run)
    result = load_result(run)
    arrays, det = result.predictions, result.detector or {}
    if det.get("source") == "cv":
        y_true, y_score = arrays["cv_y_true"], require(arrays, "cv_score", run, what)
        where = "cross-validated, training set"
    else:
        y_true, y_score = arrays["y_true"], require(arrays, "y_score", run, what)
        where = "test set"
    return y_true, y_score, where, result, det


def test_images(run, split=None):
    """Test images of the run's split (rebuilt from run.json unless *split* is given)."""
    run = as_run(run)
    split = split if split is not None else run.load_split()
    return split.test.images
