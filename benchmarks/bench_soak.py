"""Soak test of ``digitlab serve``: good clients among hostile ones for 10 minutes (60 s ``--quick``).

One server process (defaults: ``--limit-concurrency 64``) gets, all at once and all the time:

- good clients: 4 keep-alive connections, each posting the canvas PNG the page sends every 25 ms;
- 200 idle connections (each reopened when the server closes it) and 50 that send one header
  line every 5 s (reopened too);
- every 10 s a burst of decode bombs: the issue's 6300x6300 RGBA PNG, the largest PNG the decode
  budget accepts (4800x4800 RGBA), a progressive 8000x6000 JPEG and a PNG whose text chunks
  inflate to 80 MB;
- every 10 s a 1 MB header and a malformed request line.

Reported: good requests (count, errors = anything but 200, p50/p99/max latency) and the server's
RSS sampled every second (idle before, max, last, and per minute), which must stay bounded.
"""

from __future__ import annotations

import asyncio
import struct
import threading
import time
import zlib

import numpy as np

from .bench_web import canvas_png, served
from .bench_web_decode import _encode, _post, _rss_mb, _seven

SECTION = "web app: soak (good clients among idle, slow-header, malformed and bomb traffic)"
GOOD_CLIENTS, GOOD_EVERY = 4, 0.025
IDLE, SLOW = 200, 50


def bombs() -> list[tuple[str, bytes]]:
    from PIL import Image

    png = _encode(Image.new("L", (64, 64), 255), "PNG")
    z = zlib.compress(b"a" * (1 << 20), 9)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    i = png.index(b"IDAT") - 4
    text_bomb = png[:i] + b"".join(chunk(b"zTXt", b"k%d\0\0" % n + z) for n in range(80)) + png[i:]
    return [("image/png", _encode(_seven(6300, "RGBA"), "PNG", compress_level=9)),
            ("image/png", _encode(_seven(4800, "RGBA"), "PNG", compress_level=9)),
            ("image/jpeg", _encode(_seven(6000, "RGB").resize((8000, 6000)), "JPEG", progressive=True)),
            ("image/png", text_bomb)]


class Soak:
    def __init__(self, port: int, seconds: float):
        self.port, self.seconds = port, seconds
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.attack: dict[str, int] = {}

    def _count(self, table, key):
        table[key] = table.get(key, 0) + 1

    async def good(self, stop_at):
        body = canvas_png()
        head = (f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        reader = writer = None
        while time.monotonic() < stop_at:
            t_next = time.monotonic() + GOOD_EVERY
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                t0 = time.perf_counter()
                writer.write(head + body)
                await writer.drain()
                status = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                self.latencies.append(time.perf_counter() - t0)
                code = status.split()[1].decode() if status else "none"
                if code != "200":
                    self._count(self.errors, code)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                self._count(self.errors, type(exc).__name__)
                writer = None
            await asyncio.sleep(max(0.0, t_next - time.monotonic()))
        if writer is not None:
            writer.close()

    async def idle(self, stop_at):
        while time.monotonic() < stop_at:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                self._count(self.attack, "idle connect failed")
                await asyncio.sleep(1)
                continue
            try:
                await asyncio.wait_for(reader.read(), max(0.1, stop_at - time.monotonic()))
                self._count(self.attack, "idle closed by server")
            except (asyncio.TimeoutError, ConnectionError):
                pass
            writer.close()

    async def slow(self, stop_at):
        while time.monotonic() < stop_at:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.write(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                i = 0
                while time.monotonic() < stop_at and not reader.at_eof():
                    try:
                        data = await asyncio.wait_for(reader.read(4096), min(5.0, max(0.1, stop_at - time.monotonic())))
                        if data.startswith(b"HTTP/1.1 408"):
                            self._count(self.attack, "slow-header 408")
                        if not data:
                            break
                    except asyncio.TimeoutError:
                        i += 1
                        writer.write(b"X-Slow-%d: a\r\n" % i)
                writer.close()
            except (ConnectionError, OSError):
                await asyncio.sleep(0.5)

    async def bombs(self, stop_at, payloads):
        while time.monotonic() < stop_at:
            await asyncio.sleep(10)
            answers = await asyncio.gather(*(_post(self.port, c, b) for c, b in payloads), return_exceptions=True)
            for a in answers:
                self._count(self.attack, f"bomb {a[0]}" if isinstance(a, tuple) else f"bomb {type(a).__name__}")
            for raw in (b"GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 2**20 + b"\r\n\r\n",
                        b"GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: x\r\n\r\n"):
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                    writer.write(raw)
                    status = await asyncio.wait_for(reader.readline(), 30)
                    self._count(self.attack, "bad request " + (status.split()[1].decode() if status else "none"))
                    writer.close()
                except (ConnectionError, asyncio.TimeoutError, IndexError) as exc:
                    self._count(self.attack, f"bad request {type(exc).__name__}")

    async def run(self, payloads):
        stop_at = time.monotonic() + self.seconds
        await asyncio.gather(*[self.good(stop_at) for _ in range(GOOD_CLIENTS)],
                             *[self.idle(stop_at) for _ in range(IDLE)],
                             *[self.slow(stop_at) for _ in range(SLOW)], self.bombs(stop_at, payloads))


def case(seconds: float) -> dict:
    payloads = bombs()
    rss: list[tuple[float, float]] = []
    with served() as (server, port):
        asyncio.run(_post(port, "image/png", canvas_png()))  # warm-up
        time.sleep(1.0)
        idle = _rss_mb(server.pid)
        stop = threading.Event()

        def sample():
            t0 = time.monotonic()
            while not stop.wait(1.0):
                rss.append((time.monotonic() - t0, _rss_mb(server.pid)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        soak = Soak(port, seconds)
        try:
            asyncio.run(soak.run(payloads))
        finally:
            stop.set()
            sampler.join()
        time.sleep(2.0)
        after = _rss_mb(server.pid)
        alive = server.poll() is None
    return {"seconds": seconds, "latencies": soak.latencies, "errors": soak.errors, "attack": soak.attack,
            "idle": idle, "rss": rss, "after": after, "alive": alive}


def run(quick: bool) -> list[dict]:
    r = case(60.0 if quick else 600.0)
    lat = np.array(r["latencies"]) * 1000
    n_err = sum(r["errors"].values())
    values = [v for _, v in r["rss"]]
    per_minute = [f"{v:.0f}" for t, v in r["rss"] if int(t) % 60 == 59] or [f"{values[-1]:.0f}"]
    bounded = max(values) - r["idle"] <= 300 and r["after"] - r["idle"] <= 100
    ok = n_err == 0 and bounded and r["alive"] and len(lat) > 0
    attack = ", ".join(f"{k}: {v}" for k, v in sorted(r["attack"].items()))
    errors = f"{n_err} errors {r['errors']}" if n_err else "0 errors"
    notes = (f"{len(lat)} good requests, {errors}; latency p50 {np.percentile(lat, 50):.0f} ms, "
             f"p99 {np.percentile(lat, 99):.0f} ms, max {lat.max():.0f} ms; server RSS idle {r['idle']:.0f} MB, "
             f"max {max(values):.0f}, after {r['after']:.0f}; per minute {', '.join(per_minute)} MB; attackers: {attack}; "
             f"target: 0 errors, RSS bounded (max <= idle + 300 MB, back within 100 MB): {'met' if ok else 'NOT met'}")
    case_name = (f"serve, {r['seconds'] / 60:.0f} min: {GOOD_CLIENTS} good clients (every {GOOD_EVERY * 1000:.0f} ms), "
                 f"{IDLE} idle + {SLOW} slow-header connections, bombs and bad requests every 10 s")
    return [{"section": SECTION, "case": case_name, "seconds": float(np.percentile(lat, 99) / 1000),
             "peak_rss_mb": max(values), "iterations": len(lat), "accuracy": None, "baseline": None,
             "ratio": None, "notes": "seconds = p99 of the good requests; " + notes}]


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=2))
