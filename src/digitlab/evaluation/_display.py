"""Jupyter's display of an :class:`~digitlab.evaluation.EvalResult`: scores, per-class table,
confusion matrices (the test set's, and the cross-validated one the notebooks show)."""

from __future__ import annotations

from .. import _html


def eval_html(r) -> str:
    rows = [["test accuracy", r.test_accuracy], ["train accuracy", r.train_accuracy]]
    if r.cv_scores:
        rows.append([f"CV accuracy ({len(r.cv_scores)} folds)", ", ".join(_html.num(v, 5) for v in r.cv_scores)])
        rows.append(["CV mean", r.cv_mean])
    if r.dummy_cv_scores:
        rows.append(["baseline (most frequent class), CV", ", ".join(_html.num(v, 5) for v in r.dummy_cv_scores)])
    d = r.detector or {}
    if d:
        where = "cross-validated" if d.get("source") == "cv" else "test set"
        rows += [[f"precision ({where})", d.get("precision")], [f"recall ({where})", d.get("recall")],
                 [f"F1 ({where})", d.get("f1")], ["ROC AUC", d.get("roc_auc")],
                 ["average precision", d.get("average_precision")]]
        t = d.get("target") or {}
        if t.get("reached"):
            rows.append([f"threshold for {t['metric']} ≥ {t['target']:g}", _html.num(t.get("threshold"), 2)])
            rows.append(["precision / recall there", f"{_html.num(t.get('precision'))} / {_html.num(t.get('recall'))}"])
        elif t:
            rows.append([f"threshold for {t.get('metric')} ≥ {t.get('target')}", "not reached"])
    shown = [[_html.esc(k), v if isinstance(v, str) else _html.num(v)] for k, v in rows if v is not None]
    parts = [_html.facts([("task", "detect " + r.classes[-1] if r.is_binary and r.classes else
                                   f"{len(r.classes)} classes"),
                          ("images", f"{r.n_train:,} train / {r.n_test:,} test")]),
             _html.table(["score", "value"], shown, raw_cells=True)]
    if r.cv_confusion_matrix:
        parts.append(_html.confusion(r.cv_confusion_matrix, r.classes,
                                     caption="confusion matrix of the cross-validated predictions (training set)"))
    if r.confusion_matrix:
        parts.append(_html.confusion(r.confusion_matrix, r.classes, caption="confusion matrix on the test set"))
    if r.per_class:
        table = _html.table(["class", "precision", "recall", "F1", "support"],
                            [[p.get("class"), p.get("precision"), p.get("recall"), p.get("f1"), p.get("support")]
                             for p in r.per_class])
        parts.append(table if len(r.per_class) <= 10 else _html.details("per-class scores", table))
    return _html.card("Evaluation", *parts, kind="digitlab-eval")
