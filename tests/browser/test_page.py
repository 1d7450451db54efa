"""End to end in real headless Chromium: draw a digit with the mouse and read the page's answer.

Uses Debian's /usr/bin/chromium through Playwright (never a downloaded browser). Screenshots are
kept in test-artifacts/ for a human to look at.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/_live.py

from _live import live_server  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]
playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def served(tmp_path_factory, mnist):
    """A logreg run on the `mnist_small` images (with predictions.npz) served on 127.0.0.1."""
    from digitlab import training
    from digitlab.web import create_app

    root = tmp_path_factory.mktemp("browser-runs")
    run = training.train(mnist, "logreg", limit=3000, seed=0, evaluate=False, runs_dir=root)
    test, model = run.load_split().test, run.load_model()
    with open(run.path / "predictions.npz", "wb") as fh:
        np.savez(fh, y_true=test.labels, y_pred=model.predict(test.X), y_proba=model.predict_proba(test.X))
    with live_server(create_app(root, run.id)) as base:
        yield base, run


@pytest.fixture(scope="module")
def page(served):
    base, _ = served
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        pg = browser.new_page(viewport={"width": 1100, "height": 720})
        outside = []
        pg.on("request", lambda req: outside.append(req.url) if not req.url.startswith((base, "data:", "blob:")) else None)
        pg.goto(base + "/")
        yield pg
        assert outside == [], f"the page reached outside 127.0.0.1: {outside}"
        browser.close()


def draw(pg, strokes):
    """Each stroke is a list of (x, y) in 0..1 of the canvas; the mouse moves in small steps."""
    box = pg.locator("#pad").bounding_box()
    for stroke in strokes:
        x, y = stroke[0]
        pg.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        pg.mouse.down()
        for x, y in stroke[1:]:
            pg.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=6)
        pg.mouse.up()


def shown_digit(pg):
    pg.wait_for_function("document.querySelector('#digit').textContent !== '–'")
    pg.wait_for_timeout(400)  # let the last in-flight prediction land
    return pg.locator("#digit").text_content()


def test_draw_seven_then_zero(page):
    """Check a 7 drawn in two strokes is shown as 7, then after Clear a 0 is shown as 0."""
    draw(page, [[(0.3, 0.22), (0.7, 0.22)], [(0.7, 0.22), (0.58, 0.5), (0.47, 0.8)]])
    assert shown_digit(page) == "7"
    bars = page.locator(".bar.best")
    assert bars.count() == 1
    assert page.locator("#seen").get_attribute("src").startswith("data:image/png;base64,")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-draw-7.png"))

    page.click("#clear")
    assert page.locator("#digit").text_content() == "–"
    ring = [(0.5 + 0.17 * math.sin(t / 20 * 2 * math.pi), 0.5 - 0.28 * math.cos(t / 20 * 2 * math.pi)) for t in range(21)]
    draw(page, [ring])
    assert shown_digit(page) == "0"
    page.screenshot(path=str(ARTIFACTS / "browser-draw-0.png"))


def test_runs_view_confusion_cell(page, served):
    """Check the runs view lists the run and a confusion-matrix cell opens its test digits."""
    _, run = served
    page.click("text=Runs")
    row = page.locator("#runs-table tbody tr", has_text=run.id)
    row.click()
    page.wait_for_selector("#cm td")
    diag = page.locator("#cm td").nth(1 * 10 + 1)  # true 1, predicted 1
    n = int(diag.text_content())
    diag.click()
    page.wait_for_selector("#gallery img")
    assert f"true 1, predicted 1: {n} test digits" in page.locator("#gallery-title").text_content()
    assert page.locator("#gallery img").count() == min(n, 60)
    page.screenshot(path=str(ARTIFACTS / "browser-runs.png"), full_page=True)
