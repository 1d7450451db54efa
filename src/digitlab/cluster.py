"""Connecting to a Dask cluster for :func:`digitlab.searching.search`.

``--cluster`` (or ``$DIGITLAB_CLUSTER``) is either the address of a running scheduler,
``tcp://HOST:8786``, or ``local:N``: a :class:`distributed.LocalCluster` of N worker processes on
127.0.0.1, started for this search and shut down after it. :func:`connect` yields a
:class:`Connection` that knows the workers it started with and, from the scheduler's event log,
which of them were lost while it was open.

``dask.distributed`` is optional: ``pip install 'digitlab[dask]'``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import time
from dataclasses import dataclass, field
from typing import Iterator

from .exceptions import OfflineError, ParameterError

ENV = "DIGITLAB_CLUSTER"
CONNECT_TIMEOUT = 10  # seconds ($DIGITLAB_CLUSTER_TIMEOUT); a scheduler silent this long is unreachable
_LOCAL_RE = re.compile(r"^local(?::(\d+))?$")
_ADDR_RE = re.compile(r"^(tcp|tls|ws|wss|inproc)://\S+$")


class ClusterUnavailableError(OfflineError):
    """The Dask scheduler cannot be reached (exit 69)."""


def resolve(spec: str | None) -> str | None:
    """The cluster to use: *spec*, else ``$DIGITLAB_CLUSTER``, else ``None`` (local processes)."""
    spec = spec if spec is not None else os.environ.get(ENV)
    spec = (spec or "").strip()
    return spec or None


def parse(spec: str) -> tuple[str, int | str]:
    """``"local:2"`` → ``("local", 2)``; ``"tcp://h:8786"`` → ``("address", "tcp://h:8786")``.

    Raises
    ------
    ParameterError
        For anything else, naming the accepted forms.
    """
    m = _LOCAL_RE.match(spec)
    if m:
        n = int(m.group(1) or 2)
        if not 1 <= n <= 256:
            raise ParameterError(f"cluster={spec!r}: number of local workers must be 1–256")
        return "local", n
    if _ADDR_RE.match(spec):
        return "address", spec
    raise ParameterError(f"cluster={spec!r}: expected tcp://HOST:PORT or local:N")


def require_distributed() -> None:
    if importlib.util.find_spec("distributed") is None:
        raise ParameterError("cluster: needs dask.distributed: pip install 'digitlab[dask]'")


def has_dashboard() -> bool:
    """The dashboard needs bokeh, which digitlab[dask] does not pull in."""
    return importlib.util.find_spec("bokeh") is not None


@dataclass
class Connection:
    """An open client, the workers it saw at the start, and the cluster it owns (``local:N``)."""

    client: object
    address: str
    kind: str  # "local" or "address"
    cluster: object | None = None
    dashboard: str | None = None
    started: float = field(default_factory=time.time)
    initial_workers: list = field(default_factory=list)

    def workers(self) -> list[str]:
        return sorted(self.client.scheduler_info(n_workers=-1)["workers"])

    def lost_workers(self) -> list[dict]:
        """Workers removed unexpectedly since :attr:`started`, from the scheduler's event log.

        A worker killed mid-search shows up as an unexpected ``remove-worker`` event with the
        tasks it was processing; Dask reschedules those tasks on the other workers.
        """
        since = self.started

        # Filtered on the scheduler: the raw "all" topic holds objects that cannot be sent back.
        # Defined inside so cloudpickle ships it by value (the scheduler needs no digitlab).
        def removed(dask_scheduler):
            out = []
            for ts, msg in list(dask_scheduler.get_events("all")):
                if isinstance(msg, dict) and msg.get("action") == "remove-worker" \
                        and ts >= since and not msg.get("expected"):
                    out.append({"worker": str(msg.get("worker")), "time": round(float(ts), 3),
                                "processing_tasks": len(msg.get("processing-tasks") or ()),
                                "lost_scattered": len(msg.get("lost-scattered-tasks") or ())})
            return out

        try:
            return self.client.run_on_scheduler(removed)
        except Exception as exc:  # noqa: BLE001 - an unreadable event log must not fail a search
            return [{"worker": None, "error": f"cannot read the scheduler's event log ({exc})"}]

    def describe(self) -> dict:
        return {"kind": self.kind, "address": self.address, "dashboard": self.dashboard,
                "workers": len(self.initial_workers)}


@contextlib.contextmanager
def connect(spec: str, *, timeout: float | None = None, echo=None) -> Iterator[Connection]:
    """Open a client on *spec* (see :func:`parse`); close it, and any cluster it started, after.

    Parameters
    ----------
    spec : str
        ``tcp://HOST:PORT`` or ``local:N``.
    timeout : float, default=None
        Seconds to wait for the scheduler before giving up (``$DIGITLAB_CLUSTER_TIMEOUT``, else 10).
    echo : callable, default=None
        Called with one-line messages for the user (the dashboard address).

    Raises
    ------
    ClusterUnavailableError
        The scheduler does not answer (exit 69).
    """
    kind, value = parse(spec)
    require_distributed()
    if timeout is None:
        try:
            timeout = float(os.environ.get("DIGITLAB_CLUSTER_TIMEOUT") or CONNECT_TIMEOUT)
        except ValueError:
            raise ParameterError("DIGITLAB_CLUSTER_TIMEOUT: expected a number of seconds") from None
    echo = echo or (lambda msg: None)
    with _quiet_distributed():
        yield from _connect(kind, value, timeout, echo)


def _quiet_distributed():
    """Errors only from distributed's loggers while connected.

    ``silence_logs`` only quiets handlers distributed installed itself; its INFO records (every
    worker registered, and tracebacks of connections closed on the way out of a Ctrl-C or TERM)
    also reach the CLI's root handler, which printed them.
    """
    import distributed  # noqa: F401 - importing it sets its loggers' levels: override after

    level = max(logging.ERROR, logging.getLogger("distributed").getEffectiveLevel())
    return _loggers_at(level, "distributed")


def _connect(kind, value, timeout, echo) -> Iterator[Connection]:
    from distributed import Client

    cluster = None
    try:
        if kind == "local":
            cluster = _local_cluster(int(value))
            address = cluster.scheduler_address
        else:
            address = str(value)
        try:
            client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            reason = str(exc).split("\n")[0] or type(exc).__name__
            raise ClusterUnavailableError(f"cluster={address!r}: cannot reach the Dask scheduler "
                                          f"({reason}); is it running?") from None
    except BaseException:
        if cluster is not None:
            _close(cluster)
        raise
    dashboard = None
    if has_dashboard():
        with contextlib.suppress(Exception):
            dashboard = client.dashboard_link
    conn = Connection(client, address, kind, cluster, dashboard)
    try:
        conn.initial_workers = conn.workers()
        if not conn.initial_workers:
            with contextlib.suppress(Exception):
                client.wait_for_workers(1, timeout=timeout)
            conn.initial_workers = conn.workers()
        if not conn.initial_workers:
            raise ClusterUnavailableError(f"cluster={address!r}: the scheduler has no workers")
        where = f"local cluster of {len(conn.initial_workers)} worker processes" if kind == "local" \
            else f"Dask cluster {address} ({len(conn.initial_workers)} workers)"
        echo(f"{where}; dashboard: {dashboard or 'not available (pip install bokeh)'}")
        yield conn
    except BaseException:
        # Ctrl-C, SIGTERM or an error mid-search: closing now fails operations in flight
        # (scattering the data, gathering results), and distributed logs each with a traceback
        with _loggers_at(logging.CRITICAL + 1, "distributed", "asyncio"):
            _close(client)
            if cluster is not None:
                _close(cluster)
        raise
    _close(client)
    if cluster is not None:
        _close(cluster)


@contextlib.contextmanager
def _loggers_at(level: int, *names: str):
    loggers = [logging.getLogger(name) for name in names]
    before = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(level)
    try:
        yield
    finally:
        for lg, old in zip(loggers, before):
            lg.setLevel(old)


def _local_cluster(n_workers: int):
    from distributed import LocalCluster

    # One thread per worker process: the candidate fits are CPU bound and hold the GIL in places;
    # the nanny also pins OMP/OpenBLAS to one thread, which keeps scores bit-identical to the
    # single-threaded local run. 127.0.0.1 only: a trial cluster must not be reachable from outside.
    # Worker processes log straight to the terminal: only critical records; what fails in them
    # reaches the client as an exception, which the CLI reports in one line.
    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address="127.0.0.1:0" if has_dashboard() else None,
                        silence_logs=logging.CRITICAL)


def _close(obj) -> None:
    with contextlib.suppress(Exception):
        obj.close(timeout=10) if "timeout" in _params(obj.close) else obj.close()


def _params(fn) -> tuple:
    import inspect

    with contextlib.suppress(TypeError, ValueError):
        return tuple(inspect.signature(fn).parameters)
    return ()
