"""End to end in real headless Chromium: draw a digit with the mouse and read the page's answer.

Uses Debian's /usr/bin/chromium through Playwright (never a downloaded browser). Screenshots are
kept in test-artifacts/ for a human to look at.
"""

from __future__ import annotations

import math
import threading

import pytest
from _browser import ARTIFACTS, draw, settled_digit, wait_idle
from _live import live_server


@pytest.fixture(scope="module")
def served(tmp_path_factory, mnist):
    """An evaluated logreg run on the `mnist_small` images served on 127.0.0.1."""
    from digitlab import training
    from digitlab.web import create_app

    root = tmp_path_factory.mktemp("browser-runs")
    # evaluated by train() itself, so the page sees exactly what evaluation stores
    run = training.train(mnist, "logreg", limit=3000, seed=0, cv=0, figures=False, runs_dir=root)
    from digitlab.evaluation import evaluate_run

    evaluate_run(run, cv=0, robustness=True, robustness_images=100)  # the run view's robustness table
    with live_server(create_app(root, run.id)) as base:
        yield base, run


@pytest.fixture(scope="module")
def page(served, browser):
    base, _ = served
    pg = browser.new_page(viewport={"width": 1100, "height": 720})
    outside = []
    pg.on("request", lambda req: outside.append(req.url) if not req.url.startswith((base, "data:", "blob:")) else None)
    pg.goto(base + "/")
    yield pg
    assert outside == [], f"the page reached outside 127.0.0.1: {outside}"
    pg.close()


def test_draw_seven_then_zero(page):
    """Check a 7 drawn in two strokes is shown as 7, then after Clear a 0 is shown as 0."""
    draw(page, [[(0.3, 0.22), (0.7, 0.22)], [(0.7, 0.22), (0.58, 0.5), (0.47, 0.8)]])
    assert settled_digit(page) == "7"
    bars = page.locator(".bar.best")
    assert bars.count() == 1
    assert page.locator("#seen").get_attribute("src").startswith("data:image/png;base64,")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-draw-7.png"))

    page.click("#clear")
    assert page.locator("#digit").text_content() == "–"
    turn = [t / 20 * 2 * math.pi for t in range(21)]
    ring = [(0.5 + 0.17 * math.sin(a), 0.5 - 0.28 * math.cos(a)) for a in turn]
    draw(page, [ring])
    assert settled_digit(page) == "0"
    page.screenshot(path=str(ARTIFACTS / "browser-draw-0.png"))


def test_runs_view_confusion_cell(page, served):
    """Check the runs view lists the run and a confusion-matrix cell opens its test digits."""
    _, run = served
    page.click("text=Runs")
    row = page.locator("#runs-table tbody tr", has_text=run.id)
    row.click()
    page.wait_for_selector("#cm td")
    assert page.locator("#rob-table tr").count() == 1 + 12  # header + one row per corruption
    assert "mean over corruptions" in page.locator("#rob-title").text_content()
    diag = page.locator("#cm td").nth(1 * 10 + 1)  # true 1, predicted 1
    n = int(diag.text_content())
    diag.click()
    page.wait_for_selector("#gallery img")
    assert f"true 1, predicted 1: {n} test digits" in page.locator("#gallery-title").text_content()
    assert page.locator("#gallery img").count() == min(n, 60)
    page.screenshot(path=str(ARTIFACTS / "browser-runs.png"), full_page=True)


def test_upload_file_without_a_type(page):
    """Check an uploaded file the browser gives no MIME type (no extension) is still predicted:
    the page declares it application/octet-stream, which the server accepts (H7)."""
    from _render import font_paths, png_bytes, render_digit

    seven = png_bytes(render_digit(7, font_paths()[0], font_size=70, canvas=(160, 120)))
    page.click("text=Draw")
    page.click("#clear")
    with page.expect_response(lambda r: "/api/predict" in r.url) as answer:
        page.set_input_files("#file", files=[{"name": "seven", "mimeType": "", "buffer": seven}])
    assert answer.value.status == 200
    assert answer.value.request.headers["content-type"] == "application/octet-stream"
    assert settled_digit(page) == "7"


class HeldPredictions:
    """ASGI wrapper that holds each /api/predict request until the test lets it through: a slow
    server on demand, without guessing durations."""

    def __init__(self, app):
        self.app = app
        self.holding = True
        self.arrived = threading.Semaphore(0)
        self.release = threading.Semaphore(0)

    async def __call__(self, scope, receive, send):
        if self.holding and scope["type"] == "http" and scope["path"] == "/api/predict":
            import anyio

            self.arrived.release()
            await anyio.to_thread.run_sync(self.release.acquire)
        await self.app(scope, receive, send)


def test_slow_answer_is_awaited_and_strokes_queue_behind_it(served, browser):
    """Check the page while the server is slow: the result card is aria-busy from the first stroke
    until the last drawing's answer is shown, strokes drawn meanwhile send one request (the newest
    drawing) after the held one, never a second one in flight, and the shown answer is the last."""
    from digitlab.web import create_app

    _, run = served
    held = HeldPredictions(create_app(run.path.parent, run.id))
    with live_server(held) as base:
        pg = browser.new_page(viewport={"width": 1100, "height": 720})
        sent = []
        pg.on("request", lambda r: sent.append(r.url) if "/api/predict" in r.url else None)
        try:
            pg.goto(base + "/")
            card = pg.locator("#result")
            assert card.get_attribute("aria-busy") == "false"
            draw(pg, [[(0.3, 0.22), (0.7, 0.22)]])  # the 7's bar: its first request is held
            assert held.arrived.acquire(timeout=60)
            assert card.get_attribute("aria-busy") == "true"
            draw(pg, [[(0.7, 0.22), (0.58, 0.5), (0.47, 0.8)]])  # the 7's stem, drawn meanwhile
            assert pg.locator("#digit").text_content() == "–"
            held.release.release()
            assert held.arrived.acquire(timeout=60)  # the newest drawing, sent once the first returned
            assert card.get_attribute("aria-busy") == "true"
            held.release.release()
            assert settled_digit(pg) == "7"
            assert len(sent) == 2  # more would mean a request sent while another was in flight
        finally:
            held.release.release()  # never leave a request (and the server's shutdown) waiting
            pg.close()


def test_answer_for_a_cleared_drawing_is_not_shown(served, browser):
    """Check Clear while the server is still answering: the late answer (here an error: the first
    request carries one dot) is dropped, so the empty pad shows nothing of it, and the next drawing
    is read."""
    from digitlab.web import create_app

    _, run = served
    held = HeldPredictions(create_app(run.path.parent, run.id))
    with live_server(held) as base:
        pg = browser.new_page(viewport={"width": 1100, "height": 720})
        try:
            pg.goto(base + "/")
            draw(pg, [[(0.3, 0.22), (0.7, 0.22)]])
            assert held.arrived.acquire(timeout=60)
            pg.click("#clear")
            held.release.release()
            wait_idle(pg)  # the held answer has come back
            assert pg.locator("#digit").text_content() == "–"
            assert pg.locator("#confidence").text_content() == "draw a digit"
            assert pg.locator("#status").text_content() == ""  # nor the late answer's error
            held.holding = False
            draw(pg, [[(0.3, 0.22), (0.7, 0.22)], [(0.7, 0.22), (0.58, 0.5), (0.47, 0.8)]])
            assert settled_digit(pg) == "7"
        finally:
            held.release.release()
            pg.close()


EVIL_PAGE = """<!doctype html><html><body><script>
const target = TARGET;
const png = Uint8Array.from(atob(PNG), (c) => c.charCodeAt(0));
async function attack() {
  const form = new FormData();
  form.append("file", new Blob([png], { type: "image/png" }), "x.png");
  const bodies = [new Blob([png], { type: "text/plain" }), png, form,
                  new URLSearchParams({ image: PNG })];
  for (const body of bodies) {
    try { await fetch(target, { method: "POST", mode: "no-cors", body }); } catch (e) { }
  }
  // a CORS request with an image type needs a preflight, which the server never grants
  try { await fetch(target, { method: "POST", body: new Blob([png], { type: "image/png" }) }); } catch (e) { }
  document.title = "done";
}
attack();
</script></body></html>"""


def test_other_site_cannot_post_to_the_api(served, browser):
    """Check H7 in a real browser: a page of another local origin (another port) posting the
    digit in every form a browser sends without a preflight gets 415/403 for each, and its CORS
    request is stopped at the preflight."""
    import base64
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from _render import font_paths, png_bytes, render_digit
    from playwright.sync_api import expect

    base, _ = served
    seven = png_bytes(render_digit(7, font_paths()[0], font_size=70, canvas=(160, 120)))
    html = EVIL_PAGE.replace("TARGET", json.dumps(base + "/api/predict")).replace(
        "PNG", json.dumps(base64.b64encode(seven).decode())).encode()

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    # a real server, on loopback: Chromium blocks public pages from reaching loopback by itself,
    # but not another local page (a dev server, a local app), and other browsers block neither
    evil = ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{evil.server_address[1]}"
    pg = browser.new_page()
    try:
        responses = []
        pg.on("response", lambda r: responses.append(r) if r.url.startswith(base) else None)
        pg.goto(origin + "/")
        expect(pg).to_have_title("done", timeout=60_000)
        seen = [(r.request.method, r.status) for r in responses]
    finally:
        pg.close()
        evil.shutdown()
        evil.server_close()
    # four simple POSTs, each refused; the fifth (image/png with CORS) stopped at its preflight
    assert seen == [("POST", 403)] * 4  # 403: the Origin the browser sent is not this server's
