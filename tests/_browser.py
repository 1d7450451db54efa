"""What the browser tests share: Debian's Chromium (never a downloaded browser), its launch
arguments, where screenshots go, and drawing on the page's canvas with the mouse."""

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
