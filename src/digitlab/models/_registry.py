"""Named models: each a scikit-learn Pipeline ``[("scale", PixelScaler), ("clf", estimator)]``.

``--param key=value`` goes to the ``clf`` step (``scale__dtype=float64`` reaches another step).
Values are typed from the estimator's default for that key and checked by scikit-learn's own
parameter validation before any fitting starts.
"""

from __future__ import annotations

import difflib
import math
import warnings
from dataclasses import dataclass, field
from numbers import Integral
from typing import TYPE_CHECKING, Callable

from ..exceptions import ParameterError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


@dataclass(frozen=True)
class ModelSpec:
    name: str
    factory: Callable[[], object]
    description: str
    linear: bool = False
    # a fit on full MNIST takes minutes: `train` cross-validates it only when asked (cv=N)
    expensive: bool = False
    needs: str | None = None  # optional extra, e.g. "torch"
    preprocess: tuple = field(default_factory=tuple)  # extra pipeline steps before clf (name, factory)
    # (predicate(params) -> bool, factory): another estimator when the params ask for it
    alternative: tuple | None = None


def _logreg():
    from .fast_logreg import FastLogisticRegression

    # same objective as sklearn's LogisticRegression(C=0.1), about 5x fewer passes over the data
    # (see benchmarks/bench_logreg.py); tol=1e-4 stops within ~0.05% of the optimal objective
    return FastLogisticRegression(C=0.1, tol=1e-4, max_iter=200)


def _sklearn_logreg():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=0.1, max_iter=1000, tol=1e-4)


def _wants_sklearn_logreg(params: dict) -> bool:
    """Parameters only sklearn's LogisticRegression has (penalty, l1_ratio, solver, class_weight,
    ...) select it: the notebooks' L1/elastic-net variants keep working, with sklearn's solvers."""
    from sklearn.linear_model import LogisticRegression

    from .fast_logreg import FastLogisticRegression

    only_sklearn = set(LogisticRegression().get_params()) - set(FastLogisticRegression().get_params())
    return any(key in only_sklearn for key in params)


def _sgd():
    from sklearn.linear_model import SGDClassifier

    return SGDClassifier(random_state=42)  # the notebooks' 5-detector


def _dummy():
    from sklearn.dummy import DummyClassifier

    return DummyClassifier(strategy="most_frequent")  # "never a 5": the baseline to beat


def _knn():
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=4, weights="distance", n_jobs=-1)


def _pca(n_components):
    def factory():
        from sklearn.decomposition import PCA

        # covariance_eigh: one 784x784 Gram matrix, exact and fast for n_samples >> n_features
        return PCA(n_components=n_components, svd_solver="covariance_eigh", random_state=0)

    return factory


def _deskew():
    from .deskew import Deskewer

    return Deskewer()


def _forest():
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=42)


def _svm():
    from sklearn.svm import SVC

    return SVC(kernel="rbf", C=5.0, gamma="scale", random_state=42)


def _cnn(**params):
    def factory():
        from .cnn import CNNClassifier

        return CNNClassifier(**params)

    return factory


def _mlp():
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-4, batch_size=128, max_iter=30,
                         early_stopping=True, n_iter_no_change=4, random_state=42)


MODELS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    MODELS[spec.name] = spec
    return spec


for _spec in (
    ModelSpec("logreg", _logreg, "multinomial logistic regression (pixels scaled to [0, 1])", linear=True,
              alternative=(_wants_sklearn_logreg, _sklearn_logreg)),
    ModelSpec("sgd", _sgd, "linear classifier trained by SGD (the notebooks' 5-detector)", linear=True),
    ModelSpec("dummy", _dummy, "always predicts the most frequent class (baseline)"),
    # PCA to 50 components: 97.67% vs 97.14% on raw pixels, and a much faster neighbour search
    ModelSpec("knn", _knn, "k-nearest neighbours (k=4, distance weights) on 50 principal components",
              preprocess=(("pca", _pca(50)),)),
    ModelSpec("forest", _forest, "random forest, 100 trees"),
    # on 784 raw pixels: fit 80 s on 20,000 MNIST images, growing faster than linearly (2 cores)
    ModelSpec("svm", _svm, "support vector machine, RBF kernel", expensive=True),
    ModelSpec("mlp", _mlp, "multi-layer perceptron, one hidden layer of 256"),
    ModelSpec("knn-deskew", _knn, "k-nearest neighbours on 50 principal components of deskewed digits",
              preprocess=(("deskew", _deskew), ("pca", _pca(50)))),
    ModelSpec("svm-deskew", _svm, "support vector machine (RBF) on 50 principal components of deskewed digits",
              preprocess=(("deskew", _deskew), ("pca", _pca(50)))),
    # cnn and cnn-fast: 3 epochs in batches of 128; means of 3 seeds in BENCHMARKS.md (bench_cnn)
    ModelSpec("cnn", _cnn(), "convolutional network (PyTorch, five 3x3 convolutions, 3 epochs)", needs="torch",
              expensive=True),
    # cnn-fast predicts from 5 shifted views: 99.53% against 99.49% from one (same 3 networks)
    ModelSpec("cnn-fast", _cnn(channels=(16, 32, 64), tta_shifts=1),
              "smaller convolutional network (16, 32, 64 channels), half the work of cnn, "
              "predicting from 5 shifted views", needs="torch", expensive=True),
    # 15 epochs in batches of 256 at peak 0.2, 5 views at test time: 99.71%, mean of 3 seeds, 446 s on
    # 2 cores (99.68% from the single view)
    ModelSpec("cnn-best", _cnn(max_epochs=15, batch_size=256, lr=0.2, tta_shifts=1),
              "the cnn trained five times as long (15 epochs), predicting from 5 shifted views",
              needs="torch", expensive=True),
):
    register(_spec)


def available_models() -> list[str]:
    return list(MODELS)


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        hint = difflib.get_close_matches(name, MODELS, n=1)
        did = f"; did you mean {hint[0]!r}?" if hint else ""
        raise ParameterError(f"model={name!r}: unknown model{did} (choose from {', '.join(MODELS)})") from None


def make_model(name: str = "logreg", params: dict | None = None, *, raw_pixels: bool = False,
               steps: list | None = None) -> Pipeline:
    """An unfitted Pipeline for the registered model *name*.

    Parameters
    ----------
    name : str, default="logreg"
        One of :func:`available_models`.
    params : dict, default=None
        Parameters of the classifier (``{"C": 50}``) or of another step (``{"scale__dtype": ...}``).
        String values (from the command line) are converted to the type of the default.
    raw_pixels : bool, default=False
        Leave out the [0, 1] scaling step: the estimator sees 0–255 values, as in the notebooks.
    steps : list of (name, transformer), default=None
        Extra preprocessing steps inserted before the classifier (e.g. deskewing).

    Returns
    -------
    sklearn.pipeline.Pipeline
    """
    spec = get_spec(name)
    if spec.needs == "torch":
        _require_torch()
    from sklearn.pipeline import (
        Pipeline,  # here: listing the models needs no scikit-learn
    )

    from .scaling import PixelScaler

    pipe_steps = [] if raw_pixels else [("scale", PixelScaler())]
    pipe_steps += [(n, f()) for n, f in spec.preprocess]
    pipe_steps += list(steps or [])
    factory, also = spec.factory, ()
    if spec.alternative is not None:
        wants, other = spec.alternative
        if params and wants(params):
            factory = other
        also = tuple(other().get_params(deep=False))
    pipe_steps.append(("clf", factory()))
    pipe = Pipeline(pipe_steps)
    if params:
        pipe.set_params(**coerce_params(pipe, params, name, also_known=also))
        _validate(pipe)
    return pipe


def _require_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ParameterError(
            "model='cnn': needs PyTorch: pip install 'digitlab[torch]' (CPU build: pip install torch==2.13.0)"
        ) from None


def _validate(pipe: Pipeline) -> None:
    for step_name, step in pipe.steps:
        if not hasattr(step, "_parameter_constraints"):
            continue
        try:
            step._validate_params()
        except ValueError as exc:
            msg = str(exc).split("\n")[0]
            raise ParameterError(f"params: {msg}") from None
        _check_combinations(step)
        sizes = step.get_params(deep=False).get("hidden_layer_sizes")
        if sizes is not None:
            # MLPClassifier checks the sizes only when fitting starts
            layers = list(sizes) if hasattr(sizes, "__iter__") and not isinstance(sizes, str) else [sizes]
            if not all(isinstance(u, Integral) and not isinstance(u, bool) and u >= 1 for u in layers):
                raise ParameterError(f"params['hidden_layer_sizes']={sizes!r}: every layer needs a whole "
                                     "number of units, at least 1 (e.g. 256 or 256,128)")


def _check_combinations(step) -> None:
    """Combinations of values scikit-learn (1.9) refuses only once ``fit`` starts."""
    more = getattr(step, "_more_validate_params", None)  # SGD's own checks (alpha=0 with 'optimal', ...)
    if callable(more):
        try:
            more()
        except ValueError as exc:
            raise ParameterError(f"params: {str(exc).splitlines()[0]}") from None
    from sklearn.linear_model import LogisticRegression

    if isinstance(step, LogisticRegression):
        # the rules of sklearn.linear_model._logistic._check_solver, in the parameters users give
        solver, l1, C = step.solver, step.l1_ratio, step.C
        penalty = None if C == math.inf else "l2" if l1 in (0, None) else "l1" if l1 == 1 else "elasticnet"
        if penalty == "elasticnet" and solver != "saga":
            raise ParameterError(f"params['l1_ratio']={l1:g}: elastic-net needs solver=saga, not {solver}")
        if penalty == "l1" and solver not in ("liblinear", "saga"):
            raise ParameterError(f"params['l1_ratio']=1: L1 needs solver=saga or liblinear, not {solver}")
        if step.dual and solver != "liblinear":
            raise ParameterError(f"params['dual']=True: only solver=liblinear has a dual, not {solver}")
        if step.dual and penalty == "l1":  # liblinear solves the dual of L2-penalised models only
            raise ParameterError("params['dual']=True: liblinear's dual form has no L1 penalty; use dual=false")
        if penalty is None and solver == "liblinear":
            raise ParameterError("params['C']=inf: no penalty is not possible with solver=liblinear")


# sklearn 1.9 deprecates `penalty`; the notebooks spell it. Translate to l1_ratio / C.
_PENALTY = {"l1": {"l1_ratio": 1.0}, "l2": {"l1_ratio": 0.0}, "none": {"C": math.inf}}


def translate_penalty(params: dict) -> tuple[dict, str | None]:
    if "penalty" not in params:
        return params, None
    params = dict(params)
    value = str(params.pop("penalty")).lower()
    if value == "elasticnet":
        if "l1_ratio" not in params:
            raise ParameterError("params['penalty']='elasticnet': also give l1_ratio (between 0 and 1)")
        return params, "penalty=elasticnet is implied by l1_ratio in scikit-learn ≥ 1.8; dropped"
    if value not in _PENALTY:
        raise ParameterError(f"params['penalty']={value!r}: expected l1, l2, elasticnet or none")
    new = _PENALTY[value]
    for k, v in new.items():
        params.setdefault(k, v)
    spelled = ", ".join(f"{k}={v:g}" for k, v in new.items())
    return params, f"penalty={value} is deprecated in scikit-learn ≥ 1.8; using {spelled}"


def coerce_params(pipe: Pipeline, params: dict, model_name: str, also_known=()) -> dict:
    """Route and type parameters; unknown keys raise :class:`ParameterError` with a suggestion
    (drawn from the classifier's parameters and *also_known*)."""
    clf = pipe.named_steps["clf"]
    from sklearn.linear_model import LogisticRegression

    if "penalty" in params and isinstance(clf, LogisticRegression):
        params, note = translate_penalty(params)
        if note:
            warnings.warn(note, FutureWarning, stacklevel=3)
    valid = pipe.get_params(deep=True)
    out = {}
    for key, value in params.items():
        full = key if "__" in key else f"clf__{key}"
        if full not in valid:
            own = sorted(set(clf.get_params(deep=False)) | set(also_known))
            hint = difflib.get_close_matches(key, own, n=1)
            did = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ParameterError(f"params[{key!r}]: unknown parameter for model {model_name}{did}")
        out[full] = convert_value(key, value, valid[full]) if isinstance(value, str) else value
    return out


def convert_value(key: str, text: str, default):
    """'50' → 50 or 50.0 depending on the default; 'none' → None; 'true' → True; else a string."""
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if isinstance(default, bool) or low in ("true", "false"):
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ParameterError(f"params[{key!r}]={text!r}: expected true or false")
    if isinstance(default, int) and not isinstance(default, bool):
        try:
            return int(text)
        except ValueError:
            try:
                f = float(text)
            except ValueError:
                raise ParameterError(f"params[{key!r}]={text!r}: expected a number") from None
            return int(f) if f.is_integer() else f
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise ParameterError(f"params[{key!r}]={text!r}: expected a number") from None
    if isinstance(default, tuple) or low.startswith("("):
        try:
            return tuple(int(v) for v in low.strip("()").split(",") if v.strip())
        except ValueError:
            raise ParameterError(f"params[{key!r}]={text!r}: expected integers like 256,128") from None
    # untyped default (None or str): numbers if they look like numbers
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text
