"""Build the FastAPI app: the draw-a-digit page, the JSON API and the guards around both."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..runs import Run, resolve_run
from . import _errors
from ._guard import LIMIT_CONCURRENCY, LOCAL_HOSTS, MAX_BODY, Guard
from ._state import RunRegistry
from .routes import router

STATIC = Path(__file__).parent / "static"


def create_app(runs_dir=None, run=None, *, allowed_hosts=None, max_body: int = MAX_BODY,
               body_seconds: float = 10.0, limit_concurrency: int = LIMIT_CONCURRENCY) -> FastAPI:
    """The web app for the runs in *runs_dir*, predicting with *run* by default.

    Parameters
    ----------
    runs_dir : path-like, default=None
        Runs folder (default ``$DIGITLAB_RUNS_DIR`` or ``./runs``); its runs can be switched to.
    run : Run, str or path-like, default=None
        The default run (id, unique part, ``latest`` or folder). ``None``: the newest run.
    allowed_hosts : list of str, default=None
        Accepted Host header names; default localhost, 127.0.0.1 and [::1] (DNS-rebinding defence).
    max_body : int, default=5 MB
        Larger request bodies get 413.
    body_seconds : float, default=10
        A request body not received in this time gets 408.
    limit_concurrency : int, default=64
        Requests in progress at once; more get 503 (open connections without a request do not count).

    Returns
    -------
    FastAPI
        ``app.state.registry`` holds the runs and the loaded models.
    """
    if run is not None and not isinstance(run, Run):
        run = resolve_run(run, runs_dir)
    registry = RunRegistry(runs_dir, run)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Load the default model once, before the first request
        if registry.pinned is not None:
            await run_in_threadpool(registry.predictor, registry.pinned)
        yield
        # Release the models
        registry.models.clear()
        registry.splits.clear()

    app = FastAPI(title="digitlab", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Draw or upload a digit and see what a trained digitlab model says. "
                              "Errors are JSON `{error, detail}`.")
    app.state.registry = registry
    _errors.install(app, registry.root)
    app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})

    @app.get("/docs", include_in_schema=False)
    async def docs():
        # FastAPI's Swagger UI loads from a CDN; this page renders /openapi.json with local code
        return FileResponse(STATIC / "docs.html", headers={"cache-control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    hosts = list(LOCAL_HOSTS) + [h for h in (allowed_hosts or []) if h not in LOCAL_HOSTS]
    app.add_middleware(Guard, allowed_hosts=hosts, max_body=max_body, body_seconds=body_seconds,
                       limit_concurrency=limit_concurrency)
    return app


SERVE_ENV = "DIGITLAB_SERVE_CONFIG"


def app_from_env() -> FastAPI:
    """Factory for ``serve --workers N``: each worker process builds its app from the JSON that
    ``digitlab serve`` put in ``$DIGITLAB_SERVE_CONFIG`` (runs folder, default run, hosts, limit)."""
    import json
    import os

    from .._imagemem import prefer_mmap

    prefer_mmap()  # as `serve` does in its own process (H6)
    cfg = json.loads(os.environ[SERVE_ENV])
    return create_app(cfg.get("runs_dir"), cfg.get("run"), allowed_hosts=cfg.get("allowed_hosts"),
                      limit_concurrency=cfg.get("limit_concurrency", LIMIT_CONCURRENCY))
