"""``digitlab predict [RUN] FILE...``: the digit in each of your own images."""

from __future__ import annotations

import click

from ._app import cli, error
from ._common import json_option, print_json, safe
from .train import runs_dir_option


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%"


def format_line(p) -> str:
    """``a.png: 7 (93.1%), runner-up 1 (4.0%), then 2 (1.2%)``."""
    first, rest = p.top[0], p.top[1:]
    line = f"{p.file}: {first[0]} ({_pct(first[1])})"
    if rest:
        line += f", runner-up {rest[0][0]} ({_pct(rest[0][1])})"
    if rest[1:]:
        line += ", then " + ", ".join(f"{c} ({_pct(q)})" for c, q in rest[1:])
    if p.notes:
        line += "  [" + "; ".join(p.notes) + "]"
    return line


@cli.command()
@click.argument("args", nargs=-1, required=True, metavar="[RUN] FILES...")
@click.option("--top", type=click.IntRange(min=1, max=100), default=3, show_default=True,
              help="How many classes to show per file (the prediction, the runner-up, ...).")
@click.option("--show-input", type=click.Path(dir_okay=False), default=None, metavar="OUT.png",
              help="Save the images exactly as the model sees them (after preprocessing) to this PNG; "
                   "- for standard output (the predictions then go to stderr).")
@click.option("--raw", is_flag=True,
              help="Feed .npy/IDX arrays already of the model's size as they are (no preprocessing).")
@click.option("--allow-version-mismatch", is_flag=True,
              help="Load a model saved with another scikit-learn minor version.")
@runs_dir_option
@json_option
def predict(args, top, show_input, raw, allow_version_mismatch, runs_dir, as_json):
    """Predict the digit in image files, folders, .npy arrays or IDX files with a trained RUN.

    RUN is a run id, a unique part of one, `latest`, `best`, `best:DATASET`, or a run folder;
    without it (the first argument is an existing file or folder) the run is `best`: the
    evaluated multi-class run with the highest test accuracy. FILES may be `-` for an
    image piped to standard input. Every image is turned into
    an MNIST-style digit first (polarity, crop, 20x20 box, centred), so photos, scans and
    drawings work. A file that cannot be read gets its own error line; the others are still
    predicted and the exit code is that of the first error.

    \b
    Examples:
      digitlab predict note.jpg scans/          # with the best run
      digitlab predict latest note.jpg
      digitlab predict latest digit.png --json --top 3
      digitlab predict 20261122-101500-mnist-logreg t10k-images-idx3-ubyte.gz --raw
      digitlab predict latest digit.png --show-input seen.png
    """
    from .._atomic import check_output, is_stdout
    from ..predicting import SOFTMAX, Predictor

    run, files = split_run_arg(args, runs_dir)
    png_out = show_input is not None and is_stdout(show_input)  # stdout is the PNG: text to stderr
    if png_out and as_json:
        raise click.UsageError("--json and --show-input - both want standard output; name a PNG file")
    if show_input is not None:
        check_output(show_input)  # refused before the model is loaded (H4)
    predictor = Predictor.from_run(run, runs_dir=runs_dir, allow_version_mismatch=allow_version_mismatch)
    preds = predictor.predict_files(files, top=top, errors="collect", raw=raw)
    good = [p for p in preds if p.ok]
    if show_input and good:
        _save_inputs(good, show_input)
    chosen = {"run": predictor.run_id, "run_reason": predictor.run_reason}
    if as_json:
        print_json([{**p.to_dict(), **chosen, **({"scores": SOFTMAX} if p.ok and predictor.score_kind == SOFTMAX
                                                 else {})} for p in preds])
    else:
        for p in preds:
            if p.ok:
                click.echo(safe(format_line(p)), err=png_out)  # a newline in a name stays on its line (H11)
    if not as_json and not predictor.run_reason.startswith("named"):
        click.echo(f"run {safe(predictor.run_id)} ({safe(predictor.run_reason)})", err=True)
    for p in preds:
        if not p.ok:
            error(str(p.error))
    if predictor.score_kind == SOFTMAX and good:
        click.echo(f"note: this model has no predict_proba; the probabilities are a {SOFTMAX}", err=True)
    if show_input and good:
        click.echo(f"model input saved to {safe(show_input) if not png_out else 'standard output'}", err=True)
    bad = [p for p in preds if not p.ok]
    return bad[0].error.exit_code if bad else 0


def split_run_arg(args: tuple[str, ...], runs_dir=None) -> tuple[str, tuple[str, ...]]:
    """``[RUN] FILES...``: the first argument is the run unless it is an existing file or folder
    that is not a run folder (or `-`); then the run is ``best``."""
    import os
    from pathlib import Path

    from ..runs import ID_RE, RUN_FILE

    first = args[0]
    is_input = first == "-" or (os.path.lexists(first) and not (Path(first) / RUN_FILE).exists())
    # a name no run can have (a dot, a slash, ...) is a file, missing or not: say so about the file
    is_input = is_input or not (ID_RE.match(first) or first.startswith("best:") or (Path(first) / RUN_FILE).exists())
    if is_input:
        return "best", args
    if len(args) == 1:
        raise click.UsageError(f"no FILES to predict after the run {first!r}")
    return first, args[1:]


def _save_inputs(preds, path) -> None:
    """A grid of the model's input images titled with file name and prediction."""
    import numpy as np

    from ..plots._save import save_figure
    from ..plots.digit_grid import DigitGridDisplay

    shown = preds[:100]
    n_cols = min(len(shown), 8)
    n_rows = int(np.ceil(len(shown) / n_cols))
    titles = [f"{_short(p.file)} → {p.prediction}" for p in shown]
    disp = DigitGridDisplay(np.stack([p.image for p in shown]), titles, n_rows=n_rows, n_cols=n_cols,
                            suptitle="what the model sees" + (f" (first 100 of {len(preds)})" if len(preds) > 100 else ""))
    disp.plot(cmap="gray")
    save_figure(disp.figure_, path)


def _short(name: str, n: int = 18) -> str:
    from pathlib import PurePath

    base = PurePath(name.split("[")[0]).name + (("[" + name.split("[", 1)[1]) if "[" in name else "")
    return base if len(base) <= n else "…" + base[-(n - 1):]
