"""End to end in headless Chromium: draw a digit, say "that's wrong, it's a ...", retrain with
``--add``, and the new run reads that drawing as corrected."""

from __future__ import annotations

import re

import pytest
from _browser import ARTIFACTS, draw, settled_digit
from _live import live_server

QUICK = dict(params={"n_neighbors": 1}, limit=500, seed=0, cv=0, figures=False)  # a 1-NN fits in a blink


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, mnist):
    from digitlab import training

    root = tmp_path_factory.mktemp("browser-collect-runs")
    return root, training.train(mnist, "knn", runs_dir=root, **QUICK)


# an open loop with a tail: not quite any digit, so the small model's answer is worth correcting
SCRIBBLE = [[(0.35, 0.3), (0.6, 0.25), (0.65, 0.45), (0.45, 0.55), (0.62, 0.62), (0.55, 0.82), (0.3, 0.78)]]


def test_correct_a_drawing_then_retrain_reads_it(browser, base_run, mnist, tmp_path):
    """Check the whole loop: the 0-9 buttons after a prediction, a correction saved as a sample,
    `train --add` on it, and the new run (picked in the page) reads the same drawing as corrected."""
    from playwright.sync_api import expect

    from digitlab import datasets, training
    from digitlab.web import create_app

    root, run = base_run
    folder = tmp_path / "mine"
    with live_server(create_app(root, run.id, collect=folder)) as base:
        pg = browser.new_page(viewport={"width": 1100, "height": 720})
        outside = []
        pg.on("request", lambda r: outside.append(r.url) if not r.url.startswith((base, "data:", "blob:")) else None)
        try:
            pg.goto(base + "/")
            pg.wait_for_selector("#correct-buttons button", state="attached")
            assert pg.locator("#correct").is_hidden()  # nothing predicted yet
            draw(pg, SCRIBBLE)
            before = settled_digit(pg)
            assert pg.locator("#correct").is_visible()
            label = "4" if before != "4" else "9"
            with pg.expect_response(lambda r: "/api/collect" in r.url and r.request.method == "POST") as answer:
                pg.locator("#correct-buttons button", has_text=label).click()
            assert answer.value.status == 201, answer.value.text()
            expect(pg.locator("#status")).to_have_text(re.compile(f"^saved as {label}"))
            ARTIFACTS.mkdir(exist_ok=True)
            pg.screenshot(path=str(ARTIFACTS / "browser-collect.png"))

            ds = datasets.load(folder)
            assert len(ds) == 1 and ds.labels.tolist() == [int(label)]
            new = training.train(mnist, "knn", runs_dir=root, add=folder, **QUICK)
            assert new.info.split.add.n_train == 1

            pg.click("text=Runs")  # reloads the run list, the new run included
            pg.wait_for_selector(f"#run-select option[value='{new.id}']", state="attached")
            pg.click("text=Draw")
            with pg.expect_response(lambda r: "/api/predict" in r.url and new.id in r.url) as again:
                pg.select_option("#run-select", new.id)  # the page re-predicts the same drawing
            assert again.value.status == 200
            after = settled_digit(pg)
        finally:
            pg.close()
    assert (before, after) == (before, label) and before != label
    assert outside == []


def test_buttons_hidden_without_collect(browser, base_run):
    """Check a server without --collect shows no correction buttons after a prediction."""
    from digitlab.web import create_app

    root, run = base_run
    with live_server(create_app(root, run.id)) as base:
        pg = browser.new_page()
        try:
            pg.goto(base + "/")
            draw(pg, SCRIBBLE)
            settled_digit(pg)
            assert pg.locator("#correct").is_hidden()
            assert pg.locator("#correct-buttons button").count() == 0
        finally:
            pg.close()
