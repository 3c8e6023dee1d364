"""Pull, analyse, push back over DICOMweb (dicomweb-client): QIDO-RS finds a study's CR/DX frontal images, WADO-RS
retrieves each, :class:`~chestxai.service.analysis.Analyzer` analyses it (the service's own analysis), STOW-RS stores
the SR, GSPS and SC (:mod:`chestxai.pacs.objects`) in new series of the same study.

Idempotent: before analysing a study, the results chestxai already stored there are read back (their source
instance and model version); an image that has all three for this model version is not analysed again, and one that
has only some (a run stopped between objects) gets only the missing ones. One image's objects go in one STOW-RS
request, SR last. Credentials come from ``CHESTXAI_PACS_USER`` / ``CHESTXAI_PACS_PASSWORD``, never from the command
line, and no log line carries a patient's name or ID (only UIDs and counts).
"""

from __future__ import annotations

import json
import os
import queue
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
import requests.adapters
from dicomweb_client.api import DICOMwebClient
from dicomweb_client.session_utils import create_session, create_session_from_user_pass
from pydicom.dataset import Dataset

from chestxai.errors import ChestXAIError
from chestxai.pacs.objects import SERIES_PREFIX, Analysed, ModelInfo, ResultSeries, result_key
from chestxai.service.analysis import Analyzer

USER_ENV, PASSWORD_ENV = "CHESTXAI_PACS_USER", "CHESTXAI_PACS_PASSWORD"
ANALYSED_MODALITIES = ("CR", "DX")
LATERAL_VIEWS = ("LL", "RL", "LATERAL", "LAT", "LLD", "RLD")
RESULT_KINDS = ("OT", "PR", "SR")  # SC, GSPS, SR: the order they are stored in
TAG = {"Modality": "00080060", "SeriesDescription": "0008103E", "SeriesInstanceUID": "0020000E",
       "SOPInstanceUID": "00080018", "StudyInstanceUID": "0020000D", "ViewPosition": "00185101"}


class PacsError(ChestXAIError):
    """The PACS refused us or could not be reached: one line, no credentials, no patient data."""


class _Refused(PacsError):
    """The server answered a STOW-RS request and refused its objects (not: unreachable, busy, credentials):
    ``instances``, the SOP instance UIDs its failure list names, or None when it refused the whole request."""

    def __init__(self, message: str, instances: frozenset[str] | None = None) -> None:
        super().__init__(message)
        self.instances = instances


# What a STOW-RS server answers when it stores none of the objects (PS3.18 10.5.3): bad request, conflict,
# unsupported media type; 401/403 (credentials) and 503 (busy) are no verdict on the objects.
STOW_REFUSALS = (400, 409, 415)


def _value(item: dict[str, Any], name: str) -> str:
    values = item.get(TAG[name], {}).get("Value") or [""]
    return str(values[0])


@contextmanager
def pacs_errors(url: str) -> Iterator[None]:
    """Turn what requests/dicomweb-client raise into one plain :class:`PacsError` line."""
    try:
        yield
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        if status in (401, 403):
            raise PacsError(f"the PACS at {url} refused the credentials (HTTP {status}); check {USER_ENV} and "
                            f"{PASSWORD_ENV}") from None
        raise PacsError(f"the PACS at {url} answered HTTP {status} ({exc.request.method if exc.request else ''} "
                        f"{_path(exc)})") from None
    except requests.exceptions.SSLError as exc:
        raise PacsError(f"TLS to {url} failed ({type(exc).__name__}); pass --ca-bundle with the PACS's CA") from None
    except requests.ConnectionError:
        raise PacsError(f"cannot reach the PACS at {url} (connection refused or lost)") from None
    except requests.Timeout:
        raise PacsError(f"the PACS at {url} did not answer in time") from None


def _path(exc: requests.HTTPError) -> str:
    url = exc.request.url if exc.request is not None else ""
    return re.sub(r"^https?://[^/]+", "", str(url)).split("?")[0][:120]


def _all_pages(search: Callable[..., list[dict[str, Any]]], *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Every result of a QIDO-RS search, page after page (``offset``) for servers that limit a page, until a page
    is empty or brings nothing new: dicomweb-client's own ``get_remaining`` never ends against Orthanc, which
    ignores the offset of a study search."""
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    while True:
        page = search(*args, offset=len(found), **kwargs)
        new = [item for item in page if json.dumps(item, sort_keys=True) not in seen]
        if not new:
            return found
        seen.update(json.dumps(item, sort_keys=True) for item in new)
        found.extend(new)


class _CABundleAdapter(requests.adapters.HTTPAdapter):
    """Verify TLS against ``ca_bundle`` always: a plain ``session.verify`` loses to $REQUESTS_CA_BUNDLE, which
    many hosts set to the system store."""

    def __init__(self, ca_bundle: str) -> None:
        super().__init__()
        self.ca_bundle = ca_bundle

    def send(self, request, **kwargs):  # type: ignore[override]
        kwargs["verify"] = self.ca_bundle
        return super().send(request, **kwargs)


class Pacs:
    """A DICOMweb server (Orthanc's ``/dicom-web``, dcm4chee's ``/dicom-web`` ...) as this module needs it."""

    def __init__(self, url: str, user: str | None = None, password: str | None = None,
                 ca_bundle: str | None = None) -> None:
        self._settings = (url, user, password, ca_bundle)
        self.url = url.rstrip("/")
        if not re.match(r"^https?://", self.url):
            raise PacsError(f"--url must start with http:// or https://, not {url!r}")
        user = os.environ.get(USER_ENV) if user is None else user
        password = os.environ.get(PASSWORD_ENV) if password is None else password
        session = create_session_from_user_pass(user, password or "") if user else create_session()
        if ca_bundle:
            if not os.path.isfile(ca_bundle):
                raise PacsError(f"--ca-bundle {ca_bundle}: file not found")
            session.mount("https://", _CABundleAdapter(ca_bundle))
        self.client = DICOMwebClient(self.url, session=session)
        # dicomweb-client retries every failed request (a refused connection too) 5 times over ~30 s by default;
        # three tries over ~1 s ride out a busy server without keeping a user waiting on a dead one.
        self.client.set_http_retry_params(max_attempts=3, wait_exponential_multiplier=250)
        self.decompress = False  # set once the server refused a compressed object (see store)

    def copy(self) -> "Pacs":
        """The same server through a session of its own (a requests session is not shared between threads)."""
        return Pacs(*self._settings)

    def studies(self, study: str | None = None, since: str | None = None) -> list[str]:
        """Study UIDs: the one named, those from ``since`` (YYYYMMDD) on, or every study holding CR/DX images."""
        if study:
            return [study]
        filters = {"StudyDate": f"{since}-"} if since else {}
        uids: list[str] = []
        with pacs_errors(self.url):
            for modality in ANALYSED_MODALITIES:
                for item in _all_pages(self.client.search_for_studies,
                                       search_filters={**filters, "ModalitiesInStudy": modality}):
                    uid = _value(item, "StudyInstanceUID")
                    if uid and uid not in uids:
                        uids.append(uid)
        return uids

    def series(self, study: str) -> list[dict[str, Any]]:
        with pacs_errors(self.url):
            return _all_pages(self.client.search_for_series, study)

    def instances(self, study: str, series: str) -> list[dict[str, Any]]:
        with pacs_errors(self.url):
            return _all_pages(self.client.search_for_instances, study, series, fields=["ViewPosition"])

    def retrieve(self, study: str, series: str, sop: str) -> Dataset:
        with pacs_errors(self.url):
            return self.client.retrieve_instance(study, series, sop)

    def stored_results(self, study: str, series_items: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
        """``{(source SOP instance UID, model key): {modalities stored}}`` of chestxai's results in the study."""
        done: dict[tuple[str, str], set[str]] = {}
        for item in series_items:
            if not _value(item, "SeriesDescription").startswith(SERIES_PREFIX):
                continue
            with pacs_errors(self.url):
                metadata = self.client.retrieve_series_metadata(study, _value(item, "SeriesInstanceUID"))
            for meta in metadata:
                key = result_key(Dataset.from_json(meta, bulk_data_uri_handler=lambda *args: b""))
                if key is not None:
                    done.setdefault(key[:2], set()).add(key[2])
        return done

    def store(self, datasets: list[Dataset], study: str) -> None:
        """One STOW-RS request; a failure for any object is an error. A server that refuses the objects of a request
        holding a compressed one (the JPEG Secondary Capture, where a PACS keeps no JPEG; a failure list or HTTP
        400/409/415, not an unreachable, busy or locked server) gets it once more with every compressed object
        decompressed, instance UIDs kept: only the objects its failure list names, or all of them when it refused
        the whole request (a server that takes a copy of a stored instance as an error is not sent one). From then
        on this session sends compressed objects decompressed from the start."""
        if self.decompress:
            datasets = [_decompressed(ds) for ds in datasets]
        try:
            self._stow(datasets, study)
        except _Refused as exc:
            again = [ds for ds in datasets if exc.instances is None or ds.SOPInstanceUID in exc.instances]
            if self.decompress or not any(ds.file_meta.TransferSyntaxUID.is_compressed for ds in again):
                raise
            self.decompress = True
            self._stow([_decompressed(ds) for ds in again], study)

    def _stow(self, datasets: list[Dataset], study: str) -> None:
        status = None
        try:
            with pacs_errors(self.url):
                try:
                    answer = self.client.store_instances(datasets, study_instance_uid=study)
                except requests.HTTPError as exc:
                    status = exc.response.status_code if exc.response is not None else None
                    raise
        except PacsError as exc:
            if status in STOW_REFUSALS:
                raise _Refused(str(exc)) from None
            raise
        failed = answer.get("FailedSOPSequence") if answer is not None else None
        if failed:
            refused = frozenset(str(item.get("ReferencedSOPInstanceUID", "")) for item in failed)
            raise _Refused(f"the PACS at {self.url} refused {len(failed)} of {len(datasets)} result objects of "
                           f"study {study}", refused)


def _decompressed(ds: Dataset) -> Dataset:
    """``ds`` with its pixel data decompressed in place (its SOP instance UID kept), for a server without its
    compressed transfer syntax; an uncompressed one as it is."""
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.decompress(generate_instance_uid=False)
    return ds


@dataclass
class Summary:
    """What a run did, in counts (and the UIDs of what failed)."""

    analysed: int = 0
    already_done: int = 0
    stored_objects: int = 0
    skipped_lateral: int = 0
    skipped_modality: int = 0
    failed: list[str] = field(default_factory=list)
    studies: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"studies": self.studies, "analysed": self.analysed, "already_done": self.already_done,
                "stored_objects": self.stored_objects, "skipped_lateral": self.skipped_lateral,
                "skipped_other_modality": self.skipped_modality, "failed": self.failed}


def is_lateral(view: str) -> bool:
    return view.strip().upper() in LATERAL_VIEWS


@dataclass
class _Job:
    """One image to analyse, retrieved: its study, the result kinds it lacks, its study's new result series."""

    study: str
    source: Dataset
    missing: tuple[str, ...]
    results: ResultSeries


_END = object()  # closes a stage's queue


class _Pipeline:
    """Three stages on three threads, so network, inference and object building overlap instead of adding up:
    a fetcher (QIDO + WADO of the next images), the caller's thread (the analysis: the analyzer is not
    thread-safe), a storer (highdicom builds the objects, one STOW-RS per image). Queues are short, so at most a
    few images are held at once. The first error is raised by :meth:`run`; an analysis or storing error stops all
    three at once, a fetching error once what was already retrieved is stored. What was stored stays complete (one
    image's objects are one request), what was not is stored by the next run."""

    def __init__(self, pacs: Pacs, analyzer: Analyzer, methods: str | None, log: Callable[[str], None],
                 stored: Callable[[str], None]) -> None:
        self.pacs, self.analyzer, self.methods, self.log, self.stored = pacs, analyzer, methods, log, stored
        self.info = ModelInfo.of(analyzer)
        self.fetched: queue.Queue[Any] = queue.Queue(maxsize=2)
        self.analysed: queue.Queue[Any] = queue.Queue(maxsize=2)
        self.stop = threading.Event()
        self.errors: list[BaseException] = []

    def _put(self, q: queue.Queue[Any], item: Any) -> bool:
        while not self.stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _get(self, q: queue.Queue[Any]) -> Any:
        while not self.stop.is_set():
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                continue
        return _END

    def _stage(self, body: Callable[[], None], q: queue.Queue[Any], stops: bool = True) -> None:
        """Run a stage; its error is raised by run(). ``stops=False`` (the fetcher): what it already queued is
        still analysed and stored before that, as the one-thread flow did, instead of being dropped."""
        try:
            body()
        except BaseException as exc:  # noqa: BLE001 -- handed to run(), which raises it on the caller's thread
            self.errors.append(exc)
            if stops:
                self.stop.set()
        finally:
            self._put(q, _END)

    def fetch(self, studies: list[str], summary: Summary) -> None:
        """Queue every CR/DX frontal image of ``studies`` that has no complete result of this model version."""
        pacs, info, log = self.pacs, self.info, self.log
        for study in studies:
            series_items = pacs.series(study)
            done = pacs.stored_results(study, series_items)
            results = ResultSeries.of(study, info)
            for item in series_items:
                description, modality = _value(item, "SeriesDescription"), _value(item, "Modality")
                if description.startswith(SERIES_PREFIX):
                    continue
                series_uid = _value(item, "SeriesInstanceUID")
                for inst in pacs.instances(study, series_uid):
                    if self.stop.is_set():
                        return
                    sop = _value(inst, "SOPInstanceUID")
                    if modality not in ANALYSED_MODALITIES:
                        summary.skipped_modality += 1
                        log(f"skipped: instance {sop} is {modality or 'of no modality'}, not CR/DX")
                        continue
                    if is_lateral(_value(inst, "ViewPosition")):
                        summary.skipped_lateral += 1
                        log(f"skipped: instance {sop} is a lateral view ({_value(inst, 'ViewPosition')})")
                        continue
                    missing = tuple(k for k in RESULT_KINDS if k not in done.get((sop, info.key), set()))
                    if not missing:
                        summary.already_done += 1
                        continue
                    source = pacs.retrieve(study, series_uid, sop)
                    if is_lateral(str(source.get("ViewPosition", ""))):
                        summary.skipped_lateral += 1
                        log(f"skipped: instance {sop} is a lateral view ({source.ViewPosition})")
                        continue
                    if not self._put(self.fetched, _Job(study, source, missing, results)):
                        return

    def store(self, pacs: Pacs, summary: Summary) -> None:
        """Build and store each analysed image's objects, in the order they were analysed."""
        while (item := self._get(self.analysed)) is not _END:
            job, analysed, number = item
            objects = analysed.objects(self.info, job.results, job.missing, number)
            pacs.store(objects, job.study)
            summary.analysed += 1
            summary.stored_objects += len(objects)
            sop = str(job.source.SOPInstanceUID)
            self.stored(sop)
            self.log(f"stored: {len(objects)} result objects for instance {sop}")

    def run(self, studies: list[str], summary: Summary) -> Summary:
        fetcher = threading.Thread(target=self._stage, args=(lambda: self.fetch(studies, summary), self.fetched, False),
                                   name="chestxai-fetch", daemon=True)
        storer = threading.Thread(target=self._stage, args=(lambda: self.store(self.pacs.copy(), summary), self.analysed),
                                  name="chestxai-store", daemon=True)
        fetcher.start()
        storer.start()
        number = 0
        try:
            while (job := self._get(self.fetched)) is not _END:
                try:
                    analysed = Analysed.of(self.analyzer, job.source, self.methods)
                except ChestXAIError as exc:
                    summary.failed.append(str(job.source.SOPInstanceUID))
                    self.log(f"failed: {exc}")
                    continue
                number += 1
                if not self._put(self.analysed, (job, analysed, number)):
                    break
        except BaseException:
            self.stop.set()
            raise
        finally:
            self._put(self.analysed, _END)
            storer.join()
            self.stop.set()
            fetcher.join()
        if self.errors:
            raise self.errors[0]
        return summary


def analyze_studies(pacs: Pacs, analyzer: Analyzer, studies: list[str], methods: str | None = None,
                    log: Callable[[str], None] = lambda m: None,
                    stored: Callable[[str], None] = lambda sop: None) -> Summary:
    """Analyse every CR/DX frontal image of ``studies`` that has no complete result of this model version yet
    (retrieval, analysis and storing overlap: :class:`_Pipeline`)."""
    return _Pipeline(pacs, analyzer, methods, log, stored).run(studies, Summary(studies=len(studies)))
