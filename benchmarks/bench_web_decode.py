"""Server memory under concurrent image bombs (BAD-INPUTS H6, issue 10 §4).

``digitlab serve`` (one process) gets 16 uploads at once, three times: the issue's bomb (a
~180 KB PNG of 6300x6300 RGBA, 160 MB decoded), the largest RGBA PNG the decode budget accepts,
and a mix of the largest accepted image of each format. The server's RSS is sampled every 10 ms
from /proc. Acceptance: RSS rises by at most 300 MB over idle during each burst, and is back
within 100 MB of idle once it is over.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time

from .bench_web import canvas_png, served

SECTION = "web app: decode memory (H6)"
BURST = 16


def _seven(side: int, mode: str):
    """A 7 drawn with a thick pen on a *side* x *side* image of *mode*, opaque."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (side, side), 255)
    d = ImageDraw.Draw(img)
    pts = [(side * 0.3, side * 0.22), (side * 0.7, side * 0.22), (side * 0.58, side * 0.5), (side * 0.47, side * 0.8)]
    d.line(pts, fill=17, width=max(3, side // 14), joint="curve")
    return img.convert(mode)


def _encode(img, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def uploads() -> dict[str, list[tuple[str, bytes]]]:
    """{case: [(content type, body), ...]} for the bursts."""
    bomb = _encode(_seven(6300, "RGBA"), "PNG", compress_level=9)
    big_png = _encode(_seven(4800, "RGBA"), "PNG", compress_level=9)  # 88 MB decoded: under the 96 MB budget
    mix = [("image/png", big_png),
           ("image/webp", _encode(_seven(2300, "RGB"), "WEBP", lossless=True)),  # 4.5 x 21 MB
           ("image/jpeg", _encode(_seven(6000, "RGB").resize((6000, 4000)), "JPEG", progressive=True)),  # 24 MP
           ("image/png", _encode(_seven(6300, "P"), "PNG", compress_level=9)),  # 40 MP palette
           ("image/gif", _encode(_seven(6300, "P"), "GIF"))]
    return {"the issue's bomb: 6300x6300 RGBA PNG": [("image/png", bomb)] * BURST,
            "largest accepted RGBA PNG (4800x4800)": [("image/png", big_png)] * BURST,
            "largest accepted of each format (PNG, WebP, progressive JPEG, palette PNG, GIF)":
                [mix[i % len(mix)] for i in range(BURST)]}


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """The server's RSS every 10 ms in a thread: ``with Sampler(pid) as s: ...; s.peak``."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_mb(self.pid))
            self._stop.wait(0.01)

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


async def _post(port: int, ctype: str, body: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    return (int(head.split()[1]) if head else 0), rest


async def _burst(port: int, bodies) -> list[tuple[int, bytes]]:
    return await asyncio.gather(*(_post(port, c, b) for c, b in bodies))


def _settled(pid: int, idle: float, timeout: float = 20.0) -> float:
    """RSS once it stops falling (or is back within 100 MB of *idle*), at most *timeout* s."""
    deadline = time.monotonic() + timeout
    last = _rss_mb(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _rss_mb(pid)
        if now - idle <= 100 or now >= last - 1:
            return now
        last = now
    return _rss_mb(pid)


def case() -> list[dict]:
    cases = uploads()
    out = []
    with served() as (server, port):
        asyncio.run(_burst(port, [("image/png", canvas_png())] * 4))  # warm-up
        for name, bodies in cases.items():
            time.sleep(1.0)
            idle = _rss_mb(server.pid)
            t0 = time.perf_counter()
            with Sampler(server.pid) as s:
                answers = asyncio.run(_burst(port, bodies))
            seconds = time.perf_counter() - t0
            after = _settled(server.pid, idle)
            statuses: dict[int, int] = {}
            for st, _ in answers:
                statuses[st] = statuses.get(st, 0) + 1
            sizes = sorted({len(b) for _, b in bodies})
            out.append({"name": name, "idle": idle, "peak": s.peak, "after": after, "seconds": seconds,
                        "statuses": statuses, "sizes": sizes,
                        "detail": next((b[:160].decode(errors="replace") for st, b in answers if st != 200), "")})
    return out


def run(quick: bool) -> list[dict]:
    rows = []
    for r in case():
        rise, back = r["peak"] - r["idle"], r["after"] - r["idle"]
        ok = rise <= 300 and back <= 100
        kb = ", ".join(f"{s / 1024:.0f}" for s in r["sizes"])
        notes = (f"{BURST} concurrent uploads ({kb} KB); answers {r['statuses']}; server RSS idle "
                 f"{r['idle']:.0f} MB, peak {r['peak']:.0f} MB (+{rise:.0f}), after {r['after']:.0f} MB "
                 f"(+{back:.0f}); target: rise <= 300 MB, back within 100 MB: {'met' if ok else 'NOT met'}")
        if r["detail"]:
            notes += f"; e.g. {r['detail']}"
        rows.append({"section": SECTION, "case": r["name"], "seconds": r["seconds"], "peak_rss_mb": r["peak"],
                     "iterations": BURST, "accuracy": None, "baseline": None, "ratio": None,
                     "notes": "seconds = the whole burst; " + notes})
    return rows


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=2))
