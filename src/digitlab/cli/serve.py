"""``digitlab serve [RUN]``: the draw-a-digit web app on 127.0.0.1."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

import click

from ..exceptions import EX_UNAVAILABLE, DigitlabError
from ._app import cli
from ._common import safe
from .train import runs_dir_option

if TYPE_CHECKING:
    import socket


class ListenError(DigitlabError, OSError):
    """The address cannot be listened on (port taken, address not local)."""

    exit_code = EX_UNAVAILABLE


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_socket(host: str, port: int) -> socket.socket:
    """Listen on host:port ourselves, so a busy port is a one-line error instead of uvicorn's log."""
    import socket  # here: every command imports this module, only serve binds

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ListenError(f"{host}:{port}: cannot listen ({exc.strerror or exc})") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@cli.command()
@click.argument("run", required=False)
@runs_dir_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. 127.0.0.1 means only this machine can connect; "
                   "0.0.0.0 exposes the app to your network (a warning is printed).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="TCP port.")
@click.option("--limit-concurrency", type=click.IntRange(min=1), default=64, show_default=True,
              help="Answer 503 instead of queueing once this many requests are in progress "
                   "(per worker; open connections without a request do not count).")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Extra Host header name to accept (default: localhost, 127.0.0.1, [::1] only).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes sharing the port; one per core serves the most requests/s.")
@click.option("--collect", type=click.Path(), default=None, metavar="DIR",
              help="Let the page save corrections (\"that's wrong, it's a 4\") into DIR, an image-folder "
                   "dataset: DIR/<label>/<sha256>.png (the 28x28 image the model saw), the uploads in "
                   "DIR/.originals. Off unless given. Train on them with `digitlab train --add DIR`.")
def serve(run, runs_dir, host, port, limit_concurrency, allow_hosts, workers, collect):
    """Serve the draw-a-digit page and the JSON API for the runs in the runs folder.

    RUN (id, unique part of one, `latest`, `best`, `best:DATASET`, or a run folder) is the model
    used by default; without it, `best`: the evaluated multi-class run with the highest test
    accuracy (else the newest run). The page says which run answers and why, and can switch
    to any other run without a restart. The model is loaded before the server
    starts, so a missing or untrusted model stops it with the usual error and exit code.

    \b
    Examples:
      digitlab serve                      # best run, http://127.0.0.1:8000
      digitlab serve latest --port 8080
      digitlab serve 20261122-101500-mnist-logreg --runs-dir ~/runs
      digitlab serve --workers 2          # one process per core
      digitlab serve --collect mine       # the page offers 0-9 buttons to correct it
    API documentation: http://127.0.0.1:8000/docs (works offline).
    """
    try:
        import uvicorn

        from ..web import create_app
        from ..web._protocol import uvicorn_options
    except ModuleNotFoundError as exc:  # the web extra is optional
        raise click.ClickException(f"`digitlab serve` needs {exc.name}: pip install 'digitlab[web]'") from None
    from .._imagemem import prefer_mmap
    from ..datasets import Collection
    from ..runs import best_run, choose_run, list_runs

    # a folder that is not a folder, not writable or on a full disk stops the server now (73/77/74)
    collection = Collection.open(collect) if collect else None

    resolved, why = None, None
    if run is not None:
        resolved, why = choose_run(run, runs_dir)
    elif runs := list_runs(runs_dir):
        resolved, why = best_run(runs)
        if resolved is None:
            resolved, why = runs[-1], "latest: the newest run (none is an evaluated multi-class run)"
    hosts = list(allow_hosts) + ([host] if not _is_loopback(host) else [])
    app = create_app(runs_dir, resolved, run_reason=why, allowed_hosts=hosts, limit_concurrency=limit_concurrency,
                     collect=collection)
    if resolved is not None:
        app.state.registry.predictor(resolved)  # D1-D7: refuse to start with a bad model
    else:
        click.echo("note: no runs yet; the page will say so until you `digitlab train` one", err=True)
    if collection is not None:
        _say_collecting(collection, resolved)
    if not _is_loopback(host):
        click.echo(f"warning: listening on {host}: other machines on your network can reach this app "
                   "(there is no authentication)", err=True)
    # big image buffers in their own mappings, so memory goes back after a burst of uploads (H6)
    prefer_mmap()
    sock = bind_socket(host, port)
    shown = f"[{host}]" if ":" in host else host
    chosen = f"{safe(resolved.id)} ({safe(why)})" if resolved else "no run"
    click.echo(f"serving {chosen} on http://{shown}:{sock.getsockname()[1]}/ (Ctrl-C to stop)", err=True)
    # idle and header timeouts, JSON for the server's own 400; the request limit is the app's
    options = uvicorn_options()
    try:
        if workers == 1:
            uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=[sock])
        else:
            import json
            import os

            from uvicorn.supervisors import Multiprocess

            from ..web.app import SERVE_ENV

            # libuv (uvloop) accepts every waiting connection at once, so one worker would take all
            # the keep-alive clients and the other sit idle; one accept per wakeup spreads them
            os.environ.setdefault("UV_TCP_SINGLE_ACCEPT", "1")
            # worker processes are spawned and rebuild the app from this description
            os.environ[SERVE_ENV] = json.dumps({
                "runs_dir": str(runs_dir) if runs_dir else None,
                "run": str(resolved.path.resolve()) if resolved else None, "run_reason": why, "allowed_hosts": hosts,
                "limit_concurrency": limit_concurrency,
                "collect": str(collection.folder.resolve()) if collection else None})
            config = uvicorn.Config("digitlab.web.app:app_from_env", factory=True, workers=workers, **options)
            Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()


def _say_collecting(collection, run) -> None:
    from ..datasets._collection import CLASSES, SIZE

    n = collection.stats()["samples"]
    click.echo(f"collecting corrections into {safe(collection.folder)} ({n:,} so far)", err=True)
    d = run.info.dataset if run is not None else None
    if d is not None and (list(d.shape or []) != [SIZE, SIZE] or list(d.classes) != list(CLASSES)):
        click.echo(f"note: run {safe(run.id)} ({safe(d.name)}) cannot take corrections: the collection holds "
                   f"{SIZE}x{SIZE} digits 0-9; pick a run on such data in the page", err=True)
