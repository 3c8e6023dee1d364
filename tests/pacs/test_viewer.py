"""Orthanc's own web pages, in headless Chromium, show what `chestxai pacs analyze` stored: Orthanc Explorer lists the
SR, GSPS and SC series in the study, and the Orthanc Web Viewer displays the Secondary Capture.

With CHESTXAI_SCREENSHOT_DIR=docs/pacs the screenshots the README shows are written there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
from pacs_helpers import DATA, DICOMWEB_PLUGIN, ORTHANC, PASSWORD, USER, WEBVIEWER_PLUGIN, Orthanc, build_study

from chestxai.cli import main
from chestxai.pacs import dicomweb
from chestxai.pacs.objects import to_bytes

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IMAGE = DATA / "images" / "nih_00005927_006.png"  # a held-out patient with an effusion box

pytestmark = [
    pytest.mark.skipif(ORTHANC is None or not DICOMWEB_PLUGIN.is_file(),
                       reason="Orthanc is not installed (Debian packages 'orthanc' and 'orthanc-dicomweb')"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
    pytest.mark.skipif(not WEBVIEWER_PLUGIN.is_file(), reason="needs Debian's orthanc-webviewer (.ci/run installs it)"),
]


def test_orthanc_pages_show_the_results(tmp_path, monkeypatch, capsys):
    playwright_api = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv(dicomweb.USER_ENV, USER)
    monkeypatch.setenv(dicomweb.PASSWORD_ENV, PASSWORD)
    viewer = Orthanc(tmp_path / "orthanc", webviewer=True).start()
    shots = Path(os.environ["CHESTXAI_SCREENSHOT_DIR"]) if os.environ.get("CHESTXAI_SCREENSHOT_DIR") else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    try:
        study, datasets = build_study([IMAGE], lateral=False, corrupt=False, other=False)
        for ds in datasets:
            viewer.upload(to_bytes(ds))
        assert main(["pacs", "analyze", "--url", viewer.dicomweb, "--study", study, "--catalogue", "none"]) == 0
        capsys.readouterr()
        study_id = next(f["ID"] for f in requests.post(f"{viewer.url}/tools/lookup", data=study, auth=viewer.auth,
                                                       timeout=30).json() if f["Type"] == "Study")
        series = {s["MainDicomTags"]["Modality"]: s for s in viewer.get(f"/studies/{study_id}/series")}
        assert set(series) == {"CR", "SR", "PR", "OT"}
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            context = browser.new_context(http_credentials={"username": USER, "password": PASSWORD},
                                          viewport={"width": 1200, "height": 800})
            page = context.new_page()
            page.goto(f"{viewer.url}/app/explorer.html#study?uuid={study_id}")
            page.wait_for_selector("text=chestxai findings")
            text = page.inner_text("body")
            for description in ("chestxai findings", "chestxai boxes", "chestxai heatmap"):
                assert description in text
            page.screenshot(path=str(shots / "orthanc_study.png"))
            page.goto(f"{viewer.url}/web-viewer/app/viewer.html?series={series['OT']['ID']}")
            page.wait_for_selector("text=NOT FOR DIAGNOSTIC USE")
            page.wait_for_timeout(2000)  # the image tiles
            page.screenshot(path=str(shots / "orthanc_viewer_sc.png"))
            browser.close()
        for name in ("orthanc_study.png", "orthanc_viewer_sc.png"):
            assert (shots / name).stat().st_size > 10_000
    finally:
        viewer.stop()
