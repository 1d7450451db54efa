"""Run a uvicorn server for tests in a thread on 127.0.0.1 (a free port), and stop it.

It is configured as `digitlab serve` configures it (digitlab's protocol class and timeouts);
keyword arguments override that.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


@contextlib.contextmanager
def live_server(app, **config):
    """Yield the base URL of *app* served by uvicorn on 127.0.0.1; stop the server on exit."""
    import uvicorn

    from digitlab.web._protocol import uvicorn_options

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, **{**uvicorn_options(), **config}))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
