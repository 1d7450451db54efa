"""Figures in scikit-learn's Display style: compute in ``from_*``, draw in ``plot``, keep
``figure_``/``ax_``, return ``self``. All drawing uses matplotlib's Agg backend."""

from ._save import save_figure
from .class_hist import ClassDistributionDisplay
from .digit_grid import DigitGridDisplay

__all__ = ["save_figure", "DigitGridDisplay", "ClassDistributionDisplay"]
