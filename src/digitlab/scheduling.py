"""The fits of several trainings in one worker pool; each training finished here as its fits end.

``digitlab study`` trains four models. Run one after the other, every step waits for the
5-detector, whose four SGD fits (about 54 CPU-seconds, the longest 24 s on its own) leave a core
idle at the end, and the evaluations, figures and the report then run on one core. A
:class:`Schedule` puts every fit of every training into one loky pool at once, in the order
given (the longest first), and this thread finishes each training (model file, evaluation,
figures, run folder) as soon as its last fit is back, while the workers go on with the rest.

The fits are the very calls ``train`` makes (:attr:`digitlab.training.Training.calls`), run in
worker processes with one BLAS thread as ``train``'s pool runs them, so every number equals a
sequential run's (``tests/test_scheduling.py``). Figures are drawn in this thread only:
matplotlib is not thread-safe.

Ctrl-C (SIGTERM in the CLI) raises here: the pool is aborted and its workers killed, the run
being written, if any, is removed by its ``RunWriter``, and runs already finished stay whole.
"""

from __future__ import annotations

import os
import time
import warnings
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass

import numpy as np

from ._workers import cores
from .exceptions import WorkerError


@dataclass
class Span:
    """One piece of work on the timeline: what, where (``main`` or ``worker k``), when (seconds
    from the timeline's start) and how much CPU it got."""

    what: str
    where: str
    start: float
    end: float
    cpu: float

    @property
    def share(self) -> float:
        """CPU seconds per wall second: 1.0 is a core of its own, 0.5 half of one."""
        return self.cpu / max(self.end - self.start, 1e-9)


class Timeline:
    """What ran when and where, from this process and its workers (one system-wide monotonic
    clock, so the workers' times line up with this process's)."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.spans: list[Span] = []
        self._workers: dict[int, str] = {}

    @contextmanager
    def span(self, what: str):
        """Time a block of this process's own work (CPU: this process's, its BLAS threads included)."""
        t0, c0 = time.monotonic(), time.process_time()
        try:
            yield
        finally:
            self.spans.append(Span(what, "main", round(t0 - self.t0, 3), round(time.monotonic() - self.t0, 3),
                                   round(time.process_time() - c0, 3)))

    def add(self, what: str, pid: int, start: float, end: float, cpu: float) -> None:
        """A worker's piece of work (``worker 1``, ``2``, ... in the order they first report;
        this process's own pid when the pool ran in it)."""
        where = "main" if pid == os.getpid() else self._workers.setdefault(pid, f"worker {len(self._workers) + 1}")
        self.spans.append(Span(what, where, round(start - self.t0, 3), round(end - self.t0, 3), round(cpu, 3)))

    def to_list(self) -> list[dict]:
        return [asdict(s) for s in sorted(self.spans, key=lambda s: (s.start, s.where))]


def _import_models(names) -> int:
    """In a worker: import what fitting these models needs (scikit-learn's modules mostly)."""
    from .evaluation import cv  # noqa: F401  (the folds' fit function)
    from .models import make_model

    for name in names:
        make_model(name)
    return os.getpid()


def _abort(gen) -> None:
    """Leave a joblib generator early (Ctrl-C, an error): closing it aborts the pool and kills its
    workers; joblib also warns that it was closed early, which the caller already knows."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gen.close()


class WarmPool:
    """Start the pool's workers and their imports now (about 2 CPU-seconds each), while this
    process loads the data; :class:`Schedule` then reuses them (loky keeps an executor with the
    same settings). :meth:`wait` (or leaving the ``with``) waits for the imports."""

    def __init__(self, n_jobs: int, models):
        from joblib import Parallel, delayed

        from ._workers import guarded_backend

        self._gen = None
        if n_jobs > 1:
            self._gen = Parallel(n_jobs=n_jobs, backend=guarded_backend(), return_as="generator_unordered")(
                delayed(_import_models)(list(models)) for _ in range(n_jobs))

    def wait(self) -> None:
        if self._gen is not None:
            # consumed, not closed: closing a joblib generator early kills the workers
            for _ in self._gen:
                pass
            self._gen = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.wait()
        elif self._gen is not None:
            _abort(self._gen)
        return False


def _timed(tag, threads, fn, args, kwargs):
    """Run one call with *threads* BLAS/OpenMP threads; hand back its tag, output, pid, start,
    end and CPU seconds."""
    from threadpoolctl import threadpool_limits

    t0, c0 = time.monotonic(), time.process_time()
    with threadpool_limits(limits=threads):
        out = fn(*args, **kwargs)
    return tag, out, os.getpid(), t0, time.monotonic(), time.process_time() - c0


def _ordered(calls: list, order) -> list:
    """*calls* (``((key, i), call)``) in the order *order* names them, the rest after."""
    first = []
    for item in order:
        key, _, i = item.partition(":")
        first += [c for c in calls if c[0][0] == key and (not i or c[0][1] == int(i)) and c not in first]
    return first + [c for c in calls if c not in first]


class Schedule:
    """Fit several trainings together; :meth:`finish_all` finishes each as its fits are done.

    A training with cross-validation (``Training.pooled``) sends its calls to one shared pool,
    each with the BLAS threads ``train``'s own pool would give it; a training with one fit is
    fitted in this process, as ``train`` fits it. So the arithmetic, and every number, is
    ``train``'s (float32 sums depend on the thread count).

    Parameters
    ----------
    trainings : list of (key, label, training)
        Each *training* has ``calls`` (joblib calls), ``pooled``, ``X_train``, ``fit_here()``,
        ``writer()`` and ``finish(outputs, writer, seconds=)`` (:class:`digitlab.training.Training`).
    board : digitlab._progress.Board
        Shows each training as a step (``k/n fits``) and records its time.
    timeline : Timeline, default=None
        Where the spans of every fit and finish go.
    n_jobs : int, default=None
        Worker processes; ``None``: one per core, or none (the calls run in this process) for
        small data (see :data:`digitlab.evaluation.cv.SMALL_DATA`).
    order : list of str, default=None
        The order the pool's calls are dispatched in: ``"key"`` for a training's calls,
        ``"key:0"`` for its first (the final fit); calls not named follow in the order of
        *trainings*.

    Entering fits the one-fit trainings, then dispatches the pool's calls; the block can do other
    work in this thread meanwhile.
    """

    def __init__(self, trainings, *, board, timeline: Timeline | None = None, n_jobs: int | None = None,
                 order=None):
        from .evaluation.cv import SMALL_DATA, default_n_jobs

        self.trainings = {key: (label, t) for key, label, t in trainings}
        self.board, self.timeline = board, timeline or Timeline()
        pooled = [(key, t) for key, _, t in trainings if t.pooled]
        self.here = [key for key, _, t in trainings if not t.pooled]
        self.calls = []
        for key, t in pooled:
            size = np.asarray(t.X_train).size
            # the threads each fit has in train()'s pool (or all of them, when train() fits here)
            threads = max(1, cores() // default_n_jobs(len(t.calls), size))
            self.calls += [((key, i), threads, call) for i, call in enumerate(t.calls)]
        if order:
            self.calls = _ordered(self.calls, order)
        size = sum(np.asarray(t.X_train).size for _, t in pooled)
        # one worker per core, not one more as for one training's fits: with this thread evaluating
        # alongside, four workers on two cores made the study 5-10% slower (more imports, more
        # memory traffic), three about 5% (measured on full MNIST)
        self.n_jobs = max(1, min(n_jobs or (1 if size < SMALL_DATA else cores()), len(self.calls)))  # no idle workers
        self._gen = None

    def __enter__(self):
        from joblib import Parallel, delayed

        from ._workers import guarded_backend

        self.t0 = time.perf_counter()
        # every run's temp folder first: an unusable runs folder fails before any fit, and leaving
        # early removes the folders of the runs not finished
        self._writers = ExitStack()
        try:
            self.writers = {key: self._writers.enter_context(t.writer()) for key, (_, t) in self.trainings.items()}
        except BaseException:
            self._writers.close()
            raise
        for key, (label, t) in self.trainings.items():
            self.board.start(key, label, of=len(t.calls), unit="fits", then="evaluating")
        # the one-fit trainings first, before the pool works: their fits take a second or two here,
        # and BLAS threads that share the cores with busy workers spin (measured: a kNN fit went
        # from 1.3 to 8.7 CPU-seconds)
        self._fitted = {}
        for key in self.here:
            with self.timeline.span(f"{key}: fit"):
                self._fitted[key] = self.trainings[key][1].fit_here()
            self.board.advance(key)
        # every call queued now ("all"), one per task: the pool never waits on this thread
        self._gen = Parallel(n_jobs=self.n_jobs, backend=guarded_backend(), return_as="generator_unordered",
                             pre_dispatch="all", batch_size=1)(
            delayed(_timed)(tag, threads, *call) for tag, threads, call in self.calls)
        return self

    def finish_all(self) -> dict:
        """Finish the one-fit trainings, then each pooled one as its last fit comes back; return
        ``{key: Run}``."""
        from joblib.externals.loky.process_executor import TerminatedWorkerError

        runs = {key: self._finish(key, [self._fitted.pop(key)]) for key in self.here}
        pooled = dict.fromkeys(key for (key, _), _, _ in self.calls)
        outputs = {key: [None] * len(self.trainings[key][1].calls) for key in pooled}
        left = {key: len(out) for key, out in outputs.items()}
        try:
            for (key, i), out, pid, start, end, cpu in self._gen:
                self.timeline.add(f"{key}: fit {i + 1}/{len(outputs[key])}", pid, start, end, cpu)
                outputs[key][i] = out
                left[key] -= 1
                self.board.advance(key)
                if left[key] == 0:
                    runs[key] = self._finish(key, outputs.pop(key))
        except TerminatedWorkerError:
            raise WorkerError(f"a worker process died (out of memory?) with {self.n_jobs} workers") from None
        return {key: runs[key] for key in self.trainings}  # in the order given

    def _finish(self, key, outputs):
        with self.timeline.span(f"{key}: evaluation, figures, run folder"):
            run = self.trainings[key][1].finish(outputs, self.writers[key], seconds=time.perf_counter() - self.t0)
        self.board.end(key)
        return run

    def __exit__(self, *exc):
        try:
            if self._gen is not None:
                _abort(self._gen)  # a no-op once finish_all has read every result
        finally:
            self._writers.__exit__(*exc)  # the temp folders of runs not committed go
        return False
