"""``digitlab study``: the whole classification chapter on MNIST, ending in one report."""

from __future__ import annotations

import click

from ._app import cli
from ._common import (
    cache_dir_option,
    data_dir_option,
    json_option,
    print_json,
    safe,
    show_progress,
)
from .train import runs_dir_option


@cli.command()
@click.option("--dataset", default="mnist", show_default=True,
              help="mnist, fashion-mnist, digits, or a path to your data.")
@click.option("--quick", is_flag=True, help="A stratified subset (6,000 train images) for a run in seconds.")
@click.option("-o", "--out", type=click.Path(dir_okay=False), default="report.html", show_default=True,
              help="HTML report to write; - for standard output (the summary then goes to stderr).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for subsets and models.")
@runs_dir_option
@data_dir_option
@cache_dir_option
@json_option
def study(dataset, quick, out, seed, runs_dir, data_dir, cache_dir, as_json):
    """Run the whole MNIST classification study and write one HTML report.

    Dataset overview; the 5-detector with SGD (cross-validation, the "never 5"
    baseline, confusion matrix, precision/recall/F1, curves, the threshold for
    90% precision); multi-class logistic regression with coefficient images and
    misclassified digits; a comparison of several models. Runs go to ./runs.
    The trainings' fits run side by side on all cores, each model evaluated as
    soon as its fits are done; --json includes the timeline of what ran when.

    \b
    Examples:
      digitlab study
      digitlab study --quick --out quick.html
    """
    from .._atomic import is_stdout
    from ..study import run_study

    to_stdout = is_stdout(out)
    if to_stdout and as_json:
        raise click.UsageError("--json and --out - both want standard output; name a report file")
    res = run_study(dataset, quick=quick, out=out, runs_dir=runs_dir, data_dir=data_dir,
                    cache_dir=cache_dir, progress=show_progress() and not as_json, seed=seed)
    if as_json:
        print_json({"report": str(res.report), "seconds": round(res.seconds, 2), "timings": res.timings,
                    "timeline": res.timeline,
                    "runs": {k: {"path": str(r.path), **r.metrics()} for k, r in res.runs.items()}})
        return
    det, lr = res.runs["detector"].metrics(), res.runs["logreg"].metrics()
    click.echo(f"5-detector (SGD): CV accuracy {', '.join(f'{s:.5f}' for s in det.get('cv_scores', []))}; "
               f"precision {det.get('precision', float('nan')):.4f}, recall {det.get('recall', float('nan')):.4f}",
               err=to_stdout)
    click.echo(f"logistic regression: test accuracy {lr.get('test_accuracy', float('nan')):.4f}", err=to_stdout)
    click.echo(f"finished in {res.seconds:.1f} s", err=to_stdout)
    click.echo(f"report: {safe(res.report) if not to_stdout else 'standard output'}", err=to_stdout)
