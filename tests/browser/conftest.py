"""The browser tests: each is marked ``browser`` and skipped without Debian's Chromium or
Playwright; the headless Chromium they drive (one per test module)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/_browser.py, tests/_live.py

from _browser import ARGS, CHROMIUM  # noqa: E402

HERE = Path(__file__).resolve().parent
MISSING = ("needs /usr/bin/chromium" if not CHROMIUM.exists() else
           "needs Playwright for Python" if importlib.util.find_spec("playwright") is None else None)


@pytest.hookimpl(tryfirst=True)  # before `-m "not browser"` deselects by mark
def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)
            if MISSING:
                item.add_marker(pytest.mark.skip(reason=MISSING))


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()
