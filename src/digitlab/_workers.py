"""Worker processes that never outlive digitlab: a loky backend whose workers watch their parent.

Written against joblib 1.6 (its bundled loky 3.5): :class:`LokyBackend` passes extra
``configure`` arguments on to loky's reusable executor, which runs ``initializer(*initargs)``
in each worker before its first task.

A loky worker finishes its task even when the process that started it is gone: after a
``kill -9`` of ``digitlab train`` its four fits kept computing for minutes. In every pool digitlab
starts, each worker runs :func:`watch_parent`, a thread that ends the worker as soon as its parent
has died (loky's resource tracker then sees its last client go and exits too). Hand-written
because loky has no such option. Not ``prctl(PR_SET_PDEATHSIG)``: that fires when the *thread*
that started the worker exits, and loky starts workers from whichever thread submits work, so it
could kill the healthy workers of a reused pool; it is also Linux-only.
"""

from __future__ import annotations

import os
import threading
import time

from joblib._parallel_backends import LokyBackend

POLL = 0.5  # seconds between checks: an orphaned worker stops within about this long
ORPHAN_EXIT = 75  # EX_TEMPFAIL; nobody reads it (the parent is gone), but it shows in process accounting


def watch_parent(parent_pid: int, poll: float = POLL) -> None:
    """End this process when *parent_pid* is no longer its parent (it died and we were re-parented).

    Runs in each worker as loky's ``initializer``; *parent_pid* comes from the parent, so a
    worker whose parent died before this ran exits at once.
    """
    if os.getppid() != parent_pid:
        os._exit(ORPHAN_EXIT)

    def watch():
        while True:
            time.sleep(poll)
            if os.getppid() != parent_pid:
                # os._exit, not sys.exit: the main thread is busy in a fit and would never return
                os._exit(ORPHAN_EXIT)

    threading.Thread(target=watch, name="digitlab-watch-parent", daemon=True).start()


class GuardedLokyBackend(LokyBackend):
    """joblib's loky backend, with :func:`watch_parent` in every worker."""

    def configure(self, n_jobs=1, parallel=None, **kwargs):
        # the same initializer and arguments on every call, so loky keeps reusing one executor
        kwargs.update(initializer=watch_parent, initargs=(os.getpid(),))
        return super().configure(n_jobs=n_jobs, parallel=parallel, **kwargs)


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def guarded_backend():
    """The backend for a ``Parallel`` call: the guarded loky one, unless the caller chose another.

    A ``joblib.parallel_config`` naming a non-loky backend (threads, Dask) is kept as it is;
    ``None`` means "use the active configuration".
    """
    from joblib.parallel import get_active_backend

    active, _ = get_active_backend()
    if type(active) is LokyBackend:  # the default, or plain "loky" chosen by the caller
        return GuardedLokyBackend(nesting_level=active.nesting_level,
                                  inner_max_num_threads=active.inner_max_num_threads,
                                  **active.backend_kwargs)
    return None


def run_parallel(calls: list, n_jobs: int, *, what: str = "cross-validation") -> list:
    """``joblib.Parallel`` over *calls* with :func:`guarded_backend`; a worker that died (killed
    for memory, most often) is a :class:`~digitlab.exceptions.WorkerError` naming *what* ran."""
    from joblib import Parallel
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    from .exceptions import WorkerError

    try:
        return Parallel(n_jobs=n_jobs, backend=guarded_backend())(calls)
    except TerminatedWorkerError:
        raise WorkerError(f"{what}: a worker process died (out of memory?) with {n_jobs} workers; "
                          "try --n-jobs 1 or --cv 0") from None
