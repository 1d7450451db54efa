"""What ``from_run`` constructors read: a run's ``predictions.npz`` and ``eval.json``."""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from .._files import MAX_ARRAY_BYTES, MAX_JSON_BYTES, open_input, read_input_bytes
from ..exceptions import DataError, InputMissingError

PREDICTIONS_FILE = "predictions.npz"
EVAL_FILE = "eval.json"


def as_run(run):
    """A :class:`~digitlab.runs.Run` from a Run, run id, ``latest`` or folder path."""
    from ..runs import Run, resolve_run

    return run if isinstance(run, Run) else resolve_run(run)


def load_predictions(run) -> dict:
    """The arrays of ``predictions.npz`` (never unpickled)."""
    run = as_run(run)
    path = run.path / PREDICTIONS_FILE
    if not path.exists():
        raise InputMissingError(f"{path}: no predictions in run {run.id} — run `digitlab evaluate {run.id}`")
    with open_input(path, max_bytes=MAX_ARRAY_BYTES, what="predictions") as fh:
        try:
            with np.load(fh, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise DataError(f"{path}: unreadable predictions ({exc})") from None


def load_eval(run) -> dict:
    run = as_run(run)
    path = run.path / EVAL_FILE
    if not path.exists():
        raise InputMissingError(f"{path}: run {run.id} has not been evaluated — run `digitlab evaluate {run.id}`")
    data = read_input_bytes(path, max_bytes=MAX_JSON_BYTES, what="evaluation")
    try:
        return json.loads(data)
    except ValueError as exc:
        raise DataError(f"{path}: unreadable evaluation ({exc})") from None


def require(arrays: dict, key: str, run, what: str):
    if key not in arrays:
        path = os.path.join(str(as_run(run).path), PREDICTIONS_FILE)
        raise DataError(f"{path}: has no {key!r} array, needed for {what}")
    return arrays[key]


def detector_curve_data(run, what: str):
    """A detector run's ``(y_true, y_score, where, eval, detector)`` for its curves.

    The scores are the cross-validated ones on the training set when the evaluation had CV (the
    notebooks' curves), else the test set's; *what* names the figure in error messages.
    """
    run = as_run(run)
    arrays, ev = load_predictions(run), load_eval(run)
    det = ev.get("detector") or {}
    if det.get("source") == "cv":
        y_true, y_score = arrays["cv_y_true"], require(arrays, "cv_score", run, what)
        where = "cross-validated, training set"
    else:
        y_true, y_score = arrays["y_true"], require(arrays, "y_score", run, what)
        where = "test set"
    return y_true, y_score, where, ev, det


def test_images(run, split=None):
    """Test images of the run's split (rebuilt from run.json unless *split* is given)."""
    run = as_run(run)
    split = split if split is not None else run.load_split()
    return split.test.images
