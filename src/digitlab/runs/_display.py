"""Jupyter's displays of a :class:`Run` and of the :class:`Runs` listing, from run.json's records."""

from __future__ import annotations

from .. import _html


def _fit_text(fit) -> str:
    if fit.seconds is None:
        return ""
    text = f"{fit.seconds:.2f} s"
    if fit.n_iter is not None:
        text += f", {fit.n_iter} iterations" + (f" of at most {fit.max_iter}" if fit.max_iter else "")
    if fit.converged is not None:
        text += ", converged" if fit.converged else ", did NOT converge"
    return text


def _params_text(params: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items()) or "defaults"


def run_html(run) -> str:
    i, m = run.info, run.info.metrics
    d, s = i.dataset, i.split
    # a detector's classes are ["not 5", "5"]: the last one is the detected class
    task = (f"detect {i.classes[-1] if i.classes else i.task.detect} (one class against the rest)"
            if run.is_binary else f"all {len(i.classes)} classes")
    facts = _html.facts([
        ("dataset", f"{d.name} ({s.n_train:,} train / {s.n_test:,} test; {s.how})"),
        ("task", task),
        ("model", f"{i.model.name}: {_params_text(i.model.params)}" + (" (raw pixels)" if i.model.raw_pixels else "")),
        ("fit", _fit_text(i.fit)),
        ("warnings", "; ".join(i.fit.warnings) if i.fit.warnings else None),
        ("created", i.created),
    ])
    rows = [["test accuracy", m.test_accuracy], ["train accuracy", m.train_accuracy]]
    if m.cv_scores:
        rows.append([f"CV accuracy ({len(m.cv_scores)} folds)", ", ".join(_html.num(v, 5) for v in m.cv_scores)])
        rows.append(["CV mean ± std", f"{_html.num(m.cv_mean)} ± {_html.num(m.cv_std)}"] if m.cv_std is not None
                    else ["CV mean", m.cv_mean])
    if m.dummy_cv_mean is not None:
        rows.append(["baseline (most frequent class), CV", m.dummy_cv_mean])
    if run.is_binary:
        rows += [["precision", m.precision], ["recall", m.recall], ["F1", m.f1], ["ROC AUC", m.roc_auc]]
        if m.threshold_at_target is not None:
            rows.append(["threshold (target precision)" if m.recall_at_target is not None else
                         "threshold (target recall)", _html.num(m.threshold_at_target, 2)])
            if m.recall_at_target is not None:
                rows.append(["recall at that threshold", m.recall_at_target])
            if m.precision_at_target is not None:
                rows.append(["precision at that threshold", m.precision_at_target])
    if i.search is not None:
        q = i.search
        rows.append([f"search: best {q.scoring} ({q.n_candidates} candidates)", q.best_score])
        rows.append(["search: best parameters", _html.esc(_params_text(q.best_params))])
    shown = [[_html.esc(k), v if isinstance(v, str) else _html.num(v)] for k, v in rows
             if v is not None and v != "–"]
    return _html.card(f"Run {run.id}", facts, _html.table(["metric", "value"], shown, raw_cells=True),
                      kind="digitlab-run")


COLUMNS = ["id", "dataset", "model", "task", "n_train", "accuracy", "cv_mean", "f1", "fit_seconds", "converged"]


def runs_html(runs) -> str:
    rows = [[_html.esc(s[c]) if isinstance(s[c], str) else _html.num(s[c]) for c in COLUMNS]
            for s in (r.summary() for r in runs)]
    bad = "".join(f'<div style="color:#a33">not usable: {_html.esc(b.id)} ({_html.esc(b.reason)})</div>'
                  for b in getattr(runs, "bad", ()))
    title = f"{len(runs)} run{'s' * (len(runs) != 1)}" + (f" in {runs.root}" if getattr(runs, "root", None) else "")
    return _html.card(title, _html.table(COLUMNS, rows, raw_cells=True) if rows else "", bad, kind="digitlab-runs")
