"""CNNClassifier on a tiny MNIST subset: it learns, it round-trips, it is a scikit-learn estimator."""

import numpy as np
import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

from digitlab.models.cnn import CNNClassifier  # noqa: E402

TINY = dict(max_epochs=1, channels=(8, 16), batch_size=32, n_threads=1)


@pytest.fixture(scope="module")
def cnn_fit(mnist_small):
    """One epoch on 1,500 images. Careful, don't call additional fits on this."""
    s = mnist_small
    X = s.X_train[:1500].astype(np.float32) / 255
    return CNNClassifier(**TINY, random_state=0).fit(X, s.y_train[:1500])


def _test_X(mnist_small):
    return mnist_small.X_test.astype(np.float32) / 255


def test_cnn_learns_above_chance(cnn_fit, mnist_small):
    """Check one epoch on 1,500 images is far above chance (10%) on held-out digits."""
    assert cnn_fit.score(_test_X(mnist_small), mnist_small.y_test) > 0.5
    assert cnn_fit.n_iter_ == 1 and len(cnn_fit.history_) == 1
    assert cnn_fit.history_[0]["loss"] > 0


def test_cnn_proba_invariants(cnn_fit, mnist_small):
    """Check probabilities sum to 1 and their argmax is predict."""
    X = _test_X(mnist_small)[:200]
    proba = cnn_fit.predict_proba(X)
    assert proba.shape == (200, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(cnn_fit.classes_[proba.argmax(axis=1)], cnn_fit.predict(X))


def test_cnn_fixed_seed_is_reproducible(cnn_fit, mnist_small):
    """Check the same random_state gives the same weights."""
    s = mnist_small
    again = CNNClassifier(**TINY, random_state=0).fit(s.X_train[:1500].astype(np.float32) / 255, s.y_train[:1500])
    for key, value in cnn_fit.state_dict_.items():
        np.testing.assert_array_equal(again.state_dict_[key], value, err_msg=key)


def test_cnn_roundtrips_through_skops(cnn_fit, mnist_small, tmp_path):
    """Check save/load (skops, digitlab's allow-list, no pickle) gives identical predictions."""
    from sklearn.pipeline import Pipeline

    from digitlab.models import PixelScaler
    from digitlab.persist import load_model, save_model

    pipe = Pipeline([("scale", PixelScaler()), ("clf", cnn_fit)])
    path = tmp_path / "cnn.skops"
    save_model(pipe, path)
    loaded = load_model(path)
    assert not hasattr(loaded[-1], "module_") or loaded[-1].module_ is not None
    X = mnist_small.X_test[:300]
    np.testing.assert_allclose(loaded.predict_proba(X), pipe.predict_proba(X), rtol=1e-5, atol=1e-7)


def test_cnn_registry_model(mnist_small):
    """Check `make_model("cnn")` builds the scaled pipeline and accepts typed --param values."""
    from digitlab.models import make_model

    pipe = make_model("cnn", {"max_epochs": "2", "channels": "8,16", "lr": "0.01"})
    clf = pipe[-1]
    assert isinstance(clf, CNNClassifier)
    assert (clf.max_epochs, clf.channels, clf.lr) == (2, (8, 16), 0.01)


def test_cnn_one_sample_refused():
    """Check a single training sample is refused (batch normalisation needs two)."""
    with pytest.raises(ValueError, match="more than 1 sample"):
        CNNClassifier(**TINY).fit(np.zeros((1, 784), np.float32), [3])
