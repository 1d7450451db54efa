"""``GET/POST /api/collect``: "that's wrong, it's a 4" — corrections saved as a dataset.

Only with ``digitlab serve --collect DIR`` (else 403). The client sends the image it had predicted
(the same bytes) and the label; the server preprocesses it again for the 28x28 image the model saw
and stores both in the collection (:class:`digitlab.datasets.Collection`). Nothing the client sends
becomes a path: the label must be one of the ten class names and is looked up in the server's own
list; file names are hashes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..datasets._collection import (
    CLASSES,
    MAX_SAMPLES,
    SIZE,
    Collection,
    CollectionFullError,
)
from ..exceptions import DigitlabError, WriteError
from ._errors import public_message
from ._guard import ApiError
from .schemas import ErrorBody

router = APIRouter(prefix="/api", tags=["api"])
_ERRORS = {code: {"model": ErrorBody} for code in (400, 403, 404, 408, 409, 413, 415, 422, 503, 507)}
_BODY = {
    "requestBody": {
        "description": "The image that was predicted, as raw bytes with Content-Type `image/*` or "
                       "`application/octet-stream` (its content is sniffed). The label and run go in the query.",
        "content": {"image/*": {"schema": {"type": "string", "format": "binary"}},
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class CollectStatus(BaseModel):
    enabled: bool = Field(description="Whether the server was started with `--collect DIR`.")
    classes: list[str] = []
    size: int | None = None
    samples: int | None = None
    max_samples: int | None = None


class CollectOut(BaseModel):
    status: str = Field(description="`added`, `duplicate` (already stored with this label: nothing written) "
                                    "or `relabelled` (already stored with another label: moved).")
    label: str
    previous: str | None = Field(None, description="The label it had before, when relabelled.")
    sha256: str = Field(description="Hash of the 28x28 pixels: the sample's file name.")
    samples: int = Field(description="Samples in the collection now.")
    run: str


def _collection(request: Request) -> Collection | None:
    return getattr(request.app.state, "collection", None)


@router.get("/collect", response_model=CollectStatus, summary="Is collecting corrections on?")
async def collect_status(request: Request) -> dict:
    c = _collection(request)
    if c is None:
        return {"enabled": False}
    st = await run_in_threadpool(c.stats)
    return {"enabled": True, "classes": list(CLASSES), "size": SIZE, "samples": st["samples"],
            "max_samples": MAX_SAMPLES}


@router.post("/collect", response_model=CollectOut, status_code=201, responses=_ERRORS, openapi_extra=_BODY,
             summary="Save a corrected digit (serve --collect)")
async def collect(request: Request,
                  label: Annotated[str | None, Query(max_length=100, description="The right class: 0–9.")] = None,
                  run: Annotated[str | None, Query(description="Run that predicted it (default: the server's run).")]
                  = None):
    """Store the image with its right label in the collection folder; 201 when added, 200 when it
    was already there (same label: nothing written; another label: moved)."""
    c = _collection(request)
    if c is None:
        raise ApiError(403, "collect_off", "collecting corrections is off; start the server with "
                       "`digitlab serve --collect DIR`")
    if label not in CLASSES:  # before the body is read or anything decoded
        got = "nothing" if label is None else repr(label[:20])
        raise ApiError(422, "invalid_request", f"label: must be one of the classes {', '.join(CLASSES)}, got {got}")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (ctype.startswith("image/") or ctype == "application/octet-stream"):
        raise ApiError(415, "unsupported_media_type", "send the image bytes with Content-Type image/* or "
                       "application/octet-stream; label and run go in the query")
    reg = request.app.state.registry
    run_obj = reg.get(run)
    d = run_obj.info.dataset
    if list(d.shape or []) != [SIZE, SIZE] or list(d.classes) != list(CLASSES):
        got = "×".join(map(str, d.shape or [])) or "unknown size"
        raise ApiError(409, "dataset_mismatch", f"run {run_obj.id} was trained on {d.name} ({got}, classes "
                       f"{', '.join(d.classes[:10])}); the collection holds {SIZE}×{SIZE} digits 0–9, "
                       "so only runs on such data take corrections")
    body = await request.body()  # the Guard caps it at 5 MB and 10 s
    if not body:
        raise ApiError(422, "invalid_request", "body: empty; send the image that was predicted")
    out = await run_in_threadpool(_store, c, body, label, reg.root)
    data = CollectOut(status=out.status, label=out.label, previous=out.previous, sha256=out.sha256,
                      samples=out.samples, run=run_obj.id)
    return JSONResponse(data.model_dump(), status_code=201 if out.status == "added" else 200)


def _store(c: Collection, body: bytes, label: str, root):
    from ..preprocess import preprocess

    image = preprocess(body, size=SIZE, name="body").image  # image errors: 413/415/422 by their status
    try:
        return c.add(image, label, body)
    except CollectionFullError as exc:
        raise ApiError(507, "collection_full", _public(exc, c, root)) from None
    except WriteError as exc:  # ENOSPC, EIO: nothing was half-written
        raise ApiError(507, "disk_full", _public(exc, c, root)) from None
    except DigitlabError as exc:  # the folder became unwritable or was replaced after start
        raise ApiError(500, "collect_failed", _public(exc, c, root)) from None


def _public(exc: Exception, c: Collection, root) -> str:
    """The error without the server's folders (G14): the collection is called "the collection"."""
    msg = str(exc).replace(str(c.folder), "the collection")
    return public_message(msg, root)
