"""Training-set augmentation (issue 13 §3): named kinds of distortion that combine.

``train(augment="shift,affine")`` / ``digitlab train --augment shift,affine``; the kinds are

- ``shift``: whole-pixel translation (the book's chapter 3 exercise 2);
- ``affine``: rotation (±10°), scaling (±10%) and horizontal shear (±0.2 px per row) about the
  centre;
- ``elastic``: a smooth random displacement field (Simard et al., 2003: uniform noise smoothed
  over ~4 px) of 1 px RMS;
- ``thickness``: strokes up to 1 px thinner or thicker (grey erosion / dilation by half a pixel
  on each side, blended with the original by a random fraction).

How they are applied depends on the model. A model that augments its own training batches (the
CNN: :mod:`digitlab.models.cnn_augment`, the same kinds and ranges in torch) draws them afresh for
every batch of every epoch, shifts of up to ±2 px, all chosen kinds composed in one resampling.
For every other model :func:`augment_copies` adds copies once, before fitting: ``shift`` the
book's four copies moved one pixel left, right, up and down, and each other kind one randomly
distorted copy per image (seeded). Amounts are for 28x28 and scale with the image side.
"""

from __future__ import annotations

import numpy as np

from .exceptions import ParameterError

KINDS = ("shift", "affine", "elastic", "thickness")
# one pixel left, right, up and down, as in the book's exercise
SHIFTS = ((0, -1), (0, 1), (-1, 0), (1, 0))
REF_SIDE = 28  # the amounts below are for 28x28 images and scale with the side
MAX_SHIFT = 2  # px: the CNN's random per-batch shifts
MAX_ROTATION = 10  # degrees
MAX_SCALE = 0.1
MAX_SHEAR = 0.2  # px of horizontal slant per row
ELASTIC_RMS = 1.0  # px
ELASTIC_SMOOTHING = 4.0  # px: Simard's sigma


def parse_augment(value, name: str = "augment") -> tuple[str, ...]:
    """The augmentation kinds *value* asks for, in :data:`KINDS` order, duplicates dropped.

    ``True`` means ``("shift",)`` (the book's exercise, and plain ``--augment``); ``False``,
    ``None``, ``""`` and ``"none"`` mean no augmentation; a string joins kinds by ``,`` or ``+``
    (``"shift,affine"``, ``"elastic+shift"``), in any order and case; a list or tuple holds kinds.

    Raises
    ------
    ParameterError
        For an unknown kind or another type, naming *name* and listing the kinds.
    """
    if value is True:
        return ("shift",)
    if value is False or value is None:
        return ()
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "none", "false"):
            return ()
        if text == "true":
            return ("shift",)
        kinds = text.replace("+", ",").split(",")
    elif isinstance(value, (list, tuple)) and all(isinstance(k, str) for k in value):
        kinds = [k.lower() for k in value]
    else:
        raise ParameterError(f"{name}={value!r}: expected kinds from {', '.join(KINDS)}, comma-separated "
                             "(or a list of them)")
    kinds = [k.strip() for k in kinds]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ParameterError(f"{name}={value!r}: unknown kind {unknown[0]!r}; choose from {', '.join(KINDS)} "
                             "(comma-separated)")
    return tuple(k for k in KINDS if k in kinds)


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
    images, y = _images_and_labels(images, y, "shift_augment")
    n, h, w = images.shape
    X = np.empty((n * (1 + len(shifts)), h, w), dtype=images.dtype)
    X[:n] = images
    for i, (dy, dx) in enumerate(shifts, start=1):
        X[i * n:(i + 1) * n] = shift_image(images, int(dy), int(dx))
    return X.reshape(len(X), h * w), np.tile(y, 1 + len(shifts))


def augment_copies(images, y, kinds, seed: int = 0):
    """The training set followed by augmented copies, made once (for models that do not augment
    their own batches).

    Parameters
    ----------
    images : ndarray of shape (n_samples, height, width), dtype=uint8
    y : ndarray of shape (n_samples,)
    kinds : str, list or bool
        Anything :func:`parse_augment` accepts.
    seed : int, default=0
        Seeds the random kinds: the same seed gives the same copies.

    Returns
    -------
    X : ndarray of shape (n_samples * n_blocks, height * width), dtype=uint8
        Originals first; then, for ``shift``, the four one-pixel shifts (:data:`SHIFTS`); then
        one block per other kind, in :data:`KINDS` order.
    y : ndarray of shape (n_samples * n_blocks,)
        The labels, repeated: no kind changes what digit an image shows.
    """
    kinds = parse_augment(kinds)
    images, y = _images_and_labels(images, y, "augment_copies")
    if "shift" in kinds:
        X, _ = shift_augment(images, y)
        blocks = [X.reshape(-1, *images.shape[1:])]
    else:
        blocks = [images]
    rng = np.random.default_rng(seed)
    for kind in kinds:
        if kind != "shift":
            blocks.append(_RANDOM[kind](images, rng))
    X = np.concatenate(blocks)
    return X.reshape(len(X), -1), np.tile(y, len(X) // max(1, len(y)))


def random_affine(images, rng):
    """Each image rotated, scaled and sheared at random (uniform within the ranges above)."""
    from scipy import ndimage

    n, h, w = images.shape
    r = rng.uniform(-1, 1, size=(n, 3))
    angle, scale, shear = np.deg2rad(MAX_ROTATION) * r[:, 0], 1 + MAX_SCALE * r[:, 1], MAX_SHEAR * r[:, 2]
    centre = np.array([(h - 1) / 2, (w - 1) / 2])
    out = np.empty_like(images)
    for i in range(n):  # one affine_transform per image: the batch has no common matrix
        c, s = np.cos(angle[i]) / scale[i], np.sin(angle[i]) / scale[i]
        # output (row, col) -> input: rotation and scaling after a horizontal shear col += shear * row
        m = np.array([[c, -s], [s, c]]) @ np.array([[1.0, 0.0], [shear[i], 1.0]])
        out[i] = np.clip(np.rint(ndimage.affine_transform(images[i].astype(np.float32), m, centre - m @ centre,
                                                          order=1, mode="constant", cval=0.0)), 0, 255)
    return out


def random_elastic(images, rng):
    """Each image through its own smooth random displacement field of ``ELASTIC_RMS`` px RMS."""
    from scipy import ndimage

    n, h, w = images.shape
    k = min(h, w) / REF_SIDE
    field = rng.uniform(-1, 1, size=(2, n, h, w)).astype(np.float32)
    field = ndimage.gaussian_filter(field, sigma=(0, 0, ELASTIC_SMOOTHING * k, ELASTIC_SMOOTHING * k), mode="reflect")
    rms = np.sqrt((field**2).sum(0).mean(axis=(1, 2)))
    field *= (ELASTIC_RMS * k / np.maximum(rms, 1e-12))[None, :, None, None].astype(np.float32)
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.empty_like(images)
    for i in range(n):
        out[i] = np.clip(np.rint(ndimage.map_coordinates(images[i].astype(np.float32), [rows + field[0, i],
                         cols + field[1, i]], order=1, mode="constant", cval=0.0)), 0, 255)
    return out


def random_thickness(images, rng):
    """Strokes up to 1 px thinner or thicker: each image blended by ``|t|``, ``t ~ U(-1, 1)``,
    towards its grey erosion (``t < 0``) or dilation (``t > 0``) by a 3x3 square at twice the
    resolution, i.e. half a pixel off or onto each side of a stroke (a 3x3 filter at full
    resolution takes a whole pixel each side and wipes out MNIST's 2-3 px strokes)."""
    from scipy import ndimage

    n, h, w = images.shape
    up = images.astype(np.float32).repeat(2, axis=1).repeat(2, axis=2)

    def down(a):
        return a.reshape(n, h, 2, w, 2).mean(axis=(2, 4))

    thicker = down(ndimage.maximum_filter(up, size=(1, 3, 3), mode="constant", cval=0.0))
    thinner = down(ndimage.minimum_filter(up, size=(1, 3, 3), mode="constant", cval=0.0))
    t = rng.uniform(-1, 1, size=(n, 1, 1)).astype(np.float32)
    x = images.astype(np.float32)
    out = x + np.maximum(t, 0) * (thicker - x) + np.maximum(-t, 0) * (thinner - x)
    return np.clip(np.rint(out), 0, 255).astype(images.dtype)


_RANDOM = {"affine": random_affine, "elastic": random_elastic, "thickness": random_thickness}


def _images_and_labels(images, y, where: str):
    """*images* as an (n, height, width) array and *y* as n labels, or a ParameterError naming *where*."""
    images, y = np.asarray(images), np.asarray(y)
    if images.ndim != 3:
        raise ParameterError(f"{where}: expected images of shape (n, height, width), got {images.shape}")
    if len(images) != len(y):
        raise ParameterError(f"{where}: {len(images)} images but {len(y)} labels")
    return images, y
