"""One uploaded radiograph's analysis, in-process: decode -> probabilities -> saliency maps and boxes -> similar cases.

The HTTP API and ``benchmarks/service_load.py`` both call :meth:`Analyzer.analyze`, so the benchmark's bare time is
exactly the work a request does and the service overhead is everything else. Everything here is plain library code
(``chestxai.data.io``, ``chestxai.explain``, ``chestxai.retrieval``); the routes only shape JSON around it.

Uploads never touch the disk: the decoded image (shrunk to at most ``display_size`` pixels a side) and its saliency
maps (uint8) are held in a small in-memory LRU keyed by the analysis id, so the page can fetch the image, each
method's heatmap and overlay afterwards. Only a case explicitly added to the catalogue is written (as a grey PNG:
pixels only, no DICOM header).

:class:`Analyzer` holds the analysis and what it needs (the model, the catalogue, the held results); its methods
for the page's PNGs and for adding a case are one-line calls to the modules that do that work:
:mod:`chestxai.service.render` (PNG encoding, overlays, the case overlay cache) and :mod:`chestxai.service.cases`
(the add-case checks and the write).

Not thread-safe, on purpose: saliency methods put hooks on the one shared model, matplotlib's pyplot is global state
and a SQLite connection belongs to the thread that opened it. The app builds its :class:`Analyzer` on one dedicated
worker thread and runs every decode, model or catalogue call there (see :mod:`chestxai.service.app`); the
parallelism comes from torch's intra-op threads. :meth:`Analyzer.image_png` and :meth:`Analyzer.heatmap_png` only
read held arrays and may run on any thread.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chestxai.data.io import DEFAULT_MAX_PIXELS, read_image_and_header_bytes, read_image_bytes
from chestxai.errors import ConfigError
from chestxai.explain import SaliencyMap, explain, parse_methods, to_box
from chestxai.explain.evidence import Box
from chestxai.models.checkpoint import decision_thresholds
from chestxai.models.classifier import Classifier
from chestxai.models.scope import ScopeResult, predict_in_scope, refusal
from chestxai.retrieval.catalogue import Case, Catalogue
from chestxai.retrieval.embedders import Embedder, build_embedder
from chestxai.service import cases, render
from chestxai.service.errors import NotFoundError, UnavailableError
from chestxai.service.render import LRU, fit, scale_box, to_uint8

TOKEN_ENV = "CHESTXAI_API_TOKEN"
DEFAULT_METHODS = ("gradcam", "gradcampp", "gradient_x_input")


@dataclass
class ServiceConfig:
    """What an operator may tune; the defaults are what the issue asks for."""

    threshold: float = 0.5  # decision threshold of a finding whose checkpoint stores none
    box_threshold: float = 0.5  # saliency level (0..1) the evidence box is drawn at
    methods: tuple[str, ...] = DEFAULT_METHODS  # saliency methods of an analysis that names none
    k: int = 8  # similar cases of an analysis that names no k
    max_k: int = 50
    max_upload_bytes: int = 50 * 1024 * 1024
    max_pixels: int = DEFAULT_MAX_PIXELS
    display_size: int = 1024  # longest side of the image and maps held for the page
    cache_analyses: int = 32  # analyses held in memory for the page's follow-up requests
    cache_overlays: int = 64  # rendered case overlays held in memory
    token: str | None = field(default_factory=lambda: os.environ.get(TOKEN_ENV) or None)
    allow_remote: bool = False  # answer clients other than this machine without a token


@dataclass
class Explanation:
    """One method's evidence: the box in the original image's pixels and the map at display size (uint8)."""

    method: str
    finding: str
    probability: float
    box: Box | None
    heat: np.ndarray
    _png: bytes | None = None

    def saliency_map(self) -> SaliencyMap:
        """The held map as a :class:`SaliencyMap` at display size (what :func:`overlay` draws)."""
        return SaliencyMap(self.heat.astype(np.float32) / 255.0, self.method, self.finding, self.probability)


@dataclass
class Analysis:
    """Everything one upload produced; held in the LRU under ``id`` for the page's follow-up requests."""

    id: str
    width: int
    height: int
    display: np.ndarray  # uint8 grey, longest side <= display_size
    probabilities: dict[str, float]
    thresholds: dict[str, float]
    finding: str  # the finding the maps explain
    explanations: dict[str, Explanation]
    similar: list[tuple[Case, float]]
    timing_ms: dict[str, float]
    scope: ScopeResult | None = None  # the scope check's judgement (refused images raise instead)


class Analyzer:
    """The model (loaded once), the case catalogue (optional) and the in-memory results of recent analyses."""

    def __init__(
        self,
        model: Classifier,
        catalogue: str | Path | None = None,
        config: ServiceConfig | None = None,
        model_name: str | None = None,
    ) -> None:
        self.model = model.eval()
        self.config = config or ServiceConfig()
        self.model_name = model_name or model_label(model)
        self.thresholds = decision_thresholds(model, self.config.threshold)
        self.embedder: Embedder = build_embedder("cnn", model)
        self.catalogue = Catalogue(catalogue, create=False) if catalogue is not None else None
        if self.catalogue is not None:
            cases.check_catalogue(self.catalogue, self.embedder)
        self.analyses: LRU[str, Analysis] = LRU(self.config.cache_analyses)
        self.case_overlays = render.CaseOverlays(model, self.config.cache_overlays, self.config.display_size,
                                                 self.config.box_threshold)

    def close(self) -> None:
        if self.catalogue is not None:
            self.catalogue.close()

    # --- the analysis ------------------------------------------------------------------------------------------

    def decode(self, data: bytes, name: str = "upload") -> np.ndarray:
        """The upload as ``float32 H x W`` in [0, 1]; every way it can be bad is an ImageReadError."""
        return read_image_bytes(data, name, self.config.max_pixels)

    def analyze(
        self,
        data: bytes,
        methods: str | Sequence[str] | None = None,
        k: int | None = None,
        finding: str | None = None,
        name: str = "upload",
    ) -> Analysis:
        """Decode the file's bytes and analyse it: the whole work of one ``POST /api/v1/analyze``."""
        start = time.perf_counter()
        image, header = read_image_and_header_bytes(data, name, self.config.max_pixels)
        decode_ms = (time.perf_counter() - start) * 1000.0
        result = self.analyze_image(image, methods, k, finding, header, name)
        result.timing_ms = {"decode": round(decode_ms, 1), **result.timing_ms,
                            "total": round((time.perf_counter() - start) * 1000.0, 1)}
        return result

    def analyze_image(
        self,
        image: np.ndarray,
        methods: str | Sequence[str] | None = None,
        k: int | None = None,
        finding: str | None = None,
        metadata: dict[str, str] | None = None,
        name: str = "upload",
    ) -> Analysis:
        """Probabilities, one saliency map + box per method for ``finding`` (default: the most probable one) and
        the ``k`` most similar catalogue cases of a decoded image; an image the scope check refuses raises
        :class:`~chestxai.errors.OutOfScopeError` (``metadata``: the file's DICOM header facts, if any)."""
        names, k = self.check_methods(methods), self.check_k(k)
        timing: dict[str, float] = {}
        with _timed(timing, "predict"):
            ((scope, probabilities),) = predict_in_scope(self.model, [image], [metadata])
        if probabilities is None:
            raise refusal(name, scope)
        target = self.target(finding, probabilities)
        work, scale = fit(image, self.config.display_size)
        explanations = {}
        for method in names:
            with _timed(timing, method):
                explanations[method] = self._explain(work, scale, image.shape, method, target)
        with _timed(timing, "search"):
            similar = self.search(image, k)
        height, width = image.shape
        result = Analysis(uuid.uuid4().hex, width, height, to_uint8(work), probabilities, dict(self.thresholds),
                          target, explanations, similar, timing, scope)
        self.analyses.put(result.id, result)
        return result

    def _explain(self, work: np.ndarray, scale: float, shape: tuple[int, int], method: str, target: str
                 ) -> Explanation:
        """The map is made on the display-size image (the model sees the same pixels after its own resize), so a
        40-megapixel upload does not cost 40-megapixel maps; the box is scaled back to the original pixels."""
        smap = explain(self.model, [work], method, target)[0]
        box = scale_box(to_box(smap, self.config.box_threshold), scale, shape)
        return Explanation(method, target, smap.probability, box, to_uint8(smap.map))

    def search(self, image: np.ndarray, k: int) -> list[tuple[Case, float]]:
        """The ``k`` most similar cases, best first; none without a catalogue or before any case is indexed."""
        if k < 1 or not self.searchable():
            return []
        return self.catalogue.search(image, self.embedder, k)  # type: ignore[union-attr]

    def searchable(self) -> bool:
        return self.catalogue is not None and any(
            e["name"] == self.embedder.name and e["vectors"] for e in self.catalogue.embedders())

    def catalogue_size(self) -> int:
        return len(self.catalogue) if self.catalogue is not None else 0

    # --- checks of what a client asked for ---------------------------------------------------------------------

    def check_methods(self, methods: str | Sequence[str] | None) -> list[str]:
        if methods is None or (isinstance(methods, str) and not methods.strip()):
            return list(self.config.methods)
        return parse_methods(methods if isinstance(methods, str) else ",".join(methods))

    def check_k(self, k: int | None) -> int:
        k = self.config.k if k is None else k
        if not 0 <= int(k) <= self.config.max_k:
            raise ConfigError(f"k must be between 0 and {self.config.max_k}, not {k}")
        return int(k)

    def target(self, finding: str | None, probabilities: dict[str, float] | None = None) -> str:
        """The finding to explain: the one named (checked against the model), else the abnormal finding furthest
        above (or least below) its decision threshold: thresholds differ per finding, so raw probabilities do not
        compare. "normal" has no place to point at: explained only when named or when it is the model's only."""
        if finding:
            return self.model.findings[self.model.finding_index(finding)]
        candidates = [f for f in self.model.findings if f != "normal"] or list(self.model.findings)
        if probabilities:
            return max(candidates, key=lambda f: probabilities[f] - self.thresholds[f])
        return candidates[0]

    # --- what the page fetches after an analysis ---------------------------------------------------------------

    def analysis(self, analysis_id: str) -> Analysis:
        found = self.analyses.get(analysis_id)
        if found is None:
            raise NotFoundError(f"analysis {analysis_id} is no longer held by the server (it keeps the last "
                                f"{self.analyses.capacity}); upload the image again")
        return found

    def explanation(self, analysis_id: str, method: str) -> Explanation:
        found = self.analysis(analysis_id).explanations.get(method)
        if found is None:
            raise NotFoundError(f"analysis {analysis_id} has no {method!r} map; ask for it in 'methods'")
        return found

    def image_png(self, analysis_id: str) -> bytes:
        """The analysed image as the page shows it (grey PNG, longest side <= display_size); thread-safe."""
        return render.png_bytes(self.analysis(analysis_id).display)

    def heatmap_png(self, analysis_id: str, method: str) -> bytes:
        """The map as a transparent colour layer for the page (it sets the opacity); thread-safe."""
        expl = self.explanation(analysis_id, method)
        if expl._png is None:
            expl._png = render.heatmap_png(expl.heat)
        return expl._png

    def overlay_png(self, analysis_id: str, method: str, positive_only: float | None = None) -> bytes:
        """The composed figure (image, heatmap, box, legend) as ``chestxai explain`` draws it (uses pyplot)."""
        result = self.analysis(analysis_id)
        expl = self.explanation(analysis_id, method)
        return render.overlay_png(result.display, expl.saliency_map(), self.config.box_threshold, positive_only)

    # --- catalogue cases ---------------------------------------------------------------------------------------

    def case(self, case_id: int) -> Case:
        found = self.catalogue.cases([case_id]) if self.catalogue is not None else []
        if not found:
            raise NotFoundError(f"no case {case_id} in the catalogue")
        return found[0]

    def case_image_png(self, case_id: int, thumbnail: bool = False) -> bytes:
        """A case's thumbnail (as stored) or its image as a grey PNG (longest side <= display_size)."""
        return render.case_image_png(self.case(case_id), self.config.display_size, thumbnail)

    def case_overlay_png(self, case_id: int, method: str, finding: str | None = None,
                         positive_only: float | None = None) -> bytes:
        """A case's own heatmap for ``finding`` with its reference box (dashed) when it has one; cached."""
        case = self.case(case_id)
        (method,) = parse_methods(method)
        return self.case_overlays.png(case, method, self.target(finding), positive_only)

    def add_case(
        self,
        data: bytes,
        labels: dict[str, Any],
        boxes: Sequence[dict[str, Any]] = (),
        report: str = "",
        name: str = "upload",
    ) -> tuple[int, bool]:
        """Add a confirmed case (its pixels, labels, optional boxes and report): ``(case id, newly added)``.

        The same file added twice is one case (content hash). The image is kept as a grey 16-bit PNG in the
        catalogue folder, so a DICOM's header (the patient) is never stored.
        """
        if self.catalogue is None:
            raise UnavailableError("no case catalogue is loaded on this server; start it with --catalogue")
        image = self.decode(data, name)
        return cases.add_case(self.catalogue, self.embedder, image, hashlib.sha256(data).hexdigest(), labels, boxes,
                              report)


# --- small pure helpers ----------------------------------------------------------------------------------------


@contextmanager
def _timed(timing: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timing[name] = round((time.perf_counter() - start) * 1000.0, 1)


def model_label(model: Classifier) -> str:
    """A human name for the model: the shipped name, else the file it came from, else its architecture."""
    meta = getattr(model, "checkpoint_meta", {}) or {}
    return str(meta.get("shipped_name") or meta.get("source") or model.arch)
