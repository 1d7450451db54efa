"""A grid of digit images with their labels, in the notebooks' look (binary colormap, no axes)."""

from __future__ import annotations

import numpy as np

from ._grid import image_grid


class DigitGridDisplay:
    """Grid of images with a title under each.

    Parameters
    ----------
    images : ndarray of shape (n_images, height, width)
    titles : list of str
    n_rows, n_cols : int
    suptitle : str, default=None
    """

    def __init__(self, images, titles, *, n_rows, n_cols, suptitle=None, title_colors=None):
        self.images = images
        self.titles = titles
        self.n_rows = n_rows
        self.n_cols = n_cols
        self.suptitle = suptitle
        self.title_colors = title_colors

    @classmethod
    def from_dataset(cls, dataset, *, index=None, grid=(5, 5), label=None, seed=None, suptitle=None):
        """Pick images from a :class:`~digitlab.datasets.Dataset` (first ones, or *index*, or of *label*)."""
        n_rows, n_cols = grid
        n = n_rows * n_cols
        if index is None:
            pool = np.arange(len(dataset))
            if label is not None:
                pool = np.flatnonzero(dataset.labels == label)
            if seed is not None:
                pool = np.random.default_rng(seed).permutation(pool)
            index = pool[:n]
        index = np.asarray(index, dtype=np.int64)[:n]
        titles = [f"{dataset.classes[dataset.labels[i]]}  (#{i})" for i in index]
        return cls(dataset.images[index], titles, n_rows=n_rows, n_cols=n_cols, suptitle=suptitle)

    @classmethod
    def from_predictions(cls, images, y_true, y_pred, *, proba=None, classes=None, grid=(4, 6),
                         suptitle=None):
        """Misclassified-digit gallery style: "true 4 → pred 9 (0.87)"."""
        n = min(len(images), grid[0] * grid[1])
        names = classes or [str(i) for i in range(10)]
        titles = []
        for i in range(n):
            t = f"true {names[y_true[i]]} → {names[y_pred[i]]}"
            if proba is not None:
                t += f" ({proba[i]:.2f})"
            titles.append(t)
        colors = ["tab:red" if y_true[i] != y_pred[i] else "black" for i in range(n)]
        return cls(np.asarray(images[:n]), titles, n_rows=grid[0], n_cols=grid[1], suptitle=suptitle,
                   title_colors=colors)

    def plot(self, *, figure=None, cmap="binary"):
        n_rows = max(1, min(self.n_rows, int(np.ceil(len(self.images) / self.n_cols))))
        fig, axes = image_grid(n_rows, self.n_cols, titles=self.titles, suptitle=self.suptitle, figure=figure)
        axes = axes.ravel()
        for k, ax in enumerate(axes):
            ax.set_axis_off()
            if k < len(self.images):
                ax.imshow(self.images[k], cmap=cmap, interpolation="nearest", vmin=0, vmax=255)
                color = self.title_colors[k] if self.title_colors else "black"
                ax.set_title(self.titles[k], fontsize=8, color=color)
        self.figure_, self.axes_ = fig, axes
        return self
