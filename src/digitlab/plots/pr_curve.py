"""scikit-learn's PrecisionRecallDisplay, with the chosen threshold marked and ``from_run``."""

from __future__ import annotations

from sklearn.metrics import PrecisionRecallDisplay as _SkPrecisionRecallDisplay

from ._labels import figure_labels
from ._run_data import detector_curve_data


class PrecisionRecallDisplay(_SkPrecisionRecallDisplay):
    """Precision–recall curve (scikit-learn's), optionally marking an operating point.

    Extra attribute after :meth:`mark_target`: ``target_`` (dict with ``precision``, ``recall``,
    ``threshold``) and ``target_line_`` (the marker's Line2D).
    """

    target_ = None

    def plot(self, ax=None, **kwargs):
        super().plot(ax=ax, **kwargs)
        if self.target_ is not None:
            self._draw_target()
        return self

    def mark_target(self, target: dict | None):
        """Mark the point a threshold reaches (``{"threshold", "precision", "recall"}``)."""
        self.target_ = target if target and target.get("reached", True) and target.get("threshold") is not None else None
        if self.target_ is not None and hasattr(self, "ax_"):
            self._draw_target()
        return self

    def _draw_target(self):
        t = self.target_
        (self.target_line_,) = self.ax_.plot(
            [t["recall"]], [t["precision"]], "o", color="black", zorder=3,
            label=f"threshold {t['threshold']:.6g}: precision {t['precision']:.2f}, recall {t['recall']:.2f}")
        self.ax_.legend(loc="lower left")

    @classmethod
    def from_predictions(cls, y_true, y_score=None, *, target=None, title=None, **kwargs):
        """As :meth:`sklearn.metrics.PrecisionRecallDisplay.from_predictions`, plus *target* and *title*."""
        disp = super().from_predictions(y_true, y_score, **kwargs)
        disp.mark_target(target)
        if title:
            disp.ax_.set_title(title)
        return disp

    @classmethod
    def from_run(cls, run, *, ax=None, **kwargs):
        """The detector's curve from a run's cross-validated scores (test scores without CV)."""
        y_true, y_score, where, ev, det = detector_curve_data(run, "a precision-recall curve")
        kwargs.setdefault("name", figure_labels(ev.classes)[-1] + " detector")
        kwargs.setdefault("title", f"Precision versus recall ({where})")
        return cls.from_predictions(y_true, y_score, target=det.get("target"), ax=ax, **kwargs)
