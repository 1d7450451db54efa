"""The model registry: every model is a scikit-learn Pipeline, parameters are typed and checked."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from digitlab.exceptions import ParameterError
from digitlab.models import PixelScaler, available_models, get_spec, make_model


@parametrize_with_checks([PixelScaler()])
def test_pixel_scaler_is_a_sklearn_estimator(estimator, check):
    check(estimator)


def test_pixel_scaler_scales_without_float64():
    X = np.array([[0, 128, 255]], dtype=np.uint8)
    out = PixelScaler().fit_transform(X)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0, 128 / 255, 1]], rtol=1e-6)


# the CNNs (optional PyTorch) have their own tests in tests/models/test_cnn.py
@pytest.mark.parametrize("name", [m for m in available_models() if get_spec(m).needs is None])
def test_every_model_fits_predicts_and_clones(name, digits):
    """Each registered model works as a Pipeline on real data and survives clone()."""
    split = digits.train_test(test_size=0.25, seed=0)
    model = make_model(name)
    assert model.steps[-1][0] == "clf"
    model.fit(split.X_train, split.y_train)
    acc = model.score(split.X_test, split.y_test)
    assert acc > (0.05 if name == "dummy" else 0.85)
    assert clone(model).get_params()["clf"].__class__ is model.named_steps["clf"].__class__


def test_convert_value_types_from_defaults():
    m = make_model("mlp", {"hidden_layer_sizes": "128,64", "early_stopping": "false", "alpha": "1e-3"})
    clf = m.named_steps["clf"]
    assert clf.hidden_layer_sizes == (128, 64) and clf.early_stopping is False and clf.alpha == 1e-3


def test_routing_to_another_step():
    assert make_model("logreg", {"scale__dtype": "float64"}).named_steps["scale"].dtype == "float64"


def test_raw_pixels_drops_the_scaler():
    assert [n for n, _ in make_model("sgd", raw_pixels=True).steps] == ["clf"]


def test_penalty_only_translated_for_logistic_regression():
    """SGD's own `penalty` parameter is not deprecated and passes through untouched."""
    assert make_model("sgd", {"penalty": "l1"}).named_steps["clf"].penalty == "l1"
    with pytest.warns(FutureWarning, match="penalty=l1"):
        clf = make_model("logreg", {"penalty": "l1", "solver": "saga"}).named_steps["clf"]
    assert clf.l1_ratio == 1.0


@pytest.mark.parametrize("params, match", [
    ({"nope": "1"}, "unknown parameter"),
    ({"n_neighbors": "x"}, "expected a number"),
    ({"n_neighbors": "-3"}, "n_neighbors"),
])
def test_bad_params_raise_parameter_error(params, match):
    with pytest.raises(ParameterError, match=match):
        make_model("knn", params)


def test_param_also_named_by_the_pipeline_reaches_the_classifier():
    """`verbose` is a Pipeline parameter too: `--param verbose=True` answered "unknown parameter
    for model logreg; did you mean 'verbose'?". Keys go to the classifier; the Pipeline's own
    parameters (memory, steps, verbose) are not settable."""
    pipe = make_model("logreg", {"verbose": "True"})
    assert pipe.named_steps["clf"].verbose is True and pipe.verbose is False
    assert make_model("sgd", {"verbose": "2"}).named_steps["clf"].verbose == 2
    with pytest.raises(ParameterError, match=r"params\['memory'\]: unknown parameter for model knn"):
        make_model("knn", {"memory": "/tmp"})


def test_hidden_layer_sizes_checked_before_fitting():
    for bad in ("0", "64,0", "-3"):
        with pytest.raises(ParameterError, match=r"params\['hidden_layer_sizes'\]=.*every layer needs a whole number"):
            make_model("mlp", {"hidden_layer_sizes": bad})
    assert make_model("mlp", {"hidden_layer_sizes": "64,32"}).named_steps["clf"].hidden_layer_sizes == (64, 32)


@pytest.mark.parametrize("model, params, match", [
    ("sgd", {"alpha": "0"}, "alpha must be > 0 since learning_rate is 'optimal'"),
    ("sgd", {"learning_rate": "pa1", "loss": "log_loss"}, "Learning rate 'pa1' only works with loss 'hinge'"),
    ("logreg", {"l1_ratio": "1"}, r"params\['l1_ratio'\]=1: L1 needs solver=saga or liblinear, not lbfgs"),
    ("logreg", {"l1_ratio": "0.5", "solver": "liblinear"}, r"params\['l1_ratio'\]=0.5: elastic-net needs solver=saga"),
    ("logreg", {"dual": "true"}, r"params\['dual'\]=True: only solver=liblinear has a dual"),
    ("logreg", {"C": "inf", "solver": "liblinear"}, r"params\['C'\]=inf: .* not possible with solver=liblinear"),
    ("logreg", {"l1_ratio": "1", "solver": "liblinear", "dual": "true"},
     r"params\['dual'\]=True: liblinear's dual form has no L1 penalty"),
], ids=["sgd-alpha-0", "sgd-pa1", "logreg-l1-lbfgs", "logreg-elasticnet", "logreg-dual", "liblinear-no-penalty",
        "liblinear-dual-l1"])
def test_combinations_sklearn_refuses_only_in_fit_are_refused_up_front(model, params, match):
    """Found by the train property test: each was exit 70 once fitting started."""
    with pytest.raises(ParameterError, match=match):
        make_model(model, params)
    assert make_model("logreg", {"l1_ratio": "1", "solver": "saga"}).named_steps["clf"].solver == "saga"
