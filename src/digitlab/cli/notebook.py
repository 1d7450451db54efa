"""``digitlab notebook``: the study as a runnable Jupyter notebook, executed on request."""

from __future__ import annotations

import click

from ._app import cli
from ._common import safe
from .train import runs_dir_option


@cli.command()
@click.option("--dataset", default="mnist", show_default=True,
              help="mnist, fashion-mnist, digits, or a path to your data.")
@click.option("--quick", is_flag=True, help="A stratified subset (6,000 train images) for a run in seconds.")
@click.option("--execute", "execute_it", is_flag=True,
              help="Run every cell in a Jupyter kernel and save the outputs, figures included.")
# a plain string: the output policy (digitlab._atomic) refuses a folder, socket or symlink with 73
@click.option("-o", "--out", type=str, default="study.ipynb", show_default=True,
              help="Notebook file to write (replaced atomically; - for standard output).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for subsets and models.")
@click.option("--timeout", type=click.IntRange(min=1), default=900, show_default=True,
              help="Seconds one cell may run when executing.")
@runs_dir_option
def notebook(dataset, quick, execute_it, out, seed, timeout, runs_dir):
    """Write the classification study as a Jupyter notebook (needs the notebook extra).

    The same steps and settings as `digitlab study`, as cells calling digitlab's
    Python API. With --execute the notebook runs in a fresh kernel first; its
    numbers are the study report's for the same options.

    \b
    Examples:
      digitlab notebook -o study.ipynb
      digitlab notebook --quick --execute -o quick.ipynb
    """
    from click.core import ParameterSource

    from ..notebook import make_notebook

    if click.get_current_context().get_parameter_source("runs_dir") is ParameterSource.ENVIRONMENT:
        runs_dir = None  # the kernel reads $DIGITLAB_RUNS_DIR itself; a shared notebook should not name it
    path = make_notebook(out, dataset, quick=quick, execute_it=execute_it, seed=seed, runs_dir=runs_dir,
                         timeout=timeout)
    if str(out) != "-":
        click.echo(f"notebook: {safe(path)}" + (" (executed)" if execute_it else ""), err=True)
