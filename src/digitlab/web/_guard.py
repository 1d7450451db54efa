"""ASGI middleware in front of every request: Host and Origin checks, request limit, body cap and
deadline, safe headers.

It is plain ASGI (not ``BaseHTTPMiddleware``) so it can refuse a request from its headers before
the body is read, and count a chunked body as it streams in.
"""

from __future__ import annotations

import asyncio
import json
import time

LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
MAX_BODY = 5 * 2**20  # 5 MB: a photo of a digit is far smaller
BODY_SECONDS = 10.0  # a client slower than this to send its body gets 408 (slowloris)
LIMIT_CONCURRENCY = 64  # requests in progress (not connections: silent sockets must not count)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    # the page only loads its own files; images shown are data: URLs made by the server
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data: blob:; "
                                 b"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
]
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# What a POST may declare. Another web page can make a browser send text/plain,
# application/x-www-form-urlencoded, multipart/form-data or no Content-Type without a CORS
# preflight (which this server never grants), so those are refused -- multipart only when the
# request does not come from this server's own page (browsers send Origin with every POST).
BODY_TYPES = ("image/*", "application/json", "application/octet-stream")


class ApiError(Exception):
    """An error answered as ``{"error": code, "detail": detail}`` with an HTTP status."""

    def __init__(self, status: int, error: str, detail: str):
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


def host_name(value: str) -> str:
    """``"127.0.0.1:8000"`` -> ``"127.0.0.1"``; ``"[::1]:8000"`` -> ``"[::1]"``."""
    return _authority(value)[0]


def _authority(value: str, default_port: int = 80) -> tuple[str, int | None]:
    """``"[::1]:8000"`` -> ``("[::1]", 8000)``; ``"localhost"`` -> ``("localhost", 80)``; a bad port -> None."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        host, rest = (value[: end + 1], value[end + 1:]) if end >= 0 else (value, "")
    elif value.count(":") == 1:
        host, rest = value.split(":")
        rest = ":" + rest
    else:
        host, rest = value, ""
    if not rest:
        return host, default_port
    port = rest[1:]
    return host, int(port) if rest.startswith(":") and port.isdigit() and len(port) <= 5 else None


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


class Guard:
    """Refuse foreign Host headers (400), requests from other web pages (403/415), requests over
    *limit_concurrency* (503), bodies over *max_body* (413) and slow bodies (408)."""

    def __init__(self, app, *, allowed_hosts=LOCAL_HOSTS, max_body: int = MAX_BODY,
                 body_seconds: float = BODY_SECONDS, limit_concurrency: int = LIMIT_CONCURRENCY):
        self.app = app
        self.allowed = {h.lower() for h in allowed_hosts}
        self.max_body = max_body
        self.body_seconds = body_seconds
        self.limit = limit_concurrency
        self.active = 0  # requests in progress in this process (one event loop: no lock needed)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {}
        for k, v in scope.get("headers", []):
            headers.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))
        host = host_name(headers.get("host", ""))
        if host not in self.allowed:
            # DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own Host
            return await _send_json(send, 400, "bad_host", "Host header must be localhost, 127.0.0.1 or [::1]")
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return await _send_json(send, 400, "bad_request", "Content-Length is not a number")
            if int(length) > self.max_body:
                return await _send_json(send, 413, "too_large", f"request body is {int(length):,} bytes; "
                                        f"the limit is {self.max_body:,} (5 MB)")
        if scope["method"] not in SAFE_METHODS:
            refused = self._cross_site(scope, headers)
            if refused:
                return await _send_json(send, *refused)
        if self.active >= self.limit:
            return await _send_json(send, 503, "busy", f"the server is busy ({self.active} requests in progress, "
                                    "the limit of --limit-concurrency); retry shortly", [(b"retry-after", b"1")])
        self.active += 1
        try:
            await self._guarded(scope, receive, send)
        finally:
            self.active -= 1

    def _cross_site(self, scope, headers: dict) -> tuple[int, str, str] | None:
        """Why a state-changing request must be refused as possibly sent by another web page (H7)."""
        origin = headers.get("origin")
        if origin is not None and not self._same_origin(origin, scope, headers.get("host", "")):
            return 403, "cross_origin", (f"Origin {origin[:100]!r} is not this server; the API does not answer "
                                         "other web pages")
        if scope["method"] != "POST":
            return None
        ctype = _media_type(headers.get("content-type", ""))
        if ctype == "multipart/form-data":
            if origin is None:
                return 403, "cross_origin", ("multipart/form-data is accepted only from this server's page (it sends "
                                             "an Origin header); send the image bytes with Content-Type image/* or "
                                             "application/octet-stream, or JSON")
            return None
        if ctype.startswith("image/") or ctype in BODY_TYPES:
            return None
        got = f"{ctype[:100]!r}" if ctype else "missing"
        return 415, "unsupported_media_type", (f"Content-Type {got}: send the image with Content-Type image/* or "
                                               "application/octet-stream, or JSON with application/json")

    def _same_origin(self, origin: str, scope, host_header: str) -> bool:
        scheme, sep, rest = origin.strip().lower().partition("://")
        if not sep or scheme != scope.get("scheme", "http") or "/" in rest:
            return False  # includes "null" (sandboxed frames, file: pages)
        host, port = _authority(rest, 443 if scheme == "https" else 80)
        # any of this server's names (localhost and 127.0.0.1 are the same server) on its port
        return host in self.allowed and port is not None and port == _authority(host_header)[1]

    async def _guarded(self, scope, receive, send):
        seen = 0
        deadline = time.monotonic() + self.body_seconds

        async def capped_receive():
            nonlocal seen
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                raise ApiError(408, "timeout", f"request body not received within {self.body_seconds:g} s") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:  # chunked bodies have no Content-Length: count them
                    raise ApiError(413, "too_large", f"request body is over the limit of {self.max_body:,} bytes (5 MB)")
            return message

        async def secured_send(message):
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, capped_receive, secured_send)


async def _send_json(send, status: int, error: str, detail: str, extra=()) -> None:
    body = json.dumps({"error": error, "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *extra, *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
