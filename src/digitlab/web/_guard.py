"""ASGI middleware in front of every request: Host check, body cap, body deadline, safe headers.

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
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    # the page only loads its own files; images shown are data: URLs made by the server
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data: blob:; "
                                 b"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
]


class ApiError(Exception):
    """An error answered as ``{"error": code, "detail": detail}`` with an HTTP status."""

    def __init__(self, status: int, error: str, detail: str):
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


def host_name(value: str) -> str:
    """``"127.0.0.1:8000"`` -> ``"127.0.0.1"``; ``"[::1]:8000"`` -> ``"[::1]"``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    """Refuse foreign Host headers (400), bodies over *max_body* (413) and slow bodies (408)."""

    def __init__(self, app, *, allowed_hosts=LOCAL_HOSTS, max_body: int = MAX_BODY,
                 body_seconds: float = BODY_SECONDS):
        self.app = app
        self.allowed = {h.lower() for h in allowed_hosts}
        self.max_body = max_body
        self.body_seconds = body_seconds

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


async def _send_json(send, status: int, error: str, detail: str) -> None:
    body = json.dumps({"error": error, "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
