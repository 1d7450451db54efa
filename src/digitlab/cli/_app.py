"""The root click group and the error boundary shared by all commands."""

from __future__ import annotations

import logging
import os
import sys
import traceback

import click

from .. import __version__
from ..exceptions import EX_INTERRUPTED, EX_SOFTWARE, DigitlabError
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
    """Console-script entry point: run the CLI and map exceptions to exit codes."""
    import matplotlib

    matplotlib.use("Agg")  # never try to open a window
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_SafeFormatter("%(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    debug = os.environ.get("DIGITLAB_DEBUG") not in (None, "", "0") or "--debug" in (argv or sys.argv)
    try:
        rv = cli.main(args=argv, prog_name="digitlab", standalone_mode=False)
    except click.exceptions.Abort:
        error("interrupted")
        sys.exit(EX_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except DigitlabError as exc:
        if debug:
            traceback.print_exc()
        error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        error("interrupted; nothing was written")
        sys.exit(EX_INTERRUPTED)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if debug:
            traceback.print_exc()
        error(f"unexpected internal error: {type(exc).__name__}: {exc} "
              "(this is a bug; please report it, with --debug output)")
        sys.exit(EX_SOFTWARE)
    sys.exit(rv if isinstance(rv, int) else 0)
