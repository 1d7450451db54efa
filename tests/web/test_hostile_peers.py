"""Hostile peers against a real `digitlab serve` process (BAD-INPUTS H5, G14).

The server is started as a user starts it, on 127.0.0.1 with an ephemeral port (``--port 0``;
the port is read from its "serving ... on" line). Every wait is a poll with a generous deadline:
the assertions are about what happens, not how fast.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

from _render import font_paths, png_bytes, render_digit

DEADLINE = 90.0  # seconds; the server's own timeouts are 5 s (idle) and 10 s (headers)


@pytest.fixture(scope="module")
def seven_png():
    return png_bytes(render_digit(7, font_paths()[0], font_size=70, canvas=(160, 120)))


@contextlib.contextmanager
def serve(web_runs, tmp_path, *args):
    """Yield the port of a `digitlab serve` subprocess; its log goes to a file (never a full pipe)."""
    log = tmp_path / "serve.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "digitlab", "serve", web_runs["mnist"].id, "--runs-dir",
                                 str(web_runs["root"]), "--port", "0", *args],
                                stdout=subprocess.DEVNULL, stderr=fh)
    try:
        deadline = time.monotonic() + DEADLINE
        while not (m := re.search(r"on http://127\.0\.0\.1:(\d+)/", log.read_text())):
            assert proc.poll() is None, log.read_text()[-800:]
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        port = int(m[1])
        # the socket listens from the "serving" line on; wait until the app answers
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                if request(port, "GET", "/api/runs")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, log.read_text()[-800:]
            assert time.monotonic() < deadline, "server did not answer"
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()  # the process this test started, by its PID
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.getheader("content-type"), r.read()
    finally:
        conn.close()


def predict(port, png):
    return request(port, "POST", "/api/predict", png, {"Content-Type": "image/png"})


def read_until_closed(sock, deadline) -> tuple[bytes, bool]:
    """Everything the server sends on *sock*, and whether it closed the connection by *deadline*."""
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, min(1.0, deadline - time.monotonic())))
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:  # reset by the server: closed too
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


class SlowHeaders:
    """Connections that send a request line, then one more header line every *every* seconds."""

    def __init__(self, port, n, every=1.0):
        self.socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
        for s in self.socks:
            s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        self.every, self.stop = every, threading.Event()
        self.thread = threading.Thread(target=self._drip, daemon=True)
        self.thread.start()

    def _drip(self):
        i = 0
        while not self.stop.wait(self.every):
            i += 1
            for s in self.socks:
                with contextlib.suppress(OSError):
                    s.sendall(b"X-Slow-%d: a\r\n" % i)

    def close(self):
        self.stop.set()
        self.thread.join(10)
        for s in self.socks:
            s.close()


def test_h5_idle_and_slow_header_connections_do_not_starve_clients(web_runs, tmp_path, seven_png):
    """Check H5: with idle and slow-header connections held open (more than --limit-concurrency),
    a normal client is answered 200, and the server closes the idle ones and the slow ones itself."""
    with serve(web_runs, tmp_path, "--limit-concurrency", "16") as port:
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(60)]
        slow = SlowHeaders(port, 20)
        try:
            status, ctype, body = predict(port, seven_png)
            assert status == 200, body
            assert json.loads(body)["prediction"] == "7"
            # ... and again, so it was not a lucky moment between two attack connections
            assert predict(port, seven_png)[0] == 200
            deadline = time.monotonic() + DEADLINE
            for s in idle:
                data, closed = read_until_closed(s, deadline)
                assert closed, "an idle connection was never closed by the server"
                assert data == b""  # nothing was asked, nothing is answered
            answers = []
            for s in slow.socks:
                data, closed = read_until_closed(s, deadline)
                assert closed, "a slow-header connection was never closed by the server"
                answers.append(data)
        finally:
            slow.close()
            for s in idle:
                s.close()
        # the slow ones are told why, in the API's JSON shape
        for data in answers:
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408"), data[:200]
            assert b"content-type: application/json" in head.lower()
            assert json.loads(body) == {"error": "timeout",
                                        "detail": "request headers not received within 10 s"}
        # still serving afterwards
        assert predict(port, seven_png)[0] == 200


def test_g14_uvicorn_level_errors_are_json(web_runs, tmp_path, seven_png):
    """Check G14 for the answers the HTTP server gives by itself: a malformed request (400) and
    a request over --limit-concurrency (503) get JSON {error, detail} too."""
    with serve(web_runs, tmp_path, "--limit-concurrency", "2") as port:
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header Name: x\r\n\r\n")
            data, closed = read_until_closed(s, time.monotonic() + DEADLINE)
        head, _, body = data.partition(b"\r\n\r\n")
        assert closed and head.startswith(b"HTTP/1.1 400"), data[:200]
        assert b"content-type: application/json" in head.lower()
        assert json.loads(body) == {"error": "bad_request", "detail": "malformed HTTP request"}

        # two requests in progress (bodies announced, not sent): the third one is over the limit
        busy = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        try:
            for s in busy:
                s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                          b"Content-Length: 1000\r\n\r\n\x89PNG")
            deadline = time.monotonic() + DEADLINE
            while True:  # the server sees the two requests start a moment after they are sent
                status, ctype, body = predict(port, seven_png)
                if status == 503 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        finally:
            for s in busy:
                s.close()
        assert status == 503, body
        assert ctype == "application/json"
        assert json.loads(body) == {"error": "busy", "detail": "the server is busy (2 requests in progress, "
                                    "the limit of --limit-concurrency); retry shortly"}
        deadline = time.monotonic() + DEADLINE
        while predict(port, seven_png)[0] != 200:  # slots are freed as the server notices the closes
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_waiting_connections_beyond_the_cap_close_the_oldest(web_runs, seven_png):
    """Check a flood of silent connections cannot use up the server's sockets: beyond
    ``max_waiting`` each new connection closes the one waiting longest, and requests are served."""
    from _live import live_server

    from digitlab.web import create_app
    from digitlab.web._protocol import DigitlabHttpProtocol

    # timeouts far away, so only the cap can close anything here
    capped = type("Capped", (DigitlabHttpProtocol,), {"max_waiting": 8, "idle_seconds": 600, "header_seconds": 600})
    with live_server(create_app(web_runs["root"], web_runs["mnist"].id), http=capped) as base:
        port = int(base.rsplit(":", 1)[1])
        socks = []
        for _ in range(20):  # one at a time, so their order is the server's order
            s = socket.create_connection(("127.0.0.1", port))
            socks.append(s)
            s.sendall(b"GET")  # a request begun, never finished: waits too
            assert request(port, "GET", "/api/runs")[0] == 200  # served, and the server has seen s
        try:
            status, _, body = predict(port, seven_png)
            assert status == 200 and json.loads(body)["prediction"] == "7"
            deadline = time.monotonic() + DEADLINE
            closed = [read_until_closed(s, deadline)[1] for s in socks[:12]]
            assert all(closed)
            for s in socks[-7:]:  # the newest are still open
                s.setblocking(False)
                with pytest.raises(BlockingIOError):
                    s.recv(1)
        finally:
            for s in socks:
                s.close()


def test_oversized_headers_get_431(web_runs, seven_png):
    """Check a request line or header block over 64 KB is refused with 431 (JSON) as it streams
    in, while 30 KB of headers (big cookies) are still served."""
    from _live import live_server

    from digitlab.web import create_app

    with live_server(create_app(web_runs["root"], web_runs["mnist"].id)) as base:
        port = int(base.rsplit(":", 1)[1])
        for start in (b"GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ", b"GET /api/runs?q="):
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(start)
                with contextlib.suppress(OSError):  # the server closes as soon as it has seen enough
                    for _ in range(64):
                        s.sendall(b"a" * 65536)
                data, closed = read_until_closed(s, time.monotonic() + DEADLINE)
            head, _, body = data.partition(b"\r\n\r\n")
            assert closed and head.startswith(b"HTTP/1.1 431"), data[:200]
            assert json.loads(body) == {"error": "headers_too_large", "detail": "request line and headers are over 64 KB"}
        status, _, _ = request(port, "GET", "/api/runs", headers={"Cookie": "a=" + "b" * 30000})
        assert status == 200
        assert predict(port, seven_png)[0] == 200
