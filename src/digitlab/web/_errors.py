"""Every error becomes JSON ``{"error": code, "detail": text}``: no traceback, no server paths."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from ..exceptions import DigitlabError, InputMissingError, ModelError
from ._guard import ApiError

log = logging.getLogger("digitlab.web")
_ABS_PATH = re.compile(r"(?<![\w.])/(?:[^\s/:'\"]+/)+")


def public_message(msg: str, root=None) -> str:
    """Drop absolute folders from *msg*: ``/srv/runs/abc/model.skops: x`` -> ``abc/model.skops: x``."""
    if root is not None:
        msg = msg.replace(str(root).rstrip("/") + "/", "")
    return _ABS_PATH.sub("", msg)


def _json(status: int, error: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


def _field(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


def install(app: FastAPI, root) -> None:
    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError):
        return _json(exc.status, exc.error, public_message(exc.detail, root))

    @app.exception_handler(DigitlabError)
    async def _digitlab(request: Request, exc: DigitlabError):
        status = getattr(exc, "status", None)
        if status is None:
            status = 404 if isinstance(exc, InputMissingError) else 422
        error = {413: "too_large", 415: "unsupported_image", 503: "busy"}.get(status, "model_invalid" if isinstance(
            exc, ModelError) else "invalid_image" if status == 422 else "not_found")
        return _json(status, error, public_message(str(exc), root))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        first = errs[0] if errs else {"loc": (), "msg": "invalid request", "type": "invalid"}
        code = "json_invalid" if first.get("type") == "json_invalid" else "invalid_request"
        return _json(422, code, f"{_field(first.get('loc', ()))}: {first.get('msg')}")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        return _json(exc.status_code, codes.get(exc.status_code, "error"), public_message(str(exc.detail), root))

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect):
        # the client left mid-body: nothing to answer, nothing worth logging as a server error
        return _json(400, "client_disconnected", "client disconnected before sending the whole body")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.error("unexpected error on %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        return _json(500, "internal", "unexpected server error (see the server log)")
