"""Deskewer: moment-based deskewing on images whose skew is known."""

import numpy as np
import pytest
from scipy import ndimage

from digitlab.models.deskew import Deskewer, deskew_images, image_moments


def _bar(slope, side=28, top=6, bottom=22, col=13.5, width=2.0):
    """A vertical bar of *width* px at column *col*, sheared by *slope* columns per row."""
    rr, cc = np.mgrid[:side, :side].astype(float)
    centre = col + slope * (rr - (side - 1) / 2)
    img = np.clip(width / 2 + 0.5 - np.abs(cc - centre), 0, 1)  # anti-aliased stroke
    img[(rr < top) | (rr > bottom)] = 0
    return (img * 255).astype(np.uint8)


def _ink_columns(img, rows=slice(8, 21)):
    """Centre of mass column of each row in *rows*."""
    part = img[rows].astype(float)
    return (part * np.arange(img.shape[1])).sum(1) / part.sum(1)


@pytest.mark.parametrize("slope", [-0.5, -0.25, 0.25, 0.5, 0.8])
def test_deskew_sheared_bar_becomes_vertical(slope):
    """Check a bar sheared by a known slope is measured as that slope and comes out vertical."""
    img = _bar(slope)
    _, alpha = image_moments(img[None])
    assert alpha[0] == pytest.approx(slope, abs=0.03)
    before = _ink_columns(img)
    assert np.ptp(before) > 10 * abs(slope)  # really slanted before
    out = deskew_images(img[None])[0]
    after = _ink_columns(out)
    assert np.ptp(after) < 0.3  # vertical after: within a third of a pixel over 13 rows
    assert after.mean() == pytest.approx(13.5, abs=0.3)  # and centred


def test_deskew_centres_by_centre_of_mass():
    """Check an upright blob away from the centre is moved to the image centre."""
    img = np.zeros((28, 28), np.uint8)
    img[3:9, 18:24] = 255  # centre of mass (5.5, 20.5)
    out = deskew_images(img[None])[0]
    centre, alpha = image_moments(out[None])
    assert alpha[0] == pytest.approx(0, abs=1e-6)
    np.testing.assert_allclose(centre[0], [13.5, 13.5], atol=1e-6)
    assert out.sum() == pytest.approx(img.sum(), rel=1e-5)  # ink moved, none lost


def test_deskew_blank_image_unchanged():
    """Check an all-zero image stays all zero (no division by zero)."""
    out = deskew_images(np.zeros((2, 28, 28), np.uint8))
    assert out.shape == (2, 28, 28) and not out.any()


def test_deskew_matches_scipy_affine_transform(mnist_small):
    """Check the vectorised resampling equals scipy.ndimage.affine_transform (order=1)."""
    images = mnist_small.train.images[:50]
    centre, alpha = image_moments(images)
    ours = deskew_images(images)
    for i in range(len(images)):
        shear = np.array([[1.0, 0.0], [alpha[i], 1.0]])
        ref = ndimage.affine_transform(images[i].astype(np.float32), shear,
                                       offset=centre[i] - shear @ np.array([13.5, 13.5]),
                                       order=1, mode="grid-constant")
        np.testing.assert_allclose(ours[i], ref, atol=1e-3)


def test_deskew_straightens_mnist(mnist_small):
    """Check deskewed MNIST digits have (nearly) zero slant and the same ink."""
    images = mnist_small.train.images[:500]
    _, alpha = image_moments(images)
    out = deskew_images(images)
    _, alpha_after = image_moments(out)
    assert np.abs(alpha).mean() > 0.15
    assert np.abs(alpha_after).mean() < 0.2 * np.abs(alpha).mean()
    np.testing.assert_allclose(out.sum(axis=(1, 2)), images.sum(axis=(1, 2), dtype=float), rtol=0.02)


def test_deskewer_pipeline_step(mnist_small):
    """Check the transformer: flat in, flat out, dtype kept for floats, float32 for uint8."""
    X = mnist_small.X_train[:20]
    out = Deskewer().fit_transform(X)
    assert out.shape == X.shape and out.dtype == np.float32
    np.testing.assert_allclose(out.reshape(-1, 28, 28), deskew_images(mnist_small.train.images[:20]))
    assert Deskewer().fit_transform(X.astype(np.float64) / 255).dtype == np.float64


def test_deskewer_shape_mismatch():
    """Check a shape that does not match n_features is refused, naming both."""
    with pytest.raises(ValueError, match=r"shape=\(5, 5\) has 25 pixels, X has 784 features"):
        Deskewer(shape=(5, 5)).fit(np.zeros((2, 784)))


def test_knn_deskew_beats_knn(mnist_small):
    """Check deskewing improves kNN on real MNIST (3,000 training images)."""
    from digitlab.models import make_model

    s = mnist_small
    plain = make_model("knn").fit(s.X_train, s.y_train).score(s.X_test, s.y_test)
    deskewed = make_model("knn-deskew").fit(s.X_train, s.y_train).score(s.X_test, s.y_test)
    assert deskewed >= plain + 0.01


def test_knn_deskew_roundtrips_through_skops(digits, tmp_path):
    """Check a pipeline with the Deskewer step saves and loads under digitlab's allow-list."""
    from digitlab.models import make_model
    from digitlab.persist import load_model, save_model

    pipe = make_model("knn-deskew", {"pca__n_components": "20"}).fit(digits.X, digits.y)
    save_model(pipe, tmp_path / "knn.skops")
    np.testing.assert_array_equal(load_model(tmp_path / "knn.skops").predict(digits.X), pipe.predict(digits.X))
