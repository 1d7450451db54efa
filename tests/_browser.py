"""What the browser tests share: Debian's Chromium (never a downloaded browser), its launch
arguments, where screenshots go, drawing on the page's canvas with the mouse and reading its answer.

Waits go through Playwright's ``expect`` (its own injected script), never ``wait_for_function``
with an expression: the page's CSP forbids ``eval``, which that function uses on each re-poll.
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


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


def wait_idle(pg, timeout=60_000):
    """Wait until no prediction is asked for and unanswered: the result card's aria-busy, set by
    the page itself (no guessing how long a request takes)."""
    from playwright.sync_api import expect

    expect(pg.locator("#result")).to_have_attribute("aria-busy", "false", timeout=timeout)


def settled_digit(pg) -> str:
    """The digit the page shows once it is idle."""
    wait_idle(pg)
    digit = pg.locator("#digit").text_content()
    assert digit != "–", f"the page settled on no answer: {pg.locator('#status').text_content()!r}"
    return digit
