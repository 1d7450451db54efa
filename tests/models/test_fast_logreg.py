"""FastLogisticRegression: the same optimum as scikit-learn, its own stopping rule, fallbacks."""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from digitlab.exceptions import ParameterError
from digitlab.models import make_model
from digitlab.models.fast_logreg import FastLogisticRegression, _Problem


def _objective(coef, intercept, X, y, C):
    """sklearn's objective (mean loss + ||W||^2 / (2 C n)) evaluated in float64."""
    classes, y_enc = np.unique(y, return_inverse=True)
    k = coef.shape[0]
    theta = np.vstack([coef.T, intercept[None, :]]).astype(np.float64)
    return _Problem(X.astype(np.float32), y_enc, k, 1.0 / C, True).loss_grad(theta)[0]


@pytest.mark.parametrize("binary", [False, True], ids=["multinomial", "binary"])
def test_fast_logreg_same_optimum_as_sklearn_digits(digits, binary):
    """Check the optimum matches sklearn's lbfgs (tight tol) on load_digits, C=0.5."""
    X = digits.X / 255.0
    y = digits.y == 5 if binary else digits.y
    ours = FastLogisticRegression(C=0.5, tol=1e-8, max_iter=500).fit(X, y)
    ref = LogisticRegression(C=0.5, tol=1e-6, max_iter=5000).fit(X, y)
    assert ours.coef_.shape == ref.coef_.shape
    assert ours.intercept_.shape == ref.intercept_.shape
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=2e-3 * scale)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=2e-3 * scale)
    f_ours = _objective(ours.coef_, ours.intercept_, X, y, 0.5)
    f_ref = _objective(ref.coef_, ref.intercept_, X, y, 0.5)
    assert abs(f_ours - f_ref) <= 1e-6 * f_ref


@pytest.fixture(scope="module")
def sklearn_small(mnist_small):
    """sklearn's lbfgs solution on the 3,000-image MNIST subset, C=0.1, tight tol."""
    X = mnist_small.X_train.astype(np.float32) / 255
    return LogisticRegression(C=0.1, tol=1e-6, max_iter=5000).fit(X, mnist_small.y_train)


def test_fast_logreg_same_optimum_as_sklearn_mnist_subset(mnist_small, sklearn_small):
    """Check the optimum on 3,000 MNIST images (subsample warm start and Hessian refresh used)."""
    X = mnist_small.X_train.astype(np.float32) / 255
    y = mnist_small.y_train
    ours = FastLogisticRegression(C=0.1, tol=1e-7, max_iter=500).fit(X, y)
    ref = sklearn_small
    f_ours = _objective(ours.coef_, ours.intercept_, X, y, 0.1)
    f_ref = _objective(ref.coef_, ref.intercept_, X, y, 0.1)
    assert f_ours <= f_ref * (1 + 1e-6)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=5e-3 * np.abs(ref.coef_).max())
    X_test = mnist_small.X_test.astype(np.float32) / 255
    assert (ours.predict(X_test) == ref.predict(X_test)).mean() >= 0.995


def test_fast_logreg_default_tol_is_near_optimal(mnist_small, sklearn_small):
    """Check the default stopping rule leaves the objective within 0.5% of the optimum."""
    X = mnist_small.X_train.astype(np.float32) / 255
    y = mnist_small.y_train
    ours = FastLogisticRegression(C=0.1).fit(X, y)
    ref = sklearn_small
    assert ours.converged_
    assert ours.gap_ <= ours.tol
    f_ours = _objective(ours.coef_, ours.intercept_, X, y, 0.1)
    f_ref = _objective(ref.coef_, ref.intercept_, X, y, 0.1)
    assert f_ref <= f_ours <= f_ref * 1.005


def test_fast_logreg_convergence_flag(digits):
    """Check max_iter=2 is reported as not converged, with a ConvergenceWarning."""
    X = digits.X / 255.0
    with pytest.warns(ConvergenceWarning, match="stopped after 2 iterations"):
        clf = FastLogisticRegression(C=1.0, max_iter=2).fit(X, digits.y)
    assert clf.converged_ is False
    assert clf.n_iter_.tolist() == [2]
    assert clf.gap_ > clf.tol


def test_fast_logreg_fit_model_records_convergence(digits):
    """Check fitting.fit_model reads converged_ and n_iter_ from the pipeline."""
    from digitlab.fitting import fit_model

    pipe = make_model("logreg")
    fit = fit_model(pipe, digits.X, digits.y)
    assert fit.converged is True
    assert 1 <= fit.n_iter < fit.max_iter
    with pytest.warns(ConvergenceWarning):
        pipe = make_model("logreg", {"max_iter": "1"}).fit(digits.X, digits.y)
    fit = fit_model(make_model("logreg", {"max_iter": "1"}), digits.X, digits.y)
    assert fit.converged is False and fit.warnings


def test_fast_logreg_proba_invariants(mnist_small):
    """Check probabilities sum to 1, their argmax is predict, and scores are float32."""
    pipe = make_model("logreg").fit(mnist_small.X_train, mnist_small.y_train)
    proba = pipe.predict_proba(mnist_small.X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(pipe.classes_[proba.argmax(axis=1)], pipe.predict(mnist_small.X_test))
    assert pipe.decision_function(mnist_small.X_test).dtype == np.float32
    assert pipe.score(mnist_small.X_test, mnist_small.y_test) > 0.85


def test_fast_logreg_binary_proba(digits):
    """Check the binary case: one coef row, decision_function 1-D, sigmoid probabilities."""
    y = digits.y == 5
    clf = FastLogisticRegression().fit(digits.X / 255.0, y)
    assert clf.coef_.shape == (1, 64)
    scores = clf.decision_function(digits.X / 255.0)
    assert scores.shape == (len(y),)
    proba = clf.predict_proba(digits.X / 255.0)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-scores.astype(np.float64))), rtol=1e-6)
    assert clf.score(digits.X / 255.0, y) > 0.97


def test_logreg_is_fast_by_default():
    """Check `logreg` uses the fast solver unless sklearn-only parameters are given."""
    assert isinstance(make_model("logreg")[-1], FastLogisticRegression)
    assert isinstance(make_model("logreg", {"C": "50", "tol": "0.01"})[-1], FastLogisticRegression)
    assert make_model("logreg", {"C": "50"})[-1].C == 50.0


@pytest.mark.parametrize("params", [
    {"penalty": "l1", "solver": "saga", "C": "50", "tol": "0.01"},
    {"l1_ratio": "0.5", "solver": "saga"},
    {"solver": "lbfgs"},
    {"class_weight": "balanced"},
], ids=["l1-saga", "elastic-net", "solver", "class-weight"])
def test_logreg_falls_back_to_sklearn(params):
    """Check the notebooks' L1 / elastic-net / explicit solver use sklearn's LogisticRegression."""
    with pytest.warns(FutureWarning) if "penalty" in params else _nothing():
        clf = make_model("logreg", params)[-1]
    assert type(clf) is LogisticRegression


def test_logreg_l1_fallback_fits_sparse_model(digits):
    """Check an L1 fit through the registry really is sparse (sklearn's saga underneath)."""
    with pytest.warns(FutureWarning):
        pipe = make_model("logreg", {"penalty": "l1", "solver": "saga", "C": "0.05", "tol": "0.01"})
    pipe.fit(digits.X, digits.y)
    assert (pipe[-1].coef_ == 0).mean() > 0.3


@pytest.mark.parametrize("params, match", [
    ({"sovler": "saga"}, "did you mean 'solver'"),
    ({"tool": "1e-3"}, "did you mean 'tol'"),
    ({"C": "-1"}, "'C' parameter of FastLogisticRegression"),
    ({"solver": "fast"}, "'solver' parameter of LogisticRegression"),
    ({"l1_ratio": "x"}, "expected a number"),
])
def test_logreg_bad_params(params, match):
    """Check unknown or invalid parameters raise ParameterError naming the fix."""
    with pytest.raises(ParameterError, match=match):
        make_model("logreg", params)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_logreg_roundtrips_through_skops(digits, tmp_path):
    """Check the fitted pipeline saves and loads under digitlab's allow-list, same predictions."""
    from digitlab.persist import load_model, save_model

    pipe = make_model("logreg").fit(digits.X, digits.y)
    save_model(pipe, tmp_path / "logreg.skops")
    loaded = load_model(tmp_path / "logreg.skops")
    assert loaded[-1].converged_ is True and loaded[-1].n_passes_ == pipe[-1].n_passes_
    np.testing.assert_array_equal(loaded.decision_function(digits.X), pipe.decision_function(digits.X))


def test_fast_logreg_fit_keeps_scipy_blas_on_one_thread(digits, monkeypatch):
    """Check fit runs scipy's bundled BLAS on one thread and leaves numpy's alone (the speed fix)."""
    import os

    from threadpoolctl import threadpool_info

    from digitlab.models import fast_logreg

    selected = fast_logreg._scipy_blas()
    if selected is None:
        pytest.skip("scipy uses numpy's BLAS here: nothing to limit")
    numpy_root = os.path.dirname(os.path.realpath(np.__file__))
    assert not any(os.path.realpath(c.filepath).startswith(numpy_root) for c in selected.lib_controllers)
    scipy_paths = {c.filepath for c in selected.lib_controllers}
    before = {i["filepath"]: i["num_threads"] for i in threadpool_info()}
    during = []
    original = _Problem.loss_grad

    def spy(self, theta):
        during.append({i["filepath"]: i["num_threads"] for i in threadpool_info()})
        return original(self, theta)

    monkeypatch.setattr(_Problem, "loss_grad", spy)
    FastLogisticRegression(C=0.1).fit(digits.X / 255.0, digits.y)
    seen = during[-1]
    assert all(seen[p] == 1 for p in scipy_paths)
    assert all(seen[p] == before[p] for p in seen if p not in scipy_paths)
    assert {i["filepath"]: i["num_threads"] for i in threadpool_info()} == before  # restored


def test_fast_logreg_fits_few_correlated_raw_images(tmp_path):
    """Found by tests/hostile/test_train_options.py: 260 raw 0-255 images that are shifted copies of
    52 strokes made the float32 Gram matrix of the preconditioner indefinite by rounding
    (LinAlgError: "600-th leading minor ... not positive definite", exit 70). The fit now
    succeeds and reaches the optimum: the float64 gradient there is a small fraction of the one at
    zero (sklearn's solvers take minutes on these raw pixels, too slow for a reference)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "datasets"))
    from _dataset_factory import image_folder

    from digitlab import datasets
    from digitlab.augment import shift_augment

    ds = datasets.load(str(image_folder(tmp_path / "twelve", {f"c{i:02d}": 4 + i % 4 for i in range(12)})))
    split = ds.train_test()
    X, y = shift_augment(split.train.images, split.y_train)
    fast = FastLogisticRegression(C=0.1, tol=1e-6, max_iter=1000).fit(X, y)
    assert fast.converged_ and np.isfinite(fast.coef_).all()
    problem = _Problem(X.astype(np.float32), np.unique(y, return_inverse=True)[1], 12, 1 / 0.1, True)
    theta = np.vstack([fast.coef_.T, fast.intercept_[None, :]]).astype(np.float64)
    grad, grad0 = problem.loss_grad(theta)[1], problem.loss_grad(np.zeros_like(theta))[1]
    assert np.linalg.norm(grad) < 1e-2 * np.linalg.norm(grad0)
