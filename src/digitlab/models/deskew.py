"""Moment-based deskewing: straighten slanted digits and centre them by their centre of mass.

The classic MNIST preprocessing (LeCun et al. 1998 "deskewing"; kNN and SVM error rates drop by
about a third with it). For each image, from its intensity moments: the centre of mass
``(r̄, c̄)`` and the slant ``alpha = cov(r, c) / var(r)``, i.e. how many columns the ink moves
per row. The image is then resampled with the shear that undoes the slant, centred::

    out[r, c] = image[r + r̄ - h/2, c + c̄ - w/2 + alpha * (r - h/2)]
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

_CHUNK = 256  # images per gather step: the padded copies (7 MB) stay in cache

def image_moments(images: np.ndarray):
    """Centre of mass and slant of each image.

    Parameters
    ----------
    images : ndarray of shape (n_samples, height, width)

    Returns
    -------
    centre : ndarray of shape (n_samples, 2)
        Row and column of the centre of mass (the image centre for blank images).
    alpha : ndarray of shape (n_samples,)
        ``cov(row, col) / var(row)``: columns of slant per row (0 for blank or one-row images).
    """
    images = np.asarray(images, dtype=np.float64)
    n, h, w = images.shape
    rows = np.arange(h, dtype=np.float64)
    cols = np.arange(w, dtype=np.float64)
    total = images.sum(axis=(1, 2))
    blank = total <= 0
    total = np.where(blank, 1.0, total)
    row_mass = images.sum(axis=2)  # (n, h)
    col_mass = images.sum(axis=1)  # (n, w)
    r0 = row_mass @ rows / total
    c0 = col_mass @ cols / total
    dr = rows[None, :] - r0[:, None]
    dc = cols[None, :] - c0[:, None]
    var_r = np.einsum("nr,nr->n", row_mass, dr * dr) / total
    cov_rc = np.einsum("nr,nrc,nc->n", dr, images, dc) / total
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(var_r > 1e-12, cov_rc / var_r, 0.0)
    centre = np.column_stack([np.where(blank, (h - 1) / 2, r0), np.where(blank, (w - 1) / 2, c0)])
    return centre, np.where(blank, 0.0, alpha)


def deskew_images(images: np.ndarray) -> np.ndarray:
    """Deskew and centre each image (bilinear resampling, zero outside).

    Parameters
    ----------
    images : ndarray of shape (n_samples, height, width)

    Returns
    -------
    deskewed : ndarray of shape (n_samples, height, width), dtype=float32
    """
    images = np.asarray(images)
    n, h, w = images.shape
    out = np.empty((n, h, w), dtype=np.float32)
    if n == 0:
        return out
    centre, alpha = image_moments(images)
    rows = np.arange(h, dtype=np.float64)
    # source position of output pixel (r, c): row r + dy (one dy per image), column c + dx (one
    # dx per image and row: the shear). Bilinear interpolation by four gathers from a zero-padded
    # copy: about 2x faster than one scipy.ndimage.affine_transform call per image, same result as
    # affine_transform(order=1, mode="grid-constant") (tested).
    dy = centre[:, 0] - (h - 1) / 2
    dx = (centre[:, 1] - (w - 1) / 2)[:, None] + alpha[:, None] * (rows - (h - 1) / 2)[None, :]
    H, W = 3 * h, 3 * w  # h, w of zeros around each image: shifts of up to a whole image
    r_lo = np.floor(dy)
    fr = (dy - r_lo).astype(np.float32)[:, None, None]
    c_lo = np.floor(dx)
    fc = (dx - c_lo).astype(np.float32)[:, :, None]
    R = np.clip(rows[None, :] + r_lo[:, None] + h, 0, H - 2).astype(np.intp)  # (n, h)
    C = np.clip(np.arange(w)[None, None, :] + c_lo[:, :, None] + w, 0, W - 2).astype(np.intp)  # (n, h, w)
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        m = stop - start
        padded = np.zeros((m, H, W), dtype=np.float32)
        padded[:, h:2 * h, w:2 * w] = images[start:stop]
        flat = padded.reshape(-1)
        idx = (np.arange(m)[:, None, None] * (H * W) + R[start:stop, :, None] * W) + C[start:stop]
        top = flat[idx] * (1 - fc[start:stop]) + flat[idx + 1] * fc[start:stop]
        bottom = flat[idx + W] * (1 - fc[start:stop]) + flat[idx + W + 1] * fc[start:stop]
        out[start:stop] = top * (1 - fr[start:stop]) + bottom * fr[start:stop]
    return out


class Deskewer(TransformerMixin, BaseEstimator):
    """Pipeline step that deskews flat images (see the module docstring).

    Stateless: ``fit`` only records the input width.

    Parameters
    ----------
    shape : tuple of (int, int), default=None
        Image height and width. ``None``: square images, ``sqrt(n_features)`` on a side.

    Examples
    --------
    >>> import numpy as np
    >>> bar = np.zeros((1, 28, 28)); rows = np.arange(8, 20)
    >>> bar[0, rows, rows] = 1.0                             # a stroke slanted by 45 degrees
    >>> int(np.ptp(np.argmax(bar[0, 8:20], axis=1)))         # its ink spans 11 columns
    11
    >>> out = Deskewer().fit_transform(bar.reshape(1, -1)).reshape(28, 28)
    >>> int(np.ptp(np.argmax(out[8:20], axis=1)))            # now a single column
    0
    """

    def __init__(self, shape=None):
        self.shape = shape

    def fit(self, X, y=None):
        X = validate_data(self, X, reset=True)
        self._image_shape(X.shape[1])
        return self

    def transform(self, X):
        """Deskew each row of *X*.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)

        Returns
        -------
        X_deskewed : ndarray of shape (n_samples, height * width)
            float32 for uint8 or float32 input, float64 for float64 input.
        """
        check_is_fitted(self, "n_features_in_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32, np.uint8])
        h, w = self._image_shape(X.shape[1])
        out = deskew_images(X.reshape(len(X), h, w)).reshape(len(X), h * w)
        return out.astype(np.float64) if X.dtype == np.float64 else out

    def _image_shape(self, n_features):
        if self.shape is not None:
            h, w = (int(v) for v in self.shape)
            if h * w != n_features:
                raise ValueError(f"Deskewer: shape={tuple(self.shape)} has {h * w} pixels, "
                                 f"X has {n_features} features")
            return h, w
        side = math.isqrt(n_features)
        if side * side != n_features:
            # not an image we know the shape of: a single row cannot be sheared, only centred
            return 1, n_features
        return side, side

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = False
        return tags
