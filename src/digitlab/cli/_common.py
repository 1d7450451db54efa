"""Options and output helpers shared by commands."""

from __future__ import annotations

import sys

import click

from .._text import markup, safe  # noqa: F401  (the commands import them from here)
from ..exceptions import ParameterError

data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False), envvar="DIGITLAB_DATA_DIR", default=None,
    help="Folder with the dataset files (else $DIGITLAB_DATA_DIR, then the user cache).",
)
cache_dir_option = click.option(
    # no click.Path checks: the cache layer gives the better message (E1) for unusable paths
    "--cache-dir", type=str, envvar="DIGITLAB_CACHE_DIR", default=None,
    help="Writable cache for downloads (default: the platform's user cache).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress output.")


def print_json(obj) -> None:
    from .._json import dumps

    click.echo(dumps(obj))


def console():
    from rich.console import Console

    # piped output has no terminal width; don't squeeze tables into 80 columns
    width = None if sys.stdout.isatty() else 160
    return Console(stderr=False, highlight=False, width=width)


def show_progress() -> bool:
    return sys.stderr.isatty()


def parse_param_args(items) -> dict:
    """``["C=50", "tol=0.01"]`` → ``{"C": "50", "tol": "0.01"}`` (typed later by the model)."""
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"--param: expected key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out
