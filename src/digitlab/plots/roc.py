"""scikit-learn's RocCurveDisplay, with the chosen threshold marked and ``from_run``."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import RocCurveDisplay as _SkRocCurveDisplay

from ._labels import figure_labels
from ._run_data import detector_curve_data


class RocCurveDisplay(_SkRocCurveDisplay):
    """ROC curve (scikit-learn's) with the chance line and, optionally, an operating point.

    Extra attributes after :meth:`mark_threshold`: ``point_`` (``(fpr, tpr)``) and ``point_line_``.
    """

    point_ = None
    _point_label = None

    def plot(self, ax=None, **kwargs):
        super().plot(ax=ax, **kwargs)
        if self.point_ is not None:
            self._draw_point()
        return self

    def mark_threshold(self, y_true, y_score, threshold, label=None):
        """Mark where ``y_score >= threshold`` sits on the curve."""
        if threshold is None:
            return self
        y_true = np.asarray(y_true).astype(bool)
        y_at = np.asarray(y_score) >= threshold
        fpr = float(y_at[~y_true].mean()) if (~y_true).any() else 0.0
        tpr = float(y_at[y_true].mean()) if y_true.any() else 0.0
        self.point_ = (fpr, tpr)
        self._point_label = label or f"threshold {threshold:.6g}"
        if hasattr(self, "ax_"):
            self._draw_point()
        return self

    def _draw_point(self):
        fpr, tpr = self.point_
        (self.point_line_,) = self.ax_.plot([fpr], [tpr], "o", color="black", zorder=3,
                                            label=f"{self._point_label}: TPR {tpr:.2f}, FPR {fpr:.3f}")
        self.ax_.legend(loc="lower right")

    @classmethod
    def from_predictions(cls, y_true, y_score=None, *, threshold=None, title=None, **kwargs):
        """As :meth:`sklearn.metrics.RocCurveDisplay.from_predictions`, plus *threshold* and *title*."""
        kwargs.setdefault("plot_chance_level", True)
        disp = super().from_predictions(y_true, y_score, **kwargs)
        disp.mark_threshold(y_true, y_score, threshold)
        if title:
            disp.ax_.set_title(title)
        return disp

    @classmethod
    def from_run(cls, run, *, ax=None, **kwargs):
        """The detector's ROC curve from a run's cross-validated scores (test scores without CV)."""
        y_true, y_score, where, ev, det = detector_curve_data(run, "a ROC curve")
        kwargs.setdefault("name", figure_labels(ev.classes)[-1] + " detector")
        kwargs.setdefault("title", f"ROC curve ({where})")
        t = det.get("target") or {}
        return cls.from_predictions(y_true, y_score, threshold=t.get("threshold"), ax=ax, **kwargs)
