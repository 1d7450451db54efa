"""Build the FastAPI app: the draw-a-digit page, the JSON API and the guards around both."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..datasets import Collection
from ..runs import Run, choose_run
from . import _errors
from ._guard import LIMIT_CONCURRENCY, LOCAL_HOSTS, MAX_BODY, Guard
from ._state import RunRegistry
from .collect import router as collect_router
from .routes import router

STATIC = Path(__file__).parent / "static"


def create_app(runs_dir=None, run=None, *, run_reason: str | None = None, allowed_hosts=None,
               max_body: int = MAX_BODY, body_seconds: float = 10.0, limit_concurrency: int = LIMIT_CONCURRENCY,
               collect=None) -> FastAPI:
    """The web app for the runs in *runs_dir*, predicting with *run* by default.

    Parameters
    ----------
    runs_dir : path-like, default=None
        Runs folder (default ``$DIGITLAB_RUNS_DIR`` or ``./runs``); its runs can be switched to.
    run : Run, str or path-like, default=None
        The default run (id, unique part, ``latest``, ``best`` or folder). ``None``: the best
        evaluated multi-class run (``best``), else the newest.
    run_reason : str, default=None
        Why *run* was chosen, as the page and ``/api/predict`` show it (default: from *run*).
    allowed_hosts : list of str, default=None
        Accepted Host header names; default localhost, 127.0.0.1 and [::1] (DNS-rebinding defence).
    max_body : int, default=5 MB
        Larger request bodies get 413.
    body_seconds : float, default=10
        A request body not received in this time gets 408.
    limit_concurrency : int, default=64
        Requests in progress at once; more get 503 (open connections without a request do not count).
    collect : path-like or Collection, default=None
        Folder where ``POST /api/collect`` saves corrected digits (checked, or created, now; see
        :class:`digitlab.datasets.Collection`). ``None``: corrections are off (403).

    Returns
    -------
    FastAPI
        ``app.state.registry`` holds the runs and the loaded models.
    """
    reason = run_reason or ("given" if isinstance(run, Run) else None)
    if run is not None and not isinstance(run, Run):
        run, why = choose_run(run, runs_dir)
        reason = run_reason or why
    registry = RunRegistry(runs_dir, run, reason)
    if collect is not None and not isinstance(collect, Collection):
        collect = Collection.open(collect)

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
    app.state.collection = collect
    _errors.install(app, registry.root)
    app.include_router(router)
    app.include_router(collect_router)

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
    ``digitlab serve`` put in ``$DIGITLAB_SERVE_CONFIG`` (runs folder, default run, hosts, limit,
    collection folder)."""
    import json
    import os

    from .._imagemem import prefer_mmap

    prefer_mmap()  # as `serve` does in its own process (H6)
    cfg = json.loads(os.environ[SERVE_ENV])
    return create_app(cfg.get("runs_dir"), cfg.get("run"), run_reason=cfg.get("run_reason"),
                      allowed_hosts=cfg.get("allowed_hosts"),
                      limit_concurrency=cfg.get("limit_concurrency", LIMIT_CONCURRENCY), collect=cfg.get("collect"))
