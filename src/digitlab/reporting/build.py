"""Build one HTML file that reads like a good notebook of one or more runs.

The report only renders: it reads ``run.json``, ``eval.json`` and ``figures/*.png`` from run
folders and never refits or re-predicts. Templates autoescape, so run names or file names with
HTML in them are shown, not executed.
"""

from __future__ import annotations

import base64
import html
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from .._atomic import check_output, write_text
from .._files import MAX_IMAGE_BYTES, read_input_bytes
from ..evaluation.result import EvalResult
from ..runs import Run, resolve_run


@dataclass
class Section:
    """A block of the report: heading, plain-language text, tables and figures.

    ``tables``: ``[{"caption", "columns", "rows", "note"}]``; ``figures``:
    ``[{"src" (data URL) or "path", "title", "caption"}]``; ``facts``: ``[(label, value)]``.
    """

    title: str
    text: str = ""
    anchor: str = ""
    facts: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    subsections: list = field(default_factory=list)


def data_url(path) -> str:
    data = read_input_bytes(path, max_bytes=MAX_IMAGE_BYTES, what="figure")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _f(v, digits=4):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _scores_table(run: Run, ev: EvalResult | None) -> dict:
    m = run.info.metrics
    rows = []
    if m.test_accuracy is not None:
        rows.append(("Test accuracy", _f(m.test_accuracy), "share of the held-out test images classified correctly"))
    if m.train_accuracy is not None:
        rows.append(("Train accuracy", _f(m.train_accuracy), "on the images the model was fitted on; far above test means overfitting"))
    if m.cv_scores:
        folds = ", ".join(f"{s:.5f}" for s in m.cv_scores)
        rows.append((f"{len(m.cv_scores)}-fold CV accuracy", f"[{folds}]",
                     f"mean {_f(m.cv_mean, 5)}; each fold trained on the rest of the training set"))
    if m.dummy_cv_mean is not None:
        rows.append(("Baseline (most frequent class)", _f(m.dummy_cv_mean, 5),
                     "what always answering the most common class scores on the same folds"))
    for key, label, note in (("precision", "Precision", "of the images it flags, the share that really are positive"),
                             ("recall", "Recall", "of the real positives, the share it finds"),
                             ("f1", "F1", "harmonic mean of precision and recall"),
                             ("roc_auc", "ROC AUC", "chance a random positive scores above a random negative")):
        if getattr(m, key) is not None:
            rows.append((label, _f(getattr(m, key)), note))
    if m.threshold_at_target is not None:
        t = ((ev.detector if ev is not None else None) or {}).get("target") or {}
        goal = f"{t['metric']} ≥ {t['target']:g}" if t.get("metric") and t.get("target") is not None else "the target"
        by_recall = m.recall_at_target is not None
        rows.append((f"Threshold for {goal}", _f(m.threshold_at_target, 2),
                     f"raising the decision threshold to here gives {'recall' if by_recall else 'precision'} "
                     f"{_f(m.recall_at_target if by_recall else m.precision_at_target)}"))
    return {"caption": "Scores", "columns": ["metric", "value", "what it means"], "rows": rows}


def _matrix_table(matrix, classes, caption, note="") -> dict:
    rows = [[f"true {c}", *[f"{int(v):,}" for v in row]] for c, row in zip(classes, matrix)]
    return {"caption": caption, "columns": ["", *[f"pred {c}" for c in classes]], "rows": rows, "note": note}


def run_section(run: Run, *, title: str | None = None, text: str = "") -> Section:
    """The report section of one run: data, model, scores, tables and its figures."""
    from ..evaluation import load_result
    from ..plots.figure_set import read_index

    info = run.info
    ev = load_result(run, required=False)
    d, s, mdl, fit = info.dataset, info.split, info.model, info.fit
    task = "all classes" if not run.is_binary else f"detector: is it a {d.classes[run.detect]}?"
    params = ", ".join(f"{k}={v}" for k, v in mdl.params.items()) or "defaults"
    conv = "yes" if fit.converged else "NO — more iterations or a larger tol needed"
    facts = [
        ("Dataset", f"{d.name} ({'checksums verified' if d.verified else 'checksums recorded'})"),
        ("Split", f"{s.how}: {s.n_train:,} train / {s.n_test:,} test"),
        ("Task", task),
        ("Model", f"{mdl.name}: {mdl.estimator}"),
        ("Parameters", params + ("; raw 0–255 pixels" if mdl.raw_pixels else "; pixels scaled to [0, 1]")),
        ("Fit", (f"{fit.seconds:.2f} s" if fit.seconds is not None else "–")
         + (f", {fit.n_iter} iterations" if fit.n_iter is not None else "") + f"; converged: {conv}"),
        ("Run", run.id),
    ]
    tables = [_scores_table(run, ev)]
    figures = []
    if ev is not None:
        if run.is_binary and ev.cv_confusion_matrix:
            tables.append(_matrix_table(ev.cv_confusion_matrix, run.classes,
                                        "Confusion matrix of the cross-validated predictions (training set)",
                                        "rows are the true class, columns the prediction"))
        elif ev.confusion_matrix:
            tables.append(_matrix_table(ev.confusion_matrix, run.classes, "Confusion matrix (test set)",
                                        "rows are the true class, columns the prediction"))
        if ev.per_class and not run.is_binary:
            tables.append({"caption": "Per-class scores (test set)",
                           "columns": ["class", "precision", "recall", "F1", "support"],
                           "rows": [[str(r.get("class")), _f(r.get("precision")), _f(r.get("recall")),
                                     _f(r.get("f1")), f"{int(r.get('support') or 0):,}"] for r in ev.per_class]})
        for fig in read_index(run):
            path = _inside(run.path, fig["file"])
            if path is not None:
                figures.append({"src": data_url(path), "title": fig["title"], "caption": fig["caption"]})
    else:
        text = (text + " " if text else "") + "This run has not been evaluated (trained with --no-eval): run `digitlab evaluate` for scores and figures."
    return Section(title=title or f"{mdl.name} on {d.name} — {task}", text=text, anchor=run.id,
                   facts=facts, tables=tables, figures=figures)


def _inside(folder: Path, name: str) -> Path | None:
    """*folder*/*name* if it is a PNG file inside *folder* (a figure index may come from anywhere)."""
    path = (folder / name).resolve()
    root = folder.resolve()
    if path.suffix.lower() != ".png" or root not in path.parents or not path.is_file():
        return None
    return path


def comparison_table(runs: list[Run]) -> dict:
    rows = []
    for r in runs:
        s = r.summary()
        rows.append([s["model"], s["dataset"], s["task"], f"{s['n_train']:,}", _f(s["accuracy"]),
                     _f(s["cv_mean"]), _f(s["f1"]), _f(s["fit_seconds"], 2)])
    return {"caption": "Runs side by side", "columns": ["model", "dataset", "task", "train images",
            "test accuracy", "CV mean", "F1", "fit seconds"], "rows": rows}


def render(sections: list[Section], *, title: str, intro: str = "", versions: dict | None = None) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("digitlab.reporting", "templates"),
        autoescape=True, trim_blocks=True, lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(
        title=title, intro=intro, sections=sections, versions=versions or {},
        created=time.strftime("%Y-%m-%d %H:%M"), digitlab_version=__version__,
    )


def report(runs, out="report.html", *, title: str | None = None, intro: str = "",
           sections: list[Section] | None = None, runs_dir=None) -> Path:
    """Write one self-contained HTML report of *runs* (ids, paths or :class:`Run` objects).

    Parameters
    ----------
    runs : list of str or Run
    out : path-like, default="report.html"
        ``-`` writes to standard output; a device or FIFO is written through.
    title : str, default=None
    intro : str, default=""
        A paragraph under the title.
    sections : list of Section, default=None
        Extra sections placed before the runs (the study adds its dataset overview here).

    Returns
    -------
    pathlib.Path of the written file (written atomically).
    """
    check_output(out)  # a symlink, a folder or a socket is refused before any work (H4)
    rs = [r if isinstance(r, Run) else resolve_run(r, runs_dir) for r in runs]
    body = list(sections or [])
    if len(rs) > 1:
        body.append(Section("Comparison", "Every run in this report, in one table.",
                            anchor="comparison", tables=[comparison_table(rs)]))
    body += [run_section(r) for r in rs]
    versions = dict(rs[0].info.versions) if rs else {}
    if title is None:
        title = "digitlab report: " + ", ".join(html.unescape(r.id) for r in rs[:3]) + ("…" if len(rs) > 3 else "")
    return write_text(out, render(body, title=title, intro=intro, versions=versions))
