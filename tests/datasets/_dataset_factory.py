"""Small synthetic IDX datasets, broken variants of them, and a local HTTP server.

Imported by the dataset tests and by ``tests/cli/test_data_cli.py``; nothing here touches the
network beyond 127.0.0.1.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import struct
import threading
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from digitlab.datasets._registry import MNIST, ROLES, RemoteDataset
from digitlab.datasets.idx import idx_bytes

NAMES = MNIST.files  # role -> canonical (uncompressed) file name


def tiny_arrays(n_train: int = 20, n_test: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """Four arrays shaped like MNIST's (28x28 uint8 images, labels 0-9), but tiny."""
    rng = np.random.default_rng(seed)
    return {
        "train-images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test-images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test-labels": (np.arange(n_test)[::-1] % 10).astype(np.uint8),
    }


def md5s(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    return {role: hashlib.md5(idx_bytes(a)).hexdigest() for role, a in arrays.items()}


def tiny_remote(arrays: dict[str, np.ndarray], name: str = "mnist", mirrors=("http://127.0.0.1:9/",)):
    """A registry entry for *arrays* with MNIST's file names (so it can stand in for MNIST)."""
    return RemoteDataset(name=name, files=dict(NAMES), md5=md5s(arrays), mirrors=tuple(mirrors),
                         classes=tuple(str(i) for i in range(10)))


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def write_set(folder: Path, arrays: dict[str, np.ndarray], *, compress: bool = True,
              override: dict[str, bytes] | None = None) -> dict[str, Path]:
    """Write the four IDX files into *folder*; *override* replaces a role's file bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for role in ROLES:
        data = idx_bytes(arrays[role])
        name = NAMES[role] + (".gz" if compress else "")
        if override and role in override:
            data = override[role]
        elif compress:
            data = gz(data)
        paths[role] = folder / name
        paths[role].write_bytes(data)
    return paths


def header(*dims: int, dtype: int = 0x08) -> bytes:
    return bytes([0, 0, dtype, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


def corrupt_deflate(data: bytes) -> bytes:
    """A gzip stream whose deflate data is invalid (zlib.error, which is not an OSError)."""
    raw = bytearray(gz(data))
    raw[10] = 0xFF  # first byte of the deflate stream: BTYPE=11 is reserved -> "invalid block type"
    return bytes(raw)


def bad_crc(data: bytes) -> bytes:
    raw = bytearray(gz(data))
    raw[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    return bytes(raw)


def gzip_bomb(head: bytes, zeros: int = 256 * 2**20) -> bytes:
    """*head* followed by *zeros* zero bytes as a ~1000:1 gzip, built in a fraction of a second.

    After a full flush the deflate state is reset, so every 1 MiB block of zeros compresses to
    the same bytes: one block is compressed and repeated, then the gzip trailer is computed.
    """
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate; the gzip wrapper is added below
    block = bytes(2**20)
    first = comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH)
    packed = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    n = zeros // len(block)
    crc = zlib.crc32(head)
    for _ in range(n):
        crc = zlib.crc32(block, crc)
    size = (len(head) + n * len(block)) & 0xFFFFFFFF
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + first + packed * n + comp.flush()
            + struct.pack("<II", crc, size))


def snapshot(*folders: Path) -> dict[str, bytes]:
    """Every file under *folders* with its bytes: 'nothing written' means equal snapshots."""
    snap = {}
    for folder in folders:
        if Path(folder).exists():
            for p in sorted(Path(folder).rglob("*")):
                if p.is_file():
                    snap[str(p)] = p.read_bytes()
    return snap


def free_port() -> int:
    """A port nothing listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FileServer(http.server.ThreadingHTTPServer):
    """Serves ``files`` ({name: bytes}) at ``url``; ``modes[name]`` scripts the next answers.

    Modes: ``"ok"``, ``"404"``, ``"drop"`` (Content-Length sent, half the body, then the connection
    is closed), ``"drop-nolength"`` (no Content-Length, half the body, close). When a name's list
    of modes is used up, answers are ``"ok"``. ``hits[name]`` counts requests.
    """

    daemon_threads = True

    def __init__(self, files: dict[str, bytes]):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files = dict(files)
        self.modes: dict[str, list[str]] = defaultdict(list)
        self.hits: dict[str, int] = defaultdict(int)
        self.delay = 0.0
        self.lock = threading.Lock()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/"

    def next_mode(self, name: str) -> str:
        with self.lock:
            self.hits[name] += 1
            return self.modes[name].pop(0) if self.modes[name] else "ok"


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        import time

        srv: FileServer = self.server
        name = self.path.lstrip("/")
        mode = srv.next_mode(name)
        body = srv.files.get(name)
        if srv.delay:
            time.sleep(srv.delay)
        if body is None or mode == "404":
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if mode != "drop-nolength":
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if mode == "ok":
            self.wfile.write(body)
            return
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def file_server():
    """Start a :class:`FileServer` on 127.0.0.1 in a thread; ``srv.files`` starts empty."""
    srv = FileServer({})
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def fast_retries(monkeypatch):
    """No backoff sleeps between download attempts."""
    from digitlab.datasets import _fetch

    monkeypatch.setattr(_fetch, "BACKOFF", 0.0)
    monkeypatch.setattr(_fetch, "TIMEOUT", 5)
    return _fetch


def image_folder(root: Path, counts: dict[str, int], *, seed: int = 0) -> Path:
    """A folder dataset: sub-folder *name* holds ``counts[name]`` small PNG strokes, all different.

    Sub-folders named ``0``..``9`` make a digit dataset (classes 0–9, whether or not every digit
    has a folder); other names are the classes themselves.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    for name, n in counts.items():
        for i in range(n):
            a = np.zeros((28, 28), dtype=np.uint8)
            top, left = rng.integers(2, 10), rng.integers(4, 12)
            a[top:top + rng.integers(10, 17), left:left + rng.integers(3, 12)] = 255
            path = Path(root) / name / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(a).save(path)
    return Path(root)
