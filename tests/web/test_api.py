"""The JSON API on good input: predict in every body form, runs, confusion matrix, error gallery."""

import asyncio
import base64
import io

import numpy as np
import pytest
from PIL import Image

from _render import font_paths, png_bytes, render_digit
from digitlab.predicting import SOFTMAX, Predictor

PNG = {"content-type": "image/png"}
OWN_PAGE = {"origin": "http://127.0.0.1"}  # what a browser sends with the page's own uploads


@pytest.fixture(scope="module")
def seven_png():
    return png_bytes(render_digit(7, font_paths()[0], font_size=70, canvas=(160, 120), rng=np.random.default_rng(3)))


def decode_data_url(url):
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def test_predict_raw_bytes(client, web_runs, seven_png):
    """Check a raw PNG body gives the model's answer, its 28x28 input and ten probabilities."""
    r = client.post("/api/predict", content=seven_png, headers={"content-type": "image/png"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["run"] == web_runs["mnist"].id
    assert body["prediction"] == "7" and body["classes"] == [str(i) for i in range(10)]
    assert np.isclose(sum(body["probabilities"]), 1.0)
    assert body["probability"] == max(body["probabilities"])
    assert [t["class"] for t in body["top"]][0] == "7" and len(body["top"]) == 3
    seen = decode_data_url(body["input"])
    pred = Predictor.from_run(web_runs["mnist"])
    assert np.array_equal(seen, pred.prepare(seven_png).image)
    assert body["scores"] == "probability" and body["inverted"] is True and body["size"] == 28


def test_predict_all_body_forms_agree(client, seven_png):
    """Check multipart, JSON pixels, JSON data URL and bare base64 give the same answer as raw bytes."""
    ref = client.post("/api/predict", content=seven_png, headers=PNG).json()
    pixels = np.asarray(Image.open(io.BytesIO(seven_png))).tolist()
    b64 = base64.b64encode(seven_png).decode()
    answers = [
        client.post("/api/predict", files={"file": ("x.png", seven_png, "image/png")}, headers=OWN_PAGE),
        client.post("/api/predict", json={"pixels": pixels}),
        client.post("/api/predict", json={"image": "data:image/png;base64," + b64}),
        client.post("/api/predict", json={"image": b64}),
    ]
    for a in answers:
        assert a.status_code == 200, a.text
        assert a.json()["probabilities"] == pytest.approx(ref["probabilities"])


def test_predict_choose_run(client, web_runs, digits):
    """Check switching runs per request: query parameter, JSON field and multipart field."""
    det = web_runs["detector"]
    test = det.load_split().test
    five = test.images[test.labels == 5][0]
    png = png_bytes(255 - np.kron(five, np.ones((5, 5), np.uint8)))
    by_query = client.post(f"/api/predict?run={det.id}", content=png, headers=PNG).json()
    by_json = client.post("/api/predict", json={"image": base64.b64encode(png).decode(), "run": det.id}).json()
    by_form = client.post("/api/predict", files={"file": ("f.png", png)}, data={"run": det.id},
                          headers=OWN_PAGE).json()
    for b in (by_query, by_json, by_form):
        assert b["run"] == det.id and b["size"] == 8
        assert b["classes"] == ["not 5", "5"] and b["scores"] == SOFTMAX
    assert by_query["probabilities"] == pytest.approx(by_json["probabilities"])


def test_predict_runs_off_the_event_loop(app, client, seven_png, web_runs):
    """Check G7: the model runs in the threadpool, never on the event loop."""
    reg = app.state.registry
    pred = reg.predictor(reg.get(web_runs["mnist"].id))
    seen = []
    original = pred.predict

    def spy(*a, **k):
        try:
            asyncio.get_running_loop()
            seen.append("loop")
        except RuntimeError:
            seen.append("thread")
        return original(*a, **k)

    pred.predict = spy
    try:
        assert client.post("/api/predict", content=seven_png, headers=PNG).status_code == 200
    finally:
        del pred.predict
    assert seen == ["thread"]


def test_runs_list(client, web_runs):
    r = client.get("/api/runs")
    assert r.status_code == 200
    rows = {x["id"]: x for x in r.json()}
    assert set(rows) == {web_runs[k].id for k in ("mnist", "detector", "plain")}
    assert rows[web_runs["mnist"].id]["default"] and not rows[web_runs["plain"].id]["default"]
    assert rows[web_runs["plain"].id]["evaluated"] is False and rows[web_runs["mnist"].id]["evaluated"] is True
    assert rows[web_runs["detector"].id]["binary"] and rows[web_runs["detector"].id]["task"] == "detect 5"
    assert rows[web_runs["plain"].id]["shape"] == [8, 8]
    assert str(web_runs["root"]) not in r.text


def test_run_detail_confusion_matrix(client, web_runs):
    """Check the confusion matrix is computed from the run's predictions.npz."""
    from sklearn.metrics import confusion_matrix

    run = web_runs["mnist"]
    r = client.get(f"/api/runs/{run.id}")
    assert r.status_code == 200
    d = r.json()
    with np.load(run.path / "predictions.npz") as z:
        expected = confusion_matrix(z["y_true"], z["y_pred"], labels=range(10))
    assert d["confusion"]["matrix"] == expected.tolist() and d["confusion"]["n"] == 500
    assert d["detector"] is None and d["split"]["n_test"] == 500


def test_run_detail_detector_and_not_evaluated(client, web_runs):
    det = client.get(f"/api/runs/{web_runs['detector'].id}").json()
    with np.load(web_runs["detector"].path / "predictions.npz") as z:
        assert det["detector"]["y_true"] == z["y_true"].tolist()
        assert det["detector"]["y_score"] == pytest.approx(z["y_score"], abs=1e-6)
    assert det["detector"]["threshold"] == 0.0 and det["detector"]["score_kind"] == "decision_function"
    assert det["confusion"]["labels"] == ["not 5", "5"]
    plain = client.get(f"/api/runs/{web_runs['plain'].id}").json()
    assert plain["confusion"] is None and plain["detector"] is None
    r = client.get(f"/api/runs/{web_runs['plain'].id}/errors?true=3&pred=5")
    assert r.status_code == 404 and r.json()["error"] == "not_evaluated"


def test_errors_gallery_shows_those_test_digits(client, web_runs):
    """Check clicking cell (true 4, pred 9) returns exactly those test images, in order."""
    run = web_runs["mnist"]
    test = run.load_split().test
    with np.load(run.path / "predictions.npz") as z:
        idx = np.flatnonzero((z["y_true"] == 4) & (z["y_pred"] == 9))
    assert len(idx) > 0
    r = client.get(f"/api/runs/{run.id}/errors", params={"true": 4, "pred": 9})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == len(idx) and [im["index"] for im in body["images"]] == idx.tolist()
    for im in body["images"]:
        assert np.array_equal(decode_data_url(im["png"]), test.images[im["index"]])
    limited = client.get(f"/api/runs/{run.id}/errors", params={"true": 1, "pred": 1, "limit": 3}).json()
    assert len(limited["images"]) == 3 and limited["count"] > 3


def test_errors_with_threshold(client, web_runs):
    """Check a detector's cells follow the threshold slider (scores >= threshold are positive)."""
    det = web_runs["detector"]
    with np.load(det.path / "predictions.npz") as z:
        y, s = z["y_true"], z["y_score"]
    thr = float(np.quantile(s, 0.8))
    r = client.get(f"/api/runs/{det.id}/errors", params={"true": 0, "pred": 1, "threshold": thr}).json()
    assert r["count"] == int(((y == 0) & (s >= thr)).sum()) and r["true_class"] == "not 5"
    r0 = client.get(f"/api/runs/{det.id}/errors", params={"true": 1, "pred": 1}).json()
    assert r0["count"] == int(((y == 1) & (z_pred(det) == 1)).sum())


def z_pred(run):
    with np.load(run.path / "predictions.npz") as z:
        return z["y_pred"]


def test_page_docs_and_openapi(client):
    """Check the page, its files, the offline docs page and the OpenAPI schema are served locally."""
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    for f in ("app.js", "style.css", "docs.js"):
        r = client.get(f"/static/{f}")
        assert r.status_code == 200 and "https://" not in r.text
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/docs.js" in docs.text and "cdn" not in docs.text.lower()
    spec = client.get("/openapi.json").json()
    assert {"/api/predict", "/api/runs", "/api/runs/{run_id}", "/api/runs/{run_id}/errors"} <= set(spec["paths"])
    assert set(spec["paths"]["/api/predict"]["post"]["requestBody"]["content"]) == {
        "image/*", "application/octet-stream", "multipart/form-data", "application/json"}
    assert "content-security-policy" in page.headers


def test_models_cached_per_run(app, client, web_runs, seven_png):
    """Check the default model is loaded once in the lifespan and reused."""
    reg = app.state.registry
    assert len(reg.models.items) == 1
    for _ in range(3):
        client.post("/api/predict", content=seven_png, headers=PNG)
    client.post(f"/api/predict?run={web_runs['plain'].id}", content=seven_png, headers=PNG)
    assert len(reg.models.items) == 2
