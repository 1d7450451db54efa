"""``digitlab evaluate RUN``: re-evaluate a run and rewrite its evaluation files."""

from __future__ import annotations

import click

from ._app import cli
from ._common import (
    cache_dir_option,
    console,
    data_dir_option,
    json_option,
    markup,
    print_json,
    show_progress,
)
from .train import runs_dir_option, skipped_cv_note


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--cv", type=click.IntRange(min=0, max=20), default=None,
              help="Cross-validation folds on the training set (stratified, not shuffled; 0 = none) "
                   "[default: 3; 0 for runs of the expensive models cnn and svm].")
@click.option("--target-precision", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Detectors: report the threshold reaching this precision, and the recall there "
                   "[default: 0.9].")
@click.option("--target-recall", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Detectors: report the threshold keeping this recall, and the precision there.")
@click.option("--n-jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes for the folds [default: one per fold, up to one more than the cores].")
@click.option("--robustness", is_flag=True,
              help="Also measure accuracy under 12 corruptions (shift, rotation, noise, blur, ...) at three "
                   "severities: stored in the evaluation, drawn, shown in the report and the web app.")
@click.option("--robustness-images", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Test images (a stratified, seeded sample) for --robustness.")
@click.option("--no-figures", is_flag=True, help="Skip drawing figures (figures/ is emptied so it never shows stale results).")
@click.option("--allow-version-mismatch", is_flag=True,
              help="Load a model saved with another scikit-learn version (results may differ).")
@runs_dir_option
@data_dir_option
@cache_dir_option
@json_option
def evaluate(run_ref, cv, target_precision, target_recall, n_jobs, robustness, robustness_images, no_figures,
             allow_version_mismatch, runs_dir, data_dir, cache_dir, as_json):
    """Re-evaluate RUN: scores, cross-validation, confusion matrix, figures.

    RUN is a run id, a unique part of one, `latest`, `best`, or a run folder. The run's
    eval.json, predictions.npz, figures/ and the metrics in run.json are replaced
    only when the whole evaluation succeeded.

    \b
    Examples:
      digitlab evaluate latest
      digitlab evaluate mnist-sgd-detect5 --target-precision 0.95
      digitlab evaluate runs/20261122-101500-mnist-logreg --cv 5 --json
      digitlab evaluate best --robustness
    """
    from ..evaluation import evaluate_run
    from ..plots.figure_set import drawer
    from ..runs import EVAL_FILE, resolve_run

    if target_precision is not None and target_recall is not None:
        raise click.UsageError("give --target-precision or --target-recall, not both")
    run = resolve_run(run_ref, runs_dir)
    model = run.load_model(allow_version_mismatch=allow_version_mismatch)
    if cv is None:
        skipped_cv_note(run.summary()["model"])
    split = run.load_split(data_dir=data_dir, cache_dir=cache_dir, download=True)
    result = evaluate_run(run, split=split, model=model, cv=cv,
                          target_precision=0.9 if target_precision is None else target_precision,
                          target_recall=target_recall, progress=show_progress() and not as_json, n_jobs=n_jobs,
                          figures=None if no_figures else drawer(split.test.images, model),
                          robustness=robustness, robustness_images=robustness_images)
    if as_json:
        from ..plots.figure_set import read_index

        print_json({"run": str(run.path), "id": run.id, "metrics": run.metrics(),
                    "eval": str(run.path / EVAL_FILE), "figures": read_index(run)})
        return
    print_summary(run, result)


def _f(v, spec=".4f"):
    return "–" if v is None else format(v, spec)


def print_summary(run, result) -> None:
    from rich.table import Table

    con = console()
    con.print(f"[bold]{markup(run.id)}[/]  {markup(run.summary()['model'])} on {result.n_train:,} training images, "
              f"{result.n_test:,} test images, task: {markup(run.summary()['task'])}")
    t = Table("metric", "value", title="Evaluation")
    t.add_row("test accuracy", _f(result.test_accuracy))
    t.add_row("train accuracy", _f(result.train_accuracy))
    if result.cv:
        t.add_row(f"cv accuracy ({result.cv} folds)", "  ".join(_f(s, ".5f") for s in result.cv_scores))
        t.add_row("cv accuracy (mean)", _f(result.cv_mean, ".5f"))
        t.add_row("most-frequent baseline (cv mean)", _f(result.dummy_cv_mean, ".5f"))
    d = result.detector
    if d:
        where = "cross-validated" if d["source"] == "cv" else "test set"
        for k in ("precision", "recall", "f1", "roc_auc"):
            t.add_row(f"{k.replace('_', ' ')} ({where})", _f(d.get(k)))
        tg = d.get("target") or {}
        if tg.get("reached"):
            other = "recall" if tg["metric"] == "precision" else "precision"
            t.add_row(f"threshold for {tg['metric']} {tg['target']:g}",
                      f"{tg['threshold']:.6g} ({other} {tg[other]:.4f})")
        elif tg:
            t.add_row(f"threshold for {tg['metric']} {tg['target']:g}", "not reachable")
    con.print(t)
    rob = result.robustness_result
    if rob is not None:
        rt = Table("corruption", *(f"severity {s}" for s in rob.severities),
                   title=f"Robustness ({rob.n_test:,} test images; clean {rob.clean_accuracy:.4f}, "
                         f"mean {rob.mean_accuracy:.4f})")
        for name, accs in rob.accuracy.items():
            rt.add_row(markup(name), *(f"{a:.4f}" for a in accs))
        con.print(rt)
    if result.cv_confusion_matrix or result.confusion_matrix:
        cm = result.cv_confusion_matrix or result.confusion_matrix
        title = "Confusion matrix (cross-validated)" if result.cv_confusion_matrix else "Confusion matrix (test)"
        ct = Table("true \\ predicted", *map(markup, result.classes), title=title)
        for name, row in zip(result.classes, cm):
            ct.add_row(markup(name), *(f"{v:,}" for v in row))
        con.print(ct)
    for w in result.warnings:
        con.print(f"[yellow]warning:[/] {markup(w)}")
    con.print(f"figures: {len(result.figures)} in {markup(run.path / 'figures')}")
    con.print(f"run: {markup(run.path)}")
