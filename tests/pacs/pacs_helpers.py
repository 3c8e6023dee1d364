"""A real Orthanc for the PACS tests: a config written per test session, started as a subprocess, and test studies
built from ../shared/data PNGs as CR/DX DICOM with a patient name and ID (plus a lateral and a corrupt object).

Orthanc is Debian's ``orthanc`` with the ``orthanc-dicomweb`` plugin; ``.ci/run`` installs both.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.uid import ComputedRadiographyImageStorage, DigitalXRayImageStorageForPresentation, generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, also when a benchmark imports this module
from dicom_files import dicom_dataset  # noqa: E402

ORTHANC = shutil.which("Orthanc") or ("/usr/sbin/Orthanc" if Path("/usr/sbin/Orthanc").is_file() else None)
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
WEBVIEWER_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancWebViewer.so")  # Debian's orthanc-webviewer
USER, PASSWORD = "tester", "s3cret-pacs"
ORTHANC_AET = "ORTHANC"
NODE_AET = "CHESTXAI"
PATIENT_NAME, PATIENT_ID = "Zyxwvut^Quorra", "PID7731904"  # greppable, found nowhere else
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_orthanc() -> tuple[dict, str]:
    """The README's "Connect to your PACS" Orthanc configuration (JSON) and auto-routing rule (Lua): every test
    Orthanc runs them, with only its own ports, folders and test user put in."""
    text = README.read_text()
    section = text[text.index("## Connect to your PACS"):]
    section = section[:section.index("\n## ", 10)]
    config = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    lua = section.split("```lua\n", 1)[1].split("```", 1)[0]
    return config, lua


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Orthanc:
    """One Orthanc server on free localhost ports, its storage in ``root`` (kept across stop/start)."""

    root: Path
    node_port: int = 0
    routing: bool = False
    webviewer: bool = False  # load the Orthanc Web Viewer plugin too (screenshots)
    http_port: int = field(default_factory=free_port)
    dicom_port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicom-web"

    @property
    def auth(self) -> tuple[str, str]:
        return USER, PASSWORD

    def write_config(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        config, lua = readme_orthanc()
        modality = config["DicomModalities"]["chestxai"]
        config.update({
            "StorageDirectory": str(self.root / "db"), "IndexDirectory": str(self.root / "db"),
            "HttpPort": self.http_port, "DicomPort": self.dicom_port, "RemoteAccessAllowed": False,
            "RegisteredUsers": {USER: PASSWORD}, "Plugins": [str(DICOMWEB_PLUGIN)],
            "DicomModalities": {"chestxai": [modality[0], "127.0.0.1", self.node_port or 1]},
            "StorageCompression": False, "HttpThreadsCount": 4, "ConcurrentJobs": 1, "DicomScuTimeout": 5,
        })
        assert config["DicomAet"] == ORTHANC_AET and modality[0] == NODE_AET
        if self.webviewer:
            config["Plugins"].append(str(WEBVIEWER_PLUGIN))
            config["WebViewer"] = {"CachePath": str(self.root / "webviewer-cache")}
        config.pop("LuaScripts", None)
        if self.routing:
            (self.root / "routing.lua").write_text(lua)
            config["LuaScripts"] = [str(self.root / "routing.lua")]
        path = self.root / "orthanc.json"
        path.write_text(json.dumps(config, indent=2))
        return path

    def start(self, timeout: float = 60.0) -> "Orthanc":
        config = self.write_config()
        log = open(self.root / "orthanc.log", "ab")
        # TCP_NODELAY=1: DCMTK (Orthanc's DICOM side) then turns Nagle's algorithm off, as the README advises
        self.process = subprocess.Popen([ORTHANC, str(config)], stdout=log, stderr=subprocess.STDOUT,
                                        env={**os.environ, "TCP_NODELAY": "1"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited ({self.process.returncode}); see {self.root / 'orthanc.log'}")
            try:
                if requests.get(f"{self.url}/system", auth=self.auth, timeout=2).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Orthanc did not answer within {timeout:.0f} s; see {self.root / 'orthanc.log'}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    # --- the REST API (test set-up and checks only) --------------------------------------------------------------

    def upload(self, data: bytes) -> dict:
        answer = requests.post(f"{self.url}/instances", data=data, auth=self.auth, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def get(self, path: str):
        answer = requests.get(f"{self.url}{path}", auth=self.auth, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def instances_of_study(self, study_uid: str) -> list[dict]:
        """Every instance of the study with its main tags (Modality from its series)."""
        found = requests.post(f"{self.url}/tools/find", auth=self.auth, timeout=30, json={
            "Level": "Instance", "Query": {"StudyInstanceUID": study_uid}, "Expand": True}).json()
        out = []
        for inst in found:
            tags = self.get(f"/instances/{inst['ID']}/simplified-tags")
            out.append(tags)
        return out

    def delete_all(self) -> None:
        for patient in self.get("/patients"):
            requests.delete(f"{self.url}/patients/{patient}", auth=self.auth, timeout=30)


def self_signed_pem(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 made by openssl: ``(key PEM, cert PEM)``; the cert is its own CA bundle."""
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return key, cert


class TLSProxy:
    """HTTPS in front of Orthanc's HTTP, as a hospital's reverse proxy would be (Debian's Orthanc 1.10.1 crashes on
    its first request with its own ``SslEnabled`` here): each request is forwarded as-is, answers come back."""

    def __init__(self, backend: str, key: Path, cert: Path) -> None:
        import http.server
        import ssl
        import threading

        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                answer = requests.request(self.command, backend + self.path, data=body, headers=headers,
                                          timeout=60)
                self.send_response(answer.status_code)
                for k, v in answer.headers.items():
                    if k.lower() not in ("transfer-encoding", "content-length", "connection", "content-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        del proxy

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def png_pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"), dtype=np.uint8)


def make_image(pixels: np.ndarray, study_uid: str, series_uid: str, modality: str = "CR", view: str = "PA",
               number: int = 1, patient: tuple[str, str] = (PATIENT_NAME, PATIENT_ID)) -> Dataset:
    """A CR (or DX) image with patient, study and view, 8-bit MONOCHROME2, explicit VR little endian."""
    sop_class = ComputedRadiographyImageStorage if modality == "CR" else DigitalXRayImageStorageForPresentation
    ds = dicom_dataset(sop_class, pixels, "MONOCHROME2", 8)
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = patient[0], patient[1], "19600101", "F"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20260105", "101500", "1", "ACC0001"
    ds.ReferringPhysicianName = ""
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = modality, 1, number
    ds.ViewPosition, ds.BodyPartExamined = view, "CHEST"
    ds.SeriesDescription = f"chest {view}"
    ds.PatientOrientation = ["L", "F"] if view != "LL" else ["A", "F"]
    ds.Manufacturer = "test"
    if modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
    return ds


def make_corrupt(study_uid: str, series_uid: str, number: int) -> Dataset:
    """A CR whose pixel data is far shorter than its rows x columns say: Orthanc stores it, nobody can decode it."""
    ds = make_image(np.zeros((64, 64), np.uint8), study_uid, series_uid, number=number)
    ds.Rows, ds.Columns = 512, 512
    return ds


def make_other(study_uid: str, pixels: np.ndarray) -> Dataset:
    """An image of another modality (a secondary capture, OT) in the study: skipped, counted."""
    from pydicom.uid import SecondaryCaptureImageStorage

    ds = make_image(pixels, study_uid, generate_uid())
    ds.Modality = "OT"
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    return ds


def build_study(images: list[Path], lateral: bool = True, corrupt: bool = True, other: bool = True,
                study_date: str = "20260105") -> tuple[str, list[Dataset]]:
    """A study of frontal CRs from ``images`` (+ one lateral view, one corrupt object and one OT image, each in
    its own series)."""
    study = generate_uid()
    frontal_series = generate_uid()
    out = [make_image(png_pixels(p), study, frontal_series, number=i + 1) for i, p in enumerate(images)]
    if lateral:
        out.append(make_image(png_pixels(images[0]), study, generate_uid(), view="LL", number=1))
    if corrupt:
        out.append(make_corrupt(study, generate_uid(), number=1))
    if other:
        out.append(make_other(study, png_pixels(images[0])))
    for ds in out:
        ds.StudyDate = study_date
    return study, out
