"""The page in a real browser: the app under uvicorn on a free localhost port, Debian's Chromium headless (Playwright).

It uploads a real CXR from ``../shared/data``, waits for the probabilities, the heatmap and at least 3 similar cases,
switches the method, checks the opacity slider, the case view, an error in plain words and the layout at 1280 px
and on a laptop screen, and saves a screenshot.

It runs against the default set-up of ``chestxai serve`` (the shipped ``nih-adult`` model and its sample catalogue of
held-out patients). ``CHESTXAI_SCREENSHOT=docs/service_screenshot.png`` writes the screenshot there: how the README's
was taken::

    CHESTXAI_SCREENSHOT=docs/service_screenshot.png pytest tests/service/test_browser.py
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
# A held-out test patient with a radiologist's effusion box (its downscaled copy is also a sample case: the first
# similar case); the shipped model calls it effusion-negative, so its heatmap is shown with "show heatmap anyway".
QUERY = "images/nih_00005927_006.png"
SCREENSHOT_ENV = "CHESTXAI_SCREENSHOT"
TIMEOUT_MS = 120_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free port; its URL until the block ends."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def page_url() -> Iterator[str]:
    """Exactly what the README's first command serves: ``chestxai serve`` with no options, i.e. the shipped default
    model and its sample catalogue (indexed on first start)."""
    from chestxai.service.app import load_app

    with live_server(load_app(None, None, log=lambda message: None)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


HEAT_READY = """(method) => { const h = document.getElementById('heat');
  return !h.hidden && h.complete && h.naturalWidth > 0 && h.src.includes('/heatmap/' + method); }"""
SIMILAR_READY = """() => [...document.querySelectorAll('#similar .case img')]
  .filter(i => i.complete && i.naturalWidth > 0).length >= 3"""


def _show_heatmap(page) -> None:
    """A negative call hides the heatmap behind a note; the checkbox shows it anyway."""
    if page.is_visible("#negative"):
        assert "no heatmap shown" in page.inner_text("#negative")
        assert page.is_hidden("#heat")
        page.check("#force")


def _fits(page, width: int, height: int) -> None:
    """No horizontal scrolling, and the whole radiograph is on the first screen."""
    page.set_viewport_size({"width": width, "height": height})
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    box = page.locator("#xray").bounding_box()
    assert box["width"] > 250 and box["y"] + box["height"] <= height


def test_upload_heatmap_similar_cases_and_method_switch(page_url: str, browser, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(page_url)
    page.wait_for_function("() => document.getElementById('server-info').textContent.includes('model')")

    page.set_input_files("#file", files=[{"name": "report.pdf", "mimeType": "application/pdf",
                                          "buffer": b"%PDF-1.7\n" + b"1 0 obj << >> endobj\n" * 20}])
    page.wait_for_selector("#error", state="visible")
    assert "not an image" in page.inner_text("#error") and "report.pdf" in page.inner_text("#error")

    page.set_input_files("#file", str(SHARED / QUERY))
    page.wait_for_selector("body[data-state=done]")
    assert page.is_hidden("#error")
    findings = page.evaluate("fetch('/api/v1/health').then(r => r.json()).then(h => h.findings)")
    assert page.locator("#probs .prob").count() == len(findings)
    page.select_option("#finding", "effusion")  # explain effusion (a new analysis of the same file)
    page.wait_for_function("() => document.body.dataset.state === 'done' && "
                           "document.querySelector('#probs .prob.explained').dataset.finding === 'effusion'")
    _show_heatmap(page)
    page.wait_for_function(HEAT_READY, arg="gradcam")
    page.wait_for_function(SIMILAR_READY)
    assert page.locator("#similar .case").count() >= 3
    assert "similarity" in page.locator("#similar .case").first.inner_text()

    page.select_option("#method", "gradcampp")
    page.wait_for_function(HEAT_READY, arg="gradcampp")
    assert "Grad-CAM++" in page.inner_text("#caption")
    page.fill("#opacity", "70")
    assert page.evaluate("document.getElementById('heat').style.opacity") == "0.7"

    page.locator("#similar .case").first.click()
    page.wait_for_function("() => { const i = document.getElementById('case-overlay');"
                           " return document.getElementById('case-view').open && i.complete && i.naturalWidth > 0; }")
    assert page.inner_text("#case-title").startswith("Case ")
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.getElementById('case-view').open")

    _fits(page, 1366, 768)  # a laptop
    _fits(page, 1280, 800)
    shot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "page.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    page.close()


SCOPE_SCREENSHOT_ENV = "CHESTXAI_SCOPE_SCREENSHOT"
CHILD = REPO / "src/chestxai/assets/samples/kermany/images/k_IM-0117-0001.png"


def test_scope_warning_and_no_stale_results(page_url: str, browser, tmp_path: Path) -> None:
    """A child's film sent to the adult model: answered under a visible warning naming the model that fits; a red
    square after it: refused, and nothing of the child's analysis stays on screen under the error."""
    from PIL import Image

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(page_url)
    page.wait_for_function("() => document.getElementById('server-info').textContent.includes('model')")
    for hidden in ("#controls", "#overlay-link", "#stage", "#scope"):  # nothing to control before an upload
        assert page.is_hidden(hidden), hidden
    assert page.locator("#similar p").bounding_box()["width"] > 200  # the placeholder is not one word per line
    assert "Held-out AUC" in page.inner_text("#model-scope")  # the model's scope and card, beside the probabilities
    assert page.get_attribute("#model-scope a", "href") == "/api/v1/model-card"

    page.set_input_files("#file", str(CHILD))
    page.wait_for_selector("body[data-state=done]")
    warning = page.inner_text("#scope")
    assert page.is_visible("#scope") and "Outside the model's population" in warning
    assert "kermany-paediatric" in warning
    scope_box, probs_box = page.locator("#scope").bounding_box(), page.locator("#probs").bounding_box()
    assert scope_box["y"] < probs_box["y"]  # above the probabilities
    shot = Path(os.environ.get(SCOPE_SCREENSHOT_ENV) or tmp_path / "scope.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot))

    red = tmp_path / "red.jpg"
    Image.new("RGB", (300, 300), (255, 0, 0)).save(red)
    page.set_input_files("#file", str(red))
    page.wait_for_selector("#error", state="visible")
    error = page.inner_text("#error")
    assert "not a chest radiograph" in error and error.count("red.jpg") == 1
    assert page.is_hidden("#stage") and page.is_hidden("#controls") and page.is_hidden("#scope")
    assert page.locator("#probs .prob").count() == 0
    assert page.request.get(f"{page_url}/favicon.ico").status == 200
    page.close()
