"""``train``: fit a registered model on a dataset split and write a run folder."""

from __future__ import annotations

import platform
import time
import warnings
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from . import __version__
from .exceptions import ParameterError
from .run_format import RUN_FORMAT
from .runs import MODEL_FILE, Run, RunWriter, make_run_id, read_run


def library_versions() -> dict:
    import matplotlib
    import scipy
    import sklearn
    import skops

    return {"digitlab": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "sklearn": sklearn.__version__, "skops": skops.__version__,
            "matplotlib": matplotlib.__version__}


def binary_target(y: np.ndarray, detect: int, classes) -> np.ndarray:
    if not 0 <= detect < len(classes):
        raise ParameterError(f"--detect: must be a class index 0–{len(classes) - 1}, got {detect}")
    return y == detect


def task_classes(classes, detect):
    if detect is None:
        return list(classes)
    return [f"not {classes[detect]}", str(classes[detect])]


def fit_model(model, X, y, *, progress: bool = False, label: str = "fitting"):
    """Fit with convergence warnings captured (recorded, not printed) and wall time measured."""
    status = _status(progress, label)
    with status, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - t0
    if any(str(w.message) == "Training interrupted by user." for w in caught):
        # MLPClassifier swallows Ctrl-C and returns a half-trained model: never save that one
        raise KeyboardInterrupt
    from sklearn.exceptions import ConvergenceWarning

    conv = [str(w.message).split("\n")[0] for w in caught if issubclass(w.category, ConvergenceWarning)]
    clf = model[-1] if hasattr(model, "steps") else model
    n_iter = getattr(clf, "n_iter_", None)
    if n_iter is not None:
        n_iter = int(np.max(n_iter))
    max_iter = getattr(clf, "max_iter", None)
    converged = not conv
    if n_iter is not None and isinstance(max_iter, int) and n_iter >= max_iter and not hasattr(clf, "converged_"):
        converged = False
    if hasattr(clf, "converged_"):
        converged = bool(clf.converged_) and not conv
    return {"seconds": round(seconds, 3), "n_iter": n_iter, "max_iter": max_iter, "converged": converged,
            "warnings": conv}


def _status(progress: bool, label: str):
    if not progress:
        return nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(f"{label} …", spinner="dots")


DEFAULT_CV = 3


def default_cv(model) -> int:
    """Cross-validation folds ``train`` and ``evaluate`` run when not told: 3, or 0 for a model
    registered as expensive (a fit on MNIST takes minutes). Unregistered names get 3."""
    from .models import MODELS

    spec = MODELS.get(model) if isinstance(model, str) else None
    return 0 if spec is not None and spec.expensive else DEFAULT_CV


def train(dataset="mnist", model="logreg", *, detect: int | None = None, params: dict | None = None,
          raw_pixels: bool = False, test_size=None, seed: int = 0, limit: int | None = None,
          stratify: bool = True, augment: bool = False, evaluate: bool = True, cv: int | None = None,
          target_precision: float | None = 0.9, runs_dir=None, data_dir=None, cache_dir=None,
          progress: bool = False, steps=None, figures: bool = True,
          train_sample: int | None = None) -> Run:
    """Fit a model and write a run folder; return the :class:`~digitlab.runs.Run`.

    Parameters
    ----------
    dataset : str or Dataset, default="mnist"
        Dataset name or path (see :func:`digitlab.datasets.load`), or an already loaded Dataset.
    model : str, default="logreg"
        A registered model name (:func:`digitlab.models.available_models`).
    detect : int, default=None
        Train a binary detector for this class ("is it a 5?") instead of all classes.
    params : dict, default=None
        Model parameters (``{"C": 50}``); strings are typed from the defaults.
    raw_pixels : bool, default=False
        Feed 0–255 pixels to the estimator, as the notebooks did.
    test_size, seed, limit, stratify
        Passed to :meth:`Dataset.train_test` (``None`` = the canonical split).
    augment : bool, default=False
        Add copies of the training images shifted one pixel in each direction (the book's exercise).
    evaluate : bool, default=True
        Run :func:`digitlab.evaluate` and store the results in the run.
    cv : int, default=None
        Cross-validation folds for the evaluation (0 skips cross-validation). ``None``: 3, or 0
        for the models marked expensive (``cnn``, ``svm``: a fit on MNIST takes minutes), see
        :func:`default_cv`.
    figures : bool, default=True
        Draw the evaluation's figures (``digitlab evaluate`` can add them later).
    train_sample : int, default=None
        Score train accuracy on a stratified sample of this many images (see ``evaluate``).

    Examples
    --------
    >>> import digitlab
    >>> run = digitlab.train("digits", "logreg", test_size=0.25)  # doctest: +SKIP
    >>> run.meta["metrics"]["test_accuracy"]  # doctest: +SKIP
    0.96
    """
    from . import datasets as dsets
    from .datasets.dataset import check_seed
    from .models import make_model

    check_seed(seed)  # before loading the data; the rest is checked against it below
    cv = default_cv(model) if cv is None else cv
    if isinstance(cv, bool) or not isinstance(cv, (int, np.integer)) or cv == 1 or cv < 0:
        raise ParameterError(f"cv={cv!r}: use 0 to skip cross-validation, or 2 or more folds")
    ds = dataset if isinstance(dataset, dsets.Dataset) else dsets.load(
        dataset, data_dir=data_dir, cache_dir=cache_dir, progress=progress)
    pipe = make_model(model, params, raw_pixels=raw_pixels, steps=steps)
    if detect is not None:
        binary_target(ds.labels[:1], detect, ds.classes)
    split = ds.train_test(test_size, seed=seed, limit=limit, stratify=stratify)
    X_train, y_train = split.X_train, split.y_train
    if augment:
        from .augment import shift_augment

        X_train, y_train = shift_augment(split.train.images, y_train)
    if detect is not None:
        y_train = binary_target(y_train, detect, ds.classes)
    classes = task_classes(ds.classes, detect)
    _check_data(pipe, split, y_train, classes, detect=detect, cv=cv if evaluate else 0, limit=limit,
                name=ds.name)
    name_parts = [ds.name, model] + ([f"detect{detect}"] if detect is not None else [])
    run_id = make_run_id(*name_parts)
    with RunWriter(run_id, runs_dir) as w:
        label = f"fitting {model} on {len(y_train):,} {ds.name} images"
        cvr = None
        if evaluate and cv >= 2 and not augment:
            # the final fit and the CV folds share one worker pool, so no core sits idle
            from .evaluation.cv import cross_validate

            with _status(progress, f"{label}, with {cv} cross-validation folds alongside"):
                cvr = cross_validate(pipe, X_train, y_train, cv=cv, binary=detect is not None, final=True)
            pipe, fit = cvr.final_model, cvr.final_fit
        else:
            fit = fit_model(pipe, X_train, y_train, progress=progress, label=label)
        meta = run_meta(run_id, dataset, ds, split, dict(test_size=test_size, seed=seed, limit=limit,
                        stratify=stratify, augment=augment), detect=detect, model=model,
                        params=dict(params or {}), raw_pixels=raw_pixels, estimator=pipe[-1], fit=fit)
        from .persist import save_model

        meta["model"]["sha256"] = save_model(pipe, w.path / MODEL_FILE)
        w.write_json("run.json", meta)
        run = Run(w.path, meta)
        if evaluate:
            from .evaluation import evaluate as run_evaluate

            result = run_evaluate(run, split=split, model=pipe, cv=cv, target_precision=target_precision,
                                  progress=progress, cv_result=cvr, figures=figures,
                                  train_sample=train_sample)
            meta["metrics"] = result.summary()
            w.write_json("run.json", meta)
        final = w.commit()
    return read_run(final)


def _check_data(pipe, split, y_fit, classes, *, detect, cv, limit, name) -> None:
    """Everything the fits will need from the data, checked before the first one starts."""
    from .evaluation.cv import check_folds
    from .models._fit_checks import check_fit_data

    n_features = split.X_train.shape[1]
    check_fit_data(pipe, y_fit, n_features, what=f"the {len(y_fit):,} training images of {name}",
                   classes=classes)
    if cv:  # the evaluation's folds are made from the split's training set, never augmented
        y = split.y_train if detect is None else split.y_train == detect
        check_folds(y, cv, classes=classes, models=[pipe], n_features=n_features,
                    more=f"a larger limit than {limit}" if limit else "more images")


def run_meta(run_id, dataset_arg, ds, split, split_args: dict, *, detect, model, params, raw_pixels,
             estimator, fit, versions=None) -> dict:
    """The ``run.json`` contents shared by ``train`` and ``search`` (see ARCHITECTURE.md)."""
    return {
        "format": RUN_FORMAT,
        "id": run_id,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "dataset": {"name": ds.name, "ref": _dataset_ref(dataset_arg, ds), "source": ds.source,
                    "checksums": ds.checksums, "verified": ds.verified, "shape": list(ds.shape),
                    "classes": list(ds.classes)},
        "split": {"how": split.how, **{k: split_args.get(k) for k in ("test_size", "seed", "limit")},
                  "stratify": split_args.get("stratify", True), "n_train": len(split.train),
                  "n_test": len(split.test), "augment": bool(split_args.get("augment", False))},
        "task": {"kind": "binary", "detect": detect} if detect is not None else {"kind": "multiclass"},
        "classes": task_classes(ds.classes, detect),
        "n_features": int(split.X_train.shape[1]),
        "model": {"name": model, "params": params, "raw_pixels": raw_pixels,
                  "estimator": repr(estimator), "all_params": _plain_params(estimator)},
        "versions": versions or library_versions(),
        "seed": split_args.get("seed"),
        "fit": fit,
        "metrics": {},
    }


def _dataset_ref(arg, ds) -> str:
    if isinstance(arg, str) and arg.lower() in ("mnist", "fashion-mnist", "digits"):
        return arg.lower()
    p = Path(ds.source)
    return str(p.resolve()) if p.exists() else ds.name


def _plain_params(est) -> dict:
    out = {}
    for k, v in est.get_params(deep=False).items():
        if isinstance(v, float) and not np.isfinite(v):
            out[k] = None if np.isnan(v) else str(v)  # JSON has no inf/NaN: "inf", "-inf", null
        elif isinstance(v, (int, float, str, bool, type(None))):
            out[k] = v
        elif isinstance(v, tuple):
            out[k] = list(v)
        else:
            out[k] = repr(v)
    return out
