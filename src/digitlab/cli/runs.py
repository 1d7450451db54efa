"""``digitlab runs``: list runs, compare them, list models."""

from __future__ import annotations

import click

from ._app import cli
from ._common import console, json_option, markup, print_json
from .train import runs_dir_option


def _fmt(v, spec=".4f"):
    """A table cell; strings come from run folders and run.json: escaped (H11)."""
    if v is None:
        return "–"
    return format(v, spec) if isinstance(v, (int, float)) and not isinstance(v, bool) else markup(v)


@cli.group(invoke_without_command=True)
@runs_dir_option
@json_option
@click.pass_context
def runs(ctx, runs_dir, as_json):
    """List runs as a table (dataset, model, task, scores, fit time).

    \b
    Examples:
      digitlab runs
      digitlab runs compare 20261122-101500-mnist-logreg 20261122-101700-mnist-sgd
    """
    ctx.ensure_object(dict)
    ctx.obj["runs_dir"] = runs_dir
    if ctx.invoked_subcommand is not None:
        return
    from ..runs import scan_runs

    good, bad = scan_runs(runs_dir)
    rows = [r.summary() for r in good]
    for b in bad:  # H8: one line each, on stderr; the valid runs are still listed
        click.echo(f"warning: skipping run {b.id}: {b.reason}", err=True)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no runs yet — try `digitlab train`" if not bad else "no valid runs")
        return
    from rich.table import Table

    t = Table("run", "dataset", "model", "task", "accuracy", "F1", "cv mean", "fit s")
    t.columns[0].no_wrap = True
    for r in rows:
        t.add_row(_fmt(r["id"]), _fmt(r["dataset"]), _fmt(r["model"]), _fmt(r["task"]), _fmt(r["accuracy"]), _fmt(r["f1"]),
                  _fmt(r["cv_mean"]), _fmt(r["fit_seconds"], ".1f"))
    console().print(t)


@runs.command()
@click.argument("run_ids", nargs=-1, required=True)
@json_option
@click.pass_context
def compare(ctx, run_ids, as_json):
    """Put chosen runs side by side: data, model, parameters, metrics, timings.

    \b
    Example:
      digitlab runs compare latest 20261122-101500-mnist-logreg
    """
    from ..runs import resolve_run

    rs = [resolve_run(r, ctx.obj.get("runs_dir")) for r in run_ids]
    table = compare_table(rs)
    if as_json:
        print_json({"runs": [r.id for r in rs], "rows": table})
        return
    from rich.table import Table

    t = Table("", *[markup(r.id) for r in rs])
    for label, values in table:
        t.add_row(markup(label), *[_fmt(v) for v in values])
    console().print(t)


def compare_table(rs) -> list[tuple[str, list]]:
    import msgspec

    rows = [
        ("dataset", [r.info.dataset.name for r in rs]),
        ("split", [r.info.split.how for r in rs]),
        ("n train", [r.info.split.n_train for r in rs]),
        ("model", [r.info.model.name for r in rs]),
        ("task", [r.summary()["task"] for r in rs]),
        ("params", [", ".join(f"{k}={v}" for k, v in r.info.model.params.items()) or "defaults" for r in rs]),
        ("fit seconds", [r.info.fit.seconds for r in rs]),
        ("converged", [str(r.info.fit.converged) for r in rs]),
    ]
    metrics = [msgspec.to_builtins(r.info.metrics) for r in rs]
    keys = []
    for m in metrics:
        for k, v in m.items():
            if k not in keys and isinstance(v, (int, float)) and not isinstance(v, bool):
                keys.append(k)
    rows += [(k, [m.get(k) for m in metrics]) for k in keys]
    return rows


@cli.command()
@json_option
def models(as_json):
    """List the registered models and their defaults.

    \b
    Example:
      digitlab models --json
    """
    from ..models import MODELS

    rows = [{"name": s.name, "description": s.description, "linear": s.linear, "needs": s.needs,
             "expensive": s.expensive} for s in MODELS.values()]
    if as_json:
        print_json(rows)
        return
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        extra = f"  (needs digitlab[{r['needs']}])" if r["needs"] else ""
        extra += "  [expensive: train skips cross-validation unless --cv N]" if r["expensive"] else ""
        click.echo(f"{r['name']:<{width}}  {r['description']}{extra}")
