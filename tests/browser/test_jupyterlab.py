"""The chapter notebook in real JupyterLab and headless Chromium: its first cells run on `digits`
and a Run's rich display appears on the page.

JupyterLab (a test dependency) serves its bundled static files on 127.0.0.1 with a token; every
request that would leave 127.0.0.1 is refused by the page. The screenshot goes to test-artifacts/.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from _browser import ARGS, ARTIFACTS, CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(1200)
playwright_api = pytest.importorskip("playwright.sync_api")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("jupyterlab")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 with a token, in a folder holding the chapter set to `digits`."""
    from digitlab import notebook as N

    work = tmp_path_factory.mktemp("lab")
    nb = nbformat.read(ROOT / "notebooks" / "chapter3.ipynb", as_version=4)
    N.set_parameters(nb, DATASET="digits", QUICK=True, RUNS_DIR=str(work / "runs"), PROGRESS=True)
    nbformat.write(nb, str(work / "chapter3.ipynb"))
    token, port = secrets.token_hex(16), _free_port()
    home = work / ".jupyter"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "ws")}
    env.pop("MPLBACKEND", None)  # the notebook's `%matplotlib inline` decides
    log = open(work / "lab.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
         "--LabApp.news_url=", "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False",
         *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI runs as root
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:  # poll until the server answers (generous: the machine may be busy)
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start: {(work / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield base, token, work
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_chapter_runs_in_jupyterlab_and_shows_a_runs_display(lab):
    base, token, work = lab
    ARTIFACTS.mkdir(exist_ok=True)
    outside = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def guard(route):
                if route.request.url.startswith((base, "data:", "blob:")):
                    return route.continue_()
                outside.append(route.request.url)
                return route.abort()

            page.route("**/*", guard)
            page.goto(f"{base}/lab/tree/chapter3.ipynb?token={token}", timeout=120_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            # the kernel is connected and ready when the status bar says "… | Idle" (cells run
            # before that are dropped by the page)
            page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"ipykernel\) \| Idle$")).wait_for(
                timeout=180_000)
            page.locator(".jp-Notebook .jp-Cell").first.click()
            page.keyboard.press("Escape")  # command mode
            # JupyterLab renders only the cells in view: count them in the file instead
            nb = nbformat.read(work / "chapter3.ipynb", as_version=4)
            target = next(i for i, c in enumerate(nb.cells) if c.source.startswith("detect = DETECT"))
            position = page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"^Cell \d+/\d+$"))
            # run the cells up to the detector's one by one; the status bar says which cell is
            # active, so a key press the page was not ready for is pressed again, never skipped
            while True:
                at = int(re.match(r"Cell (\d+)/", position.inner_text()).group(1))  # 1-based
                if at > target + 1:
                    break
                active = page.locator(".jp-Notebook .jp-Cell.jp-mod-active").element_handle()
                code = "jp-CodeCell" in (active.get_attribute("class") or "")
                page.keyboard.press("Shift+Enter")
                page.wait_for_function(
                    "([el, at]) => !el.textContent.startsWith(`Cell ${at}/`)", arg=[position.element_handle(), at],
                    timeout=60_000)
                if code:  # the cell was sent to the kernel: its prompt shows [*] or [n]
                    page.wait_for_function("el => /\\[(\\*|\\d+)\\]/.test(el.querySelector('.jp-InputPrompt').textContent)",
                                           arg=active, timeout=60_000)
            run = page.locator(".jp-OutputArea-output .digitlab-run")
            try:
                run.wait_for(timeout=int(os.environ.get('DIGITLAB_LAB_WAIT', 600)) * 1000)
            except playwright_api.TimeoutError:
                page.screenshot(path=str(ARTIFACTS / "jupyterlab-chapter-failed.png"), full_page=True)
                raise
            text = run.inner_text()
            page.wait_for_timeout(500)
            run.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "jupyterlab-chapter.png"))
            # the Dataset display and its digit strip were drawn too
            assert page.locator(".digitlab-dataset img").count() == 1
        finally:
            browser.close()
    assert text.startswith("Run ") and "detect 5" in text and "precision" in text and "F1" in text
    assert list((work / "runs").iterdir())  # the kernel wrote the run
