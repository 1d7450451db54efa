"""The ``digitlab`` command line: a thin layer over the library.

Every command lives in its own module and registers itself on :data:`cli`. Errors are turned into
one line ``digitlab: error: <file>: <reason>`` and the sysexits code of the exception; a traceback
is shown only with ``--debug``.
"""

from __future__ import annotations

import importlib

from ._app import cli, main  # noqa: F401

# command modules register themselves on `cli` when imported
for _mod in ("data", "train", "runs", "evaluate", "report", "study", "notebook", "predict", "serve", "search"):
    try:
        importlib.import_module(f"{__name__}.{_mod}")
    except ModuleNotFoundError as exc:  # a command whose module is not written yet
        if exc.name != f"{__name__}.{_mod}":
            raise
