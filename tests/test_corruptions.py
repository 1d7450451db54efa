"""Corruptions of digit images and the robustness report (issue 13 §2)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from scipy import ndimage

from digitlab.corruptions import CORRUPTIONS, SEVERITIES, corrupt
from digitlab.robustness import RobustnessResult, robustness
from digitlab.exceptions import DataError, ParameterError

NAMES = list(CORRUPTIONS)
RANDOM = ["shift", "rotation", "shear", "noise", "elastic", "occlusion", "crop"]  # the others are fixed maps


@pytest.fixture(scope="module")
def mnist_images(mnist):
    """200 MNIST test images (a copy: tests may compare against them)."""
    return mnist.train_test().test.images[:200].copy()


@pytest.fixture(scope="module")
def digit_images(digits):
    return digits.images[:200].copy()


def _rng(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("name", NAMES)
def test_corrupt_is_deterministic_and_keeps_shape(mnist_images, name):
    """Check the same seed gives the same uint8 images of the same shape, and the input is untouched."""
    before = mnist_images.copy()
    a = corrupt(mnist_images, name, 2, seed=7)
    b = corrupt(mnist_images, name, 2, seed=7)
    assert a.dtype == np.uint8 and a.shape == mnist_images.shape
    assert np.array_equal(a, b)
    assert np.array_equal(mnist_images, before)
    assert not np.array_equal(a, mnist_images)


@pytest.mark.parametrize("name", RANDOM)
def test_corrupt_seed_changes_random_draws(mnist_images, name):
    """Check another seed draws other random parameters for the random corruptions."""
    assert not np.array_equal(corrupt(mnist_images, name, 2, seed=0), corrupt(mnist_images, name, 2, seed=1))


@pytest.mark.parametrize("images", ["mnist_images", "digit_images"])
@pytest.mark.parametrize("name", NAMES)
def test_severity_grows_the_change(request, images, name):
    """Check the mean absolute pixel change grows with severity, on 28x28 and on 8x8 digits."""
    x = request.getfixturevalue(images)
    change = [np.abs(corrupt(x, name, s).astype(np.int16) - x).mean() for s in SEVERITIES]
    assert change[0] > 0
    assert change[0] < change[1] < change[2], change


def test_rotation_matches_scipy_rotate(mnist_images):
    """Check each image is ndimage.rotate of the original by the drawn angle (bilinear, same size)."""
    c = CORRUPTIONS["rotation"]
    x = mnist_images[:20]
    p = c.sample(x, 3, _rng(3))
    assert set(np.abs(p["angle"])) == {c.level(3)} and len(set(np.sign(p["angle"]))) == 2
    out = c.render(x, p)
    for img, angle, got in zip(x, p["angle"], out):
        ref = ndimage.rotate(img.astype(np.float32), angle, reshape=False, order=1)
        assert np.array_equal(got, np.clip(np.rint(ref), 0, 255).astype(np.uint8))


def test_shift_moves_centre_of_mass(mnist_images):
    """Check a shift moves each digit's centre of mass by exactly the drawn (dy, dx) pixels."""
    c = CORRUPTIONS["shift"]
    x = mnist_images[:50]
    p = c.sample(x, 1, _rng(5))
    assert set(np.abs(p["dy"])) == {2.0} and set(np.abs(p["dx"])) == {2.0}
    out = c.render(x, p)
    for img, got, dy, dx in zip(x, out, p["dy"], p["dx"]):
        rows, cols = np.flatnonzero(img.any(1)), np.flatnonzero(img.any(0))
        if rows[0] + dy < 0 or rows[-1] + dy > 27 or cols[0] + dx < 0 or cols[-1] + dx > 27:
            continue  # part of the digit left the field
        before, after = ndimage.center_of_mass(img), ndimage.center_of_mass(got)
        assert after == pytest.approx((before[0] + dy, before[1] + dx), abs=1e-9)


def test_fractional_shift_on_small_images_matches_scipy_shift(digit_images):
    """Check on 8x8 digits the shift (2 px at 28x28 = 4/7 px) is ndimage.shift's bilinear one."""
    c = CORRUPTIONS["shift"]
    x = digit_images[:10]
    p = c.sample(x, 1, _rng(0))
    assert np.abs(p["dy"]) == pytest.approx(np.full(10, 2 * 8 / 28))
    out = c.render(x, p)
    for img, got, dy, dx in zip(x, out, p["dy"], p["dx"]):
        ref = ndimage.shift(img.astype(np.float32), (dy, dx), order=1, mode="constant")
        assert np.abs(got.astype(int) - np.clip(np.rint(ref), 0, 255)).max() <= 1


def test_shear_slides_rows_and_scale_shrinks_ink(mnist_images):
    """Check a shear only slides rows sideways (row sums kept) and a scale of s leaves ~s² of the ink."""
    x = mnist_images[:50].astype(np.float64)
    sheared = corrupt(mnist_images[:50], "shear", 2).astype(np.float64)
    # bilinear interpolation keeps a row's total unless ink leaves the field; allow for rounding
    kept = np.abs(sheared.sum(2) - x.sum(2))
    assert np.median(kept) <= 28 and np.mean(kept <= 0.05 * x.sum(2).max()) > 0.95
    for s in SEVERITIES:
        level = CORRUPTIONS["scale"].level(s)
        ratio = corrupt(mnist_images[:50], "scale", s).sum(axis=(1, 2)) / x.sum(axis=(1, 2))
        assert np.median(ratio) == pytest.approx(level**2, rel=0.1)


def test_contrast_keeps_mean_and_scales_spread(mnist_images):
    """Check contrast keeps each image's mean and multiplies its spread by the level."""
    x = mnist_images[:50].astype(np.float64)
    for s in SEVERITIES:
        out = corrupt(mnist_images[:50], "contrast", s).astype(np.float64)
        assert out.mean(axis=(1, 2)) == pytest.approx(x.mean(axis=(1, 2)), abs=0.5)
        level = CORRUPTIONS["contrast"].level(s)
        assert out.std(axis=(1, 2)) == pytest.approx(level * x.std(axis=(1, 2)), rel=0.05, abs=0.3)


def test_noise_has_the_stated_sigma():
    """Check the noise drawn has standard deviation level x 255 and is added, then clipped."""
    c = CORRUPTIONS["noise"]
    grey = np.full((20, 28, 28), 128, np.uint8)
    for s in SEVERITIES:
        p = c.sample(grey, s, _rng(s))
        sigma = c.level(s) * 255
        assert p["noise"].std() == pytest.approx(sigma, rel=0.03)
        assert abs(p["noise"].mean()) < 0.05 * sigma
        assert np.array_equal(c.render(grey, p), np.clip(np.rint(128 + p["noise"]), 0, 255).astype(np.uint8))


def test_blur_is_a_gaussian_filter(mnist_images):
    """Check blur is scipy's Gaussian filter with sigma scaled to the image side."""
    x = mnist_images[:5]
    out = corrupt(x, "blur", 2)
    for img, got in zip(x, out):
        ref = ndimage.gaussian_filter(img.astype(np.float32), 1.5, mode="constant")
        assert np.abs(got.astype(int) - np.clip(np.rint(ref), 0, 255)).max() <= 1


def test_elastic_field_has_the_stated_rms(mnist_images):
    """Check each image's displacement field has the level's RMS length and is smooth."""
    c = CORRUPTIONS["elastic"]
    p = c.sample(mnist_images[:10], 2, _rng(1))
    rms = np.sqrt((p["dy"] ** 2 + p["dx"] ** 2).mean(axis=(1, 2)))
    assert rms == pytest.approx(np.full(10, c.level(2)), rel=1e-4)
    # smooth: neighbouring pixels move nearly together (sigma = 4 px)
    assert np.abs(np.diff(p["dy"], axis=2)).mean() < 0.2 * np.abs(p["dy"]).mean()


def test_occlusion_erases_one_square_over_ink(mnist_images):
    """Check occlusion zeroes one side x side square centred on an ink pixel, and nothing else."""
    c = CORRUPTIONS["occlusion"]
    x = mnist_images[:30]
    p = c.sample(x, 2, _rng(2))
    out = c.render(x, p)
    side = 9
    for img, got, r, col in zip(x, out, p["row"], p["col"]):
        assert img[r, col] >= img.max() // 2  # centred on ink
        top, left = r - (side - 1) // 2, col - (side - 1) // 2
        mask = np.zeros_like(img, bool)
        mask[max(0, top): top + side, max(0, left): left + side] = True
        assert (got[mask] == 0).all() and np.array_equal(got[~mask], img[~mask])


def test_stroke_width_shortcut_equals_supersampled_morphology(mnist_images, digit_images):
    """Check thinner/thicker equal erosion/dilation of the 4x (nearest) upsampled image, block-averaged."""
    from digitlab.corruptions import _stroke_filter

    for x in (mnist_images[:30], digit_images[:30]):
        xf = x.astype(np.float32)
        n, h, w = x.shape
        f = round(112 / h)
        big = xf.repeat(f, 1).repeat(f, 2)
        for width in (-1.0, 2.0, 3.0):
            width *= h / 28
            r = round(abs(width) / 2 * f)
            op = ndimage.maximum_filter if width > 0 else ndimage.minimum_filter
            ref = op(big, size=(1, 2 * r + 1, 2 * r + 1), mode="constant").reshape(n, h, f, w, f).mean(axis=(2, 4))
            assert np.allclose(_stroke_filter(xf, width), ref, atol=1e-3)


def test_thinner_loses_ink_and_thicker_gains_it(mnist_images):
    """Check ink mass falls with thinner strokes and rises with thicker ones, brightest ink kept."""
    mass = mnist_images.sum(axis=(1, 2)).astype(float)
    thin = corrupt(mnist_images, "thinner", 2)
    thick = corrupt(mnist_images, "thicker", 2)
    assert (thin.sum(axis=(1, 2)) < mass).mean() > 0.95
    assert (thick.sum(axis=(1, 2)) > mass).all()
    assert np.array_equal(thin.max(axis=(1, 2)), mnist_images.max(axis=(1, 2)))


def test_crop_goes_through_preprocess(mnist_images):
    """Check crop returns preprocessed digits: re-centred by mass, fitted into the 20-px box, blanks kept blank."""
    x = mnist_images[:40].copy()
    x[0] = 0
    out = corrupt(x, "crop", 3)
    assert not out[0].any()
    for got in out[1:]:
        cy, cx = ndimage.center_of_mass(got)
        assert abs(cy - 14) <= 1.5 and abs(cx - 14) <= 1.5
        rows, cols = np.flatnonzero(got.any(1)), np.flatnonzero(got.any(0))
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21


@pytest.mark.parametrize("bad, match", [
    (("blurr", 1), "unknown 'blurr'"),
    (("blur", 0), "severity"),
    (("blur", 4), "severity"),
    (("blur", True), "severity"),
    (("blur", "2"), "severity"),
])
def test_corrupt_refuses_bad_name_or_severity(mnist_images, bad, match):
    """Check unknown names and severities outside 1..3 are usage errors naming the field."""
    with pytest.raises(ParameterError, match=match):
        corrupt(mnist_images[:2], *bad)


@pytest.mark.parametrize("images", [
    np.zeros((2, 28, 28), np.float64),
    np.zeros((28, 28), np.uint8),
    np.zeros((2, 4, 4), np.uint8),
    [[0]],
])
def test_corrupt_refuses_bad_images(images):
    """Check non-uint8, non-3-D or too-small images are refused with a one-line data error."""
    with pytest.raises(DataError, match="images:"):
        corrupt(images, "blur", 1)


def test_corrupt_refuses_bad_seed(mnist_images):
    with pytest.raises(ParameterError, match="seed"):
        corrupt(mnist_images[:2], "shift", 1, seed=-1)


def test_empty_batch_is_fine():
    assert corrupt(np.zeros((0, 28, 28), np.uint8), "elastic", 3).shape == (0, 28, 28)


@pytest.fixture(scope="module")
def fitted_logreg(mnist_small):
    from digitlab.models import make_model

    return make_model("logreg").fit(mnist_small.X_train, mnist_small.y_train)


@pytest.fixture(scope="module")
def logreg_robustness(fitted_logreg, mnist_small):
    steps = []
    result = robustness(fitted_logreg.predict, mnist_small.test.images, mnist_small.y_test, seed=0,
                        progress=lambda *a: steps.append(a))
    return result, steps


def test_robustness_of_a_real_logreg(logreg_robustness, fitted_logreg, mnist_small):
    """Check a logreg fitted on MNIST loses accuracy under the strong corruptions, severity 3 the worst."""
    r, steps = logreg_robustness
    assert r.clean_accuracy == pytest.approx(fitted_logreg.score(mnist_small.X_test, mnist_small.y_test))
    assert r.corruptions == NAMES and r.severities == (1, 2, 3) and r.n_test == len(mnist_small.test)
    for name in ("shift", "rotation", "scale", "elastic", "occlusion", "noise", "contrast", "thicker"):
        acc = r.accuracy[name]
        assert acc[2] < r.clean_accuracy - 0.05, (name, acc)
        assert acc[2] <= acc[0], (name, acc)
    assert r.mean_accuracy < r.clean_accuracy
    assert r.mean_accuracy == pytest.approx(np.mean([a for v in r.accuracy.values() for a in v]))
    assert [s[:2] for s in steps] == [(k, 1 + 36) for k in range(1, 38)] and steps[0][2] == "clean"


def test_robustness_result_round_trips_through_json(logreg_robustness):
    """Check to_dict is plain JSON and from_dict gives the same result back."""
    r, _ = logreg_robustness
    text = json.dumps(r.to_dict(), allow_nan=False)
    back = RobustnessResult.from_dict(json.loads(text))
    assert back == r
    assert back.to_dict() == r.to_dict()
    d = json.loads(text)
    assert d["corruptions"]["shift"]["levels"] == ["±2 px", "±3 px", "±4 px"]
    assert isinstance(d["mean_accuracy"], float)


def test_robustness_is_per_corruption_reproducible(fitted_logreg, mnist_small):
    """Check a corruption's accuracy does not depend on which other corruptions were measured."""
    x, y = mnist_small.test.images, mnist_small.y_test
    alone = robustness(fitted_logreg.predict, x, y, corruptions=["shift"], severities=(2,))
    both = robustness(fitted_logreg.predict, x, y, corruptions=["noise", "shift"], severities=(2,))
    assert alone.accuracy["shift"] == both.accuracy["shift"]
    pred = fitted_logreg.predict(corrupt(x, "shift", 2).reshape(len(x), -1))
    assert alone.accuracy["shift"] == (pytest.approx(np.mean(pred == y)),)


def test_robustness_measures_slow_corruptions_on_a_subset(monkeypatch, mnist_images):
    """Check a corruption with max_images is measured on a seeded subset, with its own clean baseline."""
    monkeypatch.setitem(CORRUPTIONS, "crop", dataclasses.replace(CORRUPTIONS["crop"], max_images=50))
    y = np.arange(len(mnist_images)) % 10
    predict = lambda X: np.where(X[:, 300] > 0, 1, 0)
    r = robustness(predict, mnist_images, y, corruptions=["crop", "blur"], seed=3)
    assert r.n_images == {"crop": 50, "blur": 200}
    assert r.baseline["blur"] == r.clean_accuracy
    again = robustness(predict, mnist_images, y, corruptions=["crop"], seed=3)
    assert again.accuracy["crop"] == r.accuracy["crop"] and again.baseline["crop"] == r.baseline["crop"]


def test_robustness_refuses_bad_arguments(mnist_images):
    """Check mismatched labels, a broken predict and bad corruption lists fail with one clear line."""
    y = np.zeros(len(mnist_images), int)
    ok = lambda X: np.zeros(len(X), int)
    with pytest.raises(DataError, match="y: expected 200 labels"):
        robustness(ok, mnist_images, y[:-1])
    with pytest.raises(DataError, match="predict returned shape"):
        robustness(lambda X: np.zeros(3), mnist_images, y)
    with pytest.raises(ParameterError, match="unknown 'fog'"):
        robustness(ok, mnist_images, y, corruptions=["fog"])
    with pytest.raises(ParameterError, match="twice"):
        robustness(ok, mnist_images, y, corruptions=["blur", "blur"])
    with pytest.raises(ParameterError, match="severit"):
        robustness(ok, mnist_images, y, severities=(1, 1))
    with pytest.raises(DataError, match="no test images"):
        robustness(ok, mnist_images[:0], y[:0])


def _good_dict():
    return RobustnessResult(clean_accuracy=0.9, severities=(1, 2, 3), accuracy={"blur": (0.8, 0.7, 0.6)},
                            baseline={"blur": 0.9}, n_images={"blur": 10}, levels={"blur": ("a", "b", "c")},
                            seed=0, n_test=10).to_dict()


def _set(d, path, value):
    d = json.loads(json.dumps(d))
    *head, last = path
    node = d
    for key in head:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return d


_DELETE = object()


@pytest.mark.parametrize("path, value, match", [
    (("format",), 2, r"robustness\.format"),
    (("clean_accuracy",), math.nan, r"robustness\.clean_accuracy"),
    (("clean_accuracy",), 1.5, r"robustness\.clean_accuracy"),
    (("clean_accuracy",), True, r"robustness\.clean_accuracy"),
    (("clean_accuracy",), _DELETE, r"robustness\.clean_accuracy"),
    (("severities",), [1, True, 3], r"robustness\.severities"),
    (("severities",), [1, 1, 2], r"robustness\.severities"),
    (("severities",), [], r"robustness\.severities"),
    (("corruptions", "blur", "accuracy"), [0.5, 0.5], r"corruptions\.'blur'\.accuracy"),
    (("corruptions", "blur", "accuracy"), [0.5, "0.5", 0.5], r"corruptions\.'blur'\.accuracy"),
    (("corruptions", "blur", "baseline"), -0.1, r"corruptions\.'blur'\.baseline"),
    (("corruptions", "blur", "n_images"), 1.0, r"corruptions\.'blur'\.n_images"),
    (("corruptions", "blur", "levels"), ["a", "b", 3], r"corruptions\.'blur'\.levels"),
    (("corruptions", "x" * 33), {}, r"bad corruption name"),
    (("corruptions", "a\nb"), {}, r"bad corruption name"),
    (("corruptions",), [], r"robustness\.corruptions"),
    (("seed",), -1, r"robustness\.seed"),
    (("n_test",), "10", r"robustness\.n_test"),
])
def test_from_dict_names_the_bad_field(path, value, match):
    """Check a damaged stored result is refused with a DataError naming the field."""
    with pytest.raises(DataError, match=match):
        RobustnessResult.from_dict(_set(_good_dict(), path, value))


def test_from_dict_refuses_non_objects():
    for bad in (None, [], "robustness", 3):
        with pytest.raises(DataError, match="robustness"):
            RobustnessResult.from_dict(bad)
