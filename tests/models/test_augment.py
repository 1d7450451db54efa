"""shift_augment: the book's shifted copies of the training set."""

import numpy as np
import pytest
from scipy import ndimage

from digitlab.augment import SHIFTS, shift_augment, shift_image
from digitlab.exceptions import ParameterError


@pytest.mark.parametrize("dy, dx", [(0, 1), (0, -1), (1, 0), (-1, 0), (2, -3)])
def test_shift_image_matches_scipy(mnist_small, dy, dx):
    """Check integer shifts equal the book's scipy.ndimage.shift(cval=0)."""
    images = mnist_small.train.images[:10]
    ours = shift_image(images, dy, dx)
    for img, out in zip(images, ours):
        np.testing.assert_array_equal(out, ndimage.shift(img, (dy, dx), cval=0, order=0))


def test_shift_augment_shapes_and_order(mnist_small):
    """Check 5x the data: originals first, then one block per shift, labels repeated."""
    images, y = mnist_small.train.images[:100], mnist_small.y_train[:100]
    X, y_aug = shift_augment(images, y)
    assert X.shape == (500, 784) and X.dtype == np.uint8
    np.testing.assert_array_equal(X[:100], images.reshape(100, -1))
    np.testing.assert_array_equal(y_aug, np.tile(y, 5))
    for i, (dy, dx) in enumerate(SHIFTS, start=1):
        np.testing.assert_array_equal(X[i * 100:(i + 1) * 100].reshape(-1, 28, 28), shift_image(images, dy, dx))


def test_shift_augment_moves_ink_one_pixel():
    """Check one lit pixel lands one step left, right, up and down."""
    img = np.zeros((1, 5, 5), np.uint8)
    img[0, 2, 2] = 200
    X, _ = shift_augment(img, np.array([3]))
    lit = [tuple(np.argwhere(x.reshape(5, 5))[0]) for x in X]
    assert lit == [(2, 2), (2, 1), (2, 3), (1, 2), (3, 2)]


def test_shift_augment_rejects_mismatch():
    """Check mismatched images and labels are refused, naming both counts."""
    with pytest.raises(ParameterError, match="3 images but 2 labels"):
        shift_augment(np.zeros((3, 28, 28), np.uint8), np.zeros(2))
    with pytest.raises(ParameterError, match=r"expected images of shape \(n, height, width\)"):
        shift_augment(np.zeros((3, 784), np.uint8), np.zeros(3))


def test_train_with_augment(digits, tmp_path):
    """Check digitlab.train(augment=True) runs end to end and records it in run.json."""
    import digitlab

    run = digitlab.train(digits, "logreg", test_size=0.25, augment=True, evaluate=False,
                         runs_dir=tmp_path)
    assert run.info.split.augment is True
    assert run.info.split.n_train == 1347  # the split itself is not augmented
    assert run.info.fit.converged is True
