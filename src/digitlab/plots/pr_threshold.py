"""Precision and recall against the decision threshold (the notebooks' trade-off plot)."""

from __future__ import annotations

from ._run_data import as_run, load_result, require
from ._save import new_figure


class PrecisionRecallThresholdDisplay:
    """Precision and recall as the threshold on the detector's score moves.

    Parameters
    ----------
    precision, recall : ndarray of shape (n_thresholds + 1,)
        As returned by :func:`sklearn.metrics.precision_recall_curve`.
    thresholds : ndarray of shape (n_thresholds,)
    threshold : float, default=None
        A chosen threshold, drawn as a vertical line.
    threshold_label : str, default=None
    score_name : str, default="Decision score"
        What the thresholds are (x-axis label).

    Attributes
    ----------
    line_precision_, line_recall_ : matplotlib Line2D
    line_threshold_ : matplotlib Line2D or None
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, precision, recall, thresholds, *, threshold=None, threshold_label=None,
                 score_name="Decision score"):
        self.precision = precision
        self.recall = recall
        self.thresholds = thresholds
        self.threshold = threshold
        self.threshold_label = threshold_label
        self.score_name = score_name

    @classmethod
    def from_predictions(cls, y_true, y_score, *, target=None, score_name="Decision score", ax=None,
                         title=None):
        """Compute the curves from true labels and scores of the positive class.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            0/1 or boolean targets.
        y_score : array-like of shape (n_samples,)
        target : dict, default=None
            From :func:`digitlab.evaluation.metrics.threshold_at`: marks its threshold.
        """
        from sklearn.metrics import precision_recall_curve

        precision, recall, thresholds = precision_recall_curve(y_true, y_score)
        thr, label = None, None
        if target and target.get("threshold") is not None:
            thr = target["threshold"]
            label = (f"threshold {thr:.6g} (precision {target['precision']:.2f}, "
                     f"recall {target['recall']:.2f})")
        return cls(precision, recall, thresholds, threshold=thr, threshold_label=label,
                   score_name=score_name).plot(ax=ax, title=title)

    @classmethod
    def from_run(cls, run, *, ax=None):
        """Curves of a run's cross-validated scores (test scores when it was not cross-validated)."""
        run = as_run(run)
        ev = load_result(run)
        arrays = ev.predictions
        det = ev.detector or {}
        cv = det.get("source") == "cv"
        key = "cv_score" if cv else "y_score"
        y_true = arrays["cv_y_true"] if cv else arrays["y_true"]
        y_score = require(arrays, key, run, "the precision/recall threshold plot")
        name = "Probability of the positive class" if ev.score_kind == "predict_proba" else "Decision score"
        where = "cross-validated, training set" if cv else "test set"
        return cls.from_predictions(y_true, y_score, target=det.get("target"), score_name=name, ax=ax,
                                    title=f"Precision and recall versus threshold ({where})")

    def plot(self, ax=None, *, title=None):
        """Draw both curves; returns ``self``.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes object to plot on. If ``None``, a new figure and axes is created.
        title : str, default=None
        """
        if ax is None:
            ax = new_figure((8, 4)).subplots()
        # precision/recall have one more point than thresholds (the "infinite" threshold)
        (self.line_precision_,) = ax.plot(self.thresholds, self.precision[:-1], "b--", lw=2, label="Precision")
        (self.line_recall_,) = ax.plot(self.thresholds, self.recall[:-1], "g-", lw=2, label="Recall")
        self.line_threshold_ = None
        if self.threshold is not None:
            self.line_threshold_ = ax.axvline(self.threshold, color="black", ls=":",
                                              label=self.threshold_label or "threshold")
        ax.set_xlabel(f"Threshold ({self.score_name.lower()})")
        ax.set_ylabel("Precision / recall")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(True, alpha=0.4)
        ax.legend(loc="center left")
        ax.set_title(title or "Precision and recall versus threshold")
        self.ax_, self.figure_ = ax, ax.figure
        return self
