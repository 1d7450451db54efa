"""A run's evaluation files, ``eval.json`` and ``predictions.npz``: one loader, one writer.

Everything that shows a run (plots, the report, the web app, ``runs compare``) reads them through
:func:`load_result`, which checks what it reads: the JSON's field types (an eval.json may come
from anywhere), and that the arrays exist, agree in length and index the run's classes — so a
damaged file is one clear error (65), never a crash in a figure or a 500 in the web app.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from .._atomic import write_bytes, write_text
from .._files import MAX_ARRAY_BYTES, MAX_JSON_BYTES, open_input, read_input_bytes
from ..exceptions import DataError, InputMissingError
from ..runs import EVAL_FILE, PREDICTIONS_FILE, Run, resolve_run
from .result import EvalResult

# arrays of predictions.npz and the test/cv group each belongs to
TEST_ARRAYS = ("y_true", "y_pred", "y_proba", "y_score")
CV_ARRAYS = ("cv_y_true", "cv_pred", "cv_score", "cv_fold")


def as_run(run) -> Run:
    """A :class:`~digitlab.runs.Run` from a Run, run id, ``latest`` or folder path."""
    return run if isinstance(run, Run) else resolve_run(run)


def load_result(run, *, required: bool = True) -> EvalResult | None:
    """The :class:`EvalResult` a run stores, with its ``predictions.npz`` arrays.

    Parameters
    ----------
    run : Run, run id, ``"latest"`` or folder path
    required : bool, default=True
        If the run has not been evaluated: raise :class:`InputMissingError` (66), or return None.
    """
    run = as_run(run)
    path = run.path / EVAL_FILE
    if not path.exists():
        if not required:
            return None
        raise InputMissingError(f"{path}: run {run.id} has not been evaluated — run `digitlab evaluate {run.id}`")
    data = read_input_bytes(path, max_bytes=MAX_JSON_BYTES, what="evaluation")
    try:
        result = EvalResult.from_json(data)
    except (ValueError, RecursionError) as exc:
        raise DataError(f"{path}: invalid evaluation ({exc})") from None
    result.predictions = load_predictions(run, n_classes=len(result.classes))
    return result


def load_predictions(run, *, n_classes: int | None = None) -> dict:
    """The arrays of a run's ``predictions.npz`` (never unpickled), checked for consistency."""
    run = as_run(run)
    path = run.path / PREDICTIONS_FILE
    if not path.exists():
        raise InputMissingError(f"{path}: no predictions in run {run.id} — run `digitlab evaluate {run.id}`")
    with open_input(path, max_bytes=MAX_ARRAY_BYTES, what="predictions") as fh:
        try:
            with np.load(fh, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise DataError(f"{path}: unreadable predictions ({type(exc).__name__}: {exc})") from None
    _check_arrays(arrays, path, n_classes)
    return arrays


def _check_arrays(arrays: dict, path: Path, n_classes: int | None) -> None:
    def bad(msg):
        return DataError(f"{path}: invalid predictions ({msg})")

    for group in (TEST_ARRAYS, CV_ARRAYS):
        present = [k for k in group if k in arrays]
        if not present:
            continue
        truth, labels = group[0], group[1]
        if truth not in arrays or labels not in arrays:
            raise bad(f"{', '.join(present)} without {truth} and {labels}")
        n = len(arrays[truth]) if arrays[truth].ndim else -1
        for k in present:
            a = arrays[k]
            if a.ndim == 0 or len(a) != n or a.dtype.kind not in "biuf":
                raise bad(f"{k} has shape {a.shape} and dtype {a.dtype}, expected {n} numbers")
        for k in (truth, labels):
            a = arrays[k]
            if a.ndim != 1 or a.dtype.kind not in "biu" or (n and (a.min() < 0 or (
                    n_classes is not None and a.max() >= n_classes))):
                raise bad(f"{k} must hold class indices 0–{(n_classes or 1) - 1}")
    proba = arrays.get("y_proba")
    if proba is not None and (proba.ndim != 2 or (n_classes is not None and proba.shape[1] != n_classes)):
        raise bad(f"y_proba has shape {proba.shape}, expected (n, {n_classes})")
    if "y_true" not in arrays:
        raise bad("no y_true/y_pred")


def write_result(folder: Path, result: EvalResult) -> None:
    """Write ``eval.json`` and ``predictions.npz`` into *folder* (each atomically)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **(result.predictions or {}))
    write_bytes(Path(folder) / PREDICTIONS_FILE, buf.getvalue())
    write_text(Path(folder) / EVAL_FILE, result.to_json())
