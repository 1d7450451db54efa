"""PixelScaler never modifies the caller's array (issue 11 §5)."""

import numpy as np
import pytest

from digitlab.models import make_model
from digitlab.models.scaling import PixelScaler


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_transform_leaves_the_input_alone(dtype):
    X = (np.arange(64 * 3, dtype=np.float64).reshape(3, 64) % 256).astype(dtype)
    before = X.copy()
    out = PixelScaler().fit(X).transform(X)
    np.testing.assert_array_equal(X, before)
    assert out.dtype == np.float32 and not np.shares_memory(out, X)
    np.testing.assert_allclose(out, before.astype(np.float32) / 255, rtol=1e-6)


def test_fit_then_predict_on_the_same_float32_array_scales_once(digits):
    """fit(X32) then predict(X32): the second pass must see the original pixels."""
    X32 = digits.X.astype(np.float32)
    model = make_model("logreg").fit(X32, digits.y)
    expected = make_model("logreg").fit(digits.X, digits.y).predict(digits.X)
    np.testing.assert_array_equal(model.predict(X32), expected)
    np.testing.assert_array_equal(X32, digits.X.astype(np.float32))
