"""A real uvicorn server (G6, G7) and the `digitlab serve` command (D1, G10)."""

import http.client
import json
import shutil
import socket
import time

import pytest

from _live import live_server
from _render import font_paths, png_bytes, render_digit


@pytest.fixture(scope="module")
def seven_png():
    return png_bytes(render_digit(7, font_paths()[0], font_size=70, canvas=(160, 120)))


def post(base, body, path="/api/predict"):
    host, port = base.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", path, body=body, headers={"Content-Type": "image/png"})
    r = conn.getresponse()
    out = r.status, r.read()
    conn.close()
    return out


def slow_client(base, total=1000):
    """Open a connection that announces a body and sends only part of it."""
    host, port = base.split("//")[1].split(":")
    s = socket.create_connection((host, int(port)))
    s.sendall(f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
              f"Content-Length: {total}\r\n\r\n".encode() + b"\x89PNG")
    return s


def test_g6_slow_body_408_and_others_still_served(web_runs, seven_png):
    """Check a client dribbling its body gets 408 while other clients are answered meanwhile."""
    from digitlab.web import create_app

    app = create_app(web_runs["root"], web_runs["mnist"].id, body_seconds=1.0)
    with live_server(app) as base:
        slow = slow_client(base)
        try:
            status, body = post(base, seven_png)
            assert status == 200 and json.loads(body)["prediction"] == "7"
            slow.settimeout(10)
            reply = b""
            while not reply.endswith(b"}"):  # headers and body may come in separate segments
                chunk = slow.recv(4096)
                if not chunk:
                    break
                reply += chunk
            reply = reply.decode()
        finally:
            slow.close()
    assert reply.startswith("HTTP/1.1 408")
    assert '"error":"timeout"' in reply


def test_g7_limit_concurrency_gives_503(web_runs, seven_png):
    """Check requests beyond --limit-concurrency get 503 (JSON) and the server keeps serving after."""
    from digitlab.web import create_app

    app = create_app(web_runs["root"], web_runs["mnist"].id, body_seconds=30.0, limit_concurrency=1)
    with live_server(app) as base:
        slow = slow_client(base)  # one request in progress, waiting for its body
        try:
            for _ in range(200):  # until the server has seen the slow request start
                status, body = post(base, seven_png)
                if status == 503:
                    break
                time.sleep(0.05)
            assert status == 503, body
            assert json.loads(body)["error"] == "busy"
        finally:
            slow.close()
        for _ in range(50):  # the server notices the closed connection within moments
            status, body = post(base, seven_png)
            if status == 200:
                break
            time.sleep(0.1)
        assert status == 200, _


def test_serve_cli_starts_with_warning_for_0000(run_cli, web_runs, monkeypatch):
    """Check G10: --host 0.0.0.0 prints a warning; the default run's model is loaded before start."""
    import uvicorn

    started = {}

    def fake_run(self, sockets=None):
        started["app"] = self.config.app
        started["limit"] = self.config.app.user_middleware[0].kwargs["limit_concurrency"]  # the Guard's
        started["uvicorn_limit"] = self.config.limit_concurrency
        started["addr"] = sockets[0].getsockname()

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    code, out, err = run_cli("serve", web_runs["mnist"].id, "--runs-dir", web_runs["root"], "--host", "0.0.0.0",
                             "--port", "0", "--limit-concurrency", "7")
    assert code == 0, err
    assert "warning: listening on 0.0.0.0" in err
    assert started["limit"] == 7 and started["addr"][0] == "0.0.0.0"
    assert started["uvicorn_limit"] is None  # uvicorn's counts idle connections (H5)
    assert len(started["app"].state.registry.models.items) == 1
    code, _, err = run_cli("serve", "--runs-dir", web_runs["root"], "--port", "0")
    assert code == 0 and "warning" not in err and started["addr"][0] == "127.0.0.1"
    assert f"serving {web_runs['plain'].id}" in err or "serving 2" in err


def test_serve_cli_refuses_bad_run(run_cli, web_runs, tmp_path, monkeypatch):
    """Check D1: unknown run exits 66, a tampered model 65, a busy port 69, before serving."""
    import uvicorn

    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: pytest.fail("server started"))
    code, _, err = run_cli("serve", "nope", "--runs-dir", web_runs["root"])
    assert code == 66 and "nope: no such run" in err
    bad = tmp_path / "runs" / "broken"
    shutil.copytree(web_runs["plain"].path, bad)
    (bad / "model.skops").write_bytes(b"not a zip")
    code, _, err = run_cli("serve", bad)
    assert code == 65 and "not a digitlab model" in err and "Traceback" not in err
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        port = busy.getsockname()[1]
        code, _, err = run_cli("serve", web_runs["mnist"].id, "--runs-dir", web_runs["root"], "--port", port)
    finally:
        busy.close()
    assert code == 69 and f"127.0.0.1:{port}: cannot listen (Address already in use)" in err


def test_serve_workers_share_the_port(web_runs, seven_png, tmp_path):
    """`serve --workers 2`: two worker processes answer on one port with the chosen run's model."""
    import os
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = web_runs["mnist"]
    env = {**os.environ, "DIGITLAB_RUNS_DIR": str(web_runs["root"])}
    server = subprocess.Popen([sys.executable, "-m", "digitlab", "serve", run.id, "--port", str(port),
                               "--workers", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                status, body = post(base, seven_png)
                if status == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, server.stderr.read().decode()[-800:]
            assert time.monotonic() < deadline, "server did not answer"
            time.sleep(0.3)
        answers = [json.loads(post(base, seven_png)[1]) for _ in range(6)]
        assert {a["run"] for a in answers} == {run.id}
        assert {a["prediction"] for a in answers} == {"7"}
        children = open(f"/proc/{server.pid}/task/{server.pid}/children").read().split()
        assert len(children) >= 2
    finally:
        server.terminate()  # the process this test started, by its PID
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
