"""digitlab: the MNIST classification study as software.

The public API is importable from here; heavy modules (scikit-learn, matplotlib) load lazily so
``from digitlab import datasets`` stays light.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

from .exceptions import DigitlabError  # noqa: E402

_LAZY = {
    "datasets": ("digitlab.datasets", None),
    "models": ("digitlab.models", None),
    "make_model": ("digitlab.models", "make_model"),
    "train": ("digitlab.training", "train"),
    "evaluate": ("digitlab.evaluation", "evaluate"),
    "evaluate_run": ("digitlab.evaluation", "evaluate_run"),
    "report": ("digitlab.reporting", "report"),
    "search": ("digitlab.searching", "search"),
    "load_run": ("digitlab.runs", "resolve_run"),
    "list_runs": ("digitlab.runs", "list_runs"),
    "Runs": ("digitlab.runs", "Runs"),
    "search_results": ("digitlab.searching", "search_results"),
    "load_result": ("digitlab.evaluation", "load_result"),
}

__all__ = ["DigitlabError", "__version__", *_LAZY]


def __getattr__(name):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'digitlab' has no attribute {name!r}") from None
    mod = importlib.import_module(module)
    return mod if attr is None else getattr(mod, attr)
