"""Idle and slow-header connections against ``digitlab serve`` (BAD-INPUTS H5, issue 10 §3).

200 connections that send nothing and 50 that send a request line, then one header line every
5 s, are opened and held; meanwhile a normal client makes fresh-connection requests (each timed).
Then every attack connection is watched until the server closes it. Acceptance: every normal
request gets 200 within 1 s while all 250 are open (more than ``--limit-concurrency``'s 64), the
idle ones are closed by the idle timeout (5 s), the slow ones by the header timeout (10 s, with 408).
"""

from __future__ import annotations

import asyncio
import time

import numpy as np

from .bench_web import canvas_png, served

SECTION = "web app: hostile connections (H5)"
IDLE, SLOW = 200, 50
IDLE_SECONDS, HEADER_SECONDS = 5.0, 10.0  # digitlab.web._protocol's defaults


async def _watch(reader, opened: float) -> tuple[float, bytes, float | None]:
    """Seconds from *opened* until the server closed the connection, what it sent, and when the
    first of that arrived."""
    data, first = b"", None
    try:
        while chunk := await reader.read(4096):
            first = first or time.monotonic() - opened
            data += chunk
    except ConnectionError:
        pass
    return time.monotonic() - opened, data, first


async def _drip(writer, every: float):
    i = 0
    try:
        while True:
            await asyncio.sleep(every)
            i += 1
            writer.write(b"X-Slow-%d: a\r\n" % i)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass


async def _request(port: int, body: bytes) -> tuple[int, float]:
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    await writer.drain()
    status = await reader.readline()
    await reader.read()  # until the server closes (Connection: close)
    writer.close()
    return int(status.split()[1]) if status else 0, time.perf_counter() - t0


async def _attack(port: int, n_requests: int, every: float) -> dict:
    body = canvas_png()
    await _request(port, body)  # warm-up
    idle, slow, drips = [], [], []
    for _ in range(IDLE):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        idle.append((asyncio.create_task(_watch(reader, time.monotonic())), writer))
    for _ in range(SLOW):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        slow.append((asyncio.create_task(_watch(reader, time.monotonic())), writer))
        drips.append(asyncio.create_task(_drip(writer, every)))
    held_at = time.monotonic()
    results, open_counts = [], []
    # normal requests while every attack connection is still open (before the first timeout)
    while len(results) < n_requests and time.monotonic() - held_at < IDLE_SECONDS - 1.5:
        open_counts.append(sum(not t.done() for t, _ in idle + slow))
        results.append(await _request(port, body))
        await asyncio.sleep(0.1)
    idle_closed = await asyncio.wait_for(asyncio.gather(*(t for t, _ in idle)), 120)
    slow_closed = await asyncio.wait_for(asyncio.gather(*(t for t, _ in slow)), 120)
    for d in drips:
        d.cancel()
    for _, w in idle + slow:
        w.close()
    after = await _request(port, body)
    return {"statuses": [s for s, _ in results], "latencies": [t for _, t in results],
            "open_during": min(open_counts) if open_counts else 0,
            "idle_close_s": [t for t, _, _ in idle_closed], "idle_sent": sum(len(d) for _, d, _ in idle_closed),
            "slow_close_s": [t for t, _, _ in slow_closed], "slow_answer_s": [f or 1e9 for _, _, f in slow_closed],
            "slow_408": sum(d.startswith(b"HTTP/1.1 408") for _, d, _ in slow_closed), "after": after[0]}


def case(workers: int = 1, n_requests: int = 20, every: float = 5.0) -> dict:
    with served(workers=workers) as (server, port):  # default --limit-concurrency 64
        t0 = time.perf_counter()
        r = asyncio.run(_attack(port, n_requests, every))
    r["seconds"] = time.perf_counter() - t0
    r["workers"] = workers
    return r


def run(quick: bool) -> list[dict]:
    rows = []
    for workers in ((1,) if quick else (1, 2)):
        r = case(workers, n_requests=10 if quick else 20)
        lat = np.array(r["latencies"]) * 1000
        ok200 = sum(s == 200 for s in r["statuses"])
        idle_max, answer_max = max(r["idle_close_s"]), max(r["slow_answer_s"])
        met = (ok200 == len(r["statuses"]) > 0 and lat.max() <= 1000 and r["open_during"] >= IDLE + SLOW
               and idle_max <= IDLE_SECONDS + 1.5 and answer_max <= HEADER_SECONDS + 1.5 and r["slow_408"] == SLOW)
        notes = (f"{ok200}/{len(r['statuses'])} normal requests 200 with all {r['open_during']} attack connections "
                 f"open, latency p50 {np.median(lat):.0f} ms, max {lat.max():.0f} ms; idle closed after "
                 f"{min(r['idle_close_s']):.1f}-{idle_max:.1f} s (nothing sent), slow-header answered 408 JSON "
                 f"after {min(r['slow_answer_s']):.1f}-{answer_max:.1f} s ({r['slow_408']}/{SLOW}), end of stream "
                 f"after {min(r['slow_close_s']):.1f}-{max(r['slow_close_s']):.1f} s; status after the attack "
                 f"{r['after']}; target: all 200 within 1 s, idle closed by "
                 f"{IDLE_SECONDS:g} s, slow answered by {HEADER_SECONDS:g} s (+1.5 s slack): "
                 f"{'met' if met else 'NOT met'}")
        rows.append({"section": SECTION, "case": f"serve --workers {r['workers']}: {IDLE} idle + {SLOW} slow-header "
                     "connections (one line / 5 s)", "seconds": float(lat.max() / 1000), "peak_rss_mb": None,
                     "iterations": len(r["statuses"]), "accuracy": None, "baseline": None, "ratio": None,
                     "notes": "seconds = slowest normal request; " + notes})
    return rows


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=2))
