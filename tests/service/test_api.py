"""The REST API with FastAPI's TestClient: every endpoint, every bad input of issue 6, odd-but-valid images."""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from service_helpers import N_CASES, chest, grey_png, make_client, png, png_bomb, upload
from fastapi.testclient import TestClient

from chestxai import __version__
from chestxai.service import ServiceConfig, create_app

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _assert_png(response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(PNG_MAGIC)


# --- health and the page -----------------------------------------------------------------------------------------


def test_health_names_model_catalogue_and_version(client: TestClient) -> None:
    body = client.get("/api/v1/health").json()
    assert body["status"] == "ok" and body["version"] == __version__
    assert body["model"] == "tiny" and body["findings"] == ["effusion", "pneumonia", "normal"]
    assert body["catalogue_size"] == N_CASES and body["catalogue_loaded"] is True
    assert body["thresholds"] == {"effusion": 0.5, "pneumonia": 0.5, "normal": 0.5}
    assert set(body["default_methods"]) <= set(body["methods"]) and "occlusion" in body["methods"]
    assert body["adding_cases"] is False


def test_page_and_its_assets_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="drop"' in page.text and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    assert "/api/v1/analyze" in client.get("/openapi.json").json()["paths"]


# --- analyze -----------------------------------------------------------------------------------------------------


def test_analyze_returns_probabilities_maps_boxes_and_similar_cases(client: TestClient) -> None:
    response = client.post("/api/v1/analyze", files={"file": ("scan.png", grey_png(120, 100), "image/png")},
                           data={"methods": "gradcam,silhouette", "k": "4"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body["probabilities"]) == ["effusion", "pneumonia", "normal"]
    assert all(0.0 <= p <= 1.0 for p in body["probabilities"].values())
    assert body["finding"] in ("effusion", "pneumonia")  # "normal" is not explained unless asked for
    assert body["image"] == {"width": 100, "height": 120, "url": f"/api/v1/analyses/{body['id']}/image"}
    assert list(body["explanations"]) == ["gradcam", "silhouette"]
    for method, expl in body["explanations"].items():
        assert expl["finding"] == body["finding"]
        assert expl["positive"] == (expl["probability"] >= body["thresholds"][body["finding"]])
        box = expl["box"]
        assert box is None or (0 <= box["x"] < 100 and 0 <= box["y"] < 120 and box["x"] + box["w"] <= 100
                               and box["y"] + box["h"] <= 120)
        assert expl["note"] is None or (box is None and "map is flat" in expl["note"])
        _assert_png(client.get(expl["heatmap_url"]))
        _assert_png(client.get(expl["overlay_url"]))
    _assert_png(client.get(body["image"]["url"]))
    similar = body["similar"]
    assert len(similar) == 4
    assert [s["score"] for s in similar] == sorted((s["score"] for s in similar), reverse=True)
    for case in similar:
        assert set(case) >= {"id", "score", "labels", "thumbnail_url", "overlay_url"}
        assert set(case["labels"]) == {"effusion", "pneumonia", "normal"}
    _assert_png(client.get(similar[0]["thumbnail_url"]))
    _assert_png(client.get(similar[0]["overlay_url"]))
    assert set(body["timing_ms"]) >= {"decode", "predict", "gradcam", "silhouette", "search"}


def test_a_catalogue_image_finds_itself_first(client: TestClient, case_dir: Path) -> None:
    first = json.loads(client.get("/api/v1/cases/1").text)
    image = Path(pd.read_csv(case_dir / "labels.csv")["image"][0])
    body = upload(client, image.read_bytes(), k=3).json()
    assert body["similar"][0]["id"] == first["id"] and body["similar"][0]["score"] == pytest.approx(1.0, abs=1e-4)


def test_named_finding_is_explained_and_default_methods_apply(client: TestClient) -> None:
    response = client.post("/api/v1/analyze", files={"file": ("scan.png", grey_png(), "image/png")},
                           data={"finding": "Pleural Effusion", "k": "0"})
    body = response.json()
    assert response.status_code == 200 and body["finding"] == "effusion" and body["similar"] == []
    health = client.get("/api/v1/health").json()
    assert list(body["explanations"]) == health["default_methods"]


def test_positive_only_overlay_and_unknown_method_map(client: TestClient) -> None:
    body = upload(client, grey_png()).json()
    _assert_png(client.get(body["explanations"]["gradcam"]["overlay_url"] + "?positive_only=0.99"))
    missing = client.get(f"/api/v1/analyses/{body['id']}/heatmap/lrp")
    assert missing.status_code == 404 and "methods" in missing.json()["error"]
    assert client.get(f"/api/v1/analyses/{body['id']}/overlay/gradcam?positive_only=2").status_code == 422


# --- bad input: a 4xx with a plain error each, and the server keeps serving ---------------------------------------


def _bad_files(dicom_writer, tmp_path: Path) -> dict[str, tuple[str, bytes, str]]:
    good = grey_png(200, 160)
    dicom = dicom_writer(tmp_path / "good.dcm", (chest(64, 64) * 4000).astype(np.uint16)).read_bytes()
    return {
        "empty file": ("scan.png", b"", "empty file"),
        "a PDF": ("report.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" * 20, "PDF"),
        "a text file renamed .png": ("scan.png", b"patient notes, not an image\n" * 40, "text file"),
        "a truncated PNG": ("scan.png", good[: len(good) // 2], "truncated"),
        "a corrupt DICOM": ("scan.dcm", b"\x00" * 128 + b"DICM" + b"\x02\x00\x10\x00garbage" * 50, "DICOM"),
        "a DICOM cut in its pixels": ("scan.dcm", dicom[:-3000], "DICOM pixel data"),
        "a decompression bomb": ("bomb.png", png_bomb(8000), "decompression bomb"),
        "a 10 x 10 image": ("tiny.png", png(np.full((10, 10), 128, np.uint8)), "too small"),
    }


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom's complaints about the corrupt file
def test_every_bad_input_is_a_plain_4xx_then_a_good_image_is_analysed(
    client: TestClient, dicom_writer, tmp_path: Path
) -> None:
    for what, (name, data, words) in _bad_files(dicom_writer, tmp_path).items():
        response = upload(client, data, name)
        assert 400 <= response.status_code < 500, (what, response.status_code)
        error = response.json()["error"]
        assert words.lower() in error.lower(), (what, error)
        assert "Traceback" not in error and len(error) < 400
    assert upload(client, grey_png()).status_code == 200


@pytest.mark.parametrize(("fields", "words"), [
    ({"methods": "gradcam,telepathy"}, "unknown explanation method"),
    ({"k": "-1"}, "k must be between 0 and 50"),
    ({"k": "51"}, "k must be between 0 and 50"),
    ({"k": "ten"}, "whole number"),
    ({"finding": "fracture"}, "does not know finding"),
])
def test_bad_form_fields_are_400(client: TestClient, fields: dict, words: str) -> None:
    response = upload(client, grey_png(), **fields)
    assert response.status_code == 400 and words in response.json()["error"]


def test_request_without_a_file_or_not_multipart(client: TestClient) -> None:
    no_file = client.post("/api/v1/analyze", files={"other": ("x.txt", b"hi", "text/plain")})
    assert no_file.status_code == 400 and "'file'" in no_file.json()["error"]
    not_form = client.post("/api/v1/analyze", content=grey_png(), headers={"content-type": "image/png"})
    assert not_form.status_code == 415 and "multipart/form-data" in not_form.json()["error"]
    two_files = client.post("/api/v1/analyze", files=[("file", ("a.png", grey_png())), ("file", ("b.png", grey_png()))])
    assert two_files.status_code == 400


def test_upload_over_the_limit_is_413(service_model) -> None:
    with make_client(service_model, None, max_upload_bytes=2000) as small:
        response = upload(small, grey_png(200, 200))
        assert response.status_code == 413 and "upload limit" in response.json()["error"]
        declared = small.post("/api/v1/analyze", content=b"x" * 100_000,
                              headers={"content-type": "multipart/form-data; boundary=zz"})
        assert declared.status_code == 413
        assert upload(small, grey_png(20, 20)).status_code == 200


def test_pixel_limit_is_configurable(service_model) -> None:
    with make_client(service_model, None, max_pixels=150 * 150) as small:
        response = upload(small, grey_png(200, 200))
        assert response.status_code == 422 and "exceeds the limit" in response.json()["error"]


def test_large_upload_stays_in_memory(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Starlette would spool a > 1 MB upload to a temporary file; ours must never touch the disk."""
    def no_disk(self) -> None:
        raise AssertionError("the upload was spooled to disk")

    monkeypatch.setattr(tempfile.SpooledTemporaryFile, "rollover", no_disk)
    noisy = (np.random.default_rng(1).random((1100, 1100)) * 255).astype(np.uint8)
    data = png(noisy)
    assert len(data) > 1024 * 1024
    assert upload(client, data).status_code == 200


# --- odd but valid images are analysed ---------------------------------------------------------------------------


def _odd_files(dicom_writer, tmp_path: Path) -> dict[str, tuple[str, bytes]]:
    grey = (chest(96, 80) * 255).astype(np.uint8)
    mono1 = dicom_writer(tmp_path / "m1.dcm", (chest(70, 90) * 4095).astype(np.uint16), photometric="MONOCHROME1",
                         window=(2048, 4096))
    return {
        "16-bit PNG": ("scan16.png", png((chest(96, 80) * 65535).astype(np.uint16))),
        "RGBA PNG": ("rgba.png", png(np.dstack([grey, grey, grey, np.full_like(grey, 255)]))),
        "RGB PNG": ("rgb.png", png(np.dstack([grey, grey, grey]))),
        "JPEG": ("scan.jpg", png(grey, fmt="JPEG")),
        "MONOCHROME1 DICOM": ("m1.dcm", mono1.read_bytes()),
        "tall": ("tall.png", grey_png(300, 40)),
        "wide": ("wide.png", grey_png(50, 260)),
    }


def test_odd_but_valid_images_are_analysed(client: TestClient, dicom_writer, tmp_path: Path) -> None:
    for what, (name, data) in _odd_files(dicom_writer, tmp_path).items():
        response = upload(client, data, name)
        assert response.status_code == 200, (what, response.text)
        body = response.json()
        assert body["explanations"]["gradcam"]["heatmap_url"] and len(body["similar"]) == 2, what


# --- cases -------------------------------------------------------------------------------------------------------


def test_case_json_image_thumbnail_overlay(client: TestClient) -> None:
    case = client.get("/api/v1/cases/3").json()
    assert case["id"] == 3 and set(case["labels"]) == {"effusion", "pneumonia", "normal"}
    assert "image" not in case  # no file-system path leaves the server
    _assert_png(client.get(case["image_url"]))
    thumb = client.get(case["thumbnail_url"])
    _assert_png(thumb)
    _assert_png(client.get(case["overlay_url"]))
    _assert_png(client.get("/api/v1/cases/3/overlay?method=silhouette&finding=pneumonia&positive_only=0.5"))
    assert client.get("/api/v1/cases/3/image?size=huge").status_code == 422


@pytest.mark.parametrize("path", ["/api/v1/cases/999", "/api/v1/cases/999/image", "/api/v1/cases/999/overlay",
                                  "/api/v1/analyses/nope/image", "/api/v1/analyses/nope/heatmap/gradcam"])
def test_unknown_case_or_analysis_is_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404 and response.json()["error"]


def test_case_overlay_with_unknown_method_is_400(client: TestClient) -> None:
    assert client.get("/api/v1/cases/1/overlay?method=magic").status_code == 400


def test_analyses_leave_the_memory_cache(service_model) -> None:
    with make_client(service_model, None, cache_analyses=1) as small:
        first = upload(small, grey_png(seed=1)).json()
        upload(small, grey_png(seed=2))
        gone = small.get(first["image"]["url"])
        assert gone.status_code == 404 and "upload the image again" in gone.json()["error"]


# --- adding cases (token) ----------------------------------------------------------------------------------------


def test_adding_cases_is_disabled_without_a_token(client: TestClient) -> None:
    response = client.post("/api/v1/cases", files={"file": ("a.png", grey_png())}, data={"labels": '{"effusion": 1}'},
                           headers={"Authorization": "Bearer anything"})
    assert response.status_code == 403 and "CHESTXAI_API_TOKEN" in response.json()["error"]


@pytest.fixture
def writable(service_model, catalogue: Path, tmp_path: Path):
    copy = tmp_path / "cat"
    shutil.copytree(catalogue, copy)
    with make_client(service_model, copy, token="s3cret") as c:
        yield c


def _add(client: TestClient, data: bytes, token: str | None = "s3cret", **fields):
    form = {"labels": json.dumps({"Pleural Effusion": 1, "pneumonia": 0}), **fields}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/v1/cases", files={"file": ("new.png", data, "image/png")}, data=form, headers=headers)


def test_add_case_with_token_then_it_is_found(writable: TestClient) -> None:
    data = grey_png(128, 112, seed=7)
    assert _add(writable, data, token=None).status_code == 401
    assert _add(writable, data, token="wrong").status_code == 401
    box = json.dumps({"finding": "effusion", "x": 10, "y": 60, "w": 40, "h": 50})
    added = _add(writable, data, box=box, report="small left effusion")
    assert added.status_code == 201, added.text
    case = added.json()
    assert case["added"] is True and case["labels"] == {"effusion": 1, "pneumonia": 0}
    assert case["boxes"] == [{"finding": "effusion", "x": 10.0, "y": 60.0, "w": 40.0, "h": 50.0}]
    assert writable.get("/api/v1/health").json()["catalogue_size"] == N_CASES + 1
    again = _add(writable, data)
    assert again.status_code == 200 and again.json() == {**case, "added": False}
    hit = upload(writable, data, k=1).json()["similar"][0]
    assert hit["id"] == case["id"] and hit["score"] == pytest.approx(1.0, abs=1e-4)
    _assert_png(writable.get(case["image_url"]))


@pytest.mark.parametrize(("fields", "words"), [
    ({"labels": "effusion"}, "not valid JSON"),
    ({"labels": "[1, 2]"}, "labels must be a JSON object"),
    ({"labels": '{"effusion": 2}'}, "must be 0, 1 or null"),
    ({"box": '{"finding": "effusion", "x": 100, "y": 0, "w": 50, "h": 10}'}, "not inside"),
    ({"box": '{"x": 1}'}, "a box needs"),
])
def test_add_case_bad_fields_are_400(writable: TestClient, fields: dict, words: str) -> None:
    response = _add(writable, grey_png(), **fields)
    assert response.status_code == 400 and words in response.json()["error"]


def test_add_case_without_labels_or_with_a_bad_image(writable: TestClient) -> None:
    no_labels = writable.post("/api/v1/cases", files={"file": ("a.png", grey_png())},
                              headers={"Authorization": "Bearer s3cret"})
    assert no_labels.status_code == 400 and "labels" in no_labels.json()["error"]
    assert _add(writable, b"%PDF-1.4").status_code == 422


# --- without a catalogue -----------------------------------------------------------------------------------------


def test_without_a_catalogue_there_are_no_similar_cases(service_model) -> None:
    with make_client(service_model, None, token="t") as bare:
        health = bare.get("/api/v1/health").json()
        assert health["catalogue_size"] == 0 and health["catalogue_loaded"] is False
        assert upload(bare, grey_png()).json()["similar"] == []
        assert bare.get("/api/v1/cases/1").status_code == 404
        added = _add(bare, grey_png(), token="t")
        assert added.status_code == 503 and "no case catalogue" in added.json()["error"]


def test_a_catalogue_of_another_model_is_refused(catalogue: Path) -> None:
    import torch

    from chestxai.data.preprocess import Preprocess
    from chestxai.errors import ConfigError
    from chestxai.models.classifier import Classifier

    torch.manual_seed(1)
    other = Classifier(["effusion"], "densenet121", Preprocess(64))
    with pytest.raises(ConfigError, match="another model"):
        create_app(other, catalogue)


# --- who may read, and what is logged ------------------------------------------------------------------------------


def test_remote_clients_need_the_token_or_allow_remote(service_model) -> None:
    app = create_app(service_model, None, config=ServiceConfig(token="t"))
    with TestClient(app, client=("192.0.2.7", 4000)) as remote:
        refused = remote.get("/api/v1/health")
        assert refused.status_code == 403 and "--allow-remote" in refused.json()["error"]
        assert remote.get("/api/v1/health", headers={"Authorization": "Bearer t"}).status_code == 200
    open_app = create_app(service_model, None, config=ServiceConfig(allow_remote=True))
    with TestClient(open_app, client=("192.0.2.7", 4000)) as remote:
        assert remote.get("/api/v1/health").status_code == 200
    with TestClient(create_app(service_model, None), client=("::1", 4000)) as local:
        assert local.get("/api/v1/health").status_code == 200


def test_one_json_log_line_per_request_without_phi(
    client: TestClient, dicom_writer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = dicom_writer(tmp_path / "Doe_John.dcm", (chest(64, 64) * 4000).astype(np.uint16),
                          patient_id="PATIENT-SECRET-42")
    with caplog.at_level("INFO", logger="chestxai.service"):
        ok = upload(client, secret.read_bytes(), "Doe_John.dcm")
        bad = upload(client, secret.read_bytes()[:600], "Doe_John.dcm")
    assert ok.status_code == 200 and bad.status_code == 422
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "chestxai.service"]
    assert len(lines) == 2
    assert lines[0]["status"] == 200 and lines[0]["kind"] == "dicom" and lines[0]["ms"] > 0
    assert lines[0]["path"] == "/api/v1/analyze" and "predict" in lines[0]["timing_ms"]
    assert lines[1]["status"] == 422 and lines[1]["error"] == "ImageReadError"
    text = caplog.text
    assert "PATIENT-SECRET-42" not in text and "Doe_John" not in text


def test_pydicom_messages_never_reach_the_logs(service_model, caplog: pytest.LogCaptureFixture) -> None:
    """pydicom quotes malformed header values in its warnings; such a value may be a patient's name."""
    corrupt = b"\x00" * 128 + b"DICM" + b"\x02\x00\x10\x00garbage DOE^JOHN-SECRET" * 30  # a "UID" quoting it
    with make_client(service_model, None) as bare, warnings.catch_warnings(record=True) as seen, \
            caplog.at_level("DEBUG"):
        assert upload(bare, corrupt, "x.dcm").status_code == 422
    assert not [w for w in seen if "SECRET" in str(w.message)]
    assert "SECRET" not in caplog.text


def test_unknown_route_is_json_404(client: TestClient) -> None:
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404 and "no such page" in response.json()["error"]
    assert client.put("/api/v1/health").status_code == 405
