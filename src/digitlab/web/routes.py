"""The JSON API: ``POST /api/predict``, ``GET /api/runs``, ``/api/runs/{id}``, ``/api/runs/{id}/errors``."""

from __future__ import annotations

import base64
import binascii
import io
import re
from typing import Annotated

import msgspec
import numpy as np
from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from ..runs import EVAL_FILE, Run
from ._errors import public_message
from ._guard import ApiError
from .schemas import (
    ErrorBody,
    ErrorsOut,
    PredictJSON,
    PredictOut,
    RunDetail,
    RunSummary,
)

router = APIRouter(prefix="/api", tags=["api"])
_DATA_URL = re.compile(r"^data:(?:[\w.+-]+/[\w.+-]+)?(?:;[\w.+-]+=[\w.+-]+)*;base64,", re.I)
_ERRORS = {code: {"model": ErrorBody} for code in (400, 403, 404, 408, 413, 415, 422, 503)}
RunParam = Annotated[str | None, Query(description="Run id (default: the server's run).")]

_PREDICT_BODY = {
    "requestBody": {
        "description": "The image: raw bytes with Content-Type `image/*` or `application/octet-stream` "
                       "(the content is sniffed, the declared type is not trusted), JSON with `pixels` or "
                       "`image`, or a multipart form with a `file` part (and optional `run`) sent by this "
                       "server's page. Bodies any other web page could post without a CORS preflight are "
                       "refused: no or another Content-Type (`text/plain`, form-urlencoded) gets 415, an "
                       "`Origin` other than this server 403, and multipart without this server's `Origin` 403.",
        "content": {
            "image/*": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "file": {"type": "string", "format": "binary"}, "run": {"type": "string"}}}},
            "application/json": {"schema": PredictJSON.model_json_schema()},
        },
    }
}


def _registry(request: Request):
    return request.app.state.registry


@router.post("/predict", response_model=PredictOut, responses=_ERRORS, openapi_extra=_PREDICT_BODY,
             summary="Predict the digit in an image")
async def predict(request: Request, run: RunParam = None) -> PredictOut:
    """Preprocess the image MNIST-style for the run's model and return the class probabilities."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()  # the Guard caps it at 5 MB and 10 s
    name = "body"
    if ctype == "application/json":
        data, json_run = _parse_json(body)
        run = run or json_run
        name = "pixels" if isinstance(data, np.ndarray) else "image"
    elif ctype == "multipart/form-data":
        async with request.form(max_files=1, max_fields=8) as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise ApiError(422, "invalid_request", "file: a multipart upload needs a 'file' part")
            data = await upload.read()  # its declared content type is ignored: Pillow sniffs
            name = "file"
            run = run or (form.get("run") if isinstance(form.get("run"), str) else None)
    else:
        data = body  # raw bytes: the declared type is never trusted (415 if not an image)
    reg = _registry(request)
    run_obj = reg.get(run)
    # G7: the model runs in the threadpool (one hop: loading, if needed, and predicting), never on
    # the event loop, so a big photo or a model being loaded does not stall other requests
    out = await run_in_threadpool(_predict, reg, run_obj, data, name)
    # serialised here, so FastAPI does not validate the response a second time
    return Response(out.model_dump_json(by_alias=True), media_type="application/json")


def _predict(reg, run_obj, data, name: str) -> PredictOut:
    predictor = reg.predictor(run_obj)
    p = predictor.predict(data, name, top=len(predictor.classes))
    return PredictOut(run=run_obj.id, prediction=p.prediction, probability=p.probability,
                      top=[{"class": c, "probability": q} for c, q in p.top[:3]],
                      classes=predictor.classes, probabilities=[float(x) for x in p.probabilities],
                      scores=predictor.score_kind, input=png_data_url(p.image), size=predictor.size,
                      inverted=p.inverted, notes=p.notes)


def _parse_json(body: bytes):
    try:
        req = PredictJSON.model_validate_json(body or b"")
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    if (req.pixels is None) == (req.image is None):
        raise ApiError(422, "invalid_request", "body: give exactly one of 'pixels' or 'image'")
    if req.pixels is not None:
        widths = {len(r) for r in req.pixels}
        if not req.pixels or len(widths) != 1:
            raise ApiError(422, "invalid_request", "pixels: must be a non-empty 2-D array (rows of equal length)")
        return np.asarray(req.pixels, dtype=np.float64), req.run
    text = req.image.strip()
    m = _DATA_URL.match(text)
    if m:
        text = text[m.end():]
    elif text.startswith("data:"):
        raise ApiError(422, "invalid_request", "image: only base64 data URLs are accepted (data:image/png;base64,...)")
    try:
        raw = base64.b64decode(text, validate=True)  # validate: b64decode('!!!!') would give b'' silently
    except (binascii.Error, ValueError):
        raise ApiError(422, "invalid_request", "image: not valid base64") from None
    if not raw:
        raise ApiError(422, "invalid_request", "image: empty")
    return raw, req.run


def png_data_url(image: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _summary(reg, run: Run) -> dict:
    s = run.summary()
    return {**s, "created": str(s["created"]) if s.get("created") else None, "binary": run.is_binary,
            "shape": list(run.info.dataset.shape or [28, 28]),
            "classes": [str(c) for c in run.classes], "evaluated": (run.path / EVAL_FILE).is_file(),
            "default": run.id == reg.default_id}


@router.get("/runs", response_model=list[RunSummary], summary="List the runs with their scores")
async def runs(request: Request) -> list[dict]:
    reg = _registry(request)
    found, bad = await run_in_threadpool(reg.scan)
    if reg.default_id is None and found:
        reg.default_id = found[-1].id
    # H8: an invalid run.json is a marked entry; it never hides the other runs
    marked = [{"id": b.id, "task": "invalid", "binary": False, "shape": [], "classes": [], "evaluated": False,
               "default": False, "invalid": public_message(b.reason, reg.root)} for b in bad]
    return [_summary(reg, r) for r in reversed(found)] + marked


@router.get("/runs/{run_id}", response_model=RunDetail, responses=_ERRORS,
            summary="One run: parameters, metrics, confusion matrix, detector scores")
async def run_detail(request: Request, run_id: str) -> dict:
    reg = _registry(request)
    run = reg.get(run_id)
    result = await run_in_threadpool(reg.result, run)
    d = _summary(reg, run)
    info = run.info
    d.update(params=info.model.params,
             metrics={k: v for k, v in msgspec.to_builtins(info.metrics).items() if isinstance(v, (int, float, str))},
             split={"how": info.split.how, "n_train": info.split.n_train, "n_test": info.split.n_test,
                    "seed": info.split.seed})
    if result is not None:  # what the evaluation stored: nothing is recomputed or guessed here
        d["confusion"] = {"labels": list(result.classes), "matrix": result.confusion_matrix,
                          "n": int(len(result.y_true))}
        score, kind = _binary_score(result)
        if score is not None:
            d["detector"] = {"y_true": result.y_true.tolist(), "y_score": np.round(score, 6).tolist(),
                             "threshold": 0.5 if kind == "probability" else 0.0, "score_kind": kind}
    return d


def _binary_score(result):
    """A detector's test-set scores and their kind, as the evaluation recorded them."""
    if not result.is_binary:
        return None, None
    if result.y_score is not None:
        kind = "probability" if result.score_kind == "predict_proba" else "decision_function"
        return np.asarray(result.y_score, dtype=np.float64).ravel(), kind
    if result.y_proba is not None:
        return np.asarray(result.y_proba, dtype=np.float64)[:, -1], "probability"
    return None, None


@router.get("/runs/{run_id}/errors", response_model=ErrorsOut, responses=_ERRORS,
            summary="Test digits with a given true and predicted class")
async def errors(request: Request, run_id: str,
                 true: Annotated[int, Query(ge=0, le=999, description="True class index.")],
                 pred: Annotated[int, Query(ge=0, le=999, description="Predicted class index.")],
                 threshold: Annotated[float | None, Query(allow_inf_nan=False,
                                                          description="Detector threshold (binary runs).")] = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 60) -> dict:
    reg = _registry(request)
    run = reg.get(run_id)
    result = await run_in_threadpool(reg.result, run)
    if result is None:
        raise ApiError(404, "not_evaluated", f"run {run.id} is not evaluated (no {EVAL_FILE}); "
                       "run `digitlab evaluate` on it")
    labels = list(result.classes)
    for field, v in (("true", true), ("pred", pred)):
        if v >= len(labels):
            raise ApiError(422, "invalid_request", f"{field}: must be a class index 0–{len(labels) - 1}, got {v}")
    y_true = result.y_true.astype(np.int64)
    y_pred = result.y_pred.astype(np.int64)
    if threshold is not None:
        score, _ = _binary_score(result)
        if score is None:
            raise ApiError(422, "invalid_request", "threshold: only for binary detector runs with scores")
        y_pred = (score >= threshold).astype(np.int64)
    images = await run_in_threadpool(reg.test_images, run)
    if len(images) != len(y_true):
        raise ApiError(409, "dataset_mismatch", f"run {run.id}: its predictions have {len(y_true)} rows but "
                       f"the test split has {len(images)} images")
    idx = np.flatnonzero((y_true == true) & (y_pred == pred))
    shown = [{"index": int(i), "png": png_data_url(images[i])} for i in idx[:limit]]
    return {"run": run.id, "true": true, "pred": pred, "true_class": labels[true], "pred_class": labels[pred],
            "count": int(len(idx)), "images": shown}
