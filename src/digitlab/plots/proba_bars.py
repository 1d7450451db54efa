"""A few images beside bar charts of the probabilities the model gives each class."""

from __future__ import annotations

import math

import numpy as np

from ._grid import NO_TICKS
from ._labels import figure_labels
from ._run_data import as_run, load_result, require, test_images
from ._save import new_figure


class ProbaBarsDisplay:
    """One row per image: the image, then ``predict_proba`` as bars.

    The predicted class is blue; when it is wrong, the true class is red.

    Parameters
    ----------
    images : ndarray of shape (n_rows, height, width)
    y_proba : ndarray of shape (n_rows, n_classes)
    y_true : ndarray of shape (n_rows,), default=None
    classes : list of str, default=None
    indices : ndarray of shape (n_rows,), default=None
        Positions of the images in the test set (shown in the titles).

    Attributes
    ----------
    bars_ : list of matplotlib BarContainer
    axes_ : ndarray of shape (n_rows, 2) of matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, images, y_proba, *, y_true=None, classes=None, indices=None):
        self.images = images
        self.y_proba = y_proba
        self.y_true = y_true
        self.classes = classes
        self.indices = indices

    @classmethod
    def from_predictions(cls, images, y_proba, *, y_true=None, classes=None, index=None, n=5, figure=None):
        """Choose rows and draw them.

        Parameters
        ----------
        images : ndarray of shape (n_samples, height, width)
        y_proba : ndarray of shape (n_samples, n_classes)
        y_true : ndarray of shape (n_samples,), default=None
        index : array-like of int, default=None
            Rows to show. By default the first ``ceil(n/2)`` misclassified images and the first
            correctly classified ones, in test-set order (the first *n* without ``y_true``).
        n : int, default=5
        """
        y_proba = np.asarray(y_proba)
        if index is None:
            if y_true is None:
                index = np.arange(min(n, len(y_proba)))
            else:
                wrong = np.asarray(y_true) != y_proba.argmax(axis=1)
                err = np.flatnonzero(wrong)[: math.ceil(n / 2)]
                ok = np.flatnonzero(~wrong)[: n - len(err)]
                index = np.sort(np.concatenate([err, ok]))
        index = np.asarray(index, dtype=np.intp)
        disp = cls(np.asarray(images)[index], y_proba[index],
                   y_true=None if y_true is None else np.asarray(y_true)[index], classes=classes,
                   indices=index)
        return disp.plot(figure=figure)

    @classmethod
    def from_run(cls, run, *, split=None, index=None, n=5, figure=None):
        """Rows of a run's test-set ``predict_proba`` (images from the run's split unless given)."""
        run = as_run(run)
        ev = load_result(run)
        arrays = ev.predictions
        proba = require(arrays, "y_proba", run, "probability bars (the model has no predict_proba)")
        return cls.from_predictions(test_images(run, split), proba, y_true=arrays["y_true"],
                                    classes=figure_labels(ev.classes), index=index, n=n, figure=figure)

    def plot(self, *, figure=None):
        """Draw the rows; returns ``self``.

        Parameters
        ----------
        figure : matplotlib Figure, default=None
            Figure to draw in. If ``None``, a new figure is created.
        """
        n, k = self.y_proba.shape
        names = list(self.classes) if self.classes is not None else [str(i) for i in range(k)]
        fig = figure or new_figure((7.5, 1.45 * n + 0.5))
        gs = fig.add_gridspec(n, 2, width_ratios=[1, 4])
        # the image column without ticks: matplotlib would make ~24 tick lines per Axes
        axes = np.array([[fig.add_subplot(gs[r, 0], **NO_TICKS), fig.add_subplot(gs[r, 1])] for r in range(n)])
        self.bars_ = []
        x = np.arange(k)
        for r in range(n):
            ax_img, ax_bar = axes[r]
            pred = int(self.y_proba[r].argmax())
            true = None if self.y_true is None else int(self.y_true[r])
            ax_img.imshow(self.images[r], cmap="binary", vmin=0, vmax=255, interpolation="nearest")
            ax_img.set_axis_off()
            where = f"#{int(self.indices[r])}" if self.indices is not None else ""
            ax_img.set_title(f"true {names[true]} {where}".strip() if true is not None else where, fontsize=8)
            colors = ["lightgray"] * k
            if true is not None and true != pred:
                colors[true] = "tab:red"
            colors[pred] = "tab:blue"
            self.bars_.append(ax_bar.bar(x, self.y_proba[r], color=colors))
            ax_bar.set_ylim(0, 1)
            ax_bar.set_xticks(x, names, fontsize=8)
            ax_bar.set_ylabel("probability", fontsize=8)
            verdict = "" if true is None else (" ✓" if true == pred else " ✗")
            ax_bar.set_title(f"predicted {names[pred]} ({self.y_proba[r, pred]:.2f}){verdict}", fontsize=8)
        fig.suptitle("Predicted probabilities of a few test images")
        self.figure_, self.axes_ = fig, axes
        return self
