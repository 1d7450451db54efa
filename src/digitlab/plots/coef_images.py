"""A linear model's weights per class, drawn as images of the pixels they weigh."""

from __future__ import annotations

import math

import numpy as np

from ._grid import NO_TICKS
from ._labels import figure_labels
from ._run_data import as_run
from ._save import new_figure


class CoefficientImagesDisplay:
    """Coefficients of each class as a ``height x width`` image on one symmetric, diverging scale.

    Red pixels push towards the class, blue ones away from it; the same colour means the same
    weight in every panel.

    Parameters
    ----------
    coef : ndarray of shape (n_panels, n_features)
        ``coef_`` of a linear classifier (one row for a binary one).
    image_shape : tuple of int
        ``(height, width)``, with ``height * width == n_features``.
    titles : list of str
    suptitle : str, default=None

    Attributes
    ----------
    images_ : list of matplotlib AxesImage
    colorbar_ : matplotlib Colorbar
    axes_ : ndarray of matplotlib Axes
    figure_ : matplotlib Figure
    vmax_ : float
        The symmetric colour limit, ``max(|coef|)``.
    """

    def __init__(self, coef, image_shape, titles, *, suptitle=None):
        self.coef = coef
        self.image_shape = tuple(image_shape)
        self.titles = titles
        self.suptitle = suptitle

    @classmethod
    def from_estimator(cls, estimator, *, image_shape=None, classes=None, suptitle=None, figure=None):
        """Read ``coef_`` from a fitted linear classifier (or a Pipeline ending in one).

        Parameters
        ----------
        estimator : fitted classifier or Pipeline
        image_shape : tuple of int, default=None
            Inferred for square images.
        classes : list of str, default=None
            Names of ``classes_`` (task class names).
        """
        clf = estimator[-1] if hasattr(estimator, "steps") else estimator
        coef = getattr(clf, "coef_", None)
        if coef is None:
            raise ValueError(f"CoefficientImagesDisplay needs a linear model with coef_, got {type(clf).__name__}")
        coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
        n = coef.shape[1]
        if image_shape is None:
            side = math.isqrt(n)
            if side * side != n:
                raise ValueError(f"CoefficientImagesDisplay: {n} coefficients are not a square image; "
                                 "pass image_shape")
            image_shape = (side, side)
        if math.prod(image_shape) != n:
            raise ValueError(f"CoefficientImagesDisplay: image_shape {tuple(image_shape)} does not hold "
                             f"{n} coefficients")
        names = list(classes) if classes is not None else [str(c) for c in clf.classes_]
        if coef.shape[0] == 1:  # binary: the one row scores the second class against the first
            titles = [f"{names[-1]} vs {names[0]}" if len(names) == 2 else names[-1]]
        else:
            titles = names[: coef.shape[0]]
        return cls(coef, image_shape, titles, suptitle=suptitle).plot(figure=figure)

    @classmethod
    def from_run(cls, run, *, figure=None):
        """Coefficients of a run's model (loaded with the usual checks)."""
        run = as_run(run)
        return cls.from_estimator(run.load_model(), image_shape=run.info.dataset.shape or None,
                                  classes=figure_labels(run.classes) if run.classes else None,
                                  suptitle=f"Coefficients of {run.info.model.name}", figure=figure)

    def plot(self, *, figure=None, cmap="RdBu_r", n_cols=5):
        """Draw one panel per row of ``coef``; returns ``self``.

        Parameters
        ----------
        figure : matplotlib Figure, default=None
            Figure to draw in. If ``None``, a new figure is created.
        cmap : str, default="RdBu_r"
            A diverging colormap, centred on 0.
        """
        n = len(self.coef)
        n_cols = min(n_cols, n)
        n_rows = math.ceil(n / n_cols)
        fig = figure or new_figure((1.9 * n_cols + 1.0, 2.0 * n_rows + 0.4))
        axes = np.atleast_1d(fig.subplots(n_rows, n_cols, squeeze=False, subplot_kw=NO_TICKS)).ravel()
        # one symmetric scale for all panels, so colours compare across classes
        self.vmax_ = float(np.abs(self.coef).max()) or 1.0
        self.images_ = []
        for k, ax in enumerate(axes):
            if k >= n:
                ax.set_axis_off()
                continue
            im = ax.imshow(self.coef[k].reshape(self.image_shape), cmap=cmap, vmin=-self.vmax_,
                           vmax=self.vmax_, interpolation="nearest")
            ax.set_title(self.titles[k])
            self.images_.append(im)
        self.colorbar_ = fig.colorbar(self.images_[0], ax=axes.tolist(), shrink=0.8, label="weight")
        fig.suptitle(self.suptitle or "Coefficients per class (red: evidence for, blue: against)")
        self.figure_, self.axes_ = fig, axes
        return self
