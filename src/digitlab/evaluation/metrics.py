"""Metrics of one evaluation: confusion matrices, per-class scores, detector thresholds.

Pure functions of labels and scores (no estimators), so the report and the Displays can recompute
any of them from ``predictions.npz``. Class labels are task class indices ``0..n_classes-1``.
"""

from __future__ import annotations

import numpy as np


def confusion(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Counts: row = true class, column = predicted class (scikit-learn's convention).

    Returns
    -------
    ndarray of shape (n_classes, n_classes), dtype=int64
    """
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=np.arange(n_classes)).astype(np.int64)


def confusion_errors(cm) -> np.ndarray:
    """Row-normalised confusion matrix with the diagonal zeroed: only the errors remain.

    Entry ``(i, j)`` is the share of class *i* images predicted as *j*; rows of absent classes
    are 0. This is the book's "focus on the errors" plot.
    """
    cm = np.asarray(cm, dtype=np.float64)
    rows = cm.sum(axis=1, keepdims=True)
    out = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    np.fill_diagonal(out, 0.0)
    return out


def per_class(y_true, y_pred, classes) -> list[dict]:
    """Precision, recall, F1 and support of every class (0 where undefined, without warnings)."""
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=np.arange(len(classes)),
                                                 zero_division=0)
    return [{"class": str(c), "precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
             "support": int(s[i])} for i, c in enumerate(classes)]


def detector_scores(y_true, y_pred, y_score=None) -> dict:
    """Precision, recall and F1 of the positive class; ROC AUC and average precision from scores."""
    from sklearn.metrics import (
        average_precision_score,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    out = {
        "precision": float(precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
        "roc_auc": None,
        "average_precision": None,
    }
    if y_score is not None and len(np.unique(y_true)) == 2:  # both classes needed for a curve
        out["roc_auc"] = float(roc_auc_score(y_true, y_score))
        out["average_precision"] = float(average_precision_score(y_true, y_score))
    return out


def threshold_at(y_true, y_score, *, precision: float | None = None, recall: float | None = None) -> dict:
    """The decision threshold that reaches a target precision (or recall), as the notebooks find it.

    For a precision target this is the lowest threshold whose precision is at least the target
    (``thresholds[(precisions >= 0.90).argmax()]``); for a recall target, the highest threshold
    whose recall is still at least the target. Precision and recall are then measured on
    ``y_score >= threshold``.

    Returns
    -------
    dict
        ``metric`` ("precision" or "recall"), ``target``, ``threshold``, ``precision``, ``recall``,
        ``reached`` (False when no threshold reaches the target; the other values are then None).
    """
    from sklearn.metrics import precision_recall_curve, precision_score, recall_score

    if (precision is None) == (recall is None):
        raise ValueError("threshold_at: give exactly one of precision= or recall=")
    metric, target = ("precision", precision) if precision is not None else ("recall", recall)
    out = {"metric": metric, "target": float(target), "threshold": None, "precision": None,
           "recall": None, "reached": False}
    y_true = np.asarray(y_true)
    if not y_true.any():
        return out
    precisions, recalls, thresholds = precision_recall_curve(y_true, y_score)
    # The curves have one more point than thresholds (precision 1, recall 0 at "infinity").
    if metric == "precision":
        hits = np.flatnonzero(precisions[:-1] >= target)
        if not len(hits):
            return out
        idx = hits[0]
    else:
        hits = np.flatnonzero(recalls[:-1] >= target)
        if not len(hits):
            return out
        idx = hits[-1]
    thr = thresholds[idx]
    y_at = np.asarray(y_score) >= thr
    out.update(threshold=float(thr), reached=True,
               precision=float(precision_score(y_true, y_at, zero_division=0)),
               recall=float(recall_score(y_true, y_at, zero_division=0)))
    return out


def confused_pairs(cm, k: int = 5) -> list[dict]:
    """The *k* largest off-diagonal cells: ``[{"true": i, "pred": j, "count": n, "share": n/row}]``.

    Ties are broken by (true, pred) order so the list is deterministic.
    """
    cm = np.asarray(cm)
    rows = cm.sum(axis=1)
    cells = [(-int(cm[i, j]), i, j) for i in range(cm.shape[0]) for j in range(cm.shape[1])
             if i != j and cm[i, j] > 0]
    cells.sort()
    return [{"true": i, "pred": j, "count": -c, "share": float(-c / rows[i])} for c, i, j in cells[:k]]
