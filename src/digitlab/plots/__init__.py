"""Figures in scikit-learn's Display style: compute in ``from_*``, draw in ``plot``, keep
``figure_``/``ax_`` (or ``axes_``), return ``self``. All drawing uses matplotlib's Agg backend.

The evaluation Displays load lazily, so importing this package does not import scikit-learn.
:mod:`.figure_set` draws an evaluated run's figure set (``evaluate_run(..., figures=drawer(...))``).
"""

import importlib

from ._save import save_figure
from .class_hist import ClassDistributionDisplay
from .digit_grid import DigitGridDisplay

_LAZY = {
    "ConfusionMatrixDisplay": "confusion",
    "PrecisionRecallDisplay": "pr_curve",
    "RocCurveDisplay": "roc",
    "PrecisionRecallThresholdDisplay": "pr_threshold",
    "CoefficientImagesDisplay": "coef_images",
    "ErrorGalleryDisplay": "error_gallery",
    "ProbaBarsDisplay": "proba_bars",
    "ConfusedPairsDisplay": "confused_pairs",
    "RobustnessDisplay": "robustness",
    "SearchParamDisplay": "search",
}

__all__ = ["save_figure", "DigitGridDisplay", "ClassDistributionDisplay", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
