"""``/api/collect`` ("that's wrong, it's a 4"): each attack first, then what a correction stores."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

from _live import live_server
from _render import font_paths, png_bytes, render_digit
from digitlab import datasets
from digitlab.datasets import _collection
from digitlab.datasets._collection import ORIGINALS, Collection

PNG = {"content-type": "image/png"}
MB5 = 5 * 2**20


def digit_png(d: int, seed: int) -> bytes:
    return png_bytes(render_digit(d, font_paths()[seed % len(font_paths())], font_size=70, canvas=(160, 120),
                                  rng=np.random.default_rng(seed)))


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "mine"


@pytest.fixture
def collecting(web_runs, folder):
    from fastapi.testclient import TestClient

    from digitlab.web import create_app

    app = create_app(web_runs["root"], web_runs["mnist"].id, collect=folder)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def files(root) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def check_error(r, status, error, detail_part=None):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "detail"} and body["error"] == error, body
    if detail_part:
        assert detail_part in body["detail"], body
    assert "Traceback" not in r.text and "/tmp/" not in r.text and "site-packages" not in r.text
    return body


# ---- off unless --collect ----------------------------------------------------------------------

def test_collect_off_answers_403(client):
    """Check without --collect the status says so and a correction is refused with 403."""
    assert client.get("/api/collect").json() == {"enabled": False, "classes": [], "size": None, "samples": None,
                                                 "max_samples": None}
    r = client.post("/api/collect?label=4", content=digit_png(4, 0), headers=PNG)
    check_error(r, 403, "collect_off", "digitlab serve --collect DIR")


# ---- attacks -----------------------------------------------------------------------------------

@pytest.mark.parametrize("label", ["../x", "%2e%2e%2f", "..%2f..%2fetc", "4%00", "%D9%A4", "/tmp", "04", "+4", "",
                                   "4%2f..", "10", "4.0"])
def test_collect_label_is_never_a_path(collecting, folder, label):
    """Attack: path traversal, NUL and look-alike digits in the label: 422, nothing written anywhere."""
    before = files(folder.parent)
    r = collecting.post(f"/api/collect?label={label}", content=digit_png(4, 0), headers=PNG)
    check_error(r, 422, "invalid_request", "label: must be one of the classes 0, 1, 2")
    assert files(folder.parent) == before


def test_collect_without_label(collecting):
    r = collecting.post("/api/collect", content=digit_png(4, 0), headers=PNG)
    check_error(r, 422, "invalid_request", "got nothing")


def test_collect_body_over_5mb(collecting, folder):
    """Attack: a huge body, with and without Content-Length: 413 before it is stored."""
    before = files(folder)
    check_error(collecting.post("/api/collect?label=4", content=b"\0" * (MB5 + 1), headers=PNG), 413, "too_large")

    def chunks():
        for _ in range(8):
            yield b"\0" * 2**20

    check_error(collecting.post("/api/collect?label=4", content=chunks(), headers=PNG), 413, "too_large")
    assert files(folder) == before


@pytest.mark.parametrize("headers, status, error", [
    ({"content-type": "text/plain"}, 415, "unsupported_media_type"),
    ({"content-type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
    ({"content-type": "image/png", "origin": "http://evil.example"}, 403, "cross_origin"),
    ({"content-type": "multipart/form-data; boundary=x"}, 403, "cross_origin"),
    ({"content-type": "application/json"}, 415, "unsupported_media_type"),
])
def test_collect_other_sites_cannot_post(collecting, folder, headers, status, error):
    """Attack (H7): another web page posting a correction: refused like /api/predict, nothing stored."""
    before = files(folder)
    r = collecting.post("/api/collect?label=4", content=digit_png(4, 0), headers=headers)
    check_error(r, status, error)
    assert files(folder) == before


def test_collect_not_an_image(collecting, folder):
    """C1/C12 for corrections: bytes that are not an image, an SVG, a blank image: no sample."""
    before = files(folder)
    check_error(collecting.post("/api/collect?label=4", content=b"hello", headers=PNG), 415, "unsupported_image")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="50" height="50"/>'
    check_error(collecting.post("/api/collect?label=4", content=svg, headers=PNG), 415, "unsupported_image")
    blank = png_bytes(np.full((60, 60), 255, np.uint8))
    check_error(collecting.post("/api/collect?label=4", content=blank, headers=PNG), 422, "invalid_image",
                "no digit found")
    check_error(collecting.post("/api/collect?label=4", content=b"", headers=PNG), 422, "invalid_request", "empty")
    assert files(folder) == before


def test_collect_refuses_a_run_on_other_data(collecting, web_runs, folder):
    """A correction for a run trained on 8x8 digits: 409 naming both, nothing stored."""
    before = files(folder)
    r = collecting.post(f"/api/collect?label=5&run={web_runs['detector'].id}", content=digit_png(5, 0), headers=PNG)
    check_error(r, 409, "dataset_mismatch", "was trained on digits (8×8")
    check_error(collecting.post("/api/collect?label=5&run=..%2F..%2Fetc", content=digit_png(5, 0), headers=PNG),
                400, "bad_run_id")
    assert files(folder) == before


def test_collect_many_requests_cannot_fill_the_disk(collecting, folder, monkeypatch):
    """Attack: a flood of distinct corrections; past the cap each gets 507 and nothing more is written."""
    monkeypatch.setattr(_collection, "MAX_SAMPLES", 5)
    codes = [collecting.post("/api/collect?label=7", content=digit_png(7, s), headers=PNG).status_code
             for s in range(12)]
    assert codes == [201] * 5 + [507] * 7
    r = collecting.post("/api/collect?label=7", content=digit_png(7, 99), headers=PNG)
    check_error(r, 507, "collection_full", "the collection: collection full (5 samples, the limit)")
    assert Collection(folder).stats()["samples"] == 5


def test_collect_disk_full_at_write_time(collecting, folder, monkeypatch):
    """ENOSPC while writing: 507 JSON without server paths, nothing half-written."""
    from digitlab.exceptions import WriteError

    def full(target, data):
        raise WriteError(f"{target}: cannot write (No space left on device)")

    monkeypatch.setattr(_collection, "write_bytes", full)
    before = files(folder)
    r = collecting.post("/api/collect?label=3", content=digit_png(3, 0), headers=PNG)
    body = check_error(r, 507, "disk_full", "No space left on device")
    assert str(folder) not in body["detail"]
    assert files(folder) == before


# ---- what a correction stores ------------------------------------------------------------------

def test_collect_stores_what_the_model_saw(collecting, folder):
    """Check a correction stores the 28x28 image /api/predict showed, and the upload byte for byte;
    the same image again is a duplicate, with another label it moves."""
    import base64

    upload = digit_png(4, 3)
    seen = collecting.post("/api/predict", content=upload, headers=PNG).json()
    r = collecting.post("/api/collect?label=9", content=upload, headers=PNG)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["status"] == "added" and out["label"] == "9" and out["samples"] == 1
    sample = folder / "9" / f"{out['sha256']}.png"
    assert sample.read_bytes() and (folder / ORIGINALS / f"{out['sha256']}.png").read_bytes() == upload
    ds = datasets.load(folder)
    from PIL import Image
    import io

    shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(seen["input"].split(",", 1)[1]))))
    assert np.array_equal(ds.images[0], shown) and ds.labels.tolist() == [9]

    again = collecting.post("/api/collect?label=9", content=upload, headers=PNG)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    moved = collecting.post("/api/collect?label=4", content=upload, headers=PNG).json()
    assert (moved["status"], moved["previous"]) == ("relabelled", "9")
    assert datasets.load(folder).labels.tolist() == [4]
    st = collecting.get("/api/collect").json()
    assert st == {"enabled": True, "classes": list("0123456789"), "size": 28, "samples": 1,
                  "max_samples": _collection.MAX_SAMPLES}


def test_collect_concurrent_clients_lose_nothing(web_runs, tmp_path):
    """Check 8 client threads posting 6 distinct corrections each to two live servers sharing one
    folder (as `serve --workers 2` does) all land, each counted once."""
    from digitlab.web import create_app

    folder = tmp_path / "shared"
    apps = [create_app(web_runs["root"], web_runs["mnist"].id, collect=folder) for _ in range(2)]
    bodies = {(k, i): digit_png(i % 10, 1000 + 10 * k + i) for k in range(8) for i in range(6)}
    results, errors = [], []
    with live_server(apps[0]) as a, live_server(apps[1]) as b:
        def client(k):
            for i in range(6):
                url = f"{(a, b)[(k + i) % 2]}/api/collect?label={i % 10}"
                req = urllib.request.Request(url, data=bodies[k, i], headers=PNG, method="POST")
                try:
                    with urllib.request.urlopen(req, timeout=120) as resp:
                        results.append((resp.status, json.loads(resp.read())["sha256"]))
                except urllib.error.HTTPError as exc:
                    errors.append((exc.code, exc.read()))

        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
    assert errors == []
    assert len(results) == 48 and {s for s, _ in results} == {201}
    shas = {sha for _, sha in results}
    assert len(shas) == 48  # distinct drawings, distinct samples
    st = Collection(folder).stats()
    assert st["samples"] == 48 and st["originals"] == 48
    on_disk = {p.stem for p in folder.glob("[0-9]/*.png")}
    assert on_disk == shas


# ---- serve --collect ---------------------------------------------------------------------------

def test_serve_collect_bad_folder_stops_at_start(run_cli, web_runs, tmp_path):
    """A collect path that is a file, or a folder of other things: one line, exit 73, before listening."""
    f = tmp_path / "afile"
    f.write_text("x")
    code, _, err = run_cli("serve", "--runs-dir", web_runs["root"], "--collect", f, "--port", "1")
    assert code == 73 and err.strip() == f"digitlab: error: {f}: not a folder; give a new or empty folder to collect into"
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("x")
    code, _, err = run_cli("serve", "--runs-dir", web_runs["root"], "--collect", tmp_path / "home", "--port", "1")
    assert code == 73 and "not empty and not a digitlab collection" in err and len(err.strip().splitlines()) == 1


def test_serve_collect_unwritable_or_full(run_cli, web_runs, tmp_path, monkeypatch):
    """A collect folder that cannot be written (77) or a full disk (74): one line at start."""
    import errno
    import tempfile

    monkeypatch.setattr(_collection, "MIN_FREE_BYTES", 2**62)
    code, _, err = run_cli("serve", "--runs-dir", web_runs["root"], "--collect", tmp_path / "c", "--port", "1")
    assert code == 74 and "disk full" in err and len(err.strip().splitlines()) == 1
    monkeypatch.undo()

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    code, _, err = run_cli("serve", "--runs-dir", web_runs["root"], "--collect", tmp_path / "d", "--port", "1")
    assert code == 77 and "cannot write to collection folder (Permission denied)" in err
