"""uvicorn's HTTP/1.1 protocol with the timeouts a server left running needs (BAD-INPUTS H5, G14).

Written against uvicorn 0.54 (``uvicorn.protocols.http.httptools_impl.HttpToolsProtocol``) and
httptools 0.9; it overrides the parser callbacks ``on_message_begin``/``on_headers_complete``,
``connection_made``/``connection_lost``, ``on_response_complete`` and ``send_400_response``.

Why a subclass: uvicorn arms its only timer (``timeout_keep_alive``) after a response, so a
connection that never sends a request, or sends its headers one line every few seconds, is held
forever; and its ``limit_concurrency`` counts open connections, so 64 silent sockets made every
other request a 503. Here:

- a new connection must start its request within ``idle_seconds`` (as a kept-alive one must);
- a request's line and headers must be complete ``header_seconds`` after its first byte,
  else 408 (JSON) and the connection is closed; and they may take at most ``max_header_bytes``,
  else 431 (httptools hands a long header over in pieces that are joined by repeated copying:
  60 MB of one header line kept the event loop busy for the whole 10 s);
- at most ``max_waiting`` connections may wait without a request in progress; a new one beyond
  that closes the one waiting longest, so a flood of silent sockets cannot use up the process's
  file descriptors;
- the request limit (``--limit-concurrency``) is the Guard's (``_guard.py``), which counts requests,
  not connections: uvicorn's own is switched off;
- uvicorn's plain-text 400 for a malformed request is JSON ``{error, detail}`` like every answer.
"""

from __future__ import annotations

import json
from collections import OrderedDict

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

IDLE_SECONDS = 5  # a connection with no request started is closed after this (uvicorn's keep-alive default)
HEADER_SECONDS = 10.0  # a request's line and headers must arrive within this after its first byte
MAX_WAITING = 1000  # connections without a request in progress, per server process
MAX_HEADER_BYTES = 64 * 1024  # request line and headers; a browser sends a few KB
LINGER_SECONDS = 2.0  # after an error answer, what the client still sends is read and dropped this long


def _json_response(status: int, error: str, detail: str) -> bytes:
    body = json.dumps({"error": error, "detail": detail}).encode()
    return b"".join([STATUS_LINE[status], b"content-type: application/json\r\n",
                     b"content-length: %d\r\n" % len(body), b"connection: close\r\n\r\n", body])


class DigitlabHttpProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` plus idle and header timeouts and a cap on waiting connections."""

    idle_seconds: float = IDLE_SECONDS
    header_seconds: float = HEADER_SECONDS
    max_waiting: int = MAX_WAITING
    max_header_bytes: int = MAX_HEADER_BYTES

    _timer = None
    _discarding = False  # answered with an error: input is dropped until the connection closes
    _header_bytes = 0  # bytes received since the current request began, until its headers are complete
    _in_headers = True  # no request, or one whose headers are not complete yet

    # ---- waiting connections (no request in progress), oldest first ------------------------------
    def _waiting(self) -> OrderedDict:
        # one registry per server (uvicorn's ServerState is per server process)
        try:
            return self.server_state.digitlab_waiting
        except AttributeError:
            self.server_state.digitlab_waiting = OrderedDict()
            return self.server_state.digitlab_waiting

    def _start_waiting(self) -> None:
        waiting = self._waiting()
        waiting[self] = None
        waiting.move_to_end(self)
        while len(waiting) > self.max_waiting:
            oldest, _ = waiting.popitem(last=False)
            oldest._close_quietly()

    def _stop_waiting(self) -> None:
        self._waiting().pop(self, None)

    def _arm(self, seconds: float, callback) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _close_quietly(self) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.close()

    # ---- protocol and parser callbacks -------------------------------------------------------
    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.idle_seconds, self._close_quietly)
        self._start_waiting()

    def connection_lost(self, exc) -> None:
        self._disarm()
        self._stop_waiting()
        super().connection_lost(exc)

    def _reject(self, status: int, error: str, detail: str) -> None:
        """Answer with an error and close; what the client is still sending is read and dropped for
        ``LINGER_SECONDS`` first (closing with unread input sends a TCP reset, which can make the
        client lose the answer)."""
        self._stop_waiting()
        self._discarding = True
        self.transport.write(_json_response(status, error, detail))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._arm(LINGER_SECONDS, self._close_quietly)

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        super().data_received(data)
        if self._in_headers and not self.transport.is_closing() and not self._discarding and (
                self.cycle is None or self.cycle.response_complete):  # not while a pipelined request runs
            # counted after parsing: *data* may hold the end of the headers and a body
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes:
                self._reject(431, "headers_too_large", f"request line and headers are over "
                                                       f"{self.max_header_bytes // 1024} KB")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers, self._header_bytes = True, 0
        self._arm(self.header_seconds, self._header_timeout)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._disarm()
        self._stop_waiting()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # starts a pipelined request, or arms the keep-alive timer
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._start_waiting()

    def _header_timeout(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # a pipelined request's headers wait while the previous response is sent (reading is
            # paused meanwhile): that is our slowness, not the client's
            self._arm(self.header_seconds, self._header_timeout)
            return
        self._reject(408, "timeout", f"request headers not received within {self.header_seconds:g} s")

    def send_400_response(self, msg: str) -> None:
        # uvicorn logs *msg* (a parser error); the client gets the API's error shape
        self._reject(400, "bad_request", "malformed HTTP request")


def uvicorn_options() -> dict:
    """Keyword arguments for ``uvicorn.Config`` that every digitlab server uses."""
    return dict(http=DigitlabHttpProtocol, limit_concurrency=None, timeout_keep_alive=IDLE_SECONDS,
                log_level="warning", server_header=False, access_log=False)
