"""The class pairs the model confuses most, each with example images."""

from __future__ import annotations

import numpy as np

from ._grid import image_grid
from ._labels import figure_labels
from ._run_data import as_run, load_result, test_images


class ConfusedPairsDisplay:
    """One row per confused pair ("true 4 → predicted 9, 37 times") with examples of it.

    Parameters
    ----------
    pairs : list of dict
        ``true``, ``pred``, ``count`` (see :func:`digitlab.evaluation.metrics.confused_pairs`).
    examples : list of ndarray of shape (n_examples, height, width)
        Images of each pair.
    classes : list of str, default=None
    example_indices : list of ndarray, default=None

    Attributes
    ----------
    axes_ : ndarray of shape (n_pairs, n_examples) of matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, pairs, examples, *, classes=None, example_indices=None):
        self.pairs = pairs
        self.examples = examples
        self.classes = classes
        self.example_indices = example_indices

    def _names(self):
        if self.classes is not None:
            return list(self.classes)
        k = max([max(p["true"], p["pred"]) for p in self.pairs], default=0) + 1
        return [str(i) for i in range(k)]

    @classmethod
    def from_predictions(cls, images, y_true, y_pred, *, classes=None, n_pairs=4, n_examples=6, figure=None):
        """Find the most frequent (true, predicted) mistakes and take their first examples.

        Parameters
        ----------
        images : ndarray of shape (n_samples, height, width)
        y_true, y_pred : ndarray of shape (n_samples,)
            Class indices.
        n_pairs : int, default=4
        n_examples : int, default=6
        """
        from ..evaluation.metrics import confused_pairs, confusion

        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        k = len(classes) if classes is not None else int(max(y_true.max(), y_pred.max())) + 1
        pairs = confused_pairs(confusion(y_true, y_pred, k), n_pairs)
        idx = [np.flatnonzero((y_true == p["true"]) & (y_pred == p["pred"]))[:n_examples] for p in pairs]
        images = np.asarray(images)
        disp = cls(pairs, [images[i] for i in idx], classes=classes, example_indices=idx)
        return disp.plot(figure=figure, n_examples=n_examples)

    @classmethod
    def from_run(cls, run, *, split=None, n_pairs=4, n_examples=6, figure=None):
        """A run's most confused test-set pairs (images from the run's split unless given)."""
        run = as_run(run)
        ev = load_result(run)
        arrays = ev.predictions
        return cls.from_predictions(test_images(run, split), arrays["y_true"], arrays["y_pred"],
                                    classes=figure_labels(ev.classes), n_pairs=n_pairs, n_examples=n_examples,
                                    figure=figure)

    def plot(self, *, figure=None, n_examples=None):
        """Draw one row per pair; returns ``self``.

        Parameters
        ----------
        figure : matplotlib Figure, default=None
            Figure to draw in. If ``None``, a new figure is created.
        """
        names = self._names()
        n_rows = max(1, len(self.pairs))
        n_cols = n_examples or max([len(e) for e in self.examples], default=1)
        n_cols = max(1, n_cols)
        labels = [f"true {names[p['true']]}\n→ {names[p['pred']]}\n({p['count']:,}×)" for p in self.pairs]
        fig, axes = image_grid(n_rows, n_cols, side=1.1, row_labels=labels, figure=figure,
                               suptitle="Most confused pairs (test set), with examples" if self.pairs
                               else "No confused pairs: every test image was classified correctly")
        for ax in axes.ravel():
            for s in ax.spines.values():
                s.set_visible(False)
        for r, (label, imgs) in enumerate(zip(labels, self.examples)):
            axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
            for c, img in enumerate(imgs[:n_cols]):
                axes[r, c].imshow(img, cmap="binary", vmin=0, vmax=255, interpolation="nearest")
        self.figure_, self.axes_ = fig, axes
        return self
