"""``digitlab search``: tune a model's parameters by cross-validation, locally or on Dask."""

from __future__ import annotations

import click

from ..exceptions import ParameterError
from ._app import cli
from ._common import (
    cache_dir_option,
    data_dir_option,
    json_option,
    print_json,
    quiet_option,
    safe,
)
from .train import runs_dir_option, split_options


def parse_space_args(items, option: str) -> dict:
    """``("C=0.01,0.1", "l1_ratio=0,1")`` → ``{"C": ["0.01", "0.1"], "l1_ratio": ["0", "1"]}``.

    For ``--dist`` the value stays one string (``"loguniform:1e-3:1e2"``); the library types and
    checks every value (``searching.build_space``).
    """
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise ParameterError(f"{option}: expected KEY=VALUES, got {item!r}")
        if key in out:
            raise ParameterError(f"{option} {key}: given twice")
        if option == "--grid":
            values = [v.strip() for v in value.split(",")]
            if any(not v for v in values):
                raise ParameterError(f"{option} {key}: empty value in {value!r}")
            out[key] = values
        else:
            out[key] = value
    return out


def _fmt_params(params: dict) -> str:
    return safe(", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()))


def _fmt_score(v) -> str:
    return "nan" if v is None or v != v else f"{v:.4f}"


@cli.command()
@click.option("--dataset", default="mnist", show_default=True,
              help="mnist, fashion-mnist, digits, or a path to your data.")
@click.option("--model", default="logreg", show_default=True, help="Registered model (see `digitlab models`).")
@click.option("--grid", "grid", multiple=True, metavar="KEY=V1,V2,...",
              help="Values to try for a parameter, repeatable (e.g. --grid C=0.01,0.1,1 --grid l1_ratio=0,1).")
@click.option("--dist", "dists", multiple=True, metavar="KEY=KIND:LOW:HIGH",
              help="Distribution for --random: loguniform, uniform or randint (e.g. C=loguniform:1e-3:1e2).")
@click.option("--random", "n_iter", type=click.IntRange(min=1), default=None, metavar="N",
              help="Random search with N candidates instead of the full grid.")
@click.option("--halving", is_flag=True, help="Successive halving: weak candidates are dropped on small "
              "subsets, survivors get more images.")
@click.option("--factor", type=click.IntRange(min=2), default=3, show_default=True,
              help="Halving: keep 1/FACTOR of the candidates per round.")
@click.option("--cv", type=click.IntRange(min=2, max=20), default=3, show_default=True,
              help="Cross-validation folds (stratified, shuffled with --seed).")
@click.option("--scoring", default="accuracy", show_default=True,
              help="scikit-learn scorer to maximise (accuracy, f1, roc_auc, balanced_accuracy, ...).")
@click.option("--detect", type=int, default=None, help="Search a binary detector for this class (e.g. 5).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Fixed model parameter, repeatable (e.g. --param max_iter=200).")
@click.option("--raw-pixels", is_flag=True, help="Feed 0–255 pixels unscaled, as the notebooks did.")
@split_options
@click.option("--cluster", envvar="DIGITLAB_CLUSTER", default=None, metavar="ADDRESS",
              help="Run the fits on a Dask cluster: tcp://HOST:8786, or local:N for N local worker "
                   "processes [env DIGITLAB_CLUSTER]. Default: local processes.")
@click.option("--jobs", "n_jobs", type=int, default=-1, show_default=True,
              help="Local worker processes without --cluster (-1 = one per core).")
@click.option("--no-eval", is_flag=True, help="Skip evaluating the best model on the test split.")
@runs_dir_option
@data_dir_option
@cache_dir_option
@json_option
@quiet_option
def search(dataset, model, grid, dists, n_iter, halving, factor, cv, scoring, detect, params, raw_pixels,
           test_size, seed, limit, cluster, n_jobs, no_eval, runs_dir, data_dir, cache_dir, as_json, quiet):
    """Search model parameters by cross-validation; the best model becomes a run.

    Each finished candidate is printed (to stderr) with the best so far. The run folder holds
    the refitted best model, search.json (every candidate's scores) and figures/search_*.png.

    \b
    Examples:
      digitlab search --model logreg --grid C=0.01,0.1,1,10 --grid l1_ratio=0,1 --cv 3
      digitlab search --model logreg --random 20 --dist C=loguniform:1e-3:1e2 --limit 10000
      digitlab search --model knn --grid n_neighbors=3,4,5 --halving
      digitlab search --model sgd --detect 5 --grid alpha=1e-5,1e-4 --scoring f1
      digitlab search --model logreg --grid C=0.1,1 --cluster local:2
      digitlab search --model svm --grid C=1,5,10 --cluster tcp://10.0.0.5:8786
    """
    from .. import searching
    from ._common import parse_param_args

    def echo(msg):
        if not quiet:
            click.echo(safe(msg), err=True)

    def progress(e: searching.SearchProgress):
        if quiet:
            return
        of = f"{e.finished}/{e.total}" if e.total else f"{e.finished}"
        click.echo(f"[{of}] {_fmt_score(e.mean_score)} ±{_fmt_score(e.std_score)}  "
                   f"{_fmt_params(e.params)}  | best "
                   + (f"{_fmt_score(e.best_score)} ({_fmt_params(e.best_params)})" if e.best_params else "–"),
                   err=True)

    run = searching.search(
        dataset, model, grid=parse_space_args(grid, "--grid"), distributions=parse_space_args(dists, "--dist"),
        n_iter=n_iter, halving=halving,
        factor=factor, cv=cv, scoring=scoring, detect=detect, params=parse_param_args(params),
        raw_pixels=raw_pixels, test_size=test_size, seed=seed, limit=limit, cluster=cluster,
        n_jobs=n_jobs, evaluate=not no_eval, runs_dir=runs_dir, data_dir=data_dir, cache_dir=cache_dir,
        callback=progress, echo=echo,
    )
    record = searching.load_search(run)
    if as_json:
        print_json({"run": str(run.path), "best_params": record["best_params"],
                    "best_score": record["best_score"], "best_std": record["best_std"],
                    "scoring": record["scoring"], "kind": record["kind"], "backend": record["backend"],
                    "workers": record["workers"], "lost_workers": record["lost_workers"],
                    "metrics": run.metrics(), "results": record["results"]})
        return
    from rich.table import Table

    from ._common import console, markup

    rows = record["results"]
    halving_cols = "iter" in (rows[0] if rows else {})
    t = Table("rank", *(["iter", "n"] if halving_cols else []), f"mean {record['scoring']}", "std",
              "fit s", "params", title=f"{record['kind']} search, {record['n_candidates']} candidates")
    for r in rows[:15]:
        t.add_row(str(r["rank"]), *([str(r["iter"]), str(r["n_resources"])] if halving_cols else []),
                  _fmt_score(r["mean_test_score"]), _fmt_score(r["std_test_score"]),
                  f"{r['mean_fit_time']:.2f}", markup(_fmt_params(r["params"])))
    console().print(t)
    if len(rows) > 15:
        click.echo(f"... {len(rows) - 15} more in search.json")
    click.echo(f"best: {_fmt_params(record['best_params'])}  cv {record['scoring']} "
               f"{_fmt_score(record['best_score'])} ±{_fmt_score(record['best_std'])}")
    if run.info.metrics.test_accuracy is not None:
        click.echo(f"test accuracy of the refitted best model: {run.info.metrics.test_accuracy:.4f}")
    for w in record["lost_workers"]:
        click.echo(f"lost worker: {w['worker']} ({w['processing_tasks']} tasks rescheduled)")
    click.echo(f"run: {safe(run.path)}")
