"""`chestxai dicom-node` with a real Orthanc routing new CR/DX images to it: results come back as SR + GSPS + SC;
Orthanc stopped while results wait, then restarted: every result arrives, once; a malformed object gets a failure
status and the association goes on; the patient's name and ID reach no log line and no spool file name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pacs_helpers import (DATA, NODE_AET, ORTHANC, ORTHANC_AET, PATIENT_ID, PATIENT_NAME, Orthanc, build_study,
                          free_port, make_corrupt, make_image, png_pixels)
from pydicom.uid import generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import ComputedRadiographyImageStorage, Verification
from test_dicomweb import results_by_source

from chestxai.pacs.objects import to_bytes

IMAGES = sorted((DATA / "images").glob("*.png"))[4:8]
SRC = Path(__file__).resolve().parents[2] / "src"


def wait_for(check, timeout: float, what: str, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def echo(port: int) -> bool:
    ae = AE(ae_title="TESTSCU")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title=NODE_AET)
    if not assoc.is_established:
        return False
    status = assoc.send_c_echo()
    assoc.release()
    return bool(status) and status.Status == 0


def complete(orthanc: Orthanc, study: str, sources: list[str]) -> bool:
    try:
        stored = results_by_source(orthanc, study)
    except Exception:  # noqa: BLE001 -- Orthanc still starting
        return False
    return all(len(stored.get(s, [])) >= 3 for s in sources)


@pytest.fixture
def routed(tmp_path: Path, pacs_checkpoint: Path):
    """Orthanc routing CR/DX to a `chestxai dicom-node` subprocess, which sends its results back to Orthanc."""
    node_port = free_port()
    orthanc = Orthanc(tmp_path / "orthanc", node_port=node_port, routing=True).start()
    log = tmp_path / "node.log"
    spool = tmp_path / "spool"
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "OMP_NUM_THREADS": "1"}
    with open(log, "wb") as handle:
        node = subprocess.Popen(
            [sys.executable, "-m", "chestxai", "dicom-node", "--ae-title", NODE_AET, "--host", "127.0.0.1",
             "--port", str(node_port), "--send-to", f"{ORTHANC_AET}@127.0.0.1:{orthanc.dicom_port}",
             "--spool", str(spool), "--retry-max", "2", "--model", str(pacs_checkpoint), "--catalogue", "none"],
            stdout=handle, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for(lambda: node.poll() is not None or echo(node_port), 120, "the node to answer C-ECHO")
        assert node.poll() is None, log.read_text()
        yield orthanc, node_port, log, spool, node
    finally:
        node.terminate()
        try:
            node.wait(20)
        except subprocess.TimeoutExpired:
            node.kill()
        orthanc.stop()


def test_node_round_trip_and_outage(routed, tmp_path: Path):
    orthanc, node_port, log, spool, node = routed
    study, datasets = build_study(IMAGES[:2])
    for ds in datasets:
        orthanc.upload(to_bytes(ds))
    frontal = [ds.SOPInstanceUID for ds in datasets if ds.Modality == "CR" and ds.ViewPosition == "PA"
               and ds.Rows == 384]
    wait_for(lambda: complete(orthanc, study, frontal), 180, "the routed images' results in Orthanc")
    text = log.read_text()
    assert "lateral view" in text and "rejected:" in text  # the lateral skipped, the corrupt one refused

    # Orthanc goes down; a modality sends straight to the node: a malformed object, then a good one.
    orthanc.stop()
    series = generate_uid()
    good = make_image(png_pixels(IMAGES[2]), study, series, number=5)
    ae = AE(ae_title="MODALITY")
    ae.add_requested_context(ComputedRadiographyImageStorage)
    assoc = ae.associate("127.0.0.1", node_port, ae_title=NODE_AET)
    assert assoc.is_established
    bad_status = assoc.send_c_store(make_corrupt(study, series, number=6))
    good_status = assoc.send_c_store(good)
    assoc.release()
    assert 0xC000 <= bad_status.Status <= 0xCFFF and good_status.Status == 0x0000
    wait_for(lambda: len(list((spool / "outbox").glob("*.dcm"))) == 3, 120, "three results spooled")
    wait_for(lambda: "not reachable" in log.read_text(), 30, "a failed send to be logged")
    assert len(list((spool / "outbox").glob("*.dcm"))) == 3  # nothing lost while the PACS is down

    orthanc.start()
    wait_for(lambda: complete(orthanc, study, [*frontal, good.SOPInstanceUID]), 120, "the spooled results")
    wait_for(lambda: not list((spool / "outbox").glob("*.dcm")), 30, "the outbox to empty")
    time.sleep(3)  # a duplicate would arrive now
    stored = results_by_source(orthanc, study)
    assert sorted(stored) == sorted([*frontal, good.SOPInstanceUID])
    for objects in stored.values():
        assert sorted(o["Modality"] for o in objects) == ["OT", "PR", "SR"]  # every result, once

    # No patient identifier in the node's log or in any spool file name.
    text = log.read_text()
    names = [p.name for p in spool.rglob("*")]
    for secret in (PATIENT_ID, *PATIENT_NAME.split("^")):
        assert secret not in text
        assert not any(secret in name for name in names)

    # SIGTERM (systemctl stop) stops the node cleanly: a log line and exit status 0, not a killed process.
    node.terminate()
    assert node.wait(60) == 0, log.read_text()[-2000:]
    assert "SIGTERM: stopping" in log.read_text() and log.read_text().rstrip().endswith("stopped")


def test_spool_lists_complete_files_only_and_drops_a_crashs_temporaries(tmp_path: Path):
    """The sender must never read a result still being written (the atomic write's hidden temporary ends in
    .dcm too), and a temporary left by a crash is not a result."""
    from chestxai.data.atomic import atomic_path
    from chestxai.pacs.node import Spool

    spool = Spool(tmp_path / "spool")
    done = Spool.put(spool.outbox, b"complete")
    with atomic_path(spool.outbox / "later.dcm") as tmp:
        tmp.write_bytes(b"half")
        assert tmp.exists() and Spool.files(spool.outbox) == [done]  # a write in progress is not listed
    crashed = spool.outbox / ".left-by-a-crash.tmp.dcm"
    crashed.write_bytes(b"half")
    Spool(tmp_path / "spool")  # the node restarting
    assert not crashed.exists() and Spool.files(spool.outbox) == sorted([done, spool.outbox / "later.dcm"])


@pytest.mark.parametrize("accepted", [
    ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"],  # uncompressed only: no JPEG
    ["1.2.840.10008.1.2"],  # Implicit VR Little Endian only: the one transfer syntax every SCP must accept
])
def test_sender_delivers_to_a_pacs_that_refuses_the_spooled_transfer_syntax(tmp_path: Path, accepted: list[str]):
    """A spooled result whose transfer syntax the PACS does not accept (JPEG SC; Explicit VR) must still be
    delivered (converted on the way), and must never hold up the results queued behind it."""
    import io

    import numpy as np
    from pydicom import dcmread
    from pydicom.uid import JPEGBaseline8Bit

    from chestxai.pacs.node import Destination, DicomNode, Spool
    from chestxai.pacs.objects import ModelInfo, ResultSeries, build_sc

    class Strict(Orthanc):
        def write_config(self) -> Path:
            path = super().write_config()
            config = json.loads(path.read_text())
            config["AcceptedTransferSyntaxes"] = accepted
            path.write_text(json.dumps(config))
            return path

    if ORTHANC is None:
        pytest.skip("Orthanc is not installed")
    orthanc = Strict(tmp_path / "orthanc").start()
    try:
        study, series = generate_uid(), generate_uid()
        source = make_image(png_pixels(IMAGES[0]), study, series)
        rgb = np.repeat(png_pixels(IMAGES[0])[..., None], 3, axis=2)
        sc = build_sc(source, rgb, ModelInfo("tiny", "v1"), ResultSeries(), "gradcam")
        assert sc.file_meta.TransferSyntaxUID == JPEGBaseline8Bit
        plain = dcmread(io.BytesIO(to_bytes(sc)))
        plain.decompress(generate_instance_uid=True)  # an Explicit VR Little Endian SC, queued behind the JPEG one
        node = DicomNode(lambda: None, NODE_AET, free_port(), Destination(ORTHANC_AET, "127.0.0.1", orthanc.dicom_port),
                         tmp_path / "spool")
        first = Spool.put(node.spool.outbox, to_bytes(sc))
        Spool.put(node.spool.outbox, to_bytes(plain))
        assert Spool.files(node.spool.outbox)[0] == first
        assert node._send(Spool.files(node.spool.outbox))
        assert Spool.files(node.spool.outbox) == [] and not (node.spool.root / "refused").exists()
        stored = {i["SOPInstanceUID"] for i in orthanc.instances_of_study(study)}
        assert stored == {sc.SOPInstanceUID, plain.SOPInstanceUID}  # the same instance UIDs: a resend is no copy
    finally:
        orthanc.stop()


def test_an_image_received_while_the_node_starts_is_analysed_once(tmp_path: Path, pacs_checkpoint: Path, monkeypatch):
    """On start the node queues what its inbox holds from before; an image that arrives as soon as it listens is
    queued by its C-STORE handler, and must not be queued a second time from the inbox listing (analysed twice,
    it would reach the PACS as two result sets: the builder drops the inbox file only after the next analysis)."""
    import queue
    from types import SimpleNamespace

    from chestxai.pacs import node as node_module
    from chestxai.pacs.node import Destination, DicomNode, Spool
    from chestxai.pacs.objects import load_analyzer

    earlier = make_image(png_pixels(IMAGES[0]), generate_uid(), generate_uid())
    arriving = make_image(png_pixels(IMAGES[1]), generate_uid(), generate_uid())
    node = DicomNode(lambda: load_analyzer(str(pacs_checkpoint), "none", None), NODE_AET, free_port(),
                     Destination(ORTHANC_AET, "127.0.0.1", free_port()), tmp_path / "spool", retry_base=60)
    Spool.put(node.spool.inbox, to_bytes(earlier))  # received before a restart, not analysed yet
    queued: list = []

    class Recording(queue.Queue):
        def put(self, item, *args, **kwargs):
            queued.append(item)
            super().put(item, *args, **kwargs)

    node.work = Recording()
    start_server = node_module.AE.start_server

    def listening(ae, *args, **kwargs):
        server = start_server(ae, *args, **kwargs)
        assert node.handle_store(SimpleNamespace(dataset=arriving, file_meta=arriving.file_meta)) == 0
        return server

    monkeypatch.setattr(node_module.AE, "start_server", listening)
    node.start()
    try:
        wait_for(lambda: node.counts["analysed"] + node.counts["failed"] >= 2, 120, "both images analysed")
        time.sleep(3)  # a second analysis of the same image would finish now
        paths = [p for p in queued if p is not None]
        assert len(paths) == len(set(paths)) == 2
        assert node.counts["analysed"] == 2 and node.counts["failed"] == 0
        assert len(Spool.files(node.spool.outbox)) == 6 and Spool.files(node.spool.inbox) == []
    finally:
        node.stop()


SIGTERM_WHILE_WAITING = """
import os, signal, threading, time, types

real_wait = threading.Event.wait


def wait(self, timeout=None):  # the main thread signalled just while an Event's wait holds its lock: rare, but real
    if threading.current_thread() is threading.main_thread() and callable(signal.getsignal(signal.SIGTERM)):
        with self._cond:
            os.kill(os.getpid(), signal.SIGTERM)
            str(0)  # any call: the pending handler runs here, with the lock held
    return real_wait(self, timeout)


def terminate():  # an ordinary SIGTERM, once the node listens for it
    while not callable(signal.getsignal(signal.SIGTERM)):
        time.sleep(0.01)
    time.sleep(1.5)
    os.kill(os.getpid(), signal.SIGTERM)


threading.Event.wait = wait
from chestxai.pacs.node import DicomNode

threading.Thread(target=terminate, daemon=True).start()

DicomNode.serve_forever(types.SimpleNamespace(log=print, stop=lambda: print("drained")))
print("restored" if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL else "left installed")
"""


def test_sigterm_stops_the_node_whenever_it_arrives(tmp_path: Path):
    """The SIGTERM handler takes no lock the waiting main thread may hold (an Event.set() there deadlocked when the
    signal came while the main thread's Event.wait held the Event's lock: `systemctl stop` then hung until SIGKILL),
    and it is no longer installed once the node stopped."""
    done = subprocess.run([sys.executable, "-c", SIGTERM_WHILE_WAITING], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "PYTHONPATH": str(SRC)}, start_new_session=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["SIGTERM:", "stopping", "drained", "stopped", "restored"]
