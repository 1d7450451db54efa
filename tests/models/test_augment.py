"""Training-set augmentation: the kinds and how they parse, the book's shifted copies, the random
copies of the other kinds (made once for scikit-learn models), and train(augment=...)."""

import numpy as np
import pytest
from scipy import ndimage

from digitlab.augment import (
    KINDS,
    SHIFTS,
    augment_copies,
    parse_augment,
    random_affine,
    random_elastic,
    random_thickness,
    shift_augment,
    shift_image,
)
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


@pytest.mark.parametrize("value, kinds", [
    (True, ("shift",)), (False, ()), (None, ()), ("none", ()), ("", ()), ("true", ("shift",)), ("shift", ("shift",)),
    ("affine", ("affine",)), ("elastic+shift", ("shift", "elastic")), ("thickness, affine,affine", ("affine", "thickness")),
    ("shift,affine,elastic,thickness", KINDS), (["elastic", "Shift"], ("shift", "elastic")), ((), ()),
])
def test_parse_augment(value, kinds):
    """Check bools, 'none', kinds joined by ',' or '+' in any order and case, and lists parse to the
    canonical tuple (True and plain --augment: the book's shift)."""
    assert parse_augment(value) == kinds
    if isinstance(value, str):
        assert parse_augment(value.upper()) == kinds


@pytest.mark.parametrize("value, match", [
    ("afine", r"augment='afine': unknown kind 'afine'; choose from shift, affine, elastic, thickness"),
    ("shift,", "unknown kind ''"), ("shift+blur", "unknown kind 'blur'"), (3, "augment=3: expected kinds from"),
    ([1], r"augment=\[1\]: expected kinds"), ({"shift"}, "expected kinds"),
])
def test_parse_augment_refuses(value, match):
    """Check a misspelt, empty or unknown kind, or another type, is a ParameterError (exit 2) naming
    augment and listing the kinds."""
    with pytest.raises(ParameterError, match=match):
        parse_augment(value)


def _ink_centre(images):
    w = images.astype(float)
    r, c = np.mgrid[:images.shape[1], :images.shape[2]]
    m = w.sum(axis=(1, 2))
    return np.stack([(w * r).sum(axis=(1, 2)) / m, (w * c).sum(axis=(1, 2)) / m], 1)


@pytest.mark.parametrize("fn, min_cosine", [(random_affine, 0.4), (random_elastic, 0.5), (random_thickness, 0.8)])
def test_random_kinds_distort_but_keep_the_digit(fn, min_cosine, mnist_small):
    """Check each random kind changes nearly every image, keeps uint8 and its shape, keeps the ink
    where it was (centre of mass within 2 px, ink mass within a factor of 3), and the distorted
    images still look like their originals (cosine of the pixel vectors: a median over 0.8; a 10°
    turn of a thin 1 can bring one down to ~0.45)."""
    images = mnist_small.train.images[:200]
    out = fn(images, np.random.default_rng(0))
    assert out.shape == images.shape and out.dtype == np.uint8
    a, b = images.reshape(200, -1).astype(float), out.reshape(200, -1).astype(float)
    assert (np.abs(a - b).sum(axis=1) > 255).mean() > 0.9
    assert np.abs(_ink_centre(images) - _ink_centre(out)).max() < 2
    ratio = b.sum(axis=1) / a.sum(axis=1)
    assert ((ratio > 0.3) & (ratio < 3)).all()  # 1 px off a 2 px stroke takes half its ink
    cosine = (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() > min_cosine and np.median(cosine) > 0.8


def test_affine_rotates_a_bar():
    """Check 'affine' turns a vertical bar: its ink spreads over more columns in most copies, by
    at most the ±10° rotation plus ±0.2 shear (a 20-px bar then leans at most ~6 px)."""
    img = np.zeros((50, 28, 28), np.uint8)
    img[:, 4:24, 13:15] = 255
    out = random_affine(img, np.random.default_rng(1))
    cols = (out > 64).any(axis=1).sum(axis=1)
    assert (cols > 2).mean() > 0.6 and cols.max() <= 2 + 8  # rotation and shear can cancel


def test_thickness_goes_both_ways(mnist_small):
    """Check 'thickness' thickens some digits and thins others (ink mass up and down)."""
    images = mnist_small.train.images[:100]
    ratio = random_thickness(images, np.random.default_rng(2)).sum(axis=(1, 2)) / images.sum(axis=(1, 2))
    assert (ratio > 1.1).any() and (ratio < 0.9).any()


def test_augment_copies_blocks_labels_and_seed(mnist_small):
    """Check the blocks: originals, the four shifts (exactly shift_augment's), then one random copy
    per other kind; labels repeated; the same seed gives the same copies, another seed others."""
    images, y = mnist_small.train.images[:50], mnist_small.y_train[:50]
    X, y_aug = augment_copies(images, y, "thickness,shift,affine", seed=3)
    assert X.shape == (50 * 7, 784) and X.dtype == np.uint8
    np.testing.assert_array_equal(y_aug, np.tile(y, 7))
    np.testing.assert_array_equal(X[:250], shift_augment(images, y)[0])
    np.testing.assert_array_equal(X[250:300].reshape(-1, 28, 28), random_affine(images, np.random.default_rng(3)))
    again, _ = augment_copies(images, y, ["affine", "thickness", "shift"], seed=3)
    np.testing.assert_array_equal(X, again)
    other, _ = augment_copies(images, y, "shift,affine,thickness", seed=4)
    assert not np.array_equal(X[250:], other[250:]) and np.array_equal(X[:250], other[:250])
    X1, _ = augment_copies(images, y, "elastic", seed=0)
    assert X1.shape == (100, 784) and not np.array_equal(X1[:50], X1[50:])
    X0, _ = augment_copies(images, y, False)
    np.testing.assert_array_equal(X0, images.reshape(50, -1))


def test_train_with_augment(digits, tmp_path):
    """Check digitlab.train(augment=True) still means the book's shifts, recorded in run.json as
    kinds applied as copies (the split itself is not augmented)."""
    import digitlab

    run = digitlab.train(digits, "logreg", test_size=0.25, augment=True, evaluate=False,
                         runs_dir=tmp_path)
    assert run.info.split.augment == ["shift"] and run.info.split.augment_how == "copies"
    assert run.info.split.n_train == 1347  # the split itself is not augmented
    assert run.info.fit.converged is True


def test_train_with_augment_kinds_learns(digits, tmp_path):
    """Check train(augment="shift,affine") on a scikit-learn model trains on the copies and still
    learns the digits; no augmentation is recorded as an empty list."""
    import digitlab

    run = digitlab.train(digits, "knn", test_size=0.25, augment="affine,shift", cv=0, figures=False,
                         runs_dir=tmp_path)
    assert run.info.split.augment == ["shift", "affine"] and run.info.split.augment_how == "copies"
    assert run.load_model()[-1].n_samples_fit_ == 1347 * 6
    assert run.info.metrics.test_accuracy > 0.95
    plain = digitlab.train(digits, "dummy", test_size=0.25, evaluate=False, runs_dir=tmp_path)
    assert plain.info.split.augment == [] and plain.info.split.augment_how == ""


def test_train_cnn_augments_its_own_batches(digits, tmp_path, monkeypatch):
    """Check a CNN gets the kinds as its own parameter (drawn per batch, no copies), its default
    kinds are recorded when none are given, and kinds given twice are refused before any fit."""
    pytest.importorskip("torch")
    import digitlab
    from digitlab import augment

    def no_copies(*args, **kwargs):
        raise AssertionError("the CNN must not get augmented copies")

    monkeypatch.setattr(augment, "augment_copies", no_copies)

    fast = {"n_threads": 1, "max_epochs": 1, "min_steps": 0, "channels": (4,)}
    run = digitlab.train(digits, "cnn", params=fast, test_size=0.25, augment=["elastic", "thickness"],
                         evaluate=False, runs_dir=tmp_path)
    assert run.info.split.augment == ["elastic", "thickness"] and run.info.split.augment_how == "per batch"
    assert run.info.model.all_params["augment"] == "elastic,thickness"
    default = digitlab.train(digits, "cnn", params=fast, test_size=0.25, evaluate=False, runs_dir=tmp_path)
    assert default.info.split.augment == ["shift", "affine"] and default.info.split.augment_how == "per batch"
    with pytest.raises(ParameterError, match=r"params\['augment'\]='shift': the augmentation is given twice"):
        digitlab.train(digits, "cnn", params=fast | {"augment": "shift"}, augment="elastic", runs_dir=tmp_path)
