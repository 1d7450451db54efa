"""``search``: tune a registered model with scikit-learn's search classes, locally or on Dask.

The search is :class:`~sklearn.model_selection.GridSearchCV`, :class:`RandomizedSearchCV` or
their successive-halving versions over the model's Pipeline (``clf__C``), so it works for any
model :func:`digitlab.models.make_model` builds. Candidate fits run through joblib: local worker
processes (loky), or a Dask cluster through joblib's Dask backend, with the training data
scattered to every worker once. Progress comes from a joblib-level hook (``_hooks``).
"""

from __future__ import annotations

import contextlib
import time
import warnings
from typing import Callable

import numpy as np

from ..exceptions import DigitlabError, ParameterError, WorkerError
from ..runs import RunWriter, make_run_id, read_run
from ._hooks import ReportingScorer, register_backend, sigint_latch, tracking
from ._run import write_search_run
from .progress import SearchProgress, Tracker
from .space import _bounds, build_space, n_candidates

KINDS = ("grid", "random", "halving-grid", "halving-random")


def make_search(pipe, space: dict, *, n_iter: int | None = None, halving: bool = False, factor: int = 3,
                cv: int = 3, scoring="accuracy", seed: int = 0, n_jobs: int | None = None):
    """The scikit-learn search object for *space* (not fitted).

    Grid search unless *n_iter* is given (random search); *halving* switches to successive
    halving over the number of training samples. Folds are stratified and shuffled with *seed*,
    so the same seed gives the same folds everywhere. ``refit=False``: :func:`search` refits the
    best candidate itself, to record its fit time and convergence like ``train`` does.
    """
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import (
        GridSearchCV,
        RandomizedSearchCV,
        StratifiedKFold,
    )

    try:
        scorer = get_scorer(scoring) if isinstance(scoring, str) else scoring
    except ValueError:
        raise ParameterError(f"scoring={scoring!r}: not a scikit-learn scorer name "
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
            raise ParameterError("distributions: need a random search (n_iter=N); a grid search takes lists of values")
        return GridSearchCV(pipe, space, **common)
    return RandomizedSearchCV(pipe, space, n_iter=n_iter, random_state=seed, **common)


def search(dataset="mnist", model: str = "logreg", *, grid: dict | None = None,
           distributions: dict | None = None, n_iter: int | None = None, halving: bool = False,
           factor: int = 3, cv: int = 3, scoring: str = "accuracy", detect: int | None = None,
           params: dict | None = None, raw_pixels: bool = False, test_size=None, seed: int = 0,
           limit: int | None = None, stratify: bool = True, cluster: str | None = None,
           n_jobs: int = -1, evaluate: bool = True, runs_dir=None, data_dir=None, cache_dir=None,
           callback: Callable[[SearchProgress], None] | None = None,
           echo: Callable[[str], None] | None = None, progress: bool = False):
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
        Successive halving over the number of training images.
    factor : int, default=3
        Successive halving: the share of candidates kept (1/factor) and the growth of the
        training images at each rung.
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
        Evaluate the refitted best model on the test split and store the metrics and figures.
    runs_dir : path-like, default=None
        Where the run folder goes (``$DIGITLAB_RUNS_DIR``, else ``./runs``).
    data_dir, cache_dir : path-like, default=None
        Where the dataset's files are looked for (see :func:`digitlab.datasets.load`); a known
        dataset that is missing is downloaded.
    callback : callable, default=None
        Called with a :class:`SearchProgress` each time a candidate finishes all its folds.
    echo : callable, default=None
        Called with one-line status messages (backend, dashboard address).
    progress : bool, default=False
        One live status line (stderr, or one output in Jupyter): candidates done and the best so far.

    Returns
    -------
    Run
        The run folder; ``run.path / "search.json"`` holds the full results table.

    Examples
    --------
    >>> from digitlab.searching import search
    >>> run = search("digits", "logreg", grid={"C": [0.01, 0.1, 1]}, test_size=0.25)  # doctest: +SKIP
    >>> run.info.search.best_params  # doctest: +SKIP
    {'C': 0.1}
    """
    from .. import cluster as clusters
    from .. import datasets as dsets
    from ..datasets.dataset import check_seed
    from ..models import make_model

    echo = echo or (lambda msg: None)
    if cv < 2:
        raise ParameterError(f"cv={cv!r}: need at least 2 folds")
    if n_iter is not None and n_iter < 1:
        raise ParameterError(f"n_iter={n_iter!r}: need at least 1 candidate")
    if halving and factor < 2:
        raise ParameterError(f"factor={factor!r}: must be at least 2")
    check_seed(seed)
    spec = clusters.resolve(cluster)
    if spec is not None:
        clusters.parse(spec)  # a bad --cluster fails before the data is loaded
        clusters.require_distributed()

    fixed = dict(params or {})
    space = build_space(model, grid, distributions, fixed=fixed, raw_pixels=raw_pixels)
    pipe = make_model(model, fixed, raw_pixels=raw_pixels)
    ds = dataset if isinstance(dataset, dsets.Dataset) else dsets.load(
        dataset, data_dir=data_dir, cache_dir=cache_dir, progress=False, download=True)
    task = dsets.Task(ds.classes, detect)
    split = ds.train_test(test_size, seed=seed, limit=limit, stratify=stratify)
    X = split.X_train  # one object: joblib's Dask backend scatters it by identity
    y = task.target(split.y_train)
    _check_folds(y, cv, pipe, space, X.shape[1], task.names)

    total = n_candidates(space, n_iter, halving)
    kind = ("halving-" if halving else "") + ("grid" if n_iter is None else "random")
    run_id = make_run_id(ds.name, model, "search", *([f"detect{detect}"] if detect is not None else []))
    from ..fitting import progress_status

    line = progress_status(progress, f"searching {model} on {len(y):,} {ds.name} images")

    def on_candidate(e: SearchProgress) -> None:
        if progress:
            of = f"{e.finished}/{e.total}" if e.total else f"{e.finished}"
            best = (f", best {e.best_score:.4f} ({', '.join(f'{k}={v}' for k, v in e.best_params.items())})"
                    if e.best_params else "")
            line.update(f"{of} candidates{best}")
        if callback is not None:
            callback(e)

    tracker = Tracker(cv, total, on_candidate)
    with RunWriter(run_id, runs_dir) as w, line:  # the temp folder now: a read-only runs dir fails here
        with _backend(spec, n_jobs, X, y, cv * (total or 1), echo) as be:
            searcher = make_search(pipe, space, n_iter=n_iter, halving=halving, factor=factor, cv=cv,
                                   scoring=scoring, seed=seed, n_jobs=be["n_jobs"])
            fits = f"{total} candidates × {cv} folds" if total else f"successive halving, {cv} folds"
            echo(f"searching {model} on {len(y):,} {ds.name} images: {fits} on {be['label']}")
            t0 = time.perf_counter()
            with sigint_latch(), tracking(tracker, be["sequential"]), be["config"](), _mapped_errors(be), \
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
        write_search_run(w, searcher, pipe, space, split, X, y, ds, task, dataset=dataset, model=model,
                         kind=kind, scoring=scoring, cv=cv, seed=seed, fixed=fixed, raw_pixels=raw_pixels,
                         test_size=test_size, limit=limit, stratify=stratify, n_iter=n_iter, factor=factor,
                         seconds=seconds, backend_info=backend_info, evaluate=evaluate)
        final = w.commit()
    return read_run(final)


def _check_folds(y, cv: int, pipe, space: dict, n_features: int, classes) -> None:
    """Before any fit: folds the labels can fill, and every candidate value a fold can fit
    (grid values, and the bounds of a distribution)."""
    from sklearn.base import clone

    from ..evaluation.cv import check_folds

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
        name = register_backend("loky")
        yield {"name": "loky", "label": f"{n} local processes", "workers": n, "n_jobs": n,
               "sequential": False, "conn": None,
               "config": lambda: joblib.parallel_config(backend=name, n_jobs=n, inner_max_num_threads=1)}
        return
    from .. import cluster as clusters

    with clusters.connect(spec, echo=echo) as conn:
        name = register_backend("dask")
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
            from ..cluster import ClusterUnavailableError

            raise ClusterUnavailableError(f"cluster: a worker cannot import what the search needs "
                                          f"({first}); install digitlab on every worker") from None
        if isinstance(exc, ValueError) and "fits failed" in first:
            detail = [ln for ln in str(exc).split("\n") if "Error:" in ln]
            raise ParameterError(f"search: {first} ({detail[-1].strip() if detail else 'see --debug'})") from None
        raise
