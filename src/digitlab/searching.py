"""``search``: tune a registered model with scikit-learn's search classes, locally or on Dask.

The search is :class:`~sklearn.model_selection.GridSearchCV`, :class:`RandomizedSearchCV` or
their successive-halving versions over the model's Pipeline (``clf__C``), so it works for any
model :func:`digitlab.models.make_model` builds. Candidate fits run through joblib: local worker
processes (loky), or a Dask cluster through joblib's Dask backend, with the training data
scattered to every worker once. Progress comes from a joblib-level hook (the parent sees each
finished batch of folds), so it works the same on loky and on a remote cluster; scikit-learn's
own callback transport uses a UNIX socket and cannot reach remote workers.

The result is a run folder (:class:`digitlab.runs.Run`): the best candidate refitted on the
whole training set (``model.skops``), ``run.json``, ``search.json`` (the full ``cv_results_``
table, best parameters and score, backend, workers, lost workers) and
``figures/search_<param>.png``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import math
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import _signals
from .exceptions import DigitlabError, ParameterError, WorkerError

SEARCH_FILE = "search.json"
KINDS = ("grid", "random", "halving-grid", "halving-random")
DISTRIBUTIONS = ("loguniform", "uniform", "randint")


# --------------------------------------------------------------------------- search space
def parse_space_args(items, option: str = "--grid") -> dict:
    """``["C=0.01,0.1", "l1_ratio=0,1"]`` → ``{"C": ["0.01", "0.1"], "l1_ratio": ["0", "1"]}``.

    For ``--dist`` the value stays one string (``"loguniform:1e-3:1e2"``).
    """
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise ParameterError(f"{option}: expected KEY=VALUES, got {item!r}")
        if key in out:
            raise ParameterError(f"{option} {key}: given twice")
        if option == "--grid":
            values = [v.strip() for v in value.split(",")]
            if any(not v for v in values):
                raise ParameterError(f"{option} {key}: empty value in {value!r}")
            out[key] = values
        else:
            out[key] = value
    return out


def _full_key(key: str) -> str:
    return key if "__" in key else f"clf__{key}"


def short_key(key: str) -> str:
    """``clf__C`` → ``C``; parameters of other steps keep their full name."""
    return key[5:] if key.startswith("clf__") else key


def _typed(model: str, key: str, value, fixed: dict, raw_pixels: bool, steps) -> object:
    """Type *value* as the registry does for ``--param`` and check it with sklearn's validation."""
    from .models import make_model

    if key == "penalty":
        raise ParameterError(f"{key}: search l1_ratio (0 = l2, 1 = l1) or C instead of penalty")
    try:
        pipe = make_model(model, {**fixed, key: value}, raw_pixels=raw_pixels, steps=steps)
    except ParameterError as exc:
        raise ParameterError(str(exc).replace("--param", "--grid", 1)) from None
    return pipe.get_params(deep=True)[_full_key(key)]


def make_distribution(key: str, spec, default=None):
    """``"loguniform:1e-3:1e2"`` → ``scipy.stats.loguniform(1e-3, 1e2)``.

    Also ``uniform:LOW:HIGH`` and ``randint:LOW:HIGH`` (HIGH excluded). A scipy frozen
    distribution (anything with ``rvs``) is returned as it is.
    """
    if hasattr(spec, "rvs"):
        return spec
    from scipy import stats

    kind, *bounds = str(spec).split(":")
    kind = kind.strip().lower()
    if kind not in DISTRIBUTIONS or len(bounds) != 2:
        raise ParameterError(f"--dist {key}={spec}: expected one of "
                             f"{', '.join(d + ':LOW:HIGH' for d in DISTRIBUTIONS)}")
    try:
        low, high = (float(b) for b in bounds)
    except ValueError:
        raise ParameterError(f"--dist {key}={spec}: bounds must be numbers") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ParameterError(f"--dist {key}={spec}: need finite LOW < HIGH")
    is_int = isinstance(default, int) and not isinstance(default, bool)
    if is_int and kind != "randint":
        raise ParameterError(f"--dist {key}: {key} is an integer parameter; use randint:LOW:HIGH")
    if kind == "loguniform":
        if low <= 0:
            raise ParameterError(f"--dist {key}={spec}: loguniform needs LOW > 0")
        return stats.loguniform(low, high)
    if kind == "uniform":
        return stats.uniform(low, high - low)
    if not (low.is_integer() and high.is_integer()):
        raise ParameterError(f"--dist {key}={spec}: randint bounds must be integers")
    return stats.randint(int(low), int(high))


def build_space(model: str, grid: dict | None, distributions: dict | None, *, fixed: dict | None = None,
                raw_pixels: bool = False, steps=None) -> dict:
    """The typed search space ``{"clf__C": [0.01, 0.1], "clf__tol": <distribution>}``.

    Every grid value is typed with the registry's own coercion and checked by scikit-learn's
    parameter validation, so ``C=-1`` or ``C=abc`` fails before any fitting; distribution bounds
    are checked the same way.
    """
    from .models import make_model

    fixed = dict(fixed or {})
    base = make_model(model, fixed, raw_pixels=raw_pixels, steps=steps).get_params(deep=True)
    space: dict = {}
    for key, values in (grid or {}).items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            values = [values]
        typed = [_typed(model, key, v, fixed, raw_pixels, steps) for v in values]
        if not typed:
            raise ParameterError(f"--grid {key}: no values")
        space[_full_key(key)] = typed
    for key, spec in (distributions or {}).items():
        full = _full_key(key)
        if full in space:
            raise ParameterError(f"--dist {key}: also given in --grid")
        _typed(model, key, base.get(full) if full in base else "0", fixed, raw_pixels, steps)  # known key?
        dist = make_distribution(key, spec, base.get(full))
        for bound in _bounds(dist):
            _typed(model, key, bound, fixed, raw_pixels, steps)
        space[full] = dist
    if not space:
        raise ParameterError("nothing to search: give at least one --grid KEY=V1,V2 or --dist KEY=SPEC")
    return space


def _bounds(dist) -> list:
    with contextlib.suppress(Exception):
        low, high = dist.support()
        if dist.dist.name == "randint":
            return [int(low), int(high)]
        return [float(low), float(high)]
    return []


def describe_space(space: dict) -> dict:
    out = {}
    for k, v in space.items():
        if hasattr(v, "rvs"):
            args = ", ".join(f"{a:g}" for a in getattr(v, "args", ()))
            out[short_key(k)] = f"{v.dist.name}({args})"
        else:
            out[short_key(k)] = [_plain(x) for x in v]
    return out


# --------------------------------------------------------------------------- progress
@dataclass(frozen=True)
class SearchProgress:
    """One candidate has finished all its folds.

    Attributes
    ----------
    finished : int
        Candidates (times halving rounds) finished so far.
    total : int or None
        Candidates to evaluate; ``None`` for successive halving (decided as it goes).
    params : dict
        The finished candidate's parameters (short names, ``{"C": 0.1}``).
    mean_score, std_score : float
        Its cross-validation score.
    best_params : dict
    best_score : float
        The best candidate so far.
    """

    finished: int
    total: int | None
    params: dict
    mean_score: float
    std_score: float
    best_params: dict
    best_score: float


class _Tracker:
    """Collects fold scores as they arrive and reports each candidate when its folds are done."""

    def __init__(self, n_splits: int, total: int | None, callback: Callable | None):
        self.n_splits = n_splits
        self.total = total
        self.callback = callback
        self.lock = threading.Lock()
        self.folds: dict[str, list] = {}
        self.finished = 0
        self.best: tuple[float, dict] | None = None

    def fold_done(self, params: dict, score) -> None:
        key = repr(sorted(params.items()))
        with self.lock:
            scores = self.folds.setdefault(key, [])
            scores.append(float(score) if np.isscalar(score) else float("nan"))
            if len(scores) < self.n_splits:
                return
            del self.folds[key]  # halving evaluates a candidate again at the next rung
            arr = np.asarray(scores)
            mean = float(np.mean(arr)) if np.isfinite(arr).all() else float("nan")
            std = float(np.std(arr)) if np.isfinite(arr).all() else float("nan")
            short = {short_key(k): _plain(v) for k, v in params.items()}
            self.finished += 1
            if np.isfinite(mean) and (self.best is None or mean > self.best[0]):
                self.best = (mean, short)
            best_score, best_params = self.best if self.best else (float("nan"), {})
            event = SearchProgress(self.finished, self.total, short, mean, std, best_params, best_score)
            if self.callback is not None:
                self.callback(event)


_ACTIVE: _Tracker | None = None  # the tracker of the search running in this process
_SEQUENTIAL = False  # fold scores come from the in-process scorer (n_jobs=1) instead of joblib
_local = threading.local()
_INTERRUPTED = threading.Event()


@contextlib.contextmanager
def _sigint_latch():
    """Remember Ctrl-C (and SIGTERM, see digitlab._signals) even when an estimator catches the
    KeyboardInterrupt and carries on."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if previous is signal.SIG_IGN:
            return
        _INTERRUPTED.set()
        if callable(previous):
            previous(signum, frame)
        raise KeyboardInterrupt

    _INTERRUPTED.clear()
    signal.signal(signal.SIGINT, handler)
    try:
        yield
        if _INTERRUPTED.is_set() or _signals.terminated():
            raise KeyboardInterrupt
    finally:
        signal.signal(signal.SIGINT, previous)
        _INTERRUPTED.clear()


class ReportingScorer:
    """A scorer that reports each fold's score to the running search when it runs in-process.

    joblib runs ``n_jobs=1`` searches sequentially in the main process, where no backend hook
    fires; there this wrapper feeds the progress. In worker processes it only scores.
    """

    def __init__(self, scorer, keys):
        self.scorer = scorer
        self.keys = list(keys)

    def __call__(self, estimator, X, y, **kwargs):
        if _INTERRUPTED.is_set() or _signals.terminated():  # the fit swallowed Ctrl-C/TERM (MLP does)
            raise KeyboardInterrupt
        score = self.scorer(estimator, X, y, **kwargs)
        tracker = _ACTIVE
        if tracker is not None and _SEQUENTIAL:
            params = estimator.get_params(deep=True)
            tracker.fold_done({k: params[k] for k in self.keys if k in params}, score)
        return score


class _Tagged:
    """joblib completion callback that tells the backend hook which candidates the batch held."""

    def __init__(self, callback, params_list):
        self.callback = callback
        self.params_list = params_list

    def __call__(self, out):
        _local.params = self.params_list
        try:
            return self.callback(out)
        finally:
            _local.params = None


def _batch_params(batch) -> list | None:
    items = getattr(batch, "items", None)
    if not items:
        return None
    params = [kw.get("parameters") for _f, _a, kw in items if "split_progress" in kw]
    return params if len(params) == len(items) else None


class _ProgressHook:
    """Mixin for joblib backends: report ``_fit_and_score`` results as batches complete.

    joblib calls ``retrieve_result_callback`` in the parent as soon as a batch of folds is done
    (loky's result thread, or the Dask client's event loop), so progress is live.
    """

    def submit(self, func, callback=None):
        params = _batch_params(func)
        if callback is not None and params is not None:
            callback = _Tagged(callback, params)
        return super().submit(func, callback)

    def retrieve_result_callback(self, out):
        result = super().retrieve_result_callback(out)
        params_list = getattr(_local, "params", None)
        tracker = _ACTIVE
        if tracker is not None and params_list and isinstance(result, list):
            with contextlib.suppress(Exception):  # progress must never break the search
                for params, res in zip(params_list, result):
                    if isinstance(res, dict) and "test_scores" in res and params is not None:
                        tracker.fold_done(params, res["test_scores"])
        return result


_REGISTERED: set = set()


def _register_backend(kind: str) -> str:
    """Register digitlab's progress-reporting version of joblib's loky or Dask backend."""
    import joblib

    name = f"digitlab-{kind}"
    if name in _REGISTERED:
        return name
    extra = {}
    if kind == "loky":
        from ._workers import GuardedLokyBackend as Base  # workers exit when this process dies
    else:
        from joblib._dask import DaskDistributedBackend as Base

        def start_call(self):
            Base.start_call(self)
            # joblib scatters every argument over 1 kB (the folds' index arrays) to ONE worker,
            # without replicas: if that worker dies, the data is gone and the search fails with
            # "already forgotten". Sent inline instead, the tasks can be rerun anywhere; X and y
            # are still scattered once, to every worker (parallel_config(scatter=...)).
            self.call_data_futures = None

        def stop_call(self):
            self.call_data_futures = {}  # joblib clears it
            Base.stop_call(self)

        extra.update(start_call=start_call, stop_call=stop_call)
    joblib.register_parallel_backend(name, type(f"Progress{Base.__name__}", (_ProgressHook, Base), extra))
    _REGISTERED.add(name)
    return name


@contextlib.contextmanager
def _tracking(tracker: _Tracker, sequential: bool):
    global _ACTIVE, _SEQUENTIAL
    old = (_ACTIVE, _SEQUENTIAL)
    _ACTIVE, _SEQUENTIAL = tracker, sequential
    try:
        yield
    finally:
        _ACTIVE, _SEQUENTIAL = old


# --------------------------------------------------------------------------- the search
def make_search(pipe, space: dict, *, n_iter: int | None = None, halving: bool = False, factor: int = 3,
                cv: int = 3, scoring="accuracy", seed: int = 0, n_jobs: int | None = None):
    """The scikit-learn search object for *space* (not fitted).

    Grid search unless *n_iter* is given (random search); *halving* switches to successive
    halving over the number of training samples. Folds are stratified and shuffled with *seed*,
    so the same seed gives the same folds everywhere. ``refit=False``: :func:`search` refits the
    best candidate itself, to record its fit time and convergence like ``train`` does.
    """
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import (GridSearchCV, RandomizedSearchCV, StratifiedKFold)

    try:
        scorer = get_scorer(scoring) if isinstance(scoring, str) else scoring
    except ValueError:
        raise ParameterError(f"--scoring {scoring!r}: not a scikit-learn scorer name "
                             "(e.g. accuracy, f1, roc_auc, balanced_accuracy)") from None
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    common = dict(cv=folds, scoring=ReportingScorer(scorer, space), refit=False, n_jobs=n_jobs,
                  error_score=np.nan, return_train_score=False)
    lists_only = all(not hasattr(v, "rvs") for v in space.values())
    if halving:
        from sklearn.experimental import enable_halving_search_cv  # noqa: F401
        from sklearn.model_selection import HalvingGridSearchCV, HalvingRandomSearchCV

        if n_iter is None:
            return HalvingGridSearchCV(pipe, space, factor=factor, random_state=seed, **common)
        return HalvingRandomSearchCV(pipe, space, n_candidates=n_iter, factor=factor, random_state=seed,
                                     **common)
    if n_iter is None:
        if not lists_only:
            raise ParameterError("--dist needs --random N (a grid search takes lists: --grid KEY=V1,V2)")
        return GridSearchCV(pipe, space, **common)
    return RandomizedSearchCV(pipe, space, n_iter=n_iter, random_state=seed, **common)


def n_candidates(space: dict, n_iter: int | None, halving: bool) -> int | None:
    from sklearn.model_selection import ParameterGrid

    if halving:
        return None
    lists_only = all(not hasattr(v, "rvs") for v in space.values())
    grid_size = len(ParameterGrid(space)) if lists_only else None
    if n_iter is None:
        return grid_size
    return min(n_iter, grid_size) if grid_size is not None else n_iter


def search(dataset="mnist", model: str = "logreg", *, grid: dict | None = None,
           distributions: dict | None = None, n_iter: int | None = None, halving: bool = False,
           factor: int = 3, cv: int = 3, scoring: str = "accuracy", detect: int | None = None,
           params: dict | None = None, raw_pixels: bool = False, test_size=None, seed: int = 0,
           limit: int | None = None, stratify: bool = True, cluster: str | None = None,
           n_jobs: int = -1, evaluate: bool = True, runs_dir=None, data_dir=None, cache_dir=None,
           callback: Callable[[SearchProgress], None] | None = None,
           echo: Callable[[str], None] | None = None):
    """Search model parameters by cross-validation and write the best model as a run folder.

    Parameters
    ----------
    dataset : str or Dataset, default="mnist"
        Dataset name or path (see :func:`digitlab.datasets.load`), or a loaded Dataset.
    model : str, default="logreg"
        A registered model (:func:`digitlab.models.available_models`).
    grid : dict of str to list, default=None
        Values to try per parameter, ``{"C": [0.01, 0.1, 1], "l1_ratio": [0, 1]}``; strings are
        typed like ``--param`` values.
    distributions : dict of str to str or scipy distribution, default=None
        For random search: ``{"C": "loguniform:1e-3:1e2"}`` (also ``uniform:LOW:HIGH``,
        ``randint:LOW:HIGH``) or a frozen scipy distribution.
    n_iter : int, default=None
        Random search with this many candidates (grid search when ``None``).
    halving : bool, default=False
        Successive halving over the number of training images (``factor`` = 3).
    cv : int, default=3
        Stratified, shuffled folds (seeded by *seed*).
    scoring : str, default="accuracy"
        A scikit-learn scorer name.
    detect : int, default=None
        Search a binary detector for this class instead of all classes.
    params : dict, default=None
        Fixed model parameters (``{"max_iter": 200}``).
    raw_pixels, test_size, seed, limit, stratify
        As for :func:`digitlab.train`.
    cluster : str, default=None
        ``"tcp://HOST:8786"`` (a running Dask scheduler) or ``"local:N"`` (N local Dask worker
        processes); ``None`` reads ``$DIGITLAB_CLUSTER``, and without it the folds run in
        *n_jobs* local processes.
    n_jobs : int, default=-1
        Local worker processes (``-1``: one per core). Ignored on a cluster.
    evaluate : bool, default=True
        Evaluate the refitted best model on the test split and store the metrics.
    callback : callable, default=None
        Called with a :class:`SearchProgress` each time a candidate finishes all its folds.
    echo : callable, default=None
        Called with one-line status messages (backend, dashboard address).

    Returns
    -------
    Run
        The run folder; ``run.path / "search.json"`` holds the full results table.

    Examples
    --------
    >>> from digitlab.searching import search
    >>> run = search("digits", "logreg", grid={"C": [0.01, 0.1, 1]}, test_size=0.25)  # doctest: +SKIP
    >>> run.meta["search"]["best_params"]  # doctest: +SKIP
    {'C': 0.1}
    """
    from . import cluster as clusters
    from . import datasets as dsets
    from .datasets.dataset import check_seed
    from .models import make_model
    from .runs import RunWriter, make_run_id
    from .training import binary_target, task_classes

    echo = echo or (lambda msg: None)
    if cv < 2:
        raise ParameterError(f"--cv: need at least 2 folds, got {cv}")
    if n_iter is not None and n_iter < 1:
        raise ParameterError(f"--random: need at least 1 candidate, got {n_iter}")
    if halving and factor < 2:
        raise ParameterError(f"--factor: must be at least 2, got {factor}")
    check_seed(seed)
    spec = clusters.resolve(cluster)
    if spec is not None:
        clusters.parse(spec)  # a bad --cluster fails before the data is loaded
        clusters.require_distributed()

    fixed = dict(params or {})
    space = build_space(model, grid, distributions, fixed=fixed, raw_pixels=raw_pixels)
    pipe = make_model(model, fixed, raw_pixels=raw_pixels)
    ds = dataset if isinstance(dataset, dsets.Dataset) else dsets.load(
        dataset, data_dir=data_dir, cache_dir=cache_dir, progress=False)
    if detect is not None:
        binary_target(ds.labels[:1], detect, ds.classes)
    split = ds.train_test(test_size, seed=seed, limit=limit, stratify=stratify)
    X = split.X_train  # one object: joblib's Dask backend scatters it by identity
    y = split.y_train if detect is None else binary_target(split.y_train, detect, ds.classes)
    _check_folds(y, cv, pipe, space, X.shape[1], task_classes(ds.classes, detect))

    total = n_candidates(space, n_iter, halving)
    kind = ("halving-" if halving else "") + ("grid" if n_iter is None else "random")
    run_id = make_run_id(ds.name, model, "search", *([f"detect{detect}"] if detect is not None else []))
    tracker = _Tracker(cv, total, callback)
    with RunWriter(run_id, runs_dir) as w:  # creates its temp folder now: a read-only runs dir fails here
        with _backend(spec, n_jobs, X, y, cv * (total or 1), echo) as be:
            searcher = make_search(pipe, space, n_iter=n_iter, halving=halving, factor=factor, cv=cv,
                                   scoring=scoring, seed=seed, n_jobs=be["n_jobs"])
            fits = f"{total} candidates × {cv} folds" if total else f"successive halving, {cv} folds"
            echo(f"searching {model} on {len(y):,} {ds.name} images: {fits} on {be['label']}")
            t0 = time.perf_counter()
            with _sigint_latch(), _tracking(tracker, be["sequential"]), be["config"](), _mapped_errors(be), \
                    warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                searcher.fit(X, y)
            seconds = time.perf_counter() - t0
            failures = _fit_failures(caught)
            for note in failures["notes"]:
                echo(f"note: {note}")
            lost = be["conn"].lost_workers() if be["conn"] is not None else []
            backend_info = {"backend": be["name"], "workers": be["workers"], "lost_workers": lost,
                            "fit_failures": failures["messages"],
                            **({"cluster": be["conn"].describe()} if be["conn"] is not None else {})}
        for item in lost:
            echo(f"note: worker {item['worker']} was lost during the search; "
                 f"its {item['processing_tasks']} tasks were rescheduled")
        _write_run(w, searcher, pipe, space, split, X, y, ds, dataset, model, kind, scoring, cv,
                         seed, fixed, raw_pixels, detect, test_size, limit, stratify, n_iter, factor,
                         seconds, backend_info, evaluate)
        final = w.commit()
    from .runs import read_run

    return read_run(final)


def _check_folds(y, cv: int, pipe, space: dict, n_features: int, classes) -> None:
    """Before any fit: folds the labels can fill, and every candidate value a fold can fit
    (grid values, and the bounds of a distribution)."""
    from sklearn.base import clone

    from .evaluation.cv import check_folds

    models = [pipe] + [clone(pipe).set_params(**{key: v}) for key, values in space.items()
                       for v in (values if isinstance(values, list) else _bounds(values))]
    check_folds(y, cv, classes=classes, models=models, n_features=n_features, more="a larger limit")


@contextlib.contextmanager
def _backend(spec, n_jobs, X, y, n_fits, echo):
    """Yield how to run the folds: joblib config, worker count, and the Dask connection if any."""
    import joblib

    if spec is None:
        n = joblib.effective_n_jobs(n_jobs) if n_jobs else 1
        n = max(1, min(n, n_fits))
        if n == 1:
            from threadpoolctl import threadpool_limits

            # one BLAS thread, as in every worker process: the same seed gives the same scores
            yield {"name": "sequential", "label": "1 local process", "workers": 1, "n_jobs": 1,
                   "sequential": True, "conn": None, "config": lambda: threadpool_limits(1)}
            return
        name = _register_backend("loky")
        yield {"name": "loky", "label": f"{n} local processes", "workers": n, "n_jobs": n,
               "sequential": False, "conn": None,
               "config": lambda: joblib.parallel_config(backend=name, n_jobs=n, inner_max_num_threads=1)}
        return
    from . import cluster as clusters

    with clusters.connect(spec, echo=echo) as conn:
        name = _register_backend("dask")
        workers = len(conn.initial_workers)
        yield {"name": "dask", "label": f"Dask ({workers} workers)", "workers": workers, "n_jobs": -1,
               "sequential": False, "conn": conn,
               # the training data goes to every worker once, instead of with every task
               "config": lambda: joblib.parallel_config(backend=name, n_jobs=-1, client=conn.client,
                                                        scatter=[X, y])}


def _fit_failures(caught) -> dict:
    """One-line summaries of scikit-learn's FitFailedWarning (its text holds whole tracebacks).

    Convergence warnings are counted (they only reach this process for ``n_jobs=1``); other
    warnings are shown again as they were.
    """
    import re

    from sklearn.exceptions import ConvergenceWarning, FitFailedWarning

    messages, notes, n_conv = [], [], 0
    for w in caught:
        text = str(w.message)
        if issubclass(w.category, FitFailedWarning):
            head = text.strip().split("\n")[0]
            errors = re.findall(r"^(\w+(?:Error|Exception): .*)$", text, flags=re.M)
            messages.append(f"{head} {errors[-1] if errors else ''}".strip())
        elif issubclass(w.category, ConvergenceWarning):
            n_conv += 1
        elif "test scores are non-finite" in text:
            continue  # the failed fits above, said again
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    notes += [f"{m} (those candidates score nan)" for m in messages]
    if n_conv:
        notes.append(f"{n_conv} fits did not converge (ConvergenceWarning); consider raising max_iter")
        messages.append(f"{n_conv} fits did not converge")
    return {"messages": messages, "notes": notes}


@contextlib.contextmanager
def _mapped_errors(be):
    """Turn worker deaths and failed searches into one-line digitlab errors."""
    try:
        yield
    except DigitlabError:
        raise
    except Exception as exc:  # noqa: BLE001 - mapped by type name: distributed may not be installed
        name = type(exc).__name__
        first = str(exc).strip().split("\n")[0]
        if name in ("TerminatedWorkerError", "BrokenProcessPool"):
            raise WorkerError("search: a worker process died (killed, or out of memory?); "
                              "try fewer --jobs or a smaller --limit") from None
        if name == "KilledWorker":
            raise WorkerError(f"search: Dask workers kept dying on the same task ({first})") from None
        if name in ("ModuleNotFoundError", "ImportError") and be["name"] == "dask":
            from .cluster import ClusterUnavailableError

            raise ClusterUnavailableError(f"--cluster: a worker cannot import what the search needs "
                                          f"({first}); install digitlab on every worker") from None
        if isinstance(exc, ValueError) and "fits failed" in first:
            detail = [ln for ln in str(exc).split("\n") if "Error:" in ln]
            raise ParameterError(f"search: {first} ({detail[-1].strip() if detail else 'see --debug'})") from None
        raise


# --------------------------------------------------------------------------- results and the run
def _plain(v):
    """A JSON-safe Python value (inf → "inf", nan → None, numpy → Python)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(v, (int, str, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return repr(v)


def results_table(cv_results: dict) -> dict:
    """``cv_results_`` as plain JSON columns (masked entries → ``None``, names shortened)."""
    out = {}
    for key, col in cv_results.items():
        if key == "params":
            out[key] = [{short_key(k): _plain(v) for k, v in p.items()} for p in col]
            continue
        name = f"param_{short_key(key[6:])}" if key.startswith("param_") else key
        mask = np.ma.getmaskarray(col) if np.ma.isMaskedArray(col) else None
        values = list(np.ma.getdata(col)) if mask is not None else list(col)
        out[name] = [None if (mask is not None and mask[i]) else _plain(v) for i, v in enumerate(values)]
    return out


def result_rows(table: dict) -> list[dict]:
    """One dict per candidate, best first (what ``--json`` prints)."""
    n = len(table["params"])
    extra = [k for k in ("iter", "n_resources") if k in table]
    rows = []
    for i in range(n):
        row = {"rank": table["rank_test_score"][i], "params": table["params"][i],
               "mean_test_score": table["mean_test_score"][i], "std_test_score": table["std_test_score"][i],
               "mean_fit_time": table["mean_fit_time"][i]}
        row.update({k: table[k][i] for k in extra})
        rows.append(row)
    if extra:  # halving: the last rung first, then by rank
        rows.sort(key=lambda r: (-r["iter"], r["rank"]))
    else:
        rows.sort(key=lambda r: r["rank"])
    return rows


def _write_run(w, searcher, pipe, space, split, X, y, ds, dataset, model, kind, scoring, cv, seed, fixed,
               raw_pixels, detect, test_size, limit, stratify, n_iter, factor, seconds, backend_info,
               evaluate):
    from sklearn.base import clone

    from .persist import save_model
    from .runs import MODEL_FILE, Run
    from .training import fit_model, library_versions, run_meta

    table = results_table(searcher.cv_results_)
    best_i = int(searcher.best_index_)
    best_params_full = searcher.best_params_
    best_params = {short_key(k): _plain(v) for k, v in best_params_full.items()}
    best_score = _plain(float(searcher.best_score_))
    best_std = table["std_test_score"][best_i]
    failed = int(sum(1 for v in table["mean_test_score"] if v is None))
    n_cands = len(table["params"])
    if failed == n_cands:
        raise ParameterError("search: every candidate failed to fit; check the parameter values")

    best = clone(pipe).set_params(**best_params_full)
    fit = fit_model(best, X, y, label="refitting the best candidate")
    user_params = {**{k: _plain(v) for k, v in fixed.items()}, **best_params}
    record = {
        "kind": kind, "model": model, "scoring": scoring, "cv": cv, "seed": seed,
        "space": describe_space(space), "n_candidates": n_cands, "failed_candidates": failed,
        "best_params": best_params, "best_score": best_score, "best_std": best_std, "best_index": best_i,
        "seconds": round(seconds, 3), **backend_info,
        **({"n_iter": n_iter} if n_iter is not None else {}),
        **({"factor": factor, "n_iterations": int(searcher.n_iterations_),
            "n_resources": [int(r) for r in searcher.n_resources_]} if kind.startswith("halving") else {}),
        "results": result_rows(table),
        "cv_results": table,
    }
    meta = run_meta(w.run_id, dataset, ds, split, dict(test_size=test_size, seed=seed, limit=limit,
                    stratify=stratify), detect=detect, model=model, params=user_params,
                    raw_pixels=raw_pixels, estimator=best[-1], fit=fit,
                    versions={**library_versions(), **_dask_versions(backend_info)})
    meta["search"] = {k: record[k] for k in ("kind", "scoring", "cv", "space", "n_candidates", "best_params",
                                             "best_score", "best_std", "seconds", "backend", "workers",
                                             "lost_workers", "failed_candidates", "fit_failures")}
    meta["model"]["sha256"] = save_model(best, w.path / MODEL_FILE)
    w.write_json(SEARCH_FILE, record)
    w.write_json("run.json", meta)
    ours = {"cv_mean": best_score, "cv_std": best_std, "search_best_score": best_score}
    metrics = dict(ours)
    if evaluate:
        metrics = _evaluate(Run(w.path, meta), split, best, detect, ds)
        # the evaluation skips its own CV (cv=0): the search's CV score fills those fields
        metrics.update({k: v for k, v in ours.items() if metrics.get(k) is None})
    _save_figures(w.path / "figures", table, space, scoring)  # after evaluate, which replaces figures/
    meta["metrics"] = metrics
    w.write_json("run.json", meta)
    return meta


def _dask_versions(backend_info) -> dict:
    if backend_info.get("backend") != "dask":
        return {}
    import dask
    import distributed

    return {"dask": dask.__version__, "distributed": distributed.__version__}


def _evaluate(run, split, model, detect, ds) -> dict:
    """Metrics of the refitted best model: ``digitlab.evaluation`` when it is there, else accuracy."""
    if importlib.util.find_spec("digitlab.evaluation") is not None:
        from .evaluation import evaluate

        wanted = {"split": split, "model": model, "cv": 0, "progress": False}
        accepted = inspect.signature(evaluate).parameters
        kwargs = {k: v for k, v in wanted.items() if k in accepted}
        return dict(evaluate(run, **kwargs).summary())
    from .training import binary_target

    y_test = split.y_test if detect is None else binary_target(split.y_test, detect, ds.classes)
    y_pred = model.predict(split.X_test)
    return {"test_accuracy": float(np.mean(y_pred == y_test))}


# --------------------------------------------------------------------------- figures
def plot_param(table: dict, param: str, *, scoring: str = "accuracy", ax=None):
    """Draw the mean CV score against one searched parameter, with ±1 std error bars.

    With a few repeated values (a grid), each point is the best candidate having that value
    (the other parameters at their best); with continuous values (random search) every
    candidate is a point. Successive halving plots the candidates of the last rung.

    Parameters
    ----------
    table : dict
        :func:`results_table` of ``cv_results_``.
    param : str
        Short parameter name (``"C"``).
    ax : matplotlib Axes, default=None
        Axes object to plot on. If ``None``, a new figure and axes is created.

    Returns
    -------
    matplotlib Axes
    """
    if ax is None:
        from .plots._save import new_figure

        ax = new_figure((5.2, 3.6)).add_subplot()
    rows = range(len(table["params"]))
    if "iter" in table:
        last = max(table["iter"])
        rows = [i for i in rows if table["iter"][i] == last]
    pts = [(table["params"][i].get(param), table["mean_test_score"][i], table["std_test_score"][i])
           for i in rows if table["mean_test_score"][i] is not None]
    values = [p[0] for p in pts]
    if len(set(map(repr, values))) < len(values):  # a grid: best candidate per value
        best: dict = {}
        for v, m, s in pts:
            if repr(v) not in best or m > best[repr(v)][1]:
                best[repr(v)] = (v, m, s)
        pts = list(best.values())
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v, _, _ in pts)
    if numeric:
        pts.sort(key=lambda p: p[0])
        xs = [p[0] for p in pts]
    else:
        xs = list(range(len(pts)))
        ax.set_xticks(xs, [str(p[0]) for p in pts])
    ax.errorbar(xs, [p[1] for p in pts], yerr=[p[2] for p in pts], fmt="o-" if len(pts) < 30 else "o",
                capsize=3, ms=4, lw=1)
    if numeric and xs and min(xs) > 0 and max(xs) / min(xs) >= 100:
        ax.set_xscale("log")
    ax.set_xlabel(param)
    ax.set_ylabel(f"mean CV {scoring} (±1 std)")
    ax.set_title(f"{scoring} vs {param}")
    ax.grid(alpha=0.3)
    return ax


def _save_figures(folder: Path, table: dict, space: dict, scoring: str) -> list[Path]:
    import re

    from .plots._save import save_figure

    out = []
    for key in space:
        name = short_key(key)
        ax = plot_param(table, name, scoring=scoring)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        out.append(save_figure(ax.figure, folder / f"search_{safe}.png"))
    return out


def load_search(run) -> dict:
    """The ``search.json`` of a run made by :func:`search`."""
    import json

    from ._files import MAX_JSON_BYTES, read_input_bytes
    from .exceptions import DataError, InputMissingError

    p = Path(run.path) / SEARCH_FILE
    if not p.exists():
        raise InputMissingError(f"{p}: not a search run (no {SEARCH_FILE})")
    data = read_input_bytes(p, max_bytes=MAX_JSON_BYTES, what="search results")
    try:
        return json.loads(data)
    except ValueError as exc:
        raise DataError(f"{p}: unreadable search results ({exc})") from None
