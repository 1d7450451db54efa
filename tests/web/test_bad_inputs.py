"""BAD-INPUTS sections C, D and G through the web API: the status, a JSON {error, detail}, no 500."""

import base64
import io
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from _render import font_paths, png_bytes, render_digit

MB5 = 5 * 2**20
PNG = {"content-type": "image/png"}
OWN_PAGE = {"origin": "http://127.0.0.1"}  # what a browser sends with the page's own uploads


@pytest.fixture(scope="module")
def seven_png():
    return png_bytes(render_digit(7, font_paths()[0], font_size=70, canvas=(160, 120)))


def check_error(r, status, error, detail_part=None):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == error, body
    if detail_part:
        assert detail_part in body["detail"], body
    assert "Traceback" not in r.text and "/tmp/" not in r.text and "site-packages" not in r.text
    return body


# ---- G1 size ---------------------------------------------------------------------------------

def test_g1_content_length_over_5mb(client):
    r = client.post("/api/predict", content=b"\0" * (MB5 + 1))
    check_error(r, 413, "too_large", "the limit is 5,242,880")


def test_g1_chunked_body_counted(client):
    """Check a body without Content-Length is refused once its bytes pass 5 MB."""
    sent = []

    def chunks():
        for _ in range(8):
            sent.append(1)
            yield b"\0" * 2**20

    r = client.post("/api/predict", content=chunks(), headers=PNG)
    check_error(r, 413, "too_large", "over the limit")
    assert "content-length" not in r.request.headers


def test_g1_multipart_over_5mb(client):
    r = client.post("/api/predict", files={"file": ("big.png", b"\0" * (MB5 + 10), "image/png")}, headers=OWN_PAGE)
    check_error(r, 413, "too_large")


# ---- G2 / C1 / C12 types --------------------------------------------------------------------

@pytest.mark.parametrize("body,ctype", [
    (b"", "image/png"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><text>7</text></svg>', "image/svg+xml"),
    (b"%PDF-1.4 1 0 obj", "application/octet-stream"),
], ids=["empty", "svg", "pdf"])
def test_g2_not_an_image_is_415(client, body, ctype):
    r = client.post("/api/predict", content=body, headers={"content-type": ctype})
    check_error(r, 415, "unsupported_image", "not a supported image (PNG/JPEG/GIF/BMP/WEBP)")


@pytest.mark.parametrize("body,ctype", [(b"hello", "text/plain"), (b"%PDF-1.4 1 0 obj", "application/pdf")],
                         ids=["text", "pdf"])
def test_g2_wrong_declared_type_is_415(client, body, ctype):
    """Check a body declared as neither an image nor JSON is refused from its header (see H7)."""
    r = client.post("/api/predict", content=body, headers={"content-type": ctype})
    check_error(r, 415, "unsupported_media_type", f"Content-Type {ctype!r}")


def test_g2_declared_type_never_trusted(client, seven_png):
    """Check an SVG declared as image/png is refused and a PNG part declared as text/plain is read."""
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"/>'
    r = client.post("/api/predict", files={"file": ("x.png", svg, "image/png")}, headers=OWN_PAGE)
    check_error(r, 415, "unsupported_image", "file: not a supported image")
    r = client.post("/api/predict", files={"file": ("x.svg", svg, "image/svg+xml")}, headers=OWN_PAGE)
    check_error(r, 415, "unsupported_image")
    ok = client.post("/api/predict", files={"file": ("x.txt", seven_png, "text/plain")}, headers=OWN_PAGE)
    assert ok.status_code == 200 and ok.json()["prediction"] == "7"


def test_c12_tiff_refused(client, seven_png):
    tiff = png_bytes(np.asarray(Image.open(io.BytesIO(seven_png))), format="TIFF")
    check_error(client.post("/api/predict", content=tiff, headers=PNG), 415, "unsupported_image")


# ---- C2-C5 image content ----------------------------------------------------------------------

def test_c2_truncated_png_is_422(client):
    noisy = np.random.default_rng(0).integers(0, 255, (80, 80), dtype=np.uint8)
    data = png_bytes(noisy)
    check_error(client.post("/api/predict", content=data[: len(data) // 2], headers=PNG), 422, "invalid_image",
                "image is truncated")


def test_c3_tiny_image_is_422(client):
    check_error(client.post("/api/predict", content=png_bytes(np.zeros((1, 1), np.uint8)), headers=PNG), 422,
                "invalid_image", "image too small (1×1")


def test_c4_png_bomb_is_413(client):
    buf = io.BytesIO()
    Image.new("1", (10000, 10000)).save(buf, format="PNG", optimize=True)
    check_error(client.post("/api/predict", content=buf.getvalue(), headers=PNG), 413, "too_large",
                "image too large (10000×10000 pixels")


def test_h6_decode_bomb_is_413(client):
    """Check H6 through the API: a PNG under the pixel cap whose decode would need 151 MB is
    refused from its header, 413."""
    img = Image.new("RGBA", (6300, 6300), (255, 255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=9)
    assert len(buf.getvalue()) < 300_000
    check_error(client.post("/api/predict", content=buf.getvalue(), headers=PNG), 413, "too_large",
                "body: image too large to decode (6300×6300 RGBA PNG needs about 151 MB of memory; the limit is 96 MB)")


def test_blank_canvas_says_no_digit(client):
    check_error(client.post("/api/predict", content=png_bytes(np.full((280, 280), 255, np.uint8)),
                                headers=PNG), 422,
                "invalid_image", "no digit found")


# ---- G3-G5 JSON ---------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [b"{", b"{'pixels': 1}", b"[1, 2", b"\xff\xfe"], ids=["open", "quotes", "array", "binary"])
def test_g3_malformed_json(client, body):
    r = client.post("/api/predict", content=body, headers={"content-type": "application/json"})
    check_error(r, 422, "json_invalid")


@pytest.mark.parametrize("image,detail", [
    ("data:image/png;base64,!!!!", "image: not valid base64"),
    ("!!!!", "image: not valid base64"),
    ("data:image/png;base64,", "image: empty"),
    ("data:text/plain,hello", "image: only base64 data URLs"),
    ("data:image/png;base64,aGVsbG8=", "image: not a supported image"),
], ids=["bad-b64-url", "bad-b64", "empty", "not-base64-url", "not-image"])
def test_g4_bad_base64(client, image, detail):
    r = client.post("/api/predict", json={"image": image})
    status = 415 if "supported" in detail else 422
    check_error(r, status, "unsupported_image" if status == 415 else "invalid_request", detail)


@pytest.mark.parametrize("payload,detail", [
    ({"pixels": [[0, 300] * 14] * 28}, "pixels[0][1]: Input should be less than or equal to 255"),
    ({"pixels": [[0, -1] * 14] * 28}, "pixels[0][1]: Input should be greater than or equal to 0"),
    ({"pixels": [0] * 784}, "pixels[0]: Input should be a valid array"),
    ({"pixels": [[0] * 28] * 27 + [[0] * 10]}, "pixels: must be a non-empty 2-D array"),
    ({"pixels": []}, "pixels: must be a non-empty 2-D array"),
    ({"pixels": [["a"] * 28] * 28}, "pixels[0][0]: Input should be a valid number"),
    ({"pixels": [[0] * 28] * 28, "image": "aGk="}, "give exactly one of 'pixels' or 'image'"),
    ({}, "give exactly one of 'pixels' or 'image'"),
    ({"pixel": [[0]]}, "pixel: Extra inputs are not permitted"),
    ({"pixels": [[0] * 4] * 4}, "image too small (4×4"),
], ids=["over-255", "negative", "flat", "ragged", "empty", "strings", "both", "neither", "typo", "4x4"])
def test_g5_bad_pixel_arrays(client, payload, detail):
    r = client.post("/api/predict", json=payload)
    body = check_error(r, 422, r.json()["error"], detail)
    assert body["error"] in ("invalid_request", "invalid_image")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "1e999"])
def test_g5_nan_in_pixels(client, literal):
    body = '{"pixels": [' + ",".join(["[" + ",".join([literal] * 28) + "]"] * 28) + "]}"
    r = client.post("/api/predict", content=body, headers={"content-type": "application/json"})
    check_error(r, 422, "invalid_request", "pixels[0][0]: Input should be a finite number")


# ---- G8 runs and paths ----------------------------------------------------------------------------

@pytest.mark.parametrize("path,status", [
    ("/api/runs/no-such-run", 404),
    ("/api/runs/..", 404),  # the client normalises it to /api/, which does not exist
    ("/api/runs/%2e%2e", 400),
    ("/api/runs/..%2F..%2Fetc%2Fpasswd", 404),
    ("/api/runs/%2Fetc%2Fpasswd", 404),
    ("/api/runs/abc%00def", 400),
    ("/api/runs/" + "a" * 65, 400),
    ("/api/runs/Upper", 400),
    ("/api/runs/x/errors?true=1&pred=2", 404),
], ids=["unknown", "dotdot", "encoded-dotdot", "traversal", "absolute", "nul", "too-long", "upper", "unknown-errors"])
def test_g8_run_ids(client, path, status):
    r = client.get(path)
    body = check_error(r, status, {404: r.json()["error"], 400: "bad_run_id"}[status])
    if status == 404:
        assert body["error"] in ("unknown_run", "not_found")


def test_g8_predict_unknown_or_bad_run(client, seven_png):
    check_error(client.post("/api/predict?run=nope", content=seven_png, headers=PNG), 404, "unknown_run",
                "run nope not found")
    check_error(client.post("/api/predict?run=../../x", content=seven_png, headers=PNG), 400, "bad_run_id")
    check_error(client.post("/api/predict", json={"pixels": [[0] * 28] * 28, "run": "../x"}), 400, "bad_run_id")


def test_g8_symlink_out_of_runs_root(web_runs, tmp_path, seven_png):
    """Check a run folder symlinked from outside the runs root is not served."""
    from fastapi.testclient import TestClient

    from digitlab.web import create_app

    root = tmp_path / "runs"
    root.mkdir()
    outside = tmp_path / "outside-run"
    shutil.copytree(web_runs["plain"].path, outside)
    os.symlink(outside, root / "linked-run")
    with TestClient(create_app(root), base_url="http://127.0.0.1") as c:
        check_error(c.get("/api/runs/linked-run"), 404, "unknown_run")
        check_error(c.post("/api/predict?run=linked-run", content=seven_png, headers=PNG), 404, "unknown_run")


def test_errors_endpoint_bad_query(client, web_runs):
    rid = web_runs["mnist"].id
    check_error(client.get(f"/api/runs/{rid}/errors?true=x&pred=1"), 422, "invalid_request", "query.true")
    check_error(client.get(f"/api/runs/{rid}/errors?true=12&pred=1"), 422, "invalid_request", "true: must be a class index 0–9")
    check_error(client.get(f"/api/runs/{rid}/errors?pred=1"), 422, "invalid_request", "query.true: Field required")
    check_error(client.get(f"/api/runs/{rid}/errors?true=1&pred=1&threshold=0.5"), 422, "invalid_request",
                "threshold: only for binary")


# ---- D model files ----------------------------------------------------------------------------

def test_d_bad_model_in_a_run(web_runs, tmp_path, seven_png):
    """Check D2/D5: a tampered model gives 422 naming the run, no server paths; the sentinel stays absent."""
    from fastapi.testclient import TestClient

    from digitlab.web import create_app

    root = tmp_path / "runs"
    shutil.copytree(web_runs["plain"].path, root / "tampered")
    shutil.copytree(web_runs["plain"].path, root / "pickled")
    data = bytearray((root / "tampered" / "model.skops").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (root / "tampered" / "model.skops").write_bytes(bytes(data))
    import pickle

    class Evil:
        def __reduce__(self):
            return (open, (str(tmp_path / "SENTINEL"), "w"))

    (root / "pickled" / "model.skops").write_bytes(pickle.dumps(Evil()))
    with TestClient(create_app(root), base_url="http://127.0.0.1") as c:
        for rid, why in (("tampered", "model file corrupted or modified"),
                         ("pickled", "not a digitlab model (skops zip)")):
            body = check_error(c.post(f"/api/predict?run={rid}", content=seven_png, headers=PNG), 422,
                               "model_invalid", why)
            assert body["detail"].startswith(f"{rid}/model.skops: ")
        assert c.get("/api/runs").status_code == 200
    assert not (tmp_path / "SENTINEL").exists()


# ---- H7 requests another web page could send --------------------------------------------------

@pytest.mark.parametrize("ctype", [None, "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded"],
                         ids=["none", "text", "text-charset", "form"])
def test_h7_preflight_free_body_types_refused(client, seven_png, ctype):
    """Check H7: the bodies any web page can make a browser POST without a CORS preflight are
    refused with 415, even with a valid PNG inside and no Origin header (older browsers)."""
    r = client.post("/api/predict", content=seven_png, headers={"content-type": ctype} if ctype else {})
    body = check_error(r, 415, "unsupported_media_type", "send the image with Content-Type image/* or "
                       "application/octet-stream, or JSON with application/json")
    media = ctype and ctype.split(";")[0].lower()
    assert body["detail"].startswith("Content-Type missing" if ctype is None else f"Content-Type '{media}':")


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:8001", "https://127.0.0.1",
                                    "http://127.0.0.1.evil.example", "http://127.0.0.1/x"],
                         ids=["other-site", "null", "other-port", "other-scheme", "suffix", "path"])
def test_h7_other_origins_refused(client, seven_png, origin):
    """Check H7: a request carrying another origin's Origin header is refused in every body form."""
    b64 = base64.b64encode(seven_png).decode()
    for kwargs in (dict(content=seven_png, headers={**PNG, "origin": origin}),
                   dict(json={"image": b64}, headers={"origin": origin}),
                   dict(files={"file": ("x.png", seven_png, "image/png")}, headers={"origin": origin})):
        check_error(client.post("/api/predict", **kwargs), 403, "cross_origin", "is not this server")


def test_h7_multipart_needs_the_pages_origin(client, seven_png):
    """Check H7: multipart/form-data (which needs no preflight) is served only with this server's
    Origin (any of its names, on its port)."""
    upload = {"file": ("x.png", seven_png, "image/png")}
    check_error(client.post("/api/predict", files=upload), 403, "cross_origin",
                "multipart/form-data is accepted only from this server's page")
    for origin in ("http://127.0.0.1", "http://localhost", "HTTP://127.0.0.1:80"):
        r = client.post("/api/predict", files=upload, headers={"origin": origin})
        assert r.status_code == 200 and r.json()["prediction"] == "7", (origin, r.text)


def test_h7_own_page_and_api_clients_served(client, seven_png):
    """Check requests a preflight would guard (image/*, octet-stream, JSON) are served, with the
    page's Origin or with none (curl, scripts); the declared image type is still not trusted."""
    b64 = base64.b64encode(seven_png).decode()
    for headers in ({}, OWN_PAGE):
        for kwargs in (dict(content=seven_png, headers={**PNG, **headers}),
                       dict(content=seven_png, headers={"content-type": "image/jpeg", **headers}),
                       dict(content=seven_png, headers={"content-type": "application/octet-stream", **headers}),
                       dict(json={"image": b64}, headers=headers)):
            r = client.post("/api/predict", **kwargs)
            assert r.status_code == 200 and r.json()["prediction"] == "7", (kwargs["headers"], r.text)


# ---- G9, G11, G13, G14 ------------------------------------------------------------------------

@pytest.mark.parametrize("host,ok", [("evil.example", False), ("127.0.0.1.evil.example", False),
                                     ("localhost:8000", True), ("[::1]:8000", True), ("127.0.0.1", True),
                                     ("", False)])
def test_g9_host_header(client, host, ok):
    r = client.get("/api/runs", headers={"host": host})
    if ok:
        assert r.status_code == 200
    else:
        check_error(r, 400, "bad_host", "Host header must be localhost")


def test_g11_no_cors(client, seven_png):
    origin = {"origin": "http://evil.example"}
    responses = [client.get("/api/runs", headers=origin), client.post("/api/predict", content=seven_png, headers=origin),
                 client.options("/api/predict", headers={**origin, "access-control-request-method": "POST"}),
                 client.get("/", headers=origin)]
    for r in responses:
        assert not any(k.lower().startswith("access-control-") for k in r.headers), r.headers
    assert responses[2].status_code == 405 and responses[2].json()["error"] == "method_not_allowed"


def test_g13_too_many_files(client, seven_png):
    r = client.post("/api/predict", files=[("file", ("a.png", seven_png)), ("file", ("b.png", seven_png))],
                    headers=OWN_PAGE)
    check_error(r, 400, "bad_request", "Too many files")


def test_g13_multipart_without_file(client):
    r = client.post("/api/predict", files={"other": ("a.png", b"x")}, headers=OWN_PAGE)
    check_error(r, 422, "invalid_request", "file: a multipart upload needs a 'file' part")


def test_g14_unknown_route_and_method_are_json(client):
    check_error(client.get("/nope"), 404, "not_found")
    check_error(client.get("/api/predict"), 405, "method_not_allowed")


def test_no_runs_at_all(tmp_path, seven_png):
    from fastapi.testclient import TestClient

    from digitlab.web import create_app

    with TestClient(create_app(tmp_path / "empty"), base_url="http://127.0.0.1") as c:
        assert c.get("/api/runs").json() == []
        check_error(c.post("/api/predict", content=seven_png, headers=PNG), 404, "no_runs", "train one")
