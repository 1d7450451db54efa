"""Fitting helpers shared by training, cross-validation and search: one fit, timed and recorded.

It sits below evaluation and training in the import layers (see ARCHITECTURE.md): both fit
models, and neither may import the other to do it.
"""

from __future__ import annotations

import platform
import time
import warnings

import numpy as np

from .runs import FitInfo

DEFAULT_CV = 3


def default_cv(model: str | None) -> int:
    """Cross-validation folds ``train`` and ``evaluate_run`` use when not told: 3, or 0 for a
    model registered as expensive (one fit on MNIST takes minutes). Unregistered names get 3."""
    from .models import MODELS

    spec = MODELS.get(model) if isinstance(model, str) else None
    return 0 if spec is not None and spec.expensive else DEFAULT_CV


def library_versions() -> dict:
    """Versions of what a fitted model depends on (recorded in run.json, checked when loading)."""
    import matplotlib
    import scipy
    import sklearn
    import skops

    from . import __version__

    return {"digitlab": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "sklearn": sklearn.__version__, "skops": skops.__version__,
            "matplotlib": matplotlib.__version__}


def fit_model(model, X, y, *, progress: bool = False, label: str = "fitting") -> FitInfo:
    """Fit *model* with convergence warnings captured (recorded, not printed) and wall time measured."""
    status = progress_status(progress, label)
    with status, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - t0
    if any(str(w.message) == "Training interrupted by user." for w in caught):
        # MLPClassifier swallows Ctrl-C and returns a half-trained model: never save that one
        raise KeyboardInterrupt
    from sklearn.exceptions import ConvergenceWarning

    conv = [str(w.message).split("\n")[0] for w in caught if issubclass(w.category, ConvergenceWarning)]
    clf = model[-1] if hasattr(model, "steps") else model
    n_iter = getattr(clf, "n_iter_", None)
    if n_iter is not None:
        n_iter = int(np.max(n_iter))
    max_iter = getattr(clf, "max_iter", None)
    converged = not conv
    if n_iter is not None and isinstance(max_iter, int) and n_iter >= max_iter and not hasattr(clf, "converged_"):
        converged = False
    if hasattr(clf, "converged_"):
        converged = bool(clf.converged_) and not conv
    return FitInfo(seconds=round(seconds, 3), n_iter=n_iter,
                   max_iter=max_iter if isinstance(max_iter, int) else None, converged=converged, warnings=conv)


def fit_returning(model, X, y) -> tuple:
    """``(model, fit_model(model, X, y))``: a fit as a pool's job, which hands back the fitted copy."""
    return model, fit_model(model, X, y)


def progress_status(progress: bool, label: str):
    """A live status line while a step runs (terminal or Jupyter, see :mod:`digitlab._progress`)."""
    from ._progress import status

    return status(progress, label)
