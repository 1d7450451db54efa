"""``digitlab report``: one self-contained HTML file from one or more runs."""

from __future__ import annotations

import click

from ._app import cli
from ._common import safe
from .train import runs_dir_option


@cli.command()
@click.argument("run_ids", nargs=-1, required=True)
@click.option("-o", "--out", type=click.Path(dir_okay=False), default="report.html", show_default=True,
              help="HTML file to write (atomically); - for standard output.")
@click.option("--title", default=None, help="Title at the top of the report.")
@runs_dir_option
def report(run_ids, out, title, runs_dir):
    """Write a self-contained HTML report (figures embedded) of RUN_IDS.

    RUN_IDS are run ids, unique parts of ids, `latest`, or run folders.

    \b
    Example:
      digitlab report latest --out logreg.html
    """
    from .._atomic import is_stdout
    from ..reporting import report as write_report

    path = write_report(list(run_ids), out, title=title, runs_dir=runs_dir)
    if not is_stdout(out):  # else stdout is the report
        click.echo(f"report: {safe(path)}")
