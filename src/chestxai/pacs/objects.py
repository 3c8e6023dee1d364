"""One analysis as the three DICOM objects a viewer shows next to the source image, built with highdicom.

- a Comprehensive SR (TID 1500 measurement report): per finding the probability and the decision at the model's
  threshold (TID 1501, image level), per saliency method the evidence box as a SCOORD polyline on the exact source
  instance (TID 1410), the model's name, version and held-out AUC as algorithm identification, and the similar
  cases as text;
- a Grayscale Softcopy Presentation State drawing the box and a short label on the original pixels;
- a Secondary Capture of the heatmap overlay with the box, "NOT FOR DIAGNOSTIC USE" burnt into the pixels and in
  the series description.

All three carry the source's patient and study (highdicom copies them from the source), new UIDs derived from the
source instance and the model version (:func:`result_uid`, :meth:`ResultSeries.of`), and the same
two marks that make re-runs idempotent: ``SoftwareVersions`` = ``[chestxai <version>, <model> <model version>]``
and a reference to the source SOP instance. :func:`result_key` reads them back from any of the three.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import highdicom as hd
import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import JPEGBaseline8Bit, generate_uid

from chestxai._version import __version__
from chestxai.data.io import is_dicom
from chestxai.errors import ImageReadError
from chestxai.service.analysis import Analysis, Analyzer
from chestxai.service.api import register_answer_format
from chestxai.service.errors import BadRequestError

MANUFACTURER = "chestxai"
NOT_FOR_DIAGNOSIS = "NOT FOR DIAGNOSTIC USE"
SERIES_PREFIX = "chestxai"  # every result series' description starts with it (how a PACS listing finds them)
SERIES = {"SR": (9901, "findings"), "PR": (9902, "boxes"), "OT": (9903, "heatmap")}  # number, description
SCHEME = "99CHESTXAI"  # private coding scheme for what SNOMED/LOINC have no code for
FINDING_CODES = {  # SNOMED CT codes of the findings the shipped models know
    "effusion": ("60046008", "SCT", "Pleural effusion"),
    "pneumonia": ("233604007", "SCT", "Pneumonia"),
    "normal": ("17621005", "SCT", "Normal"),
}
SC_TRANSFER_SYNTAX = JPEGBaseline8Bit  # the Secondary Capture's; SR and GSPS are Explicit VR Little Endian
CHEST_XRAY = hd.sr.CodedConcept("36554-4", "LN", "XR Chest Single view")


@dataclass
class ModelInfo:
    """How the results name the model: its name, a version that changes with its weights, held-out AUCs."""

    name: str
    version: str
    auc: dict[str, float] = field(default_factory=dict)
    qualifiers: dict[str, str] = field(default_factory=dict)  # e.g. "within one source, ...; 0.565 across sources"

    @property
    def key(self) -> str:
        return f"{self.name} {self.version}"

    @classmethod
    def of(cls, analyzer: Analyzer) -> "ModelInfo":
        """The analyzer's model: the weights' fingerprint is the version; AUCs from its model card when shipped."""
        from chestxai.models.zoo import headline_aucs, model_card, shipped_models

        meta = getattr(analyzer.model, "checkpoint_meta", {}) or {}
        shipped = meta.get("shipped_name")
        auc: dict[str, float] = {}
        qualifiers: dict[str, str] = {}
        if shipped in shipped_models():
            auc, qualifiers = headline_aucs(model_card(shipped))
        return cls(str(analyzer.model_name)[:64], analyzer.embedder.model_hash[:16], auc, qualifiers)

    def auc_parameters(self) -> list[str]:
        """The held-out AUCs as the model card states them (within one source where the card says so)."""
        return [f"held-out AUC {f} {a:.3f}" + (f" ({self.qualifiers[f]})" if f in self.qualifiers else "")
                for f, a in self.auc.items()] or ["held-out AUC not recorded"]


@dataclass
class ResultSeries:
    """The three new series of one study that results go into (random UIDs unless made by :meth:`of`)."""

    uids: dict[str, str] = field(default_factory=lambda: {kind: generate_uid() for kind in SERIES})

    @classmethod
    def of(cls, study_uid: str, info: ModelInfo) -> "ResultSeries":
        """The study's result series of this model version: the same UIDs on every run and node (new series of the
        study, one per kind, never the source's), so results made again after a crash land beside the first ones."""
        return cls({kind: generate_uid(entropy_srcs=["chestxai series", str(study_uid), info.key, kind])
                    for kind in SERIES})


def result_uid(source: Dataset, info: ModelInfo, kind: str) -> str:
    """The SOP instance UID of ``source``'s ``kind`` result from this model version: derived from the three, so an
    image analysed again (a node killed between spooling two of its objects, then restarted) yields the same
    instances, which a PACS stores once, not a second set."""
    return generate_uid(entropy_srcs=["chestxai instance", str(source.SOPInstanceUID), info.key, kind])


def finding_code(finding: str) -> hd.sr.CodedConcept:
    value, scheme, meaning = FINDING_CODES.get(finding, (finding[:16], SCHEME, finding))
    return hd.sr.CodedConcept(value, scheme, meaning)


def _private(value: str, meaning: str) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(value[:16], SCHEME, meaning)


def _box_polyline(box: tuple[int, int, int, int]) -> np.ndarray:
    """A closed rectangle (column, row) around the box's pixels, as SCOORD/GSPS pixel coordinates."""
    x, y, w, h = (float(v) for v in box)
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]], dtype=np.float32)


def _frames(source: Dataset) -> list[int] | None:
    return [1] if int(getattr(source, "NumberOfFrames", 1) or 1) > 1 else None


def _mark(ds: Dataset, info: ModelInfo, description: str) -> Dataset:
    ds.SoftwareVersions = [f"chestxai {__version__}", info.key]
    ds.SeriesDescription = f"{SERIES_PREFIX} {description} {info.name}"[:64]
    return ds


def label_text(analysis: Analysis, method: str) -> str:
    """The short label drawn beside the box, e.g. ``effusion 0.82, gradcam box``."""
    return f"{analysis.finding} {analysis.probabilities[analysis.finding]:.2f}, {method} box"


def build_sr(source: Dataset, analysis: Analysis, info: ModelInfo, series: ResultSeries,
             instance_number: int = 1) -> hd.sr.ComprehensiveSR:
    """The TID 1500 measurement report of one analysed image. The algorithm is identified once per measurement
    group (TID 4019 in TID 1501/1410), not again in each measurement: the same meaning, and a third less of
    highdicom's building time per report."""
    algorithm = hd.sr.AlgorithmIdentification(
        name=info.name, version=info.version,
        parameters=info.auc_parameters())
    source_ref = hd.sr.SourceImageForMeasurementGroup.from_source_image(source, _frames(source))
    measurements, evaluations = [], []
    for finding, probability in analysis.probabilities.items():
        threshold = analysis.thresholds[finding]
        measurements.append(hd.sr.Measurement(
            name=_private(f"P-{finding}", f"Probability of {finding}"), value=float(probability),
            unit=codes.UCUM.NoUnits))
        measurements.append(hd.sr.Measurement(
            name=_private(f"T-{finding}", f"Decision threshold of {finding}"), value=float(threshold),
            unit=codes.UCUM.NoUnits))
        evaluations.append(hd.sr.QualitativeEvaluation(
            finding_code(finding), codes.SCT.Present if probability >= threshold else codes.SCT.Absent))
    image_group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier="chestxai findings"),
        algorithm_id=algorithm, measurements=measurements, qualitative_evaluations=evaluations,
        source_images=[source_ref])
    if analysis.similar:
        text = "; ".join(f"case {case.id} score {score:.4f}" for case, score in analysis.similar)
        image_group[0].ContentSequence.append(hd.sr.TextContentItem(
            name=_private("similar-cases", "Similar catalogue cases"), value=text,
            relationship_type=hd.sr.RelationshipTypeValues.CONTAINS))
    groups: list[Any] = [image_group]
    for method, expl in analysis.explanations.items():
        if expl.box is None:
            continue
        region = hd.sr.ImageRegion(
            graphic_type=hd.sr.GraphicTypeValues.POLYLINE, graphic_data=_box_polyline(expl.box),
            source_image=hd.sr.SourceImageForRegion.from_source_image(source, _frames(source)))
        groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=f"{method} box"),
            referenced_region=region, finding_type=finding_code(expl.finding),
            method=_private(method, f"{method} saliency box"), algorithm_id=algorithm,
            measurements=[hd.sr.Measurement(
                name=_private(f"P-{expl.finding}", f"Probability of {expl.finding}"),
                value=float(expl.probability), unit=codes.UCUM.NoUnits)]))
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=generate_uid(), name="chestxai", manufacturer_name=MANUFACTURER, model_name=info.name))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=device),
        procedure_reported=CHEST_XRAY, imaging_measurements=groups)
    sr = hd.sr.ComprehensiveSR(
        evidence=[source], content=report[0], series_instance_uid=series.uids["SR"], series_number=SERIES["SR"][0],
        sop_instance_uid=result_uid(source, info, "SR"), instance_number=instance_number, manufacturer=MANUFACTURER,
        is_complete=True, is_final=False, is_verified=False)
    return _mark(sr, info, f"{SERIES['SR'][1]} ({NOT_FOR_DIAGNOSIS})")


def build_gsps(source: Dataset, analysis: Analysis, info: ModelInfo, series: ResultSeries, method: str,
               instance_number: int = 1) -> hd.pr.GrayscaleSoftcopyPresentationState:
    """A presentation state drawing ``method``'s box and its label on the source image."""
    layer = hd.pr.GraphicLayer(layer_name="CHESTXAI", order=1, description="chestxai evidence box")
    expl = analysis.explanations[method]
    graphics, texts = [], []
    cols, rows = float(source.Columns), float(source.Rows)
    text = label_text(analysis, method)
    if expl.box is not None:
        x, y, w, h = (float(v) for v in expl.box)
        graphics.append(hd.pr.GraphicObject(hd.pr.GraphicTypeValues.POLYLINE, _box_polyline(expl.box),
                                            hd.pr.AnnotationUnitsValues.PIXEL))
        bottom = y if y >= rows * 0.06 else min(rows, y + h + rows * 0.06)  # above the box, else below it
        top = max(0.0, bottom - rows * 0.06)
    else:
        text, x, top, bottom = f"{text}: no box", 0.0, 0.0, rows * 0.06
    texts.append(hd.pr.TextObject(text, hd.pr.AnnotationUnitsValues.PIXEL,
                                  bounding_box=(x, top, min(cols, x + cols * 0.6), bottom),
                                  text_justification=hd.pr.TextJustificationValues.LEFT))
    annotation = hd.pr.GraphicAnnotation(referenced_images=[source], graphic_layer=layer,
                                         graphic_objects=graphics or None, text_objects=texts)
    gsps = hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=[source], series_instance_uid=series.uids["PR"], series_number=SERIES["PR"][0],
        sop_instance_uid=result_uid(source, info, "PR"), instance_number=instance_number, manufacturer=MANUFACTURER,
        manufacturer_model_name=info.name, software_versions=f"chestxai {__version__}",
        device_serial_number=info.version, content_label="CHESTXAI",
        content_description=f"{method} box ({NOT_FOR_DIAGNOSIS})"[:64],
        graphic_annotations=[annotation], graphic_layers=[layer])
    return _mark(gsps, info, f"{SERIES['PR'][1]} ({NOT_FOR_DIAGNOSIS})")


def burn_text(rgb: np.ndarray, text: str, bottom: bool = False) -> np.ndarray:
    """``rgb`` with ``text`` in white on a black band along its top (or bottom) edge."""
    out = np.ascontiguousarray(rgb.copy())
    scale = max(0.4, out.shape[1] / 900.0)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    band = th + base + 8
    rows = slice(out.shape[0] - band, None) if bottom else slice(0, band)
    out[rows] = 0
    y = (out.shape[0] if bottom else band) - base - 4
    cv2.putText(out, text, (max(2, (out.shape[1] - tw) // 2), y), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _orientation(source: Dataset) -> tuple[str, str]:
    """The source's patient orientation when it states one, else a frontal chest's (rows to the left, columns
    to the feet): the capture is drawn in the source's pixel directions."""
    values = [str(v) for v in (source.get("PatientOrientation") or [])]
    valid = {v.value for v in hd.enum.PatientOrientationValuesBiped}
    if len(values) == 2 and all(v and set(v) <= valid for v in values):
        return values[0], values[1]
    return "L", "F"


def overlay_rgb(analyzer: Analyzer, analysis: Analysis, method: str) -> np.ndarray:
    """The page's overlay as one RGB image at display size: the service's heatmap layer (its colour map, alpha =
    saliency) composited over the analysed image, the evidence box drawn, the notice burnt in. Pixel geometry is the
    source's (scaled to at most ``display_size``), so the capture lines up with the image in a viewer."""
    grey = analysis.display.astype(np.float32)[..., None]
    layer = np.asarray(Image.open(io.BytesIO(analyzer.heatmap_png(analysis.id, method))).convert("RGBA"),
                       np.float32)
    alpha = layer[..., 3:] / 255.0 * 0.6
    rgb = np.clip(grey * (1.0 - alpha) + layer[..., :3] * alpha, 0, 255).astype(np.uint8)
    box = analysis.explanations[method].box
    if box is not None:
        sy, sx = rgb.shape[0] / analysis.height, rgb.shape[1] / analysis.width
        x, y, w, h = box
        cv2.rectangle(rgb, (int(x * sx), int(y * sy)), (int((x + w) * sx) - 1, int((y + h) * sy) - 1),
                      (255, 255, 255), max(1, rgb.shape[1] // 256))
    return burn_text(burn_text(rgb, NOT_FOR_DIAGNOSIS), label_text(analysis, method), bottom=True)


def build_sc(source: Dataset, rgb: np.ndarray, info: ModelInfo, series: ResultSeries, method: str,
             instance_number: int = 1) -> hd.sc.SCImage:
    """The heatmap overlay ``rgb`` (:func:`overlay_rgb`: box and notice burnt in) as a colour Secondary Capture,
    JPEG baseline (highdicom encodes it): a picture for the eye, not for diagnosis, at a tenth of the raw RGB's
    bytes to store and send."""
    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=source, pixel_array=rgb, photometric_interpretation="YBR_FULL_422", bits_allocated=8,
        coordinate_system="PATIENT", series_instance_uid=series.uids["OT"], series_number=SERIES["OT"][0],
        sop_instance_uid=result_uid(source, info, "OT"), instance_number=instance_number, manufacturer=MANUFACTURER,
        patient_orientation=_orientation(source), transfer_syntax_uid=SC_TRANSFER_SYNTAX)
    ref = Dataset()
    ref.ReferencedSOPClassUID = source.SOPClassUID
    ref.ReferencedSOPInstanceUID = source.SOPInstanceUID
    sc.SourceImageSequence = [ref]
    sc.BurnedInAnnotation = "YES"
    sc.ImageComments = NOT_FOR_DIAGNOSIS
    return _mark(sc, info, f"{SERIES['OT'][1]} {method} ({NOT_FOR_DIAGNOSIS})")


@dataclass
class Analysed:
    """One source image analysed, with everything its result objects need from the analyzer (the overlay's
    pixels): the objects themselves can then be built on another thread than the analysis (the analyzer is not
    thread-safe; highdicom's building is pure Python and overlaps the next image's network inference)."""

    source: Dataset
    analysis: Analysis
    overlay: np.ndarray  # the Secondary Capture's pixels

    @property
    def method(self) -> str:
        """The saliency method whose box the GSPS and SC draw: the first one asked for."""
        return next(iter(self.analysis.explanations))

    @classmethod
    def of(cls, analyzer: Analyzer, source: Dataset, methods: str | None = None) -> "Analysed":
        """``source`` through the service's analysis (decode errors are ImageReadError)."""
        analysis = analyzer.analyze(to_bytes(source), methods, name=f"instance {source.SOPInstanceUID}.dcm")
        return cls(source, analysis, overlay_rgb(analyzer, analysis, next(iter(analysis.explanations))))

    def objects(self, info: ModelInfo, series: ResultSeries, kinds: tuple[str, ...] = ("OT", "PR", "SR"),
                instance_number: int = 1) -> list[Dataset]:
        """The result objects of ``kinds``, SR last (so a reader that sees the SR sees a complete set)."""
        source, analysis, method = self.source, self.analysis, self.method
        out: list[Dataset] = []
        if "OT" in kinds:
            out.append(build_sc(source, self.overlay, info, series, method, instance_number))
        if "PR" in kinds:
            out.append(build_gsps(source, analysis, info, series, method, instance_number))
        if "SR" in kinds:
            out.append(build_sr(source, analysis, info, series, instance_number))
        return out


def result_key(ds: Dataset) -> tuple[str, str, str] | None:
    """``(source SOP instance UID, model key, modality)`` of a chestxai result object, else None."""
    value = ds.get("SoftwareVersions")
    versions = [value] if isinstance(value, str) else list(value or [])
    if len(versions) < 2 or not str(versions[0]).startswith("chestxai"):
        return None
    source = None
    if "CurrentRequestedProcedureEvidenceSequence" in ds:  # SR
        source = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0] \
            .ReferencedSOPSequence[0].ReferencedSOPInstanceUID
    elif "ReferencedSeriesSequence" in ds:  # GSPS
        source = ds.ReferencedSeriesSequence[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID
    elif "SourceImageSequence" in ds:  # SC
        source = ds.SourceImageSequence[0].ReferencedSOPInstanceUID
    return None if source is None else (str(source), str(versions[1]), str(ds.Modality))


def to_bytes(ds: Dataset) -> bytes:
    """A dataset as DICOM Part 10 bytes (pydicom writes them)."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def load_analyzer(model: str | None, catalogue: str | None, methods: str | None,
                  log: Callable[[str], None] = lambda m: None) -> Analyzer:
    """The analyzer ``chestxai serve`` would run (same model and catalogue defaults), with ``methods`` (default:
    Grad-CAM) as its saliency methods; the first method's box is the one drawn in the GSPS and SC."""
    from chestxai.models.zoo import load_model
    from chestxai.explain import parse_methods
    from chestxai.service.analysis import ServiceConfig
    from chestxai.service.app import sample_catalogue

    config = ServiceConfig(methods=tuple(parse_methods(methods or "gradcam")))
    classifier = load_model(model)
    folder = None
    if catalogue != "none":
        folder = Path(catalogue) if catalogue else sample_catalogue(model, log)
    return Analyzer(classifier, folder, config)


def analyze_to_sr(analyzer: Analyzer, data: bytes, filename: str | None = None, methods: str | None = None,
                  k: int | None = None, finding: str | None = None) -> bytes:
    """A DICOM upload analysed by ``analyzer`` and answered as its SR (Part 10 bytes): ``format=dicom-sr``."""
    from pydicom import dcmread

    if not is_dicom(data, filename):
        raise BadRequestError("format=dicom-sr answers a DICOM upload with its structured report; this file is "
                              "not DICOM")
    analysis = analyzer.analyze(data, methods, k, finding, name="upload.dcm")
    source = dcmread(io.BytesIO(data), force=True)
    missing = [a for a in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")
               if not source.get(a)]
    if missing:
        raise ImageReadError(f"upload: a structured report must reference the image, and it has no "
                             f"{', '.join(missing)}")
    info = ModelInfo.of(analyzer)
    return to_bytes(build_sr(source, analysis, info, ResultSeries.of(source.StudyInstanceUID, info)))


register_answer_format("dicom-sr", "application/dicom", analyze_to_sr)
