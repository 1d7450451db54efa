"""Load test of ``digitlab serve``: concurrent ``POST /api/predict`` on 127.0.0.1.

The server runs as its own process (``python -m digitlab serve``, as a user starts it) with a
``logreg`` run trained here on 10,000 MNIST images. The client is a small asyncio loop speaking
keep-alive HTTP/1.1 over raw sockets (cheap, so the two cores go to the server), sending the
PNG a 280x280 drawing canvas produces. Bounded by time: ~20 s (5 s with ``--quick``).
Target on two cores: >= 300 requests/s, p99 < 50 ms, 0 errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SECTION = "web app: POST /api/predict (logreg, canvas PNG)"
CONCURRENCY = 8


def canvas_png() -> bytes:
    """A 7 drawn with a thick round pen on a white 280x280 canvas, like the page sends."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (280, 280), 255)
    d = ImageDraw.Draw(img)
    d.line([(84, 62), (196, 62), (164, 140), (132, 224)], fill=17, width=20, joint="curve")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_run(runs_dir: Path) -> str:
    from digitlab import datasets, training

    ds = datasets.load("mnist", download=False)
    return training.train(ds, "logreg", limit=10000, evaluate=False, runs_dir=runs_dir).id


async def _client(port, body, stop_at, latencies, errors, statuses):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    try:
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            writer.write(head + body)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            status = int(status_line.split()[1]) if status_line else 0
            statuses[status] = statuses.get(status, 0) + 1
            if status != 200:
                errors.append(status)
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        errors.append(type(exc).__name__)
    finally:
        writer.close()


async def _load(port, seconds, concurrency):
    body = canvas_png()
    latencies, errors, statuses = [], [], {}
    # warm-up: first requests load numpy/sklearn code paths
    await _client(port, body, time.perf_counter() + 1.0, [], [], {})
    t0 = time.perf_counter()
    stop_at = t0 + seconds
    await asyncio.gather(*[_client(port, body, stop_at, latencies, errors, statuses) for _ in range(concurrency)])
    return latencies, errors, statuses, time.perf_counter() - t0


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _tree(pid: int) -> list[int]:
    """*pid* and its descendants (``serve --workers N`` runs N worker processes)."""
    out = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            for child in fh.read().split():
                out += _tree(int(child))
    except OSError:
        pass
    return out


def _cpu_seconds(pid: int) -> float:
    """utime + stime of the server and its workers, from /proc (their own CPU, whatever else runs)."""
    total = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def _wait_idle(pid: int, timeout: float = 60.0) -> None:
    """Until the server's processes use under 5% of a core for half a second."""
    deadline = time.monotonic() + timeout
    last = _cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _cpu_seconds(pid)
        if now - last < 0.025:
            return
        last = now


@contextlib.contextmanager
def served(*args: str, workers: int = 1):
    """Yield ``(server Popen, port)`` of ``digitlab serve`` on a ``logreg`` run trained here, started
    as a user starts it, after its processes have gone idle. *args*: more ``serve`` options."""
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        run_id = _train_run(runs)
        port = _free_port()
        env = {**os.environ, "DIGITLAB_RUNS_DIR": str(runs)}
        log = open(Path(tmp) / "serve.log", "w+b")  # a file, not a pipe: a full pipe would stall the server
        server = subprocess.Popen([sys.executable, "-m", "digitlab", "serve", run_id, "--port", str(port),
                                   "--workers", str(workers), *args], env=env,
                                  stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise RuntimeError("server did not start: " + log.read().decode()[-500:])
                    time.sleep(0.1)
            _wait_idle(server.pid)  # worker processes import and load the model after the port opens
            yield server, port
        finally:
            server.terminate()  # only the process started here, by its PID
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()


def load_case(seconds: float, concurrency: int = CONCURRENCY, workers: int = 1) -> dict:
    with served("--limit-concurrency", "256", workers=workers) as (server, port):
        cpu0 = _cpu_seconds(server.pid)
        latencies, errors, statuses, wall = asyncio.run(_load(port, seconds, concurrency))
        cpu = _cpu_seconds(server.pid) - cpu0  # includes the 1 s warm-up's requests
        rss = sum(_rss_mb(p) or 0 for p in _tree(server.pid))
        load = os.getloadavg()[0]
    lat = np.array(latencies) * 1000
    n = len(lat)
    p50, p99 = (float(np.percentile(lat, 50)), float(np.percentile(lat, 99))) if n else (None, None)
    return {"requests": n, "seconds": wall, "rps": n / wall, "p50_ms": p50, "p99_ms": p99,
            "errors": len(errors), "statuses": statuses, "server_rss_mb": rss, "concurrency": concurrency,
            "server_cpu_s": cpu, "loadavg": load, "workers": workers}


def run(quick: bool) -> list[dict]:
    return [_row(load_case(5.0 if quick else 20.0, workers=w)) for w in (1, 2)]


def _row(r: dict) -> dict:
    ok = r["rps"] >= 300 and (r["p99_ms"] or 1e9) < 50 and r["errors"] == 0
    notes = (f"{r['rps']:.0f} req/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
             f"{r['errors']} errors, {r['concurrency']} keep-alive clients; server CPU "
             f"{1000 * r['server_cpu_s'] / max(1, r['requests']):.1f} ms/request (upper bound), "
             f"load average {r['loadavg']:.1f} on {os.cpu_count()} cores; target >= 300 req/s, "
             f"p99 < 50 ms, 0 errors: {'met' if ok else 'NOT met'}")
    case = f"serve --workers {r['workers']}: {r['concurrency']} concurrent clients, {r['seconds']:.0f} s"
    return {"section": SECTION, "case": case, "seconds": r["seconds"], "peak_rss_mb": r["server_rss_mb"],
            "iterations": r["requests"], "accuracy": None, "baseline": None, "ratio": None, "notes": notes}


if __name__ == "__main__":
    import json

    print(json.dumps(run("--quick" in sys.argv), indent=2))
