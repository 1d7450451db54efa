"""CoefficientImagesDisplay: one image per class, one symmetric diverging scale."""

from __future__ import annotations

import numpy as np
import pytest

from digitlab.models import make_model
from digitlab.plots import CoefficientImagesDisplay


def test_from_run_multiclass(pyplot, digits_run):
    """Check ten 8x8 panels holding coef_, titled with the classes, on a shared symmetric scale."""
    disp = CoefficientImagesDisplay.from_run(digits_run)
    coef = digits_run.load_model()[-1].coef_
    assert len(disp.images_) == 10
    for k, im in enumerate(disp.images_):
        assert np.array_equal(im.get_array(), coef[k].reshape(8, 8))
        assert im.get_clim() == (-np.abs(coef).max(), np.abs(coef).max())
        assert im.get_cmap().name == "RdBu_r"
    assert [ax.get_title() for ax in disp.axes_[:10]] == [str(i) for i in range(10)]


def test_detector_has_one_panel(pyplot, detector_run):
    """Check a binary model's single coefficient row is one panel, "5 vs not 5"."""
    disp = CoefficientImagesDisplay.from_run(detector_run)
    assert len(disp.images_) == 1 and disp.axes_[0].get_title() == "5 vs not 5"


def test_non_square_needs_image_shape(digits):
    """Check coefficients that are not a square image are refused with a hint."""
    model = make_model("logreg").fit(digits.X[:, :60], digits.y)
    with pytest.raises(ValueError, match="pass image_shape"):
        CoefficientImagesDisplay.from_estimator(model)


def test_not_linear_refused(digits):
    """Check a model without coef_ is refused by name."""
    model = make_model("forest", {"n_estimators": 5}).fit(digits.X, digits.y)
    with pytest.raises(ValueError, match="RandomForestClassifier"):
        CoefficientImagesDisplay.from_estimator(model)
