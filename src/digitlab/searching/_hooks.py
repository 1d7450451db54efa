"""Every private hook into scikit-learn and joblib that search progress needs, in one place.

Written against scikit-learn 1.9 and joblib 1.6 (the versions pyproject pins and installs): it
relies on joblib's ``ParallelBackendBase.submit``/``retrieve_result_callback``, on the batch
objects' ``items`` holding ``_fit_and_score``'s keyword arguments (``parameters``,
``split_progress``), on the ``test_scores`` key of ``_fit_and_score``'s result, and on joblib's
Dask backend's ``call_data_futures``. Tests in tests/search fail if a new version changes them.

Why module-level state: joblib builds backend instances itself, in its own threads, so the hook
finds the running search's tracker through ``_ACTIVE``, set for the duration of one search by
:func:`tracking` (one search at a time per process, which ``search`` guarantees).
"""

from __future__ import annotations

import contextlib
import threading

from .. import _signals
from .progress import Tracker

_ACTIVE: Tracker | None = None  # the tracker of the search running in this process
_SEQUENTIAL = False  # fold scores come from the in-process scorer (n_jobs=1) instead of joblib
_local = threading.local()
_INTERRUPTED = threading.Event()


@contextlib.contextmanager
def sigint_latch():
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
    # (parameters, fold index) of each _fit_and_score call in the batch
    params = [(kw.get("parameters"), kw["split_progress"][0]) for _f, _a, kw in items if "split_progress" in kw]
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
                for (params, fold), res in zip(params_list, result):
                    if isinstance(res, dict) and "test_scores" in res and params is not None:
                        tracker.fold_done(params, res["test_scores"], fold=fold)
        return result


_REGISTERED: set = set()


def register_backend(kind: str) -> str:
    """Register digitlab's progress-reporting version of joblib's loky or Dask backend."""
    import joblib

    name = f"digitlab-{kind}"
    if name in _REGISTERED:
        return name
    extra = {}
    if kind == "loky":
        from .._workers import (
            GuardedLokyBackend as Base,  # workers exit when this process dies
        )
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
def tracking(tracker: Tracker, sequential: bool):
    global _ACTIVE, _SEQUENTIAL
    old = (_ACTIVE, _SEQUENTIAL)
    _ACTIVE, _SEQUENTIAL = tracker, sequential
    try:
        yield
    finally:
        _ACTIVE, _SEQUENTIAL = old


