"""scikit-learn's ConfusionMatrixDisplay, plus the errors-only view and ``from_run``."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay as _SkConfusionMatrixDisplay

from ._labels import figure_labels
from ._run_data import as_run, load_result


class ConfusionMatrixDisplay(_SkConfusionMatrixDisplay):
    """Confusion matrix visualization (scikit-learn's, unchanged), with two additions.

    - ``from_predictions(..., errors_only=True)``: rows normalised to shares of each true class,
      diagonal set to 0, so only the mistakes are coloured (the book's second matrix).
    - :meth:`from_run` reads a run's ``predictions.npz``.

    See :class:`sklearn.metrics.ConfusionMatrixDisplay` for the other parameters and attributes.
    """

    @classmethod
    def from_predictions(cls, y_true, y_pred, *, errors_only=False, title=None, labels=None,
                         display_labels=None, ax=None, **kwargs):
        """Plot from true and predicted labels.

        Parameters
        ----------
        y_true, y_pred : array-like of shape (n_samples,)
        errors_only : bool, default=False
            Row-normalise and zero the diagonal (values shown as percentages).
        title : str, default=None
            Axes title.
        labels, display_labels, ax, **kwargs
            As in :meth:`sklearn.metrics.ConfusionMatrixDisplay.from_predictions`.
        """
        if not errors_only:
            disp = super().from_predictions(y_true, y_pred, labels=labels, display_labels=display_labels,
                                            ax=ax, **kwargs)
        else:
            from sklearn.metrics import confusion_matrix

            from ..evaluation.metrics import confusion_errors

            cm = confusion_errors(confusion_matrix(y_true, y_pred, labels=labels))
            if display_labels is None:
                display_labels = labels if labels is not None else np.unique(np.concatenate([y_true, y_pred]))
            kwargs.setdefault("values_format", ".1%")
            kwargs.setdefault("cmap", "Reds")
            disp = cls(cm, display_labels=display_labels).plot(ax=ax, **kwargs)
            if disp.im_.colorbar is not None:  # in percent like the cells, not in fractions
                from matplotlib.ticker import PercentFormatter

                disp.im_.colorbar.ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
        if title:
            disp.ax_.set_title(title)
        return disp

    @classmethod
    def from_run(cls, run, *, source="auto", errors_only=False, ax=None, **kwargs):
        """Plot the confusion matrix of a run's cross-validated (or test) predictions.

        Parameters
        ----------
        run : Run, run id or folder path
        source : {"auto", "cv", "test"}, default="auto"
            ``"cv"``: out-of-fold predictions on the training set (as the notebooks);
            ``"test"``: the test set; ``"auto"``: ``"cv"`` when the run was cross-validated.
        errors_only : bool, default=False
        """
        run = as_run(run)
        ev = load_result(run)
        arrays = ev.predictions
        if source == "auto":
            source = "cv" if "cv_pred" in arrays else "test"
        if source == "cv":
            y_true, y_pred = arrays["cv_y_true"], arrays["cv_pred"]
        elif source == "test":
            y_true, y_pred = arrays["y_true"], arrays["y_pred"]
        else:
            raise ValueError(f"source must be 'auto', 'cv' or 'test', got {source!r}")
        classes = figure_labels(ev.classes)
        where = "cross-validated, training set" if source == "cv" else "test set"
        title = kwargs.pop("title", None) or (
            f"Errors by true class ({where})" if errors_only else f"Confusion matrix ({where})")
        kwargs.setdefault("xticks_rotation", "vertical" if max(map(len, classes)) > 3 else "horizontal")
        return cls.from_predictions(y_true, y_pred, labels=np.arange(len(classes)), display_labels=classes,
                                    errors_only=errors_only, title=title, ax=ax, **kwargs)
