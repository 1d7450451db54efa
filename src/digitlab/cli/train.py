"""``digitlab train``: fit one model and write a run folder."""

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


def runs_dir_option(f):
    return click.option("--runs-dir", type=click.Path(file_okay=False), envvar="DIGITLAB_RUNS_DIR",
                        default=None, help="Where runs are written [default: ./runs].")(f)


def split_options(f):
    f = click.option("--test-size", type=float, default=None,
                     help="Random stratified test fraction (e.g. 0.2) instead of the canonical split.")(f)
    f = click.option("--seed", type=int, default=0, show_default=True,
                     help="Seed for splits and models (0 to 2**32-1).")(f)
    f = click.option("--limit", type=click.IntRange(min=10), default=None,
                     help="Use a stratified subset of this many training images (quick runs).")(f)
    return f


def skipped_cv_note(model) -> None:
    """Say so when an expensive model's default skips cross-validation (stderr: --json stays clean)."""
    from ..fitting import DEFAULT_CV, default_cv

    if default_cv(model) == 0:
        click.echo(f"cv: skipped for {model} (expensive); pass --cv {DEFAULT_CV} to cross-validate", err=True)


@cli.command()
@click.option("--dataset", default="mnist", show_default=True,
              help="mnist, fashion-mnist, digits, or a path to your data.")
@click.option("--model", default="logreg", show_default=True, help="Registered model (see `digitlab models`).")
@click.option("--detect", type=int, default=None, help="Train a binary detector for this class (e.g. 5).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Model parameter, repeatable (e.g. --param C=50 --param solver=saga).")
@click.option("--raw-pixels", is_flag=True, help="Feed 0–255 pixels unscaled, as the notebooks did.")
@click.option("--augment", is_flag=False, flag_value="shift", default=None, metavar="[KINDS]",
              help="Augment the training images: kinds from shift, affine, elastic, thickness, comma-separated "
                   "(alone: shift). The CNN draws them afresh every batch; other models get copies "
                   "(shift: four 1-pixel shifts; each other kind: one random copy) and no CV.")
@click.option("--add", type=click.Path(), default=None, metavar="DIR",
              help="Also train on these samples (the corrections `serve --collect DIR` saved, or any "
                   "dataset path with the same image size and classes); a quarter of them is held out "
                   "and its accuracy shown separately.")
@split_options
@click.option("--cv", type=click.IntRange(min=0, max=20), default=None,
              help="Cross-validation folds in the evaluation (0 = none) [default: 3; 0 for the "
                   "expensive models cnn and svm].")
@click.option("--target-precision", type=click.FloatRange(0, 1), default=0.9, show_default=True,
              help="For detectors: report the threshold reaching this precision.")
@click.option("--no-eval", is_flag=True, help="Only fit and save; skip the evaluation.")
@runs_dir_option
@data_dir_option
@cache_dir_option
@json_option
def train(dataset, model, detect, params, raw_pixels, augment, add, test_size, seed, limit, cv,
          target_precision, no_eval, runs_dir, data_dir, cache_dir, as_json):
    """Fit a model on a dataset split and write a run folder (printed at the end).

    \b
    Examples:
      digitlab train --model logreg
      digitlab train --model sgd --detect 5 --raw-pixels
      digitlab train --dataset mnist --add mine   # + your corrections (serve --collect mine)
      digitlab train --model cnn --augment shift,affine,elastic
      digitlab train --model logreg --param l1_ratio=1 --param solver=saga \\
                     --param C=50 --param tol=0.01 --raw-pixels --test-size 0.142857
    """
    import contextlib
    import sys
    import warnings

    from .. import training
    from ._common import parse_param_args

    if cv is None and not no_eval:
        skipped_cv_note(model)
    # a model's own verbose output (--param verbose=1) must not corrupt the JSON on stdout
    chatter = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    with chatter, warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always", FutureWarning)
        run = training.train(
            dataset, model, detect=detect, params=parse_param_args(params), raw_pixels=raw_pixels,
            test_size=test_size, seed=seed, limit=limit, augment=augment, evaluate=not no_eval, cv=cv,
            target_precision=target_precision, runs_dir=runs_dir, data_dir=data_dir,
            cache_dir=cache_dir, progress=show_progress() and not as_json, add=add,
        )
    for n in notes:
        if "digitlab" in str(n.filename) or "penalty" in str(n.message):
            click.echo(safe(f"note: {n.message}"), err=True)
    if as_json:
        print_json({"run": str(run.path), **run.summary(), "metrics": run.metrics()})
        return
    s = run.summary()
    fit = run.info.fit
    conv = "converged" if fit.converged else "NOT converged"
    iters = f", {fit.n_iter} iterations" if fit.n_iter is not None else ""
    click.echo(f"fitted {safe(s['model'])} on {s['n_train']:,} images in {fit.seconds or 0:.1f} s ({conv}{iters})")
    m = run.metrics()
    for key, label in (("test_accuracy", "test accuracy"), ("train_accuracy", "train accuracy"),
                       ("cv_mean", "cv accuracy (mean)"), ("precision", "precision"),
                       ("recall", "recall"), ("f1", "F1")):
        if m.get(key) is not None:
            click.echo(f"  {label:<20} {m[key]:.4f}")
    _echo_added(run, m)
    click.echo(f"run: {safe(run.path)}")


def _echo_added(run, m) -> None:
    add = run.info.split.add
    if add is None:
        return
    held = f"{m['added_accuracy']:.4f} on {add.n_test} held out" if m.get("added_accuracy") is not None else \
        "- (none held out: fewer than 4 samples)" if add.n_test == 0 else "- (not evaluated)"
    click.echo(f"  {'added accuracy':<20} {held}; trained on {add.n_train} added from {safe(add.name)}")
