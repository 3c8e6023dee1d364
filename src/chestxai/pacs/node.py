"""A listening DICOM node (pynetdicom): answers C-ECHO, accepts C-STORE of CR/DX images, analyses them off the
network thread with the service's :class:`~chestxai.service.analysis.Analyzer`, and C-STOREs the SR, GSPS and SC
(:mod:`chestxai.pacs.objects`) to the PACS named by ``--send-to``.

Nothing is held only in memory: an accepted image is written to ``SPOOL/inbox`` (atomically) before the node answers
success, its results to ``SPOOL/outbox`` before the image is dropped, and a result leaves the outbox only when the
PACS has acknowledged it. A PACS that is down is retried with exponential back-off; a result's UIDs are fixed when it
is spooled, so a resend after a lost acknowledgement is the same instance, not a copy. Spool files are named by
random ids and log lines carry UIDs and counts only: no patient name or ID reaches a file name or the log.
"""

from __future__ import annotations

import queue
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_file_meta_info
from pydicom.dataset import Dataset
from pynetdicom import AE, _config, evt
from pynetdicom.sop_class import (
    ComprehensiveSRStorage,
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
    GrayscaleSoftcopyPresentationStateStorage,
    SecondaryCaptureImageStorage,
    Verification,
)
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from chestxai.data.atomic import atomic_write_bytes
from chestxai.data.io import read_image_bytes
from chestxai.errors import ChestXAIError, ConfigError
from chestxai.pacs.dicomweb import is_lateral
from chestxai.pacs.objects import SC_TRANSFER_SYNTAX, Analysed, ModelInfo, ResultSeries, to_bytes
from chestxai.service.analysis import Analyzer

ACCEPTED = (ComputedRadiographyImageStorage, DigitalXRayImageStorageForPresentation,
            DigitalXRayImageStorageForProcessing)
SENT = (ComprehensiveSRStorage, GrayscaleSoftcopyPresentationStateStorage, SecondaryCaptureImageStorage)
SUCCESS, CANNOT_UNDERSTAND, OUT_OF_RESOURCES = 0x0000, 0xC000, 0xA700


@dataclass(frozen=True)
class Destination:
    """Where results go: ``AET@HOST:PORT``."""

    ae_title: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> "Destination":
        try:
            aet, rest = text.split("@", 1)
            host, port = rest.rsplit(":", 1)
            dest = cls(aet.strip(), host.strip("[] "), int(port))
        except ValueError:
            raise ConfigError(f"--send-to {text!r}: expected AET@HOST:PORT, e.g. ORTHANC@pacs.example.org:4242") from None
        if not 1 <= len(dest.ae_title) <= 16 or not 0 < dest.port < 65536 or not dest.host:
            raise ConfigError(f"--send-to {text!r}: AE title of 1-16 characters, a host and a port 1-65535")
        return dest


# Results are sent from their spool files without decoding and encoding them again (each in the transfer syntax
# it was written in, which the sender's association proposes for its class): pynetdicom's documented switch.
_config.STORE_SEND_CHUNKED_DATASET = True


def no_delay(assoc) -> None:
    """Send each DIMSE message at once (TCP_NODELAY): with Nagle's algorithm on, every C-STORE's reply waited for
    a delayed acknowledgement, about 0.1 s per object against Orthanc (0.01 s with it off on both sides; Orthanc's
    DICOM side, DCMTK, turns it off when its environment has TCP_NODELAY=1)."""
    sock = getattr(getattr(assoc.dul, "socket", None), "socket", None)
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def sendable(assoc, path: Path) -> Path | Dataset:
    """A spool file as it is (sent without decoding) when the PACS accepted its class in its transfer syntax;
    otherwise decoded, a compressed one decompressed, so that pynetdicom converts it to a syntax the PACS did
    accept (a PACS without JPEG, or with Implicit VR Little Endian only). Its instance UID stays: a resend is no
    copy."""
    meta = read_file_meta_info(path)
    if any(cx.abstract_syntax == meta.MediaStorageSOPClassUID and cx.transfer_syntax[0] == meta.TransferSyntaxUID
           for cx in assoc.accepted_contexts):
        return path
    ds = dcmread(path)
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.decompress(generate_instance_uid=False)
    return ds


class Spool:
    """Two folders of DICOM files written atomically: ``inbox`` (accepted images) and ``outbox`` (results)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.inbox, self.outbox = self.root / "inbox", self.root / "outbox"
        for folder in (self.inbox, self.outbox):
            folder.mkdir(parents=True, exist_ok=True)
            for stale in folder.glob(".*"):  # atomic writes' temporaries left by a crash: never a complete file
                stale.unlink(missing_ok=True)

    @staticmethod
    def put(folder: Path, data: bytes) -> Path:
        path = folder / f"{time.time_ns():020d}-{uuid.uuid4().hex}.dcm"  # time-ordered, nothing from the header
        atomic_write_bytes(data, path, durable=True)  # fsynced: a spooled image or result survives a crash
        return path

    @staticmethod
    def files(folder: Path) -> list[Path]:
        """The complete files, oldest first (not the hidden temporaries of writes in progress)."""
        return sorted(p for p in folder.glob("*.dcm") if not p.name.startswith("."))


class DicomNode:
    """The SCP, one analysis worker thread (the analyzer is not thread-safe), one thread building the result
    objects (overlapping the next analysis) and one sender thread."""

    def __init__(self, make_analyzer: Callable[[], Analyzer], ae_title: str, port: int, send_to: Destination, spool: str | Path,
                 methods: str | None = None, host: str = "0.0.0.0", retry_base: float = 1.0,
                 retry_max: float = 60.0, log: Callable[[str], None] = lambda m: None) -> None:
        if not 1 <= len(ae_title) <= 16:
            raise ConfigError(f"--ae-title {ae_title!r}: 1 to 16 characters")
        self.make_analyzer, self.methods, self.log = make_analyzer, methods, log
        self.analyzer: Analyzer | None = None  # built on the worker thread that uses it (SQLite, hooks)
        self.ready = threading.Event()
        self.start_error: BaseException | None = None
        self.ae_title, self.port, self.host, self.send_to = ae_title, port, host, send_to
        self.spool = Spool(spool)
        self.retry_base, self.retry_max = retry_base, retry_max
        self.info: ModelInfo | None = None
        self.work: queue.Queue[Path | None] = queue.Queue()
        self.analysed: queue.Queue[tuple[Path, Analysed, int] | None] = queue.Queue(maxsize=2)
        self.numbered = 0
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.counts = {"received": 0, "rejected": 0, "analysed": 0, "failed": 0, "skipped": 0, "sent": 0}
        self.server = None
        self.threads: list[threading.Thread] = []

    # --- network thread ------------------------------------------------------------------------------------------

    def handle_echo(self, event) -> int:
        return SUCCESS

    def handle_store(self, event) -> int:
        """Check the image decodes, spool it, answer; the analysis happens on the worker thread."""
        try:
            ds = event.dataset
            ds.file_meta = event.file_meta
            sop = str(ds.get("SOPInstanceUID", "?"))
            data = to_bytes(ds)
            read_image_bytes(data, f"instance {sop}.dcm")
        except ChestXAIError as exc:
            self.counts["rejected"] += 1
            self.log(f"rejected: {exc}")
            return CANNOT_UNDERSTAND
        except Exception as exc:  # noqa: BLE001 -- a malformed object must not end the association
            self.counts["rejected"] += 1
            self.log(f"rejected: an object that cannot be parsed ({type(exc).__name__})")
            return CANNOT_UNDERSTAND
        try:
            path = Spool.put(self.spool.inbox, data)
        except OSError as exc:
            self.log(f"cannot spool instance {sop} ({exc.strerror or exc}); answered 'out of resources'")
            return OUT_OF_RESOURCES
        self.counts["received"] += 1
        self.log(f"received: instance {sop}")
        self.work.put(path)
        return SUCCESS

    # --- worker threads ------------------------------------------------------------------------------------------

    def _analyse_loop(self) -> None:
        try:
            self.analyzer = self.make_analyzer()
            self.info = ModelInfo.of(self.analyzer)
        except BaseException as exc:  # noqa: BLE001 -- handed to start(), which raises it
            self.start_error = exc
            return
        finally:
            self.ready.set()
        try:
            self._work()
        finally:
            self.analyzer.close()

    def _work(self) -> None:
        try:
            while True:
                path = self.work.get()
                if path is None:
                    return
                try:
                    self._analyse(path)
                except Exception as exc:  # noqa: BLE001 -- one bad image must not stop the node
                    self.counts["failed"] += 1
                    self.log(f"failed: {path.name}: {type(exc).__name__}: {str(exc)[:200]}")
        finally:
            self.analysed.put(None)

    def _analyse(self, path: Path) -> None:
        source = dcmread(path)
        if is_lateral(str(source.get("ViewPosition", ""))):
            self.counts["skipped"] += 1
            self.log(f"skipped: instance {source.SOPInstanceUID} is a lateral view ({source.ViewPosition})")
            path.unlink(missing_ok=True)
            return
        try:
            analysed = Analysed.of(self.analyzer, source, self.methods)
        except ChestXAIError as exc:
            self.counts["failed"] += 1
            self.log(f"failed: {exc}")
            path.unlink(missing_ok=True)
            return
        self.numbered += 1
        self.analysed.put((path, analysed, self.numbered))

    def _build_loop(self) -> None:
        """Build each analysed image's objects (highdicom, off the analysis thread), spool them, then drop the
        received image: a node stopped in between analyses that image again on restart, nothing is lost."""
        while (item := self.analysed.get()) is not None:
            path, analysed, number = item
            sop = analysed.source.SOPInstanceUID
            try:
                series = ResultSeries.of(analysed.source.StudyInstanceUID, self.info)
                objects = analysed.objects(self.info, series, instance_number=number)
                for ds in objects:
                    Spool.put(self.spool.outbox, to_bytes(ds))
            except Exception as exc:  # noqa: BLE001 -- one bad image must not stop the node
                self.counts["failed"] += 1
                self.log(f"failed: {path.name}: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            path.unlink(missing_ok=True)
            self.counts["analysed"] += 1
            self.log(f"analysed: instance {sop}: {len(objects)} results spooled")
            self.wake.set()

    def _send_loop(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            files = Spool.files(self.spool.outbox)
            if not files:
                self.wake.wait(1.0)
                self.wake.clear()
                continue
            try:
                sent = self._send(files)
            except Exception as exc:  # noqa: BLE001 -- the sender must outlive any one failure; retried below
                sent = False
                self.log(f"sending failed ({type(exc).__name__}: {str(exc)[:200]})")
            if sent:
                failures = 0
                continue
            failures += 1
            delay = min(self.retry_max, self.retry_base * 2 ** (failures - 1))
            self.log(f"{len(files)} results wait: {self.send_to.ae_title}@{self.send_to.host}:{self.send_to.port} "
                     f"not reachable; retry in {delay:.0f} s")
            self.stopping.wait(delay)

    def _send(self, files: list[Path]) -> bool:
        """C-STORE each file; True when the association worked (files refused with a failure status are moved
        to ``SPOOL/refused``, not retried forever)."""
        ae = AE(ae_title=self.ae_title)
        for sop_class in SENT:
            ae.add_requested_context(sop_class, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        ae.add_requested_context(SecondaryCaptureImageStorage, SC_TRANSFER_SYNTAX)  # its own context: sent as is
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
        assoc = ae.associate(self.send_to.host, self.send_to.port, ae_title=self.send_to.ae_title)
        if not assoc.is_established:
            return False
        no_delay(assoc)
        try:
            for path in files:
                try:
                    status = assoc.send_c_store(sendable(assoc, path))
                except (ValueError, AttributeError, InvalidDicomError) as exc:  # this file, not the association
                    self._refuse(path, f"cannot be sent: {type(exc).__name__}: {str(exc)[:160]}")
                    continue
                code = int(getattr(status, "Status", -1)) if status else -1
                if code == -1:  # no answer: the association broke; keep the file for the retry
                    return False
                if code == SUCCESS or 0xB000 <= code <= 0xBFFF:
                    path.unlink(missing_ok=True)
                    self.counts["sent"] += 1
                else:
                    self._refuse(path, f"refused by the PACS (status 0x{code:04X})")
        finally:
            assoc.release()
        self.log(f"sent: {len(files)} result objects to {self.send_to.ae_title}")
        return True

    def _refuse(self, path: Path, why: str) -> None:
        """Move a result the PACS will not take to ``SPOOL/refused``: kept, but no longer holding up the others."""
        refused = self.spool.root / "refused"
        refused.mkdir(exist_ok=True)
        path.replace(refused / path.name)
        self.log(f"{why}: {path.name} kept in {refused}")

    # --- life cycle ----------------------------------------------------------------------------------------------

    def start(self) -> "DicomNode":
        """Load the model (on the worker thread), then listen; raises what loading raised."""
        worker = threading.Thread(target=self._analyse_loop, name="chestxai-analysis", daemon=True)
        worker.start()
        self.ready.wait()
        if self.start_error is not None:
            raise self.start_error
        ae = AE(ae_title=self.ae_title)
        ae.add_supported_context(Verification)
        for sop_class in ACCEPTED:
            ae.add_supported_context(sop_class)
        ae.maximum_associations = 8
        handlers = [(evt.EVT_C_ECHO, self.handle_echo), (evt.EVT_C_STORE, self.handle_store),
                    (evt.EVT_CONN_OPEN, lambda event: no_delay(event.assoc))]
        waiting = Spool.files(self.spool.inbox)  # accepted before a restart (listed before listening: an image
        # arriving from now on is queued by handle_store alone, never twice)
        try:
            self.server = ae.start_server((self.host, self.port), block=False, evt_handlers=handlers)
        except OSError as exc:
            self.work.put(None)
            raise ConfigError(f"cannot listen on {self.host}:{self.port} ({exc.strerror or exc})") from None
        for path in waiting:
            self.work.put(path)
        builder = threading.Thread(target=self._build_loop, name="chestxai-build", daemon=True)
        sender = threading.Thread(target=self._send_loop, name="chestxai-sender", daemon=True)
        builder.start()
        sender.start()
        self.threads = [worker, builder, sender]
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
        self.work.put(None)
        self.stopping.set()
        self.wake.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def serve_forever(self) -> None:
        """Serve until Ctrl+C or SIGTERM (what ``systemctl stop`` and ``docker stop`` send), then stop as
        :meth:`stop` does: no new association, the images already received analysed and their results spooled
        (within 30 s), and what the PACS has not yet taken left in the outbox for the next start."""
        # The handler only records the signal: one that took a lock (Event.set) deadlocked when the signal came while
        # the main thread itself held that lock (inside Event.wait).
        stopped: list[int] = []
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, lambda signum, frame: stopped.append(signum))
        try:
            while not stopped:
                time.sleep(0.2)
            self.log("SIGTERM: stopping")
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            self.stop()
        self.log("stopped")
