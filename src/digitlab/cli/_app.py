"""The root click group and the error boundary shared by all commands."""

from __future__ import annotations

import logging
import os
import re
import sys
import traceback

import click

from .. import __version__, _signals
from ..exceptions import EX_INTERRUPTED, EX_SOFTWARE, EX_TERMINATED, DigitlabError
from ._common import safe

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="digitlab")
@click.option("--debug", is_flag=True, envvar="DIGITLAB_DEBUG", help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """digitlab: the MNIST classification study in one tool.

    \b
    Quick start:
      digitlab study                 # the whole chapter on MNIST, ends in report.html
      digitlab data info mnist       # what is in a dataset
      digitlab train --model logreg  # train one model, write a run folder
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def error(message: str) -> None:
    # one line, whatever a file name in the message holds (H11)
    click.echo(f"digitlab: error: {safe(message)}", err=True)


class _SafeFormatter(logging.Formatter):
    def formatMessage(self, record):  # noqa: N802 - logging's name
        return safe(super().formatMessage(record))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI and map exceptions to exit codes.

    SIGTERM is handled like Ctrl-C (workers stopped, temp files removed) and exits 143 with
    "terminated"; Ctrl-C exits 130 with "interrupted". Both keep an inherited "ignore" (see
    :mod:`digitlab._signals`).
    """
    # never try to open a window; through the environment, so matplotlib (a second of imports)
    # is loaded only by the commands that draw
    os.environ["MPLBACKEND"] = "Agg"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_SafeFormatter("%(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    debug = os.environ.get("DIGITLAB_DEBUG") not in (None, "", "0") or "--debug" in (argv or sys.argv)
    with _signals.sigterm_as_interrupt(), _signals.quiet_pool_teardown():
        try:
            rv = cli.main(args=argv, prog_name="digitlab", standalone_mode=False)
        except BaseException as exc:  # noqa: BLE001 - the last line of defence
            if _signals.terminated() and not isinstance(exc, SystemExit):
                # whatever the TERM broke on its way out (a killed worker, click's Abort) is its doing
                error("terminated (SIGTERM)")
                sys.exit(EX_TERMINATED)
            _exit_for(exc, debug)
            raise
        sys.exit(rv if isinstance(rv, int) else 0)


# The library's errors name its Python parameters (``cv=1: ...``, ``params['C']='x': ...``); the
# command line shows the flag a user typed instead.
FLAGS = {"model": "--model", "detect": "--detect", "cv": "--cv", "seed": "--seed", "test_size": "--test-size",
         "limit": "--limit", "scoring": "--scoring", "n_iter": "--random", "factor": "--factor",
         "cluster": "--cluster", "target_precision": "--target-precision", "target_recall": "--target-recall",
         "data_dir": "--data-dir", "add": "--add", "augment": "--augment", "params": "--param", "grid": "--grid",
         "distributions": "--dist"}
_KEYED = re.compile(r"^(params|grid|distributions)\['([^']*)'\](?:=(.*?))?: ")
_NAMED = re.compile(r"^([a-z_]+)(?:=(.*?))?: ")
_GIVEN = re.compile(r"\(given as ([a-z_]+)\)")


def as_flags(message: str) -> str:
    """``cv=1: use 0 ...`` → ``--cv 1: use 0 ...``; ``params['C']='x': ...`` → ``--param C=x: ...``."""
    def value(v):
        return v[1:-1] if v and len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"" else v

    message = _GIVEN.sub(lambda g: f"(given as {FLAGS.get(g.group(1), g.group(1))})", message)
    m = _KEYED.match(message)
    if m:
        name, key, v = m.groups()
        return f"{FLAGS[name]} {key}{'=' + value(v) if v is not None else ''}: {message[m.end():]}"
    m = _NAMED.match(message)
    if m and m.group(1) in FLAGS:
        v = m.group(2)
        return f"{FLAGS[m.group(1)]}{' ' + value(v) if v is not None else ''}: {message[m.end():]}"
    return message


def _exit_for(exc: BaseException, debug: bool) -> None:
    """Print one line for *exc* and exit with its code; return for exceptions that pass through."""
    if isinstance(exc, click.exceptions.Abort):  # click's form of Ctrl-C
        error("interrupted")
        sys.exit(EX_INTERRUPTED)
    if isinstance(exc, click.ClickException):
        exc.show()
        sys.exit(exc.exit_code)
    if isinstance(exc, DigitlabError):
        if debug:
            traceback.print_exc()
        error(as_flags(str(exc)))
        sys.exit(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        error("interrupted; nothing was written")
        sys.exit(EX_INTERRUPTED)
    if isinstance(exc, BrokenPipeError):
        sys.exit(0)
    if isinstance(exc, Exception):
        if debug:
            traceback.print_exc()
        error(f"unexpected internal error: {type(exc).__name__}: {exc} "
              "(this is a bug; please report it, with --debug output)")
        sys.exit(EX_SOFTWARE)
