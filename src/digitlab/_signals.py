"""SIGTERM handled like Ctrl-C, so ``kill`` cleans up as Ctrl-C does.

Python's default for SIGTERM ends the process at once: no ``finally`` runs, so the temp run
folder stays and the worker pool is never told to stop. Inside :func:`sigterm_as_interrupt`
(the CLI's ``main`` runs in it; the library leaves signals to the application) SIGTERM raises
:class:`Terminated`, a :class:`KeyboardInterrupt`, so every cleanup written for Ctrl-C runs:
joblib kills its workers, a Dask cluster is closed, ``RunWriter`` removes its temp folder. The
CLI then says "terminated" and exits 143 (128 + SIGTERM, what a shell reports for a process
that SIGTERM killed), where Ctrl-C gives "interrupted" and 130.

An inherited "ignore" is kept, for SIGTERM as Python itself keeps it for SIGINT: a parent that
starts a child with a signal ignored means it (a shell script's background jobs ignore SIGINT,
so that Ctrl-C stops only the foreground command).
"""

from __future__ import annotations

import contextlib
import signal
import threading

_received: int | None = None


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; raised in the main thread like Ctrl-C's KeyboardInterrupt."""


def _on_sigterm(signum, frame):
    global _received
    if _received is not None:
        return  # the cleanup of the first one is running: let it finish
    _received = signum
    raise Terminated()


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread (unless ignored).

    :func:`terminated` tells, inside the block, whether it happened. The previous handler and
    state come back after the block, so an in-process caller (tests through ``main()``) keeps
    its own.
    """
    global _received
    _received = None
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        _received = None


def terminated() -> bool:
    """Whether SIGTERM arrived (an estimator may have swallowed the :class:`Terminated` itself)."""
    return _received is not None


@contextlib.contextmanager
def quiet_pool_teardown():
    """Within the block, an exception in the manager thread of a worker pool that is shutting down
    is not printed.

    When Ctrl-C or SIGTERM aborts a joblib pool, loky's ``ExecutorManagerThread`` can trip over
    the work the abort just dropped (``KeyError`` in ``add_call_item_to_queue``, seen under load)
    and print a traceback beside the CLI's one-line "interrupted"/"terminated". That thread is
    recognised by its ``executor_flags`` (loky's shutdown state), so anything else still prints.
    """
    previous = threading.excepthook

    def hook(args):
        flags = getattr(args.thread, "executor_flags", None)
        if getattr(flags, "shutdown", False) is True:
            return
        previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous
