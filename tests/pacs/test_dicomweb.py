"""`chestxai pacs analyze` against a real Orthanc: results stored as SR + GSPS + SC per frontal image, numbers equal
to `chestxai predict` / `chestxai explain` on the same pixels, idempotent, and clean failures."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import highdicom as hd
import pytest
from pacs_helpers import DATA, PASSWORD, PATIENT_ID, PATIENT_NAME, USER, Orthanc, TLSProxy, build_study, self_signed_pem
from pydicom.uid import JPEGBaseline8Bit

from chestxai.cli import main
from chestxai.pacs import dicomweb
from chestxai.pacs.objects import NOT_FOR_DIAGNOSIS, to_bytes

IMAGES = sorted((DATA / "images").glob("*.png"))[:4]


def run_cli(argv: list[str], capsys) -> tuple[int, dict | list | None, str]:
    capsys.readouterr()
    rc = main(argv)
    out, err = capsys.readouterr()
    try:
        parsed = json.loads(out) if out.strip() else None
    except ValueError:
        parsed = None
    return rc, parsed, err


def upload(orthanc: Orthanc, datasets) -> None:
    for ds in datasets:
        orthanc.upload(to_bytes(ds))


def results_by_source(orthanc: Orthanc, study: str) -> dict[str, list[dict]]:
    """chestxai's result instances of the study, grouped by the source SOP instance they reference."""
    out: dict[str, list[dict]] = {}
    for inst in orthanc.instances_of_study(study):
        if not str(inst.get("SeriesDescription", "")).startswith("chestxai"):
            continue
        tags = orthanc.get(f"/instances/{inst_id(orthanc, inst['SOPInstanceUID'])}/tags?simplify")
        if "CurrentRequestedProcedureEvidenceSequence" in tags:
            src = tags["CurrentRequestedProcedureEvidenceSequence"][0]["ReferencedSeriesSequence"][0][
                "ReferencedSOPSequence"][0]["ReferencedSOPInstanceUID"]
        elif "ReferencedSeriesSequence" in tags:
            src = tags["ReferencedSeriesSequence"][0]["ReferencedImageSequence"][0]["ReferencedSOPInstanceUID"]
        else:
            src = tags["SourceImageSequence"][0]["ReferencedSOPInstanceUID"]
        out.setdefault(src, []).append(tags)
    return out


def inst_id(orthanc: Orthanc, sop: str) -> str:
    import requests

    found = requests.post(f"{orthanc.url}/tools/lookup", data=sop, auth=orthanc.auth, timeout=30).json()
    return next(f["ID"] for f in found if f["Type"] == "Instance")


@pytest.fixture
def pacs_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(dicomweb.USER_ENV, USER)
    monkeypatch.setenv(dicomweb.PASSWORD_ENV, PASSWORD)


def test_analyze_stores_sr_gsps_sc_matching_predict_and_explain(orthanc, pacs_env, pacs_checkpoint, pacs_catalogue,
                                                               tmp_path, capsys):
    study, datasets = build_study(IMAGES[:2])
    upload(orthanc, datasets)
    frontal = [ds for ds in datasets if ds.Modality == "CR" and ds.ViewPosition == "PA" and ds.Rows == 384]
    corrupt = next(ds for ds in datasets if ds.Rows == 512)
    argv = ["pacs", "analyze", "--url", orthanc.dicomweb, "--study", study, "--model", str(pacs_checkpoint),
            "--catalogue", str(pacs_catalogue)]
    rc, summary, err = run_cli(argv, capsys)
    logs = [err]
    assert rc == 1, err  # the corrupt object is reported, the rest analysed
    assert summary["analysed"] == 2 and summary["stored_objects"] == 6
    assert summary["skipped_lateral"] == 1 and summary["skipped_other_modality"] == 1
    assert summary["failed"] == [corrupt.SOPInstanceUID]
    assert f"instance {corrupt.SOPInstanceUID}" in err and "lateral view" in err

    stored = results_by_source(orthanc, study)
    assert sorted(stored) == sorted(ds.SOPInstanceUID for ds in frontal)
    source_series = {ds.SeriesInstanceUID for ds in datasets}
    for sop, objects in stored.items():
        assert sorted(o["Modality"] for o in objects) == ["OT", "PR", "SR"]
        for o in objects:
            assert o["StudyInstanceUID"] == study and o["SeriesInstanceUID"] not in source_series
            assert o["PatientID"] == frontal[0].PatientID  # PHI belongs in the PACS objects
        sc = next(o for o in objects if o["Modality"] == "OT")
        assert NOT_FOR_DIAGNOSIS in sc["SeriesDescription"]

    # The SR, parsed by highdicom, against `chestxai predict` and `chestxai explain` on the same pixels.
    from dicomweb_client.api import DICOMwebClient
    from dicomweb_client.session_utils import create_session_from_user_pass

    client = DICOMwebClient(orthanc.dicomweb, session=create_session_from_user_pass(USER, PASSWORD))
    for ds in frontal:
        source_file = tmp_path / f"{ds.SOPInstanceUID}.dcm"
        source_file.write_bytes(to_bytes(client.retrieve_instance(study, ds.SeriesInstanceUID, ds.SOPInstanceUID)))
        sr_tags = next(o for o in stored[ds.SOPInstanceUID] if o["Modality"] == "SR")
        sr_ds = client.retrieve_instance(study, sr_tags["SeriesInstanceUID"], sr_tags["SOPInstanceUID"])
        sr = hd.sr.srread(io.BytesIO(to_bytes(sr_ds)))
        image_group = sr.content.get_image_measurement_groups()[0]
        probabilities = {m.name.meaning.removeprefix("Probability of "): m.value
                         for m in image_group.get_measurements() if m.name.meaning.startswith("Probability of ")}
        rc, predicted, err = run_cli(["predict", "--model", str(pacs_checkpoint), str(source_file)], capsys)
        assert rc == 0, err
        expected = predicted[str(source_file)]
        assert set(probabilities) == set(expected)
        for finding, p in expected.items():
            assert abs(probabilities[finding] - p) < 1e-4
        roi_group = sr.content.get_planar_roi_measurement_groups()[0]
        finding = roi_group.finding_type.meaning
        finding = {"Pleural effusion": "effusion", "Pneumonia": "pneumonia", "Normal": "normal"}[finding]
        rc, explained, err = run_cli(["explain", "--model", str(pacs_checkpoint), "--methods", "gradcam",
                                      "--finding", finding, "--out", str(tmp_path / "explain"), str(source_file)],
                                     capsys)
        assert rc == 0, err
        x, y, w, h = explained[str(source_file)]["gradcam"]["box"]
        region = roi_group.roi
        points = region.value
        assert points[:, 0].min() == x and points[:, 1].min() == y
        assert points[:, 0].max() == x + w and points[:, 1].max() == y + h
        source_ref = region.ContentSequence[0].ReferencedSOPSequence[0]
        assert source_ref.ReferencedSOPInstanceUID == ds.SOPInstanceUID
        pr_tags = next(o for o in stored[ds.SOPInstanceUID] if o["Modality"] == "PR")
        gsps = client.retrieve_instance(study, pr_tags["SeriesInstanceUID"], pr_tags["SOPInstanceUID"])
        annotation = gsps.GraphicAnnotationSequence[0]
        assert annotation.ReferencedImageSequence[0].ReferencedSOPInstanceUID == ds.SOPInstanceUID
        drawn = list(annotation.GraphicObjectSequence[0].GraphicData)
        assert drawn[:2] == [x, y] and drawn[4:6] == [x + w, y + h]  # the same box, on the original pixels
        sc_tags = next(o for o in stored[ds.SOPInstanceUID] if o["Modality"] == "OT")
        sc = client.retrieve_instance(study, sc_tags["SeriesInstanceUID"], sc_tags["SOPInstanceUID"],
                                      media_types=(("application/dicom", "*"),))  # as stored
        assert sc.file_meta.TransferSyntaxUID == JPEGBaseline8Bit  # a picture for the eye, compressed
        assert sc.pixel_array.shape == (sc.Rows, sc.Columns, 3) and sc.BurnedInAnnotation == "YES"
        label = annotation.TextObjectSequence[0].UnformattedTextValue
        assert label.startswith(f"{finding} ") and label.endswith("gradcam box")
        texts = [item for item in image_group[0].ContentSequence if item.ValueType == "TEXT"]
        assert any("case " in t.TextValue for t in texts)  # the similar cases, as text

    # A second run stores nothing new.
    rc, again, err = run_cli(argv, capsys)
    logs.append(err)
    assert again["analysed"] == 0 and again["stored_objects"] == 0 and again["already_done"] == 2
    assert results_by_source(orthanc, study).keys() == stored.keys()
    assert all(len(v) == 3 for v in results_by_source(orthanc, study).values())

    # The patient's name and ID reach neither chestxai's log lines nor its catalogue (file names or content).
    catalogue_files = [p for p in pacs_catalogue.rglob("*") if p.is_file()]
    for secret in (PATIENT_ID, *PATIENT_NAME.split("^")):
        assert not any(secret in text for text in logs)
        assert not any(secret in str(p) or secret.encode() in p.read_bytes() for p in catalogue_files)


def test_wrong_password_is_one_line_and_stores_nothing(orthanc, pacs_checkpoint, monkeypatch, capsys):
    study, datasets = build_study(IMAGES[2:3], lateral=False, corrupt=False, other=False)
    upload(orthanc, datasets)
    monkeypatch.setenv(dicomweb.USER_ENV, USER)
    monkeypatch.setenv(dicomweb.PASSWORD_ENV, "wrong")
    rc, _, err = run_cli(["pacs", "analyze", "--url", orthanc.dicomweb, "--study", study, "--model",
                          str(pacs_checkpoint), "--catalogue", "none"], capsys)
    assert rc == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("chestxai: error: ") and "credentials" in lines[0]
    assert "wrong" not in err and "Traceback" not in err
    assert results_by_source(orthanc, study) == {}


def test_orthanc_stopped_half_way_leaves_no_partial_result(orthanc, pacs_env, pacs_checkpoint, monkeypatch, capsys):
    study, datasets = build_study(IMAGES[:3], lateral=False, corrupt=False, other=False)
    upload(orthanc, datasets)
    real_store = dicomweb.Pacs.store

    def store_then_stop(self, objects, study_uid):
        real_store(self, objects, study_uid)
        orthanc.stop()  # the PACS goes away after the first image's results

    monkeypatch.setattr(dicomweb.Pacs, "store", store_then_stop)
    argv = ["pacs", "analyze", "--url", orthanc.dicomweb, "--study", study, "--model", str(pacs_checkpoint),
            "--catalogue", "none"]
    rc, _, err = run_cli(argv, capsys)
    monkeypatch.setattr(dicomweb.Pacs, "store", real_store)
    orthanc.start()
    assert rc == 2
    errors = [line for line in err.splitlines() if line.startswith("chestxai: error")]
    assert len(errors) == 1 and "cannot reach the PACS" in errors[0] and "Traceback" not in err
    stored = results_by_source(orthanc, study)
    assert len(stored) == 1 and all(len(v) == 3 for v in stored.values())  # one complete set, nothing partial
    rc, summary, err = run_cli(argv, capsys)  # run again: the rest, and nothing twice
    assert rc == 0, err
    assert summary["already_done"] == 1 and summary["analysed"] == 2
    stored = results_by_source(orthanc, study)
    assert len(stored) == 3 and all(sorted(o["Modality"] for o in v) == ["OT", "PR", "SR"] for v in stored.values())


def test_since_selects_studies_by_date(orthanc, pacs_env, pacs_checkpoint, capsys):
    study, datasets = build_study(IMAGES[3:4], lateral=False, corrupt=False, other=False, study_date="20300601")
    upload(orthanc, datasets)
    argv = ["pacs", "analyze", "--url", orthanc.dicomweb, "--model", str(pacs_checkpoint), "--catalogue", "none"]
    rc, summary, err = run_cli([*argv, "--since", "20300602"], capsys)
    assert rc == 0 and summary["studies"] == 0, err
    rc, summary, err = run_cli([*argv, "--since", "20300601"], capsys)
    assert rc == 0 and summary["studies"] == 1 and summary["analysed"] == 1, err
    assert len(results_by_source(orthanc, study)) == 1


def test_bad_arguments_are_one_line_errors(pacs_env, capsys):
    rc, _, err = run_cli(["pacs", "analyze", "--url", "ftp://x", "--study", "1.2"], capsys)
    assert rc == 2 and err.startswith("chestxai: error: --url")
    rc, _, err = run_cli(["pacs", "analyze", "--url", "http://127.0.0.1:9", "--since", "2026-01-01"], capsys)
    assert rc == 2 and "YYYYMMDD" in err


def test_unreachable_pacs(pacs_env, capsys):
    from pacs_helpers import free_port

    rc, _, err = run_cli(["pacs", "analyze", "--url", f"http://127.0.0.1:{free_port()}/dicom-web", "--new"], capsys)
    assert rc == 2 and err.strip().count("\n") == 0 and "cannot reach the PACS" in err


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed to make the test certificate")
def test_tls_with_ca_bundle(orthanc, pacs_env, pacs_checkpoint, tmp_path, capsys):
    key, cert = self_signed_pem(tmp_path)
    proxy = TLSProxy(orthanc.url, key, cert)
    try:
        study, datasets = build_study(IMAGES[3:4], lateral=False, corrupt=False, other=False)
        upload(orthanc, datasets)
        argv = ["pacs", "analyze", "--url", f"{proxy.url}/dicom-web", "--study", study, "--model",
                str(pacs_checkpoint), "--catalogue", "none"]
        rc, _, err = run_cli(argv, capsys)  # a certificate no system CA signed: refused, one line
        assert rc == 2 and err.count("\n") == 1 and "--ca-bundle" in err, err
        rc, summary, err = run_cli([*argv, "--ca-bundle", str(cert)], capsys)
        assert rc == 0, err
        assert summary["analysed"] == 1 and summary["stored_objects"] == 3
        assert len(results_by_source(orthanc, study)) == 1
    finally:
        proxy.close()


class _ScriptedPacs:
    """A PACS of one study, one CR series of ``n`` frontal images, for the pipeline's error paths: retrieving image
    ``fail_fetch`` fails, or storing the ``fail_store``-th result set does."""

    def __init__(self, n: int = 12, fail_fetch: int | None = None, fail_store: int | None = None,
                 store_seconds: float = 0.0) -> None:
        self.n, self.fail_fetch, self.fail_store, self.store_seconds = n, fail_fetch, fail_store, store_seconds
        self.stored: list[str] = []

    def copy(self) -> "_ScriptedPacs":
        return self

    def series(self, study):
        return [{"0020000E": {"Value": ["1.9"]}, "00080060": {"Value": ["CR"]}, "0008103E": {"Value": ["chest"]}}]

    def stored_results(self, study, items):
        return {}

    def instances(self, study, series):
        return [{"00080018": {"Value": [f"1.2.{i}"]}, "00185101": {"Value": ["PA"]}} for i in range(self.n)]

    def retrieve(self, study, series, sop):
        if sop == f"1.2.{self.fail_fetch}":
            raise dicomweb.PacsError("the PACS answered HTTP 503")
        from pydicom.dataset import Dataset

        ds = Dataset()
        ds.SOPInstanceUID = sop
        return ds

    def store(self, objects, study):
        import time

        time.sleep(self.store_seconds)
        if len(self.stored) == self.fail_store:
            raise dicomweb.PacsError("the PACS refused 1 of 3 result objects")
        self.stored.extend(objects)


@pytest.fixture
def scripted(monkeypatch):
    """The pipeline with its analysis and object building replaced by stand-ins (the threads and queues are real)."""
    import time

    class Stand:
        interrupt_at: int | None = None
        calls = 0

        @classmethod
        def of(cls, analyzer, source, methods):
            cls.calls += 1
            if cls.calls == cls.interrupt_at:
                raise KeyboardInterrupt
            time.sleep(0.01)
            return cls(source)

        def __init__(self, source):
            self.source = source

        def objects(self, info, series, kinds, number):
            return [str(self.source.SOPInstanceUID)]

    monkeypatch.setattr(dicomweb, "Analysed", Stand)
    monkeypatch.setattr(dicomweb.ModelInfo, "of", classmethod(lambda cls, analyzer: cls("stand-in", "v1")))
    return Stand


@pytest.mark.parametrize("case", ["fetch fails", "store fails", "interrupted"])
def test_pipeline_error_stops_every_stage_and_keeps_what_it_can(scripted, case):
    """The first error is raised on the caller's thread, no stage is left running or blocked on a full queue, and
    an image retrieved before the fetcher failed is still stored (as the one-thread flow did)."""
    import threading

    before = set(threading.enumerate())
    pacs = {"fetch fails": _ScriptedPacs(fail_fetch=5), "store fails": _ScriptedPacs(fail_store=3, store_seconds=0.1),
            "interrupted": _ScriptedPacs(store_seconds=0.05)}[case]
    scripted.interrupt_at = 6 if case == "interrupted" else None
    with pytest.raises(KeyboardInterrupt if case == "interrupted" else dicomweb.PacsError):
        dicomweb.analyze_studies(pacs, None, ["1.1"])
    assert not [t for t in threading.enumerate() if t not in before and t.is_alive()]  # joined, none left
    assert len(pacs.stored) == len(set(pacs.stored))  # nothing stored twice
    if case == "fetch fails":
        assert pacs.stored == [f"1.2.{i}" for i in range(5)]  # every image retrieved before the failure
    if case == "store fails":
        assert pacs.stored == ["1.2.0", "1.2.1", "1.2.2"]


def test_a_server_without_jpeg_gets_the_secondary_capture_decompressed(monkeypatch):
    """A DICOMweb server that refuses compressed objects (no JPEG storage) must not stop `pacs analyze` at every
    image: the refused compressed object is sent again decompressed, instance UID kept (not the objects already
    stored), and the session sends them decompressed from then on (one request per image, not two)."""
    import numpy as np
    from pydicom.dataset import Dataset
    from pydicom.uid import RLELossless, SecondaryCaptureImageStorage, generate_uid

    from dicom_files import dicom_dataset

    def objects() -> list[Dataset]:
        plain = dicom_dataset(SecondaryCaptureImageStorage, np.zeros((8, 8), np.uint8), "MONOCHROME2", 8)
        packed = dicom_dataset(SecondaryCaptureImageStorage, np.arange(64, dtype=np.uint8).reshape(8, 8),
                               "MONOCHROME2", 8)
        packed.compress(RLELossless, generate_instance_uid=False)
        return [plain, packed]

    requests_seen: list[list[tuple[str, bool]]] = []

    def store_instances(datasets, study_instance_uid):
        requests_seen.append([(ds.SOPInstanceUID, ds.file_meta.TransferSyntaxUID.is_compressed) for ds in datasets])
        answer = Dataset()
        refused = [ds for ds in datasets if ds.file_meta.TransferSyntaxUID.is_compressed]
        if refused:
            item = Dataset()
            item.ReferencedSOPInstanceUID = refused[0].SOPInstanceUID
            item.FailureReason = 0xC122  # transfer syntax not supported
            answer.FailedSOPSequence = [item]
        return answer

    pacs = dicomweb.Pacs("http://127.0.0.1:9")
    monkeypatch.setattr(pacs.client, "store_instances", store_instances)
    first = objects()
    pacs.store(first, generate_uid())
    assert [c for _, c in requests_seen[0]] == [False, True] and [c for _, c in requests_seen[1]] == [False]
    assert [u for u, _ in requests_seen[1]] == [first[1].SOPInstanceUID]  # the refused instance alone, same UID
    assert np.array_equal(first[1].pixel_array, np.arange(64).reshape(8, 8))  # decompressed, not altered
    pacs.store(objects(), generate_uid())
    assert len(requests_seen) == 3 and not any(c for _, c in requests_seen[2])  # decompressed from the start

    # A server refusing uncompressed objects too: still one clear error, not a loop.
    always = dicomweb.Pacs("http://127.0.0.1:9")
    monkeypatch.setattr(always.client, "store_instances",
                        lambda datasets, study_instance_uid: Dataset.from_json(
                            {"00081198": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": ["1.2"]}}]}}))
    with pytest.raises(dicomweb.PacsError, match="refused 1 of 2"):
        always.store(objects(), generate_uid())


@pytest.mark.parametrize("failure", ["connection refused", "timeout", "HTTP 503", "HTTP 401", "HTTP 409"])
def test_a_store_is_resent_decompressed_only_when_the_server_refused_the_objects(monkeypatch, failure):
    """A PACS that is down, busy or refuses the credentials did not refuse the compressed object: the request is
    not sent again (each try already waits through dicomweb-client's own retries), the caller's objects stay as
    they were and later images still go compressed. A refusal of the objects (HTTP 409, as a STOW-RS server
    answers when it stored none of them) is resent decompressed."""
    import numpy as np
    import requests
    from pydicom.uid import RLELossless, SecondaryCaptureImageStorage, generate_uid

    from dicom_files import dicom_dataset

    packed = dicom_dataset(SecondaryCaptureImageStorage, np.arange(64, dtype=np.uint8).reshape(8, 8), "MONOCHROME2", 8)
    packed.compress(RLELossless, generate_instance_uid=False)
    calls: list[bool] = []

    def store_instances(datasets, study_instance_uid):
        calls.append(datasets[0].file_meta.TransferSyntaxUID.is_compressed)
        if failure == "connection refused":
            raise requests.ConnectionError("refused")
        if failure == "timeout":
            raise requests.Timeout("slow")
        response = requests.Response()
        response.status_code = int(failure.split()[1])
        if response.status_code == 409 and not calls[-1]:
            return None  # stored once decompressed
        raise requests.HTTPError(f"{response.status_code}", response=response)

    pacs = dicomweb.Pacs("http://127.0.0.1:9")
    monkeypatch.setattr(pacs.client, "store_instances", store_instances)
    if failure == "HTTP 409":
        pacs.store([packed], generate_uid())
        assert calls == [True, False] and pacs.decompress
        return
    with pytest.raises(dicomweb.PacsError):
        pacs.store([packed], generate_uid())
    assert calls == [True], "sent again to a server that did not refuse the object"
    assert not pacs.decompress and packed.file_meta.TransferSyntaxUID == RLELossless
