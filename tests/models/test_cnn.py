"""CNNClassifier on a tiny MNIST subset: it learns, it round-trips, it is a scikit-learn estimator."""

import numpy as np
import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

from digitlab.models.cnn import CNNClassifier  # noqa: E402

TINY = dict(max_epochs=1, min_steps=0, channels=(8, 16), batch_size=32, lr=0.05, n_threads=1)  # lr for 32-image batches


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

    pipe = make_model("cnn", {"max_epochs": "2", "channels": "8,16", "lr": "0.01", "tta_shifts": "1"})
    clf = pipe[-1]
    assert isinstance(clf, CNNClassifier)
    assert (clf.max_epochs, clf.channels, clf.lr, clf.tta_shifts) == (2, (8, 16), 0.01, 1)
    assert make_model("cnn-best")[-1].tta_shifts == 1 and make_model("cnn")[-1].tta_shifts == 0


def test_cnn_one_sample_refused():
    """Check a single training sample is refused (batch normalisation needs two)."""
    with pytest.raises(ValueError, match="more than 1 sample"):
        CNNClassifier(**TINY).fit(np.zeros((1, 784), np.float32), [3])


def test_cnn_saved_before_stages_still_predicts(mnist_small):
    """Check a model saved by the previous layout (one conv per block, every block pooled, no
    stages_ or min_steps) is rebuilt in that layout and predicts as the network it was saved from."""
    from torch import nn

    torch.manual_seed(0)
    old = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.Conv2d(4, 8, 3, padding=1, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.Flatten(), nn.Dropout(0.2), nn.Linear(8 * 7 * 7, 10)).eval()
    for m in old:
        if isinstance(m, nn.BatchNorm2d):  # non-trivial running statistics
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2)
    params = dict(max_epochs=15, batch_size=128, lr=3e-3, weight_decay=1e-4, channels=(4, 8), dropout=0.2,
                  augment=True, label_smoothing=0.05, n_threads=1, random_state=0, verbose=0)
    state = params | {"classes_": np.arange(10), "image_side_": 28, "n_features_in_": 784, "n_iter_": 15,
                      "history_": [], "state_dict_": {k: v.numpy().copy() for k, v in old.state_dict().items()}}
    clf = CNNClassifier.__new__(CNNClassifier)
    clf.__setstate__(state)
    assert clf.get_params()["min_steps"] == 0
    X = _test_X(mnist_small)[:100]
    with torch.no_grad():
        expected = torch.softmax(old(torch.from_numpy(X.reshape(-1, 1, 28, 28))).double(), 1).numpy()
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-5, atol=1e-7)


def test_cnn_layout_follows_channels():
    """Check equal widths form a stage and a max-pool separates stages: (16, 32, 32, 64, 64) on
    28x28 ends on 7x7x64, (4, 8, 8) on 14x14x8; stages_ records it for loading."""
    from digitlab.models.cnn import stages_of

    assert stages_of((16, 32, 32, 64, 64)) == [[16], [32, 32], [64, 64]]
    assert stages_of([8, 8, 4]) == [[8, 8], [4]]
    X = np.random.default_rng(0).random((40, 784), dtype=np.float32)
    clf = CNNClassifier(channels=(4, 8, 8), max_epochs=1, min_steps=0, n_threads=1).fit(X, np.arange(40) % 2)
    assert clf.stages_ == [[4], [8, 8]]
    convs = [k for k in clf.state_dict_ if k.endswith("weight") and clf.state_dict_[k].ndim == 4]
    assert [clf.state_dict_[k].shape[0] for k in convs] == [4, 8, 8]
    assert clf.state_dict_[[k for k in clf.state_dict_ if k.endswith("weight")][-1]].shape == (2, 8 * 14 * 14)


def test_cnn_small_training_set_gets_min_steps(digits):
    """Check a small training set is trained for at least min_steps steps and learns (the 8x8
    digits: 10 batches of 128 a pass, so 10 passes), and min_steps=0 keeps max_epochs."""
    split = digits.train_test(test_size=0.25, seed=0)
    X, Xt = (split.X_train / 16).astype(np.float32), (split.X_test / 16).astype(np.float32)
    clf = CNNClassifier(n_threads=1).fit(X, split.y_train)
    assert len(X) // 128 == 10 and clf.n_iter_ == 10 and clf.score(Xt, split.y_test) > 0.95
    assert CNNClassifier(channels=(4,), max_epochs=2, min_steps=0, n_threads=1).fit(X, split.y_train).n_iter_ == 2


@pytest.mark.parametrize("name", ["cnn", "cnn-fast", "cnn-best"])
def test_cnn_registry_configurations_learn_digits(name, digits):
    """Check every registered CNN configuration, as the registry builds it, learns the 8x8 digits."""
    from digitlab.models import make_model

    split = digits.train_test(test_size=0.25, seed=0)
    pipe = make_model(name, {"n_threads": 1}).fit(split.X_train, split.y_train)
    assert pipe.score(split.X_test, split.y_test) > 0.93


def _moved(X, dx, dy):
    """Rows of *X* as 28x28 images moved dx pixels right and dy down, zero-filled."""
    from digitlab.augment import shift_image

    return shift_image(X.reshape(-1, 28, 28), dy, dx).reshape(len(X), -1)


@pytest.mark.parametrize("shifts", [1, 2])
def test_cnn_tta_averages_the_shifted_views(cnn_fit, mnist_small, shifts):
    """Check tta_shifts=k predicts the mean probability of the image and its 4k moved copies
    (1..k pixels left, right, up, down), and that predict follows it."""
    import copy

    Xt = _test_X(mnist_small)[:300]
    tta = copy.deepcopy(cnn_fit).set_params(tta_shifts=shifts)
    views = [(0, 0)] + [v for k in range(1, shifts + 1) for v in ((k, 0), (-k, 0), (0, k), (0, -k))]
    expected = np.mean([cnn_fit.predict_proba(_moved(Xt, dx, dy)) for dx, dy in views], axis=0)
    proba = tta.predict_proba(Xt)
    np.testing.assert_allclose(proba, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-9)
    np.testing.assert_array_equal(tta.predict(Xt), cnn_fit.classes_[expected.argmax(axis=1)])
    # the views do differ: the average is not the plain prediction
    assert np.abs(proba - cnn_fit.predict_proba(Xt)).max() > 1e-3


def test_cnn_prediction_in_batches_keeps_rows_with_their_views(cnn_fit, mnist_small, monkeypatch):
    """Check predict_proba over several forward batches (the last one short) gives every row the
    probabilities it gets in one batch, its shifted views included."""
    import copy

    from digitlab.models import cnn

    Xt = _test_X(mnist_small)  # 500 rows
    tta = copy.deepcopy(cnn_fit).set_params(tta_shifts=1)
    whole = tta.predict_proba(Xt)
    monkeypatch.setattr(cnn, "PREDICT_BATCH", 128)  # batches of 128, 128, 128 and 116
    np.testing.assert_allclose(tta.predict_proba(Xt), whole, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(tta.predict_proba(Xt[::-1]), whole[::-1], rtol=1e-5, atol=1e-7)


def test_cnn_saved_before_tta_predicts_one_view(cnn_fit, mnist_small):
    """Check a model saved before tta_shifts existed loads with none, predicting as before."""
    state = cnn_fit.__getstate__()
    state.pop("tta_shifts")
    assert "module_" not in state and cnn_fit.tta_shifts == 0 and cnn_fit.module_ is not None  # a copy
    clf = CNNClassifier.__new__(CNNClassifier)
    clf.__setstate__(state)
    assert clf.get_params()["tta_shifts"] == 0
    Xt = _test_X(mnist_small)[:100]
    np.testing.assert_allclose(clf.predict_proba(Xt), cnn_fit.predict_proba(Xt), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("bad", [-1, 4, 1.5])
def test_cnn_tta_shifts_is_validated(bad):
    with pytest.raises(ValueError, match="tta_shifts"):
        CNNClassifier(**TINY, tta_shifts=bad).fit(np.zeros((4, 784), np.float32), [0, 1, 0, 1])


@pytest.mark.parametrize("value", [10**9, -5, "1"], ids=["billion-views", "negative", "text"])
def test_a_model_file_asking_for_hostile_tta_views_is_refused_on_load(cnn_fit, tmp_path, value):
    """Check a shared model file cannot make prediction endless (a billion views, in `predict`
    or `serve`), or probabilities negative (a negative count): loading refuses it, naming the
    file and the parameter, as it does every parameter out of its range."""
    import copy

    from digitlab.exceptions import ModelError
    from digitlab.persist import load_model, save_model

    hostile = copy.deepcopy(cnn_fit)
    hostile.tta_shifts = value  # set_params would refuse it; a crafted file does not ask
    path = tmp_path / "hostile.skops"
    save_model(hostile, path)
    with pytest.raises(ModelError, match=r"hostile\.skops: .*tta_shifts"):
        load_model(path)
    good = tmp_path / "good.skops"
    save_model(cnn_fit, good)
    assert load_model(good).tta_shifts == 0


@pytest.mark.parametrize("attr, value", [("stages_", [[8], [10**6]]), ("stages_", [[8], [16], [16]]),
                                         ("stages_", [[8], ["x"]]), ("image_side_", 30000),
                                         ("image_side_", 7)],
                         ids=["a-million-channels", "a-layer-more", "text", "huge-image", "small-image"])
def test_a_model_file_whose_layout_does_not_fit_its_weights_is_refused_on_load(cnn_fit, tmp_path, attr, value):
    """Check a shared model file cannot make `predict` or `serve` build a network its weights do
    not fill: a million-channel layer (a 31 GB linear layer before the weights are even read), an
    image side of 30,000 (3.6 GB of padding per digit). The layout is checked against the stored
    weights when the file loads, without allocating the network it describes."""
    import copy
    import resource

    from digitlab.exceptions import ModelError
    from digitlab.persist import load_model, save_model

    hostile = copy.deepcopy(cnn_fit)
    setattr(hostile, attr, value)
    path = tmp_path / "hostile.skops"
    save_model(hostile, path)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ModelError, match=r"hostile\.skops: model file corrupted or modified \(CNNClassifier: "):
        load_model(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: nothing big was built
