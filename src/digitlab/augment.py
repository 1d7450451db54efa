"""Training-set augmentation: shifted copies of each image (the book's chapter 3 exercise 2)."""

from __future__ import annotations

import numpy as np

from .exceptions import ParameterError

# one pixel left, right, up and down, as in the book's exercise
SHIFTS = ((0, -1), (0, 1), (-1, 0), (1, 0))


def shift_image(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Shift images by whole pixels, filling the uncovered border with 0 (background).

    Integer shifts are pure copies, so this equals ``scipy.ndimage.shift(image, (dy, dx),
    cval=0)`` (the book's version) at a fraction of the cost.

    Parameters
    ----------
    images : ndarray of shape (n_samples, height, width)
    dy, dx : int
        Rows down and columns right (negative: up and left).

    Returns
    -------
    shifted : ndarray of the same shape and dtype
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ParameterError(f"shift_image: expected images of shape (n, height, width), got {images.shape}")
    h, w = images.shape[1:]
    out = np.zeros_like(images)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src_r = slice(max(0, -dy), h - max(0, dy))
    dst_r = slice(max(0, dy), h - max(0, -dy))
    src_c = slice(max(0, -dx), w - max(0, dx))
    dst_c = slice(max(0, dx), w - max(0, -dx))
    out[:, dst_r, dst_c] = images[:, src_r, src_c]
    return out


def shift_augment(images, y, shifts=SHIFTS):
    """The training set followed by one shifted copy per entry of *shifts*.

    Parameters
    ----------
    images : ndarray of shape (n_samples, height, width), dtype=uint8
    y : ndarray of shape (n_samples,)
    shifts : sequence of (dy, dx), default=SHIFTS
        The default is one pixel in each of the four directions: 5× the images.

    Returns
    -------
    X : ndarray of shape (n_samples * (1 + len(shifts)), height * width), dtype=uint8
        Originals first, then each shifted block in the order of *shifts*.
    y : ndarray of shape (n_samples * (1 + len(shifts)),)

    Examples
    --------
    >>> images = np.zeros((1, 3, 3), np.uint8); images[0, 1, 1] = 255
    >>> X, y = shift_augment(images, np.array([7]))
    >>> X.shape, y.tolist()
    ((5, 9), [7, 7, 7, 7, 7])
    >>> X[1].reshape(3, 3)[1].tolist()  # shifted one pixel left
    [255, 0, 0]
    """
    images = np.asarray(images)
    y = np.asarray(y)
    if images.ndim != 3:
        raise ParameterError(f"shift_augment: expected images of shape (n, height, width), got {images.shape}")
    if len(images) != len(y):
        raise ParameterError(f"shift_augment: {len(images)} images but {len(y)} labels")
    n, h, w = images.shape
    X = np.empty((n * (1 + len(shifts)), h, w), dtype=images.dtype)
    X[:n] = images
    for i, (dy, dx) in enumerate(shifts, start=1):
        X[i * n:(i + 1) * n] = shift_image(images, int(dy), int(dx))
    return X.reshape(len(X), h * w), np.tile(y, 1 + len(shifts))
