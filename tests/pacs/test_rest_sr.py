"""`POST /api/v1/analyze?format=dicom-sr`: a DICOM upload answered with its Structured Report (application/dicom)."""

from __future__ import annotations

import io

import highdicom as hd
import pytest
from fastapi.testclient import TestClient
from pacs_helpers import DATA, build_study

from chestxai.models.checkpoint import load_checkpoint
from chestxai.pacs.objects import to_bytes
from chestxai.service import ServiceConfig, create_app

IMAGE = sorted((DATA / "images").glob("*.png"))[0]


@pytest.fixture(scope="module")
def client(pacs_checkpoint):
    app = create_app(load_checkpoint(pacs_checkpoint), None, model_name="tiny", config=ServiceConfig(token=None))
    with TestClient(app, client=("127.0.0.1", 50000)) as c:
        yield c


def test_dicom_sr_answer_matches_the_json_analysis(client):
    study, (source, *_) = build_study([IMAGE], lateral=False, corrupt=False, other=False)
    data = to_bytes(source)
    files = {"file": ("image.dcm", data, "application/dicom")}
    answer = client.post("/api/v1/analyze?format=dicom-sr", files=files, data={"methods": "gradcam"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/dicom"
    sr = hd.sr.srread(io.BytesIO(answer.content))
    assert sr.StudyInstanceUID == study and sr.PatientID == source.PatientID and sr.Modality == "SR"
    measured = {m.name.meaning.removeprefix("Probability of "): m.value
                for m in sr.content.get_image_measurement_groups()[0].get_measurements()
                if m.name.meaning.startswith("Probability of ")}
    expected = client.post("/api/v1/analyze", files=files, data={"methods": "gradcam", "k": "0"}).json()
    assert measured.keys() == expected["probabilities"].keys()
    for finding, p in expected["probabilities"].items():
        assert abs(measured[finding] - p) < 1e-4
    roi = sr.content.get_planar_roi_measurement_groups()[0].roi
    box = expected["explanations"]["gradcam"]["box"]
    assert roi.value[:, 0].min() == box["x"] and roi.value[:, 1].max() == box["y"] + box["h"]
    # The same image and model version give the same SR instance in the same series (a PACS stores it once),
    # never the source's UIDs.
    again = hd.sr.srread(io.BytesIO(client.post("/api/v1/analyze?format=dicom-sr", files=files,
                                                data={"methods": "gradcam"}).content))
    assert (again.SOPInstanceUID, again.SeriesInstanceUID) == (sr.SOPInstanceUID, sr.SeriesInstanceUID)
    assert sr.SOPInstanceUID != source.SOPInstanceUID and sr.SeriesInstanceUID != source.SeriesInstanceUID
    other_study, (other, *_) = build_study([IMAGE], lateral=False, corrupt=False, other=False)
    elsewhere = hd.sr.srread(io.BytesIO(client.post(
        "/api/v1/analyze?format=dicom-sr", files={"file": ("image.dcm", to_bytes(other), "application/dicom")},
        data={"methods": "gradcam"}).content))
    assert elsewhere.SOPInstanceUID != sr.SOPInstanceUID and elsewhere.SeriesInstanceUID != sr.SeriesInstanceUID
    # The algorithm (model name and version) is identified once in each measurement group, not per measurement.
    from pydicom.sr.codedict import codes

    for group in (sr.content.get_image_measurement_groups()[0], sr.content.get_planar_roi_measurement_groups()[0]):
        names = hd.sr.utils.find_content_items(group[0], name=codes.DCM.AlgorithmName, recursive=True)
        versions = hd.sr.utils.find_content_items(group[0], name=codes.DCM.AlgorithmVersion, recursive=True)
        assert [n.value for n in names] == ["tiny"] and len(versions) == 1 and versions[0].value


def test_dicom_sr_refuses_what_it_cannot_answer(client, dicom_writer, tmp_path):
    png = {"file": ("image.png", IMAGE.read_bytes(), "image/png")}
    answer = client.post("/api/v1/analyze?format=dicom-sr", files=png)
    assert answer.status_code == 400 and "not DICOM" in answer.json()["error"]
    import numpy as np
    from PIL import Image

    film = (np.asarray(Image.open(IMAGE).convert("L"), np.uint16) * 16)  # a radiograph: the scope check passes it
    bare = dicom_writer(tmp_path / "bare.dcm", film).read_bytes()  # no study UIDs
    answer = client.post("/api/v1/analyze?format=dicom-sr", files={"file": ("bare.dcm", bare, "application/dicom")})
    assert answer.status_code == 422 and "StudyInstanceUID" in answer.json()["error"]


def test_an_unknown_format_is_a_400_naming_the_offered_ones(client):
    answer = client.post("/api/v1/analyze?format=xml", files={"file": ("a.png", b"not read", "image/png")})
    assert answer.status_code == 400
    assert answer.json()["error"] == "format='xml' is not offered here; choose one of: json, dicom-sr"


def test_result_uids_follow_the_source_the_kind_and_the_model_version():
    from pydicom.dataset import Dataset

    from chestxai.pacs.objects import ModelInfo, ResultSeries, result_uid

    source = Dataset()
    source.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    v1, v2 = ModelInfo("nih-adult", "aaaa"), ModelInfo("nih-adult", "bbbb")
    assert result_uid(source, v1, "SR") == result_uid(source, v1, "SR")
    uids = {result_uid(source, v1, kind) for kind in ("SR", "PR", "OT")} | {result_uid(source, v2, "SR")}
    assert len(uids) == 4 and source.SOPInstanceUID not in uids  # a new model version: a new result
    assert ResultSeries.of("1.2.3", v1).uids == ResultSeries.of("1.2.3", v1).uids
    assert ResultSeries.of("1.2.3", v1).uids != ResultSeries.of("1.2.3", v2).uids
    assert ResultSeries.of("1.2.3", v1).uids != ResultSeries.of("1.2.4", v1).uids
