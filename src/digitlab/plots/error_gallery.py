"""Misclassified test digits, most confident mistakes first."""

from __future__ import annotations

import math

import numpy as np

from ._labels import figure_labels
from ._run_data import as_run, load_result, test_images
from .digit_grid import DigitGridDisplay


class ErrorGalleryDisplay:
    """A grid of misclassified images titled "true 4 → 9 (0.87)".

    Parameters
    ----------
    images : ndarray of shape (n_errors, height, width)
        The misclassified images, in display order.
    y_true, y_pred : ndarray of shape (n_errors,)
        Class indices.
    confidence : ndarray of shape (n_errors,), default=None
        Predicted probability of the (wrong) predicted class.
    classes : list of str, default=None
    indices : ndarray of shape (n_errors,), default=None
        Positions of the images in the test set.
    n_errors_total : int, default=None
        How many errors there were in all (the gallery shows the first few).

    Attributes
    ----------
    grid_ : DigitGridDisplay
    axes_ : ndarray of matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, images, y_true, y_pred, *, confidence=None, classes=None, indices=None,
                 n_errors_total=None):
        self.images = images
        self.y_true = y_true
        self.y_pred = y_pred
        self.confidence = confidence
        self.classes = classes
        self.indices = indices
        self.n_errors_total = n_errors_total

    @classmethod
    def from_predictions(cls, images, y_true, y_pred, *, y_proba=None, y_score=None, classes=None,
                         max_images=24, n_cols=6, figure=None):
        """Pick the misclassified images and draw them.

        Parameters
        ----------
        images : ndarray of shape (n_samples, height, width)
        y_true, y_pred : ndarray of shape (n_samples,)
            Class indices.
        y_proba : ndarray of shape (n_samples, n_classes), default=None
            When given, errors are ordered by the probability given to the wrong class, highest
            first, and that probability is shown.
        y_score : ndarray of shape (n_samples,), default=None
            Detectors without probabilities: errors are ordered by ``|y_score|``, the distance
            from the decision threshold, highest first.
        max_images : int, default=24
        """
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        wrong = np.flatnonzero(y_true != y_pred)
        conf = None
        if y_proba is not None:
            conf_all = np.asarray(y_proba)[wrong, y_pred[wrong]]
            order = np.argsort(-conf_all, kind="stable")  # ties keep test-set order
            wrong, conf = wrong[order], conf_all[order]
        elif y_score is not None:
            wrong = wrong[np.argsort(-np.abs(np.asarray(y_score)[wrong]), kind="stable")]
        shown = wrong[:max_images]
        disp = cls(np.asarray(images)[shown], y_true[shown], y_pred[shown],
                   confidence=None if conf is None else conf[:max_images], classes=classes, indices=shown,
                   n_errors_total=len(wrong))
        return disp.plot(figure=figure, n_cols=n_cols)

    @classmethod
    def from_run(cls, run, *, split=None, max_images=24, figure=None):
        """Gallery of a run's test-set errors (images from the run's split, rebuilt unless given)."""
        run = as_run(run)
        ev = load_result(run)
        arrays = ev.predictions
        return cls.from_predictions(test_images(run, split), arrays["y_true"], arrays["y_pred"],
                                    y_proba=arrays.get("y_proba"), y_score=arrays.get("y_score"),
                                    classes=figure_labels(ev.classes),
                                    max_images=max_images, figure=figure)

    def plot(self, *, figure=None, n_cols=6):
        """Draw the gallery; returns ``self``.

        Parameters
        ----------
        figure : matplotlib Figure, default=None
            Figure to draw in. If ``None``, a new figure is created.
        """
        n = len(self.images)
        n_cols = max(1, min(n_cols, n))
        n_rows = max(1, math.ceil(n / n_cols))
        grid = DigitGridDisplay.from_predictions(self.images, self.y_true, self.y_pred, proba=self.confidence,
                                                 classes=list(self.classes) if self.classes else None,
                                                 grid=(n_rows, n_cols))
        total = self.n_errors_total if self.n_errors_total is not None else n
        grid.suptitle = (f"Misclassified test images: {n} of {total:,}" if n
                         else "No misclassified test images")
        self.grid_ = grid.plot(figure=figure)
        self.figure_, self.axes_ = self.grid_.figure_, self.grid_.axes_
        return self
